"""Dataset adapters on small roots built from the real annotation samples in ../shared/data."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from vxt.data.manifest import load_split

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import make_test_video  # noqa: E402
from roots import avsd_root, msrvtt_root, frames as _frames, tv_root as _tv_root  # noqa: E402


def _report(d: Path) -> dict:
    return json.loads((d / "prepare_report.json").read_text())


def _items(d: Path) -> dict[str, dict]:
    return {i["id"]: i for i in _report(d)["items"]}


def test_registry_lists_every_adapter():
    from vxt.registry import ADAPTERS

    assert {"synth", "videos", "anet", "tvqa", "tvc", "avsd", "msrvtt"} <= set(ADAPTERS.names())


# ---------------------------------------------------------------- ActivityNet Captions


def test_anet(shared_data, tmp_path, run_cli):
    root = tmp_path / "anet"
    (root / "videos").mkdir(parents=True)
    val1 = json.loads((shared_data / "anet" / "val_1.json").read_text())
    train = json.loads((shared_data / "anet" / "train.json").read_text())
    ids = list(val1)[:2]  # stand-ins: one named v_<id>.mp4, one <id>.mp4 without the prefix ... and one missing
    sub = {k: val1[k] for k in ids + ["v_GGSY1Qvo990", list(val1)[2]]}
    (root / "val_1.json").write_text(json.dumps(sub))
    (root / "train.json").write_text(json.dumps({"v_ZNVhz7ctTq0": train["v_ZNVhz7ctTq0"]}))
    (root / "videos" / "v_GGSY1Qvo990.mp4").symlink_to(shared_data / "videos" / "v_GGSY1Qvo990.mp4")
    (root / "videos" / "v_ZNVhz7ctTq0.mp4").symlink_to(shared_data / "videos" / "v_ZNVhz7ctTq0.mp4")
    make_test_video(root / "videos" / f"{ids[0]}.mp4", seconds=1.0, size=(32, 24))
    make_test_video(root / "videos" / f"{ids[1][2:]}.mp4", seconds=1.0, size=(32, 24), audio=False)
    out = tmp_path / "out"
    code, _, err = run_cli("prepare", "anet", "--root", root, "--out", out, "--num-clips", "2", "--frames", "4", "--size", "32")
    assert code == 0, err
    val = {e["id"]: e for e in load_split(out, "val")}
    assert load_split(out, "test") == []  # no val_2.json in this root
    dense = val["v_GGSY1Qvo990-dense"]
    ref = val1["v_GGSY1Qvo990"]
    assert dense["task"] == "dense" and dense["duration"] == ref["duration"]
    assert [e["sentence"] for e in dense["events"]] == [s.strip() for s in ref["sentences"]]
    assert [[e["start"], e["end"]] for e in dense["events"]] == ref["timestamps"]
    seg = val["v_GGSY1Qvo990-seg1"]
    assert (seg["task"], seg["start"], seg["end"], seg["targets"]) == ("caption", 2.91, 6.54, ["She lifts a barbell to her chest."])
    assert [e["id"] for e in load_split(out, "train")][0] == "v_ZNVhz7ctTq0-dense"
    items = _items(out)
    assert items[list(val1)[2]]["status"] == "skipped" and items[list(val1)[2]]["reason"] == "media file not found"
    assert items[ids[1]]["status"] == "degraded" and val[f"{ids[1]}-dense"]["missing"] == ["audio"]
    assert items["v_GGSY1Qvo990"]["status"] == "ok"
    # the cache holds the segment, not the whole video: an event of 3.6 s at 4 frames/clip
    from vxt.data.cache import DecodeSettings, MediaCache

    meta = json.loads((out / "dataset.json").read_text())
    cache = MediaCache(out, DecodeSettings.from_dict(meta["decode"]))
    assert seg in cache and cache.media_key(seg) != cache.media_key(dense)
    m = cache.get(seg)
    assert m["video"].shape == (2, 4, 32, 32, 3) and abs(m["audio"].shape[0] - 100 * (6.54 - 2.91)) < 10


# ---------------------------------------------------------------- TVQA / TVC


def test_tvqa(shared_data, tmp_path, run_cli):
    root, lines = _tv_root(shared_data, tmp_path, "tvqa/tvqa_test_public.sample.jsonl", "tvqa_test_public.jsonl", 3)
    val_line = {**lines[0], "qid": 1, "answer_idx": 2}
    (root / "tvqa_val.jsonl").write_text(json.dumps(val_line) + "\n")
    out = tmp_path / "out"
    code, _, err = run_cli("prepare", "tvqa", "--root", root, "--out", out, "--num-clips", "2", "--frames", "4", "--size", "32")
    assert code == 0, err
    test = load_split(out, "test")
    assert [e["id"] for e in test] == [f"tvqa-{x['qid']}" for x in lines[:2]]
    ex = test[0]
    assert ex["task"] == "qa" and ex["fps"] == 3 and (ex["start"], ex["end"]) == (48.62, 60.02)
    assert ex["candidates"] == [lines[0][f"a{k}"].strip() for k in range(5)] and "answer" not in ex and "targets" not in ex
    assert [c["text"] for c in ex["subtitles"]] == ["SPEAKER: inside the moment"]
    assert ex["missing"] == ["audio"] and ex["question_type"] == "who"
    assert (root / "frames" / "show_frames" / lines[0]["vid_name"]).samefile(ex["video"])
    val = load_split(out, "val")[0]
    assert val["answer"] == 2 and val["targets"] == [lines[0]["a2"].strip()]
    items = _items(out)
    assert items[lines[2]["vid_name"]]["status"] == "skipped"
    assert items[lines[0]["vid_name"]]["status"] == "ok"
    from vxt.data.cache import DecodeSettings, MediaCache

    m = MediaCache(out, DecodeSettings.from_dict(json.loads((out / "dataset.json").read_text())["decode"])).get(ex)
    assert m["video"].shape == (2, 4, 32, 32, 3) and m["audio"] is None


def test_tvc(shared_data, tmp_path, run_cli):
    root, lines = _tv_root(shared_data, tmp_path, "tvc/tvc_test_public_release.sample.jsonl", "tvc_test_public_release.jsonl", 2)
    val_lines = [json.loads(x) for x in (shared_data / "tvc/sample_val_predictions.sample.jsonl").read_text().splitlines()[:1]]
    (root / "tvc_val_release.jsonl").write_text(json.dumps(val_lines[0]) + "\n")
    _frames(root / "frames" / "show_frames" / val_lines[0]["vid_name"], math.ceil(val_lines[0]["ts"][1] * 3) + 6)
    out = tmp_path / "out"
    code, _, err = run_cli("prepare", "tvc", "--root", root, "--out", out, "--no-cache")
    assert code == 0, err
    test = load_split(out, "test")
    assert [e["id"] for e in test] == [f"tvc-{lines[0]['clip_id']}"]
    assert test[0]["duration"] == round(lines[0]["duration"], 3) and [test[0]["start"], test[0]["end"]] == lines[0]["ts"]
    assert "targets" not in test[0] and test[0]["task"] == "caption"
    val = load_split(out, "val")[0]
    assert val["targets"] == [d["desc"] for d in val_lines[0]["descs"]]
    assert _items(out)[lines[1]["vid_name"]]["status"] == "skipped"


# ---------------------------------------------------------------- AVSD


def _avsd_root(tmp_path):
    return avsd_root(tmp_path / "avsd")


def test_avsd(tmp_path, run_cli):
    root = _avsd_root(tmp_path)
    out = tmp_path / "out"
    code, _, err = run_cli("prepare", "avsd", "--root", root, "--out", out, "--no-cache")
    assert code == 0, err
    train = load_split(out, "train")
    assert [e["id"] for e in train] == ["avsd-ABC12-t0", "avsd-ABC12-t1", "avsd-ABC12-t2"]
    assert [len(e["history"]) for e in train] == [0, 1, 2]
    assert train[2]["history"] == [["is there a man?", "yes, one man"], ["what does he do?", "he opens a door"]]
    assert train[2]["question"] == "does he talk?" and train[2]["targets"] == ["no, he does not"]
    assert train[0]["caption"] == "A person opens a door and sits." and train[0]["summary"] == "a man opens a door."
    test = load_split(out, "test")
    assert len(test) == 1 and test[0]["id"] == "avsd-XYZ34-t1"  # DSTC7 test: the last turn only
    assert test[0]["targets"] == [f"reference {k}" for k in range(6)] and test[0]["history"] == [["is it a kitchen?", "yes"]]
    assert "summary" not in test[0]
    assert _items(out)["GONE1"]["status"] == "skipped"
    out2 = tmp_path / "out2"
    assert run_cli("prepare", "avsd", "--root", root, "--out", out2, "--no-cache", "--no-caption")[0] == 0
    assert all("caption" not in e and "summary" not in e for e in load_split(out2, "train"))


def test_avsd_malformed_dialog(tmp_path, run_cli):
    root = _avsd_root(tmp_path)
    (root / "train_set4DSTC7-AVSD.json").write_text(json.dumps({"dialogs": [{"image_id": "ABC12", "dialog": [{"answer": "x"}]}]}))
    code, _, err = run_cli("prepare", "avsd", "--root", root, "--out", tmp_path / "o", "--no-cache")
    assert code == 2 and "train_set4DSTC7-AVSD.json: dialog 0 (ABC12) turn 0: missing field 'question'" in err


# ---------------------------------------------------------------- MSR-VTT


def test_msrvtt(tmp_path, run_cli):
    root = msrvtt_root(tmp_path / "msrvtt")  # video3 is missing
    out = tmp_path / "out"
    code, _, err = run_cli("prepare", "msrvtt", "--root", root, "--out", out, "--no-cache")
    assert code == 0, err
    train, val, test = (load_split(out, s) for s in ("train", "val", "test"))
    assert [e["id"] for e in train] == ["msrvtt-video0"] and [e["id"] for e in val] == ["msrvtt-video1"]
    assert test[0]["targets"] == ["caption 2 of video 2", "caption 6 of video 2"]
    assert abs(train[0]["duration"] - 1.0) < 0.1 and "start" not in train[0]
    assert _items(out)["video3"]["status"] == "skipped"


def test_media_inside_the_data_dir_are_relative(tmp_path, run_cli):
    out = tmp_path / "data"
    (out / "clips").mkdir(parents=True)
    make_test_video(out / "clips" / "a.mp4", seconds=1.0, size=(32, 24))
    assert run_cli("prepare", "videos", "--root", out / "clips", "--out", out, "--no-cache")[0] == 0
    assert load_split(out, "test")[0]["video"] == "clips/a.mp4"


@pytest.mark.parametrize("dataset", ["anet", "tvqa", "tvc", "avsd", "msrvtt"])
def test_empty_root_is_an_error(tmp_path, run_cli, dataset):
    code, _, err = run_cli("prepare", dataset, "--root", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and err.startswith("vxt: error: ") and err.count("\n") == 1
