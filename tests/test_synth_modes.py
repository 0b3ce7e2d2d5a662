"""``vxt prepare synth --mode/--events/--domains/--voice``: workers, resume, manifests, option errors, and
``vxt train --task classify --domains``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vxt.data.prepare import prepare
from vxt.errors import VxtError

SMALL = {"n_train": 2, "n_val": 1, "n_test": 1}


def _read(d: Path, name: str) -> str:
    return (d / name).read_text(encoding="utf-8")


def _manifests(d: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(line) for line in _read(d, f"{s}.jsonl").splitlines()] for s in ("train", "val", "test")}


def test_foley_with_workers_and_resume(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ra = prepare("synth", a, options={**SMALL, "mode": "foley"}, workers=2, cache=False, progress=False)
    prepare("synth", b, options={**SMALL, "mode": "foley"}, workers=1, cache=False, progress=False)
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "dataset.json"):
        assert _read(a, name) == _read(b, name)
    assert sorted(p.name for p in (a / "media").iterdir()) == sorted(p.name for p in (b / "media").iterdir())
    assert ra["stats"] == {"generated": 4, "kept": 0}
    meta = json.loads(_read(a, "dataset.json"))
    assert meta["options"]["mode"] == "foley" and meta["options"]["events"] == "sparse"
    assert meta["info"]["sample_rate"] == 22050 and meta["decode_by_task"]["sound"]["audio_sr"] == 22050
    assert _read(a, "labels/audio.txt").split("\n")[:5] == ["wood knock", "metal clang", "glass clink", "lid thud", "lamp beep"]
    m = _manifests(a)
    assert [e["id"] for e in m["train"]] == [f"synth-train-foley-sparse-0000{i}-{t}" for i in range(2) for t in ("sync", "sound")]
    assert all("sound_events" in e and "label" in e and "domain" not in e for s in m.values() for e in s)
    assert "offset" in m["val"][0] and "offset" not in m["train"][0]
    # a rerun keeps everything; a lost file is made again, the same
    assert prepare("synth", a, options={**SMALL, "mode": "foley"}, workers=1, cache=False, progress=False)["stats"] == {
        "generated": 0, "kept": 4}
    lost = a / m["test"][1]["video"]  # the -sound example's: synth's own file (-sync reads media/sync/, re-encoded)
    before = lost.read_bytes()
    lost.unlink()
    r = prepare("synth", a, options={**SMALL, "mode": "foley"}, workers=1, cache=False, progress=False)
    assert r["stats"] == {"generated": 1, "kept": 3} and lost.read_bytes() == before
    # dense events are other clips, not a relabelling of these
    prepare("synth", a, options={**SMALL, "mode": "foley", "events": "dense"}, workers=1, cache=False, progress=False)
    assert _manifests(a)["train"][0]["id"] == "synth-train-foley-dense-00000-sync"


def test_narrated_prepare_records_the_speech_coverage(tmp_path):
    d = tmp_path / "n"
    r = prepare("synth", d, options={"n_train": 1, "n_val": 0, "n_test": 0, "mode": "narrated"}, workers=1, cache=False,
                progress=False)
    meta = json.loads(_read(d, "dataset.json"))
    assert meta["options"]["mode"] == "narrated" and meta["options"]["voice"] == "code"
    cov = meta["info"]["speech_coverage"]["train"]
    assert 0 < cov < 1 and r["stats"]["speech_coverage"]["train"] == cov
    train = _manifests(d)["train"]
    pre = [e for e in train if "next_targets" in e]
    cap = [e for e in train if e["task"] == "caption" and "next_targets" not in e]
    assert len(pre) == len(cap) >= 6 and train[-1]["task"] == "dense" and len(train) == 2 * len(cap) + 1
    assert (d / "media" / "synth-train-narrated-0000.srt").exists()


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dom") / "d"
    prepare("synth", d, options={**SMALL, "n_dense_train": 1, "n_dense_val": 0, "n_dense_test": 0, "domains": "photo,sketch"},
            workers=1, cache=False, progress=False)
    return d


def test_default_mode_in_two_domains(two_domains, tmp_path):
    d = two_domains
    meta = json.loads(_read(d, "dataset.json"))
    assert meta["options"]["domains"] == ["photo", "sketch"] and "mode" not in meta["options"]
    train = _manifests(d)["train"]
    ids = [e["id"] for e in train if e["task"] == "caption"]
    assert ids == ["synth-train-00000-caption", "synth-train-00001-caption",
                   "synth-train-sketch-00000-caption", "synth-train-sketch-00001-caption"]
    assert {e["domain"] for e in train} == {"photo", "sketch"}
    assert [e["id"] for e in train if e["task"] == "dense"] == ["synth-train-dense-0000-dense", "synth-train-sketch-dense-0000-dense"]
    # the photo items are the default mode's, byte for byte
    plain = tmp_path / "plain"
    prepare("synth", plain, options={**SMALL, "n_dense_train": 1, "n_dense_val": 0, "n_dense_test": 0}, workers=1, cache=False,
            progress=False)
    for name in ("synth-train-00000.mp4", "synth-train-00001.srt", "synth-train-dense-0000.mp4"):
        assert (plain / "media" / name).read_bytes() == (d / "media" / name).read_bytes()
    plain_train = _manifests(plain)["train"]
    assert [{k: v for k, v in e.items() if k != "domain"} for e in train if e.get("domain") == "photo"] == plain_train


def test_the_default_data_dir_does_not_mention_the_new_options(tiny_synth):
    meta = json.loads(_read(tiny_synth, "dataset.json"))
    assert set(meta["options"]) == {"n_train", "n_val", "n_test", "n_dense_train", "n_dense_val", "n_dense_test", "seed",
                                    "qa_per_clip"}
    assert "mode" not in meta["info"] and "domains" not in meta["info"]
    assert all("domain" not in e for e in _manifests(tiny_synth)["train"])


@pytest.mark.parametrize("options, message", [
    ({"mode": "bogus"}, "--mode must be one of default, foley, narrated"),
    ({"events": "dense"}, "--events applies to --mode foley only"),
    ({"mode": "foley", "events": "many"}, "--events must be sparse or dense"),
    ({"mode": "foley", "voice": "code"}, "--voice applies to --mode narrated only"),
    ({"mode": "narrated", "voice": "robot"}, "--voice must be code or espeak-ng"),
    ({"domains": "photo,oil"}, "unknown domain oil in --domains"),
    ({"domains": " , "}, "--domains needs at least one of"),
    ({"mode": "foley", "n_dense_train": 2}, "--n-dense-train applies to --mode default only"),
])
def test_option_errors_are_one_line(tmp_path, options, message):
    with pytest.raises(VxtError) as e:
        prepare("synth", tmp_path / "x", options={**SMALL, **options}, cache=False, progress=False)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not list((tmp_path / "x").glob("media/*.mp4"))


def test_cli_options(tmp_path, run_cli):
    code, out, err = run_cli("prepare", "synth", "--out", tmp_path / "c", "--mode", "foley", "--events", "dense", "--domains",
                             "night", "--n-train", "1", "--n-val", "0", "--n-test", "0", "--no-cache")
    assert code == 0, out + err
    (ex, _) = _manifests(tmp_path / "c")["train"]
    assert ex["id"] == "synth-train-night-foley-dense-00000-sync" and ex["domain"] == "night"
    code, out, err = run_cli("train", "--help")
    assert "--domains" in out


def test_classify_trains_on_the_given_domains_only(two_domains):
    from vxt.tasks import get_task_entry
    from vxt.train.options import TrainOptions

    task = get_task_entry("classify")
    opts = TrainOptions(task="classify", data=str(two_domains), modality="video", overrides={"domains": ["photo"]})
    task.configure(opts)
    assert "domains" not in opts.overrides and opts.domains == ["photo"]  # the classifier never sees it
    assert task.run_name(opts) == ["video", "photo"]
    photo = task.examples(two_domains, "train", opts)
    assert len(photo) == 2 and all(e["domain"] == "photo" for e in photo)
    opts_all = TrainOptions(task="classify", data=str(two_domains), modality="video")
    task.configure(opts_all)
    assert len(task.examples(two_domains, "train", opts_all)) == 4
    sketch = TrainOptions(task="classify", data=str(two_domains), modality="video", overrides={"domains": "sketch"})
    task.configure(sketch)
    assert {e["domain"] for e in task.examples(two_domains, "train", sketch)} == {"sketch"}
