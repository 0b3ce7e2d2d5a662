"""The audio-visual and pre-training adapters: vggsound, vas, lrs3, howto100m, youcook2, vatex, msvd, msrvtt --domains."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vxt.data.manifest import load_split

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import make_test_video  # noqa: E402
from roots import msrvtt_root, vas_root, vggsound_root  # noqa: E402


def _items(d: Path) -> dict[str, dict]:
    return {i["id"]: i for i in json.loads((d / "prepare_report.json").read_text())["items"]}


def _all(d: Path) -> dict[str, dict]:
    return {e["id"]: e for s in ("train", "val", "test") for e in load_split(d, s)}


def _prep(run_cli, name, root, out, *extra):
    code, _, err = run_cli("prepare", name, "--root", root, "--out", out, "--no-cache", *extra)
    assert code == 0, err


def test_registry_lists_the_new_adapters():
    from vxt.registry import ADAPTERS

    assert {"vggsound", "vas", "lrs3", "howto100m", "youcook2", "vatex", "msvd"} <= set(ADAPTERS.names())


def test_vggsound_sound_and_sync(shared_data, tmp_path, run_cli):
    root = vggsound_root(shared_data, tmp_path / "vgg")
    out = tmp_path / "out"
    _prep(run_cli, "vggsound", root, out)
    exs = _all(out)
    ex = exs["vggsound--1pRmoJIGQc_10000_20000-sound"]
    assert ex["task"] == "sound" and ex["label"] == "dog barking" and ex["video"].endswith("video/-1pRmoJIGQc_10000_20000.mp4")
    assert abs(ex["duration"] - 10.0) < 0.2
    assert exs["vggsound--Qowmc0P9ic_34000_44000-sound"]["label"] == "people marching, drums"
    assert {e["id"] for e in load_split(out, "test")} == {"vggsound--1pRmoJIGQc_10000_20000-sound", "vggsound-1aDnyPubxdY_118000_128000-sound"}
    assert _items(out)["GONE0000000_5000_15000"]["status"] == "skipped"
    assert json.loads((out / "dataset.json").read_text())  # written by the base machinery

    # sync, VGGSound-Sparse, SparseSync's real fixed offsets and test list (both name -1pRmoJIGQc_10000_20000)
    sample = shared_data / "vggsound" / "fixed_offsets_test_size21_crop5_min-2.00_max2.00.sample.csv"
    (tmp_path / "offsets.csv").write_text(sample.read_text().rstrip("\n") + "\nvggsound/1aDnyPubxdY_118000_128000.mp4,-0.2,3.2\n")
    out2 = tmp_path / "out2"
    _prep(run_cli, "vggsound", root, out2, "--task", "sync", "--sparse", "--offsets", tmp_path / "offsets.csv",
          "--split-list", shared_data / "vggsound" / "vggsound_test.sample.txt", "--no-reencode")  # test_sync_prepare re-encodes
    test, val = load_split(out2, "test"), load_split(out2, "val")
    assert [e["id"] for e in test] == ["vggsound--1pRmoJIGQc_10000_20000-sync"]
    from vxt.metrics.sync import from_sparsesync_offset

    # the list's row is "-1pRmoJIGQc_10000_20000,-1.6,4.36": SparseSync's audio starts 1.6 s earlier -> audio lags by 1.6 s
    assert test[0]["task"] == "sync" and test[0]["offset"] == from_sparsesync_offset(-1.6) == 1.6 and test[0]["vstart"] == 4.36
    assert [(e["id"], e["offset"], e["vstart"]) for e in val] == [("vggsound-1aDnyPubxdY_118000_128000-sync", 0.2, 3.2)]
    from vxt.data.adapters import vggsound

    assert vggsound.from_sparsesync_offset is from_sparsesync_offset  # one rule, in vxt.data.offsets
    labels = {e["label"] for e in _all(out2).values()}
    assert labels == {"dog barking", "playing tennis", "lions roaring"}  # people marching is not a sparse class
    assert all("offset" not in e for e in load_split(out2, "train"))
    assert run_cli("prepare", "vggsound", "--root", root, "--out", tmp_path / "o3", "--task", "qa")[0] == 2


def test_vas(shared_data, tmp_path, run_cli):
    root = vas_root(shared_data, tmp_path / "vas")
    out = tmp_path / "out"
    _prep(run_cli, "vas", root, out)
    val = {e["id"]: e for e in load_split(out, "val")}
    assert list(val) == ["vas-baby-video_01951"]  # the one clip of the real list that is here
    assert val["vas-baby-video_01951"]["label"] == "baby" and val["vas-baby-video_01951"]["task"] == "sound"
    assert [e["id"] for e in load_split(out, "test")] == list(val)  # VAS reports on its valid list
    train = load_split(out, "train")
    assert len(train) == 9 and {e["label"] for e in train} == {"cough", "dog", "drum", "fireworks", "gun", "hammer"}
    items = _items(out)
    assert items["baby/video_01933"]["status"] == "skipped" and items["baby/video_01933"]["reason"] == "media file not found"
    meta = json.loads((out / "dataset.json").read_text())
    assert "22050" in json.dumps(meta)


def test_lrs3(shared_data, tmp_path, run_cli):
    root = tmp_path / "lrs3"
    clip = root / "pretrain" / "C8zY0oAdQrs"
    clip.mkdir(parents=True)
    (clip / "00018.txt").symlink_to(shared_data / "lrs3" / "pretrain" / "C8zY0oAdQrs" / "00018.txt")
    make_test_video(clip / "00018.mp4", seconds=1.0, size=(32, 24))
    other = root / "pretrain" / "-MTRxRO5SRA"
    other.mkdir()
    (other / "00002.txt").write_text("Text:  SO WE STARTED\nConf:  4\nRef:   -MTRxRO5SRA\n\nWORD START END ASDSCORE\nSO 0.06 0.19 4.2\n"
                                     "WE 0.19 0.3 4.1\nSTARTED 0.3 0.8 4.0\n")
    make_test_video(other / "00002.mp4", seconds=1.0, size=(32, 24))
    (root / "lrs3_test.txt").symlink_to(shared_data / "lrs3" / "lrs3_test.sample.txt")
    out = tmp_path / "out"
    _prep(run_cli, "lrs3", root, out)
    test = {e["id"]: e for e in load_split(out, "test")}
    assert list(test) == ["lrs3-pretrain--MTRxRO5SRA-00002"]
    ex = test["lrs3-pretrain--MTRxRO5SRA-00002"]
    assert ex["task"] == "sync" and ex["subtitles"][0]["text"] == "SO WE STARTED"
    rest = {e["id"]: e for s in ("train", "val") for e in load_split(out, s)}
    assert "subtitles" not in rest["lrs3-pretrain-C8zY0oAdQrs-00018"]  # the sample has no Text: line
    assert _items(out)["pretrain/-MTRxRO5SRA/00004"]["status"] == "skipped"


def test_howto100m_clip_growth(tmp_path, run_cli):
    from vxt.data.adapters.howto100m import grow_clips

    sents = [{"start": float(s), "end": float(e), "text": t} for s, e, t in
             [(0, 2, "a"), (2, 4, "b"), (4, 6, "c"), (6, 7, "d"), (7, 8, "e"), (8, 20, "f"), (20, 21, "g")]]
    assert grow_clips(sents) == [(0, 2), (3, 5), (5, 6)]  # forward; the short tail "g" grows backward over "f"
    root = tmp_path / "ht"
    (root / "videos").mkdir(parents=True)
    ann = {"vidA": {"start": [s["start"] for s in sents], "end": [s["end"] for s in sents], "text": [s["text"] for s in sents]},
           "vidGone": {"start": [0.0], "end": [6.0], "text": ["x"]}}
    (root / "caption.json").write_text(json.dumps(ann))
    make_test_video(root / "videos" / "vidA.mp4", seconds=1.0, size=(32, 24))
    out = tmp_path / "out"
    _prep(run_cli, "howto100m", root, out)
    exs = _all(out)
    c0, c2 = exs["howto100m-vidA-c0"], exs["howto100m-vidA-c2"]
    assert (c0["start"], c0["end"], c0["targets"], c0["next_targets"]) == (0.0, 6.0, ["a b c"], ["d"])
    assert [s["text"] for s in c0["subtitles"]] == ["a", "b", "c"] and c0["task"] == "caption"
    assert c2["targets"] == ["f g"] and c2["start"] == 8.0 and c2["next_targets"] == []  # still pre-training (PCC)
    assert _items(out)["vidGone"]["status"] == "skipped"


def test_youcook2(tmp_path, run_cli):
    root = tmp_path / "yc2"
    (root / "raw_videos" / "training" / "101").mkdir(parents=True)
    db = {"database": {"GLd3aX16zBg": {"duration": 1.0, "subset": "training", "recipe_type": "101", "annotations": [
        {"segment": [0, 0.4], "id": 0, "sentence": "spread margarine on two slices of white bread"},
        {"segment": [0.4, 0.9], "id": 1, "sentence": "place a slice of cheese on the bread"}]},
        "xHr8X2Wpmno": {"duration": 5.0, "subset": "validation", "annotations": [{"segment": [1, 2], "sentence": "x"}]}}}
    (root / "youcookii_annotations_trainval.json").write_text(json.dumps(db))
    make_test_video(root / "raw_videos" / "training" / "101" / "GLd3aX16zBg.mp4", seconds=1.0, size=(32, 24))
    out = tmp_path / "out"
    _prep(run_cli, "youcook2", root, out)
    train = {e["id"]: e for e in load_split(out, "train")}
    seg = train["yc2-GLd3aX16zBg-seg1"]
    assert (seg["task"], seg["start"], seg["end"], seg["targets"]) == ("caption", 0.4, 0.9, ["place a slice of cheese on the bread"])
    assert len(train["yc2-GLd3aX16zBg-dense"]["events"]) == 2
    assert load_split(out, "val") == [] and _items(out)["xHr8X2Wpmno"]["status"] == "skipped"


def test_vatex(tmp_path, run_cli):
    root = tmp_path / "vatex"
    (root / "videos").mkdir(parents=True)
    caps = [f"english caption {k}" for k in range(10)]
    (root / "vatex_training_v1.0.json").write_text(json.dumps([
        {"videoID": "Ptf_2VRj-V0_000122_000132", "enCap": caps, "chCap": ["一"] * 10},
        {"videoID": "Gone0000000_000001_000011", "enCap": caps}]))
    (root / "vatex_validation_v1.0.json").write_text(json.dumps([{"videoID": "abcdefghijk_000002_000003", "enCap": caps[:2]}]))
    make_test_video(root / "videos" / "Ptf_2VRj-V0_000122_000132.mp4", seconds=1.0, size=(32, 24))
    make_test_video(root / "videos" / "abcdefghijk.mp4", seconds=1.0, size=(32, 24))  # the whole video
    out = tmp_path / "out"
    _prep(run_cli, "vatex", root, out)
    tr = load_split(out, "train")
    assert [e["id"] for e in tr] == ["vatex-Ptf_2VRj-V0_000122_000132"] and tr[0]["targets"] == caps and "start" not in tr[0]
    va = load_split(out, "val")[0]
    assert (va["start"], va["end"]) == (2.0, 3.0)
    assert _items(out)["Gone0000000_000001_000011"]["status"] == "skipped"


def test_msrvtt_domains(tmp_path, run_cli):
    root = msrvtt_root(tmp_path / "msrvtt", splits=("train",) * 4, missing=())
    info = json.loads((root / "videodatainfo.json").read_text())
    for v, cat in zip(info["videos"], (10, 15, 16, 9)):  # how-to, documentary, food/drink, vehicles/autos
        v["category"] = cat
    (root / "videodatainfo.json").write_text(json.dumps(info))
    out = tmp_path / "out"
    _prep(run_cli, "msrvtt", root, out, "--domains", "tavt")
    assert [e["domain"] for e in load_split(out, "train")] == ["news", "movie", "cooking", "traffic"]
    _prep(run_cli, "msrvtt", root, tmp_path / "o2")
    assert all("domain" not in e for e in load_split(tmp_path / "o2", "train"))
    from vxt.data.adapters.msrvtt import TAVT_DOMAINS

    assert len(TAVT_DOMAINS) == 20 and len(set(TAVT_DOMAINS.values())) == 10


def test_msvd(tmp_path, run_cli):
    root = tmp_path / "msvd"
    (root / "YouTubeClips").mkdir(parents=True)
    ids = [f"clip{k:02d}_1_5" for k in range(6)]
    lines = ["# MSVD descriptions", "# VideoID Description"] + [f"{c} a man is doing thing {j}" for c in ids for j in range(2)]
    (root / "AllVideoDescriptions.txt").write_text("\n".join(lines) + "\n")
    for c in ids[:5]:
        make_test_video(root / "YouTubeClips" / f"{c}.avi", seconds=0.5, size=(32, 24))
    out = tmp_path / "out"
    _prep(run_cli, "msvd", root, out)
    exs = _all(out)
    assert len(exs) == 5 and all(e["missing"] == ["audio"] for e in exs.values())
    assert exs[f"msvd-{ids[0]}"]["targets"] == [f"a man is doing thing {j}" for j in range(2)]
    from vxt.data.adapters.msvd import seeded_split

    want = seeded_split(ids, 0)
    assert {s: sorted(e["id"] for e in load_split(out, s)) for s in ("train", "val", "test")} == \
        {s: sorted(f"msvd-{c}" for c in ids[:5] if want[c] == s) for s in ("train", "val", "test")}
    assert _items(out)[ids[5]]["status"] == "skipped"


@pytest.mark.parametrize("dataset", ["vggsound", "vas", "lrs3", "howto100m", "youcook2", "vatex", "msvd"])
def test_empty_root_is_an_error(tmp_path, run_cli, dataset):
    code, _, err = run_cli("prepare", dataset, "--root", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and err.startswith("vxt: error: ") and err.count("\n") == 1
