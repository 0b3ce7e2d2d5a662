"""``--task sync`` end to end: train the tiny SparseSync, decode a file (and fix it), decode and score a split."""

from __future__ import annotations

import json

import pytest

from syncmedia import lag_samples, video_packets, write_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPLITS = {
    "train": [("tr0", 9.6, (2.0, 5.0, 7.4)), ("tr1", 10.0, (1.2, 4.4, 8.0)), ("short", 6.0, (2.0,))],
    "val": [("va0", 9.6, (3.0, 6.2))],
    "test": [("te0", 9.6, (2.4, 6.8)), ("te1", 10.0, (3.6,))],
}
FIXED = {"te0": (0.4, 2.0), "te1": (-1.2, 3.0)}  # offset (vxt: audio lag), vstart


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A data dir of 9.6-10 s clips (flashes with clicks; one 6 s clip to be skipped) and a 2-step tiny model."""
    from vxt.cli import main

    root = tmp_path_factory.mktemp("sync")
    data = root / "data"
    for split, items in SPLITS.items():
        rows = []
        for i, (name, dur, events) in enumerate(items):
            write_clip(data / "media" / f"{name}.mp4", dur, events, size=80, noise=0.01, seed=i)
            row = {"id": name, "task": "sync", "video": f"media/{name}.mp4", "start": 0.0, "end": dur}
            if name in FIXED:
                row["offset"], row["vstart"] = FIXED[name]
            rows.append(row)
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = root / "exp"
    code = main(["train", "--task", "sync", "--model", "sparsesync-tiny", "--data", str(data), "--max-steps", "2",
                 "--batch-size", "1", "--out", str(exp)])
    assert code == 0
    return root, data, exp


def test_training_wrote_a_checkpoint_and_validated(trained):
    _, _, exp = trained
    cfg = json.loads((exp / "best" / "config.json").read_text())
    assert cfg["arch"] == "sparsesync" and cfg["class"] == "vxt.models.sync:SyncModel" and cfg["n_classes"] == 21
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r.get("split") == "val"]
    assert val and {"accuracy_1", "accuracy_pm1", "accuracy_3class"} <= set(val[-1])
    assert json.loads((exp / "train_summary.json").read_text())["metric"] == "accuracy_1"


def test_short_clips_are_skipped_with_the_reason(trained):
    from vxt.tasks import get_task_entry

    _, data, _ = trained
    ids = [ex["id"] for ex in get_task_entry("sync").examples(data, "train")]
    assert ids == ["tr0", "tr1"]


def test_decode_a_file_prints_the_offset_and_its_probability(trained, run_cli, monkeypatch):
    root, data, exp = trained
    monkeypatch.chdir(root)
    code, out, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp))
    assert code == 0, err
    doc = json.loads((root / "te0.sync.preds.json").read_text())
    (row,) = doc["predictions"]
    assert len(row["probs"]) == 21 and abs(sum(row["probs"]) - 1) < 1e-3
    assert row["offset"] in doc["offset_grid"] and "target" not in row  # a file has no known offset
    assert f"{row['offset']:+.1f} s" in out and f"{100 * max(row['probs']):.1f}%" in out


def test_decode_fix_moves_the_audio_by_the_offset_found(trained, run_cli, monkeypatch):
    from vxt.data.media import read_audio

    root, data, exp = trained
    monkeypatch.chdir(root)
    src = data / "media" / "te1.mp4"
    code, out, err = run_cli("decode", str(src), "--task", "sync", "--ckpt", str(exp), "--fix", "--out", "fixed.mp4")
    assert code == 0, err
    (row,) = json.loads((root / "fixed.sync.preds.json").read_text())["predictions"]
    assert row["shift"] == pytest.approx(-row["offset"]) and row["fixed"] == "fixed.mp4"
    assert video_packets(root / "fixed.mp4") == video_packets(src)
    lag = lag_samples(read_audio(src), read_audio(root / "fixed.mp4"), 40000)
    assert lag == round(-row["offset"] * 16000)
    # a shift given by hand, a whole number of AAC frames: the packets are re-timed
    code, out, err = run_cli("decode", str(src), "--task", "sync", "--ckpt", str(exp), "--fix", "--out", "f2.mp4",
                             "--set", "shift=-0.256")
    assert code == 0, err
    (row,) = json.loads((root / "f2.sync.preds.json").read_text())["predictions"]
    assert row["fix_method"] == "retime" and row["shift"] == -0.256
    assert lag_samples(read_audio(src), read_audio(root / "f2.mp4"), 40000) == -4096


def test_decode_and_score_a_split_with_fixed_offsets(trained, run_cli):
    pytest.importorskip("matplotlib")
    root, data, exp = trained
    code, out, err = run_cli("decode", str(data), "--task", "sync", "--ckpt", str(exp), "--split", "test")
    assert code == 0, err
    preds = exp / "preds_test.json"
    rows = json.loads(preds.read_text())["predictions"]
    assert [(r["id"], r["target"], r["vstart"]) for r in rows] == [("te0", 0.4, 2.0), ("te1", -1.2, 3.0)]
    code, out, err = run_cli("score", str(preds), "--no-java")
    assert code == 0, err
    doc = json.loads((exp / "preds_test.scores.json").read_text())
    assert set(doc["metrics"]) == {"accuracy_1", "accuracy_pm1", "accuracy_3class"} and doc["n_scored"] == 2
    assert (exp / "preds_test.confusion.png").stat().st_size > 1000


def test_decode_errors(trained, run_cli, monkeypatch, tmp_path):
    root, data, exp = trained
    monkeypatch.chdir(root)
    code, _, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp),
                           "--out", "x.mp4")
    assert code == 2 and "add --fix" in err
    code, _, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp),
                           "--set", "top_k=3")
    assert code == 2 and "unknown sync decode option" in err
    short = write_clip(tmp_path / "tiny.mp4", 3.0, (1.0,), size=80)
    code, _, err = run_cli("decode", str(short), "--task", "sync", "--ckpt", str(exp))
    assert code == 2 and "at least 5 s" in err


def test_fine_tuning_starts_from_the_pretrained_weights(trained, tmp_path):
    """``--set init=EXP`` (dense pre-training -> sparse fine-tuning): the weights and architecture carry over."""
    import torch

    from vxt.errors import VxtError
    from vxt.models import load_checkpoint
    from vxt.registry import MODELS

    _, data, exp = trained
    src = load_checkpoint(exp)
    model = MODELS.create("sparsesync-tiny", {"init": str(exp), "audio_jitter": 0.02}, data_dir=data)
    assert model.config["d"] == src.config["d"] and model.config["audio_jitter"] == 0.02
    ref = src.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())
    with pytest.raises(VxtError, match="cannot change"):
        MODELS.create("sparsesync-tiny", {"init": str(exp), "d": 64}, data_dir=data)
    with pytest.raises(VxtError, match="not a checkpoint"):
        MODELS.create("sparsesync-tiny", {"init": str(tmp_path)}, data_dir=data)


def test_decode_a_long_file_slides_windows_and_votes(trained, run_cli, monkeypatch):
    root, data, exp = trained
    monkeypatch.chdir(root)
    code, out, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp),
                             "--out", str(root / "windows.json"))
    assert code == 0, err
    (row,) = json.loads((root / "windows.json").read_text())["predictions"]
    # 9.6 s, 5 s trims every 2.5 s (63 frames: 2.52 s): starts 0 and 2.52, then one ending at the file's end (4.6 s)
    assert [w["vstart"] for w in row["windows"]] == [0.0, 2.52, 4.6]
    # the overall offset is the argmax of the windows' mean probabilities; agreement counts windows within a class
    assert row["offset"] == row["candidates"][0]["offset"]
    assert [c["probability"] for c in row["candidates"]] == sorted((c["probability"] for c in row["candidates"]),
                                                                   reverse=True)
    step = 0.2
    near = [abs(w["offset"] - row["offset"]) <= step + 1e-6 for w in row["windows"]]
    assert row["agreement"] == pytest.approx(sum(near) / 3, abs=1e-4)
    assert "next candidates" in out and "3 windows of 5 s" in out and "overall:" in out
    assert "0.00-5.00 s" in out and "4.60-9.60 s" in out
    # --set vstart= reads one trim there; --set windows=1 the centred one, as before windows
    code, _, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp),
                           "--set", "windows=1", "--out", str(root / "one.json"))
    assert code == 0, err
    (one,) = json.loads((root / "one.json").read_text())["predictions"]
    assert "windows" not in one and one["vstart"] == 2.28
    code, _, err = run_cli("decode", str(data / "media" / "te0.mp4"), "--task", "sync", "--ckpt", str(exp),
                           "--set", "hop=0", "--out", str(root / "bad.json"))
    assert code != 0 and "hop= takes seconds > 0" in err


def test_file_windows_cover_the_file_and_thin_evenly():
    from vxt.models.sync.config import sync_config
    from vxt.models.sync.inputs import file_windows

    cfg = sync_config("sparsesync-tiny")
    assert [t.vstart for t in file_windows(5.0, cfg)] == [0.0]  # room for one trim: the file itself
    assert [t.vstart for t in file_windows(10.0, cfg)] == [0.0, 2.52, 5.0]
    assert [t.vstart for t in file_windows(10.0, cfg, hop=5.0)] == [0.0, 5.0]
    many = file_windows(600.0, cfg, max_windows=16)
    assert len(many) == 16 and many[0].vstart == 0.0 and many[-1].vstart == 595.0
    assert all(t.astart == t.vstart and t.offset is None for t in many)
