"""``vxt prepare``: the synth data dir end to end, resume after kill -9, worker-count independence, media folders, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vxt.data import synth
from vxt.data.manifest import load_split

REPO = Path(__file__).resolve().parents[1]
VXT = REPO / ".venv" / "bin" / "vxt"
TINY = ["--n-train", "3", "--n-val", "1", "--n-test", "2", "--n-dense-train", "1", "--n-dense-val", "0", "--n-dense-test", "0"]


def _manifests(d: Path) -> dict[str, bytes]:
    return {s: (d / f"{s}.jsonl").read_bytes() for s in ("train", "val", "test")}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    from vxt.cli import main

    d = tmp_path_factory.mktemp("synth")
    assert main(["prepare", "synth", "--out", str(d), *TINY]) == 0
    return d


def test_synth_data_dir(synth_dir):
    from vxt.data.media import find_sidecar_subtitles, probe, read_audio
    from vxt.data.subtitles import read_subtitles

    d = synth_dir
    train, val, test = (load_split(d, s) for s in ("train", "val", "test"))
    assert [e["task"] for e in train].count("caption") == 3 and [e["task"] for e in train].count("dense") == 1
    # each clip: a caption, one question of each of the 5 types, a dialog
    assert len(val) == 7 and len(test) == 14
    qa = [e for e in val if e["task"] == "qa"]
    assert sorted(e["question_type"] for e in qa) == sorted(synth.QUESTION_TYPES)
    assert (d / "labels" / "video.txt").read_text().split("\n")[:-1] == [
        "moves left", "moves right", "moves up", "moves down", "grows", "shrinks", "blinks", "stays still"]
    assert (d / "labels" / "audio.txt").read_text().split() == ["low", "hum", "high", "beep", "rising", "whistle", "drum", "rain", "silence"]
    meta = json.loads((d / "dataset.json").read_text())
    assert meta["adapter"] == "synth" and meta["seed"] == 0 and meta["vxt_version"]
    assert meta["decode"] == {"num_clips": 4, "frames": 8, "size": 64, "fps": 6.0, "audio_sr": 16000}
    report = json.loads((d / "prepare_report.json").read_text())
    assert report["counts"]["train"] == {"caption": 3, "dense": 1, "dialog": 3, "qa": 15}
    assert report["summary"]["skipped"] == 0
    for ex in train + test:
        video = d / ex["video"]
        assert ex["video"].startswith("media/")
        info = probe(video)
        assert info.has_video and info.video_codec == "h264" and abs(info.duration - ex["duration"]) < 0.1
        assert info.has_audio == ("missing" not in ex)
        if info.has_audio:
            assert abs(len(read_audio(video)) / 16000 - ex["duration"]) < 0.1
        assert read_subtitles(find_sidecar_subtitles(video)) == ex["subtitles"]


def test_cache_serves_every_example(synth_dir):
    from vxt.data.cache import DecodeSettings, MediaCache

    from vxt.data.cache import settings_for

    assert settings_for(synth_dir, "dense") == settings_for(synth_dir, "qa") == DecodeSettings(fps=6.0)
    for split in ("train", "test"):
        for ex in load_split(synth_dir, split):
            settings = settings_for(synth_dir, ex["task"])
            cache = MediaCache(synth_dir, settings)
            assert ex in cache  # built by prepare: no decoding here
            m = cache.get(ex)
            assert m["video"].shape == (settings.num_clips, 8, 64, 64, 3)
            if "missing" in ex:
                assert m["audio"] is None
            else:
                assert m["audio"].shape[1] == 64 and abs(m["audio"].shape[0] - 100 * ex["duration"]) < 10


def test_rerun_keeps_everything(synth_dir, run_cli):
    before = {p: p.stat().st_mtime_ns for p in (synth_dir / "media").iterdir()}
    shards = {p: p.stat().st_mtime_ns for p in (synth_dir / "cache").rglob("*.safetensors")}
    manifests = _manifests(synth_dir)
    code, out, err = run_cli("prepare", "synth", "--out", synth_dir, *TINY)
    assert code == 0, err
    assert json.loads((synth_dir / "prepare_report.json").read_text())["stats"] == {"generated": 0, "kept": 7}
    assert {p: p.stat().st_mtime_ns for p in (synth_dir / "media").iterdir()} == before
    assert {p: p.stat().st_mtime_ns for p in (synth_dir / "cache").rglob("*.safetensors")} == shards
    assert _manifests(synth_dir) == manifests


def test_annotations_do_not_depend_on_workers(tmp_path, run_cli):
    args = ["--n-train", "2", "--n-val", "1", "--n-test", "1", "--n-dense-train", "0", "--n-dense-val", "0", "--n-dense-test", "0", "--no-cache"]
    assert run_cli("prepare", "synth", "--out", tmp_path / "w1", *args)[0] == 0
    assert run_cli("prepare", "synth", "--out", tmp_path / "w2", *args, "--workers", "2")[0] == 0
    assert _manifests(tmp_path / "w1") == _manifests(tmp_path / "w2")
    args = ["--n-train", "1", "--n-val", "0", "--n-test", "0", "--n-dense-train", "0", "--n-dense-val", "0", "--n-dense-test", "0", "--no-cache"]
    assert run_cli("prepare", "synth", "--out", tmp_path / "s1", *args, "--seed", "1")[0] == 0
    assert _manifests(tmp_path / "s1")["train"].split(b"\n")[0] != _manifests(tmp_path / "w1")["train"].split(b"\n")[0]


def test_kill_9_then_resume(tmp_path):
    """Kill a run mid-way; the rerun keeps what was finished and ends with the manifests of an unbroken run."""
    args = ["--n-train", "8", "--n-val", "1", "--n-test", "1", "--n-dense-train", "0", "--n-dense-val", "0", "--n-dense-test", "0", "--no-cache"]
    env = {**os.environ, "VXT_NO_PROGRESS": "1"}
    d = tmp_path / "killed"
    proc = subprocess.Popen([str(VXT), "prepare", "synth", "--out", str(d), *args, "--workers", "2"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((d / "media").glob("*.mp4"))) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in (d / "media").glob("*.mp4")}
    assert 3 <= len(done) < 10, "the run was not interrupted mid-way"
    assert not (d / "train.jsonl").exists()
    time.sleep(0.05)
    r = subprocess.run([str(VXT), "prepare", "synth", "--out", str(d), *args], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads((d / "prepare_report.json").read_text())
    assert report["stats"]["kept"] >= len(done) and report["stats"]["generated"] + report["stats"]["kept"] == 10
    for p, mtime in done.items():
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was regenerated"
    assert not list((d / "media").glob(".*"))  # no temp files left
    ref = tmp_path / "ref"
    r = subprocess.run([str(VXT), "prepare", "synth", "--out", str(ref), *args, "--workers", "2"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _manifests(d) == _manifests(ref)


def test_videos_folder(shared_data, tmp_path, run_cli):
    code, out, err = run_cli("prepare", "videos", "--root", shared_data / "videos", "--out", tmp_path, "--no-cache")
    assert code == 0, err
    test = {e["id"]: e for e in load_split(tmp_path, "test")}
    assert load_split(tmp_path, "train") == []
    want = {"v_GGSY1Qvo990": 18.2, "v_ZNVhz7ctTq0": 14.0, "women_long_jump": 35.1}
    assert set(test) == set(want)
    for k, dur in want.items():
        assert abs(test[k]["duration"] - dur) < 0.1
        assert test[k]["task"] == "caption" and "targets" not in test[k]
        assert Path(test[k]["video"]).is_absolute()  # media outside the data dir: absolute paths
    report = json.loads((tmp_path / "prepare_report.json").read_text())
    assert report["summary"] == {"ok": 3, "degraded": 0, "skipped": 0}


def test_bad_corpus(tmp_path, run_cli):
    sys.path.insert(0, str(Path(__file__).parent))
    from badmedia import make_bad_corpus

    expected = make_bad_corpus(tmp_path / "bad")
    code, out, err = run_cli("prepare", "videos", "--root", tmp_path / "bad", "--out", tmp_path / "out")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "prepare_report.json").read_text())
    got = {}
    for item in report["items"]:
        name = Path(item["file"]).name
        got[name] = item["status"] + (f":{','.join(item['missing'])}" if item["status"] == "degraded" else "")
        if item["status"] != "ok":
            assert item["reason"]
    assert got == expected
    kept = {e["id"] for e in load_split(tmp_path / "out", "test")}
    assert kept == {Path(n).stem for n, s in expected.items() if s != "skipped"}
    assert "skipped" in out and "degraded" in out  # the summary table
    latin = next(e for e in load_split(tmp_path / "out", "test") if e["id"] == "latin1")
    assert [c["text"] for c in latin["subtitles"]] == ["Ça va? Très bien, merci.", "Señor Müller, à bientôt!"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["prepare", "videos", "--root", "/no/such/dir", "--out", "{tmp}/o"], "/no/such/dir: no such folder"),
        (["prepare", "kinetics", "--out", "{tmp}/o"], "unknown dataset 'kinetics'"),
        (["prepare", "videos", "--out", "{tmp}/o"], "needs --root"),
        (["prepare", "videos", "--root", "{tmp}", "--n-train", "3", "--out", "{tmp}/o"], "does not take --n-train"),
        (["prepare", "anet", "--root", "{tmp}/anet", "--out", "{tmp}/o"], "val_1.json: malformed JSON at line 2"),
        (["prepare", "tvqa", "--root", "{tmp}/tvqa", "--out", "{tmp}/o"], "tvqa_val.jsonl: line 2: missing field 'a4'"),
    ],
)
def test_bad_input_is_one_line(tmp_path, run_cli, args, message):
    (tmp_path / "anet").mkdir()
    (tmp_path / "anet" / "val_1.json").write_text('{"v_a": {"duration": 3,\n "timestamps": [[0, 1]],}}')
    (tmp_path / "tvqa").mkdir()
    line = {"q": "why?", "vid_name": "x", "qid": 1, **{f"a{k}": "y" for k in range(5)}}
    bad = {k: v for k, v in line.items() if k != "a4"}
    (tmp_path / "tvqa" / "tvqa_val.jsonl").write_text(json.dumps(line) + "\n" + json.dumps(bad) + "\n")
    code, out, err = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("vxt: error: ") and message in err, err
