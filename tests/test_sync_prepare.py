"""``vxt prepare`` for sync data: media re-encoded to what leaks least, and seeded fixed val/test offset lists."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from syncmedia import flash_times, lag_samples, write_clip  # noqa: E402

from vxt.data.manifest import load_split  # noqa: E402

REAL = "1aDnyPubxdY_118000_128000"  # 10 s, H.264 320x240 at 30 fps, AAC 44.1 kHz mono
LIST = "fixed_offsets_{}_size21_crop5_min-2.00_max2.00.csv"


def _report(d: Path) -> dict:
    return json.loads((d / "prepare_report.json").read_text())


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _brightness(path, fps=25, n=240):
    from vxt.data.media import read_clips

    frames = read_clips(path, 1, n, 32, start=0.0, end=n / fps, fps=fps)[0]
    return frames.reshape(n, -1).mean(axis=1)


def test_prepare_reencodes_a_real_clip_and_keeps_one_already_right(shared_data, tmp_path, run_cli):
    from vxt.data.media import probe, read_audio

    root = tmp_path / "vgg"
    (root / "video").mkdir(parents=True)
    src = shared_data / "vggsound" / "video" / f"{REAL}.mp4"
    (root / "video" / src.name).symlink_to(src)
    write_clip(root / "video" / "READY000000_0_10000.mp4", 10.0, (3.0, 6.0), noise=0.01)  # H.264 25 fps, AAC 16k mono
    (root / "vggsound.csv").write_text("1aDnyPubxdY,118,lions roaring,test\nREADY000000,0,dog barking,test\n")
    out = tmp_path / "out"
    code, printed, err = run_cli("prepare", "vggsound", "--root", root, "--out", out, "--no-cache", "--task", "sound,sync")
    assert code == 0, err
    test = {e["id"]: e for e in load_split(out, "test")}
    synced = test[f"vggsound-{REAL}-sync"]
    assert synced["video"] == f"media/sync/{REAL}.mp4"
    assert test[f"vggsound-{REAL}-sound"]["video"] == str(src)  # other tasks keep the original
    assert test["vggsound-READY000000_0_10000-sync"]["video"].endswith("video/READY000000_0_10000.mp4")  # used as it is
    assert sorted(p.name for p in (out / "media" / "sync").iterdir()) == [f"{REAL}.mp4"]

    info = probe(out / synced["video"])
    assert (info.video_codec, info.fps, info.vfr, info.audio_codec, info.audio_rate, info.audio_channels) == (
        "h264", 25.0, False, "aac", 16000, 1)
    assert (info.width, info.height) == (320, 240) and info.num_frames == 250  # never scaled up; 10 s at 25 fps
    assert abs(synced["duration"] - 10.0) < 0.05

    # what was re-encoded and why, in the report and the printed summary
    media = _report(out)["sync"]["media"]
    assert media["counts"] == {"as-is": 1, "re-encoded": 1} and media["changes"] == {"30 fps, 44100 Hz": 1}
    assert "section 5.3" in media["why"] and "AAC 44.1 kHz" in media["why"]
    items = {i["id"]: i for i in _report(out)["items"]}
    assert items[REAL]["sync_media"] == "sync: re-encoded to H.264 25 fps, AAC 16 kHz mono (was 30 fps, 44100 Hz)"
    assert "already" in items["READY000000_0_10000"]["sync_media"]
    flat = " ".join(printed.split())
    assert "1 re-encoded" in flat and "artefacts" in flat and "1 already H.264 25 fps" in flat

    # the timeline is kept: the sound to the sample, the picture to the frame
    a, b = read_audio(src, sr=16000), read_audio(out / synced["video"], sr=16000)
    assert abs(len(a) - len(b)) < 1100 and lag_samples(a[:150000], b[:150000], 800) == 0
    x, y = _brightness(src), _brightness(out / synced["video"])
    x, y = x - x.mean(), y - y.mean()
    corr = [float(np.dot(x[5 + k : 235 + k], y[5:235])) for k in range(-5, 6)]
    assert int(np.argmax(corr)) - 5 == 0 and np.corrcoef(x, y)[0, 1] > 0.95

    # a rerun keeps the file it made
    made = (out / synced["video"]).stat().st_mtime_ns
    before = (out / "test.jsonl").read_text()
    assert run_cli("prepare", "vggsound", "--root", root, "--out", out, "--no-cache", "--task", "sync")[0] == 0
    assert _report(out)["sync"]["media"]["counts"] == {"as-is": 1, "kept": 1}
    assert (out / synced["video"]).stat().st_mtime_ns == made
    assert [line for line in before.splitlines() if "-sync" in line] == (out / "test.jsonl").read_text().splitlines()


def test_reencoding_keeps_a_late_audio_start_and_a_44k_stereo_track_aligned(tmp_path):
    from vxt.data.media import probe, read_audio, read_clips
    from vxt.data.media.encode import encode_for_sync, sync_form_gaps

    src = write_clip(tmp_path / "src.mp4", 6.0, (2.0, 4.52), fps=30, sr=44100, channels=2, audio_start=0.7, size=64,
                     noise=0.005)
    assert sync_form_gaps(probe(src)) == ["30 fps", "44100 Hz", "2 audio channels"]
    dst = tmp_path / "out.mp4"
    done = encode_for_sync(src, dst)
    assert done["frames"] == 150 and sync_form_gaps(probe(dst)) == []
    for path in (src, dst):
        frames = read_clips(path, 1, 140, 32, start=0.0, end=140 / 25, fps=25)[0]
        assert flash_times(frames, 25) == [2.0, 4.52]
        wave = read_audio(path, sr=16000)
        assert not np.abs(wave[: int(0.69 * 16000)]).max() > 0.05  # silence before the audio starts
        loud = np.flatnonzero(np.abs(wave) > 0.3) / 16000
        assert abs(loud[0] - 2.0) < 1e-3 and abs(loud[-1] - 4.52) < 4e-3


def _lrs3_root(root: Path) -> tuple[Path, list[str]]:
    """LRS3 folders of 9.6 s clips already in the target form (no re-encoding): 2 test, 2 val, 1 train, 1 short test."""
    from vxt.data.adapters.clips import held_out

    vals = [v for v in (f"val{i:03d}" for i in range(2000)) if held_out(v)][:2]
    keys = ["pretrain/TESTVID/00001", "pretrain/TESTVID/00002", "pretrain/SHORT/00001",
            f"pretrain/{vals[0]}/00001", f"pretrain/{vals[1]}/00003", "pretrain/trainvid/00001"]
    for i, key in enumerate(keys):
        write_clip(root / f"{key}.mp4", 6.0 if "SHORT" in key else 9.6, (2.0, 5.0), size=32, noise=0.01, seed=i)
    (root / "lrs3_test.txt").write_text("\n".join(keys[:3]) + "\n")
    return root, keys


def _sync_rows(d: Path) -> dict[str, tuple[float, float]]:
    return {e["id"]: (e["offset"], e["vstart"]) for s in ("val", "test") for e in load_split(d, s) if "offset" in e}


def test_fixed_offsets_are_seeded_feasible_and_in_sparsesync_sign(tmp_path, run_cli):
    from vxt.data.offsets import offset_grid

    root, keys = _lrs3_root(tmp_path / "lrs3")

    def prep(name, *extra):
        code, _, err = run_cli("prepare", "lrs3", "--root", root, "--out", tmp_path / name, "--no-cache", *extra)
        assert code == 0, err
        return tmp_path / name

    a, b, c = prep("a", "--seed", "3"), prep("b", "--seed", "3"), prep("c", "--seed", "4")
    for name in ("val.jsonl", "test.jsonl", LIST.format("val"), LIST.format("test")):
        assert (a / name).read_bytes() == (b / name).read_bytes()  # same seed, same lists
    assert _sync_rows(a) != _sync_rows(c)
    assert all("offset" not in e for e in load_split(a, "train"))
    grid = set(float(x) for x in offset_grid())
    got = _sync_rows(a)
    assert len(got) == 4 and "lrs3-pretrain-SHORT-00001" not in got  # the 6 s clip cannot hold a trim at every offset
    for off, v in got.values():
        assert off in grid and abs(v * 25 - round(v * 25)) < 1e-6  # a grid class; a start on the frame grid
        assert v >= 0 and v - off >= 0 and max(v, v - off) + 5 <= 9.6 + 1e-6  # neither trim leaves the clip
    lists = _report(a)["sync"]["offsets"]["lists"]
    assert lists["test"] == {"file": LIST.format("test"), "rows": 2, "sampled": 2, "too_short": 1}
    assert lists["val"]["rows"] == 2 and _report(a)["sync"]["offsets"]["seed"] == 3

    # the csv: SparseSync's paths and sign (the audio trim starts at vstart_sec + offset_sec)
    rows = {r["path"]: (float(r["offset_sec"]), float(r["vstart_sec"])) for r in _rows(a / LIST.format("test"))}
    assert set(rows) == set(keys[:2])
    for key, (off_sec, vstart) in rows.items():
        off, v = got["lrs3-" + key.replace("/", "-")]
        assert off_sec == -off and vstart == v

    # --offsets is read instead: one clip listed (SparseSync's sign), the others drawn as before
    (tmp_path / "list.csv").write_text("path,offset_sec,vstart_sec\npretrain/TESTVID/00001.mp4,0.4,2.0\n"
                                       "pretrain/GONE/00009,1.0,1.0\n")
    d = prep("d", "--seed", "3", "--offsets", tmp_path / "list.csv")
    want = dict(got, **{"lrs3-pretrain-TESTVID-00001": (-0.4, 2.0)})
    assert _sync_rows(d) == want
    assert _report(d)["sync"]["offsets"]["lists"]["test"] == {"file": LIST.format("test"), "rows": 2, "from_list": 1,
                                                              "sampled": 1, "too_short": 1}
    assert "pretrain/TESTVID/00001,0.4,2.0" in (d / LIST.format("test")).read_text().splitlines()
    # a written list read back (whatever the seed) gives the same examples
    (tmp_path / "both.csv").write_text((a / LIST.format("val")).read_text()
                                       + "".join(f"{r}\n" for r in (a / LIST.format("test")).read_text().splitlines()[1:]))
    e = prep("e", "--seed", "9", "--offsets", tmp_path / "both.csv")
    assert _sync_rows(e) == got and (e / "test.jsonl").read_bytes() == (a / "test.jsonl").read_bytes()
