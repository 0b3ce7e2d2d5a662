"""recipes/msrvtt-domains/run.sh then recipes/msvd/run.sh (adapted from it) on tiny roots of real clips, tavt-tiny;
recipes/msrvtt-domains/report.py on hand-made run dirs (the mean over the targets, missing targets, METEOR).

The roots follow the benchmarks' formats (MSR-VTT's ``videodatainfo.json`` with its category indices; MSVD's
``AllVideoDescriptions.txt``, ``YouTubeClips/<clip id>.avi`` and split lists); the media are the real sample clips
in ../shared/data (symlinks), the captions short descriptions of what each clip shows.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report, markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: MSR-VTT category indices (vxt.data.adapters.msrvtt.CATEGORIES) -> TAVT domain: 4 news/events/politics and
#: 10 how-to -> news; 3 sports/actions and 1 people -> sports; 13 animals/pets -> animal; 0 music -> music (neither a
#: source nor the target here)
MSRVTT = [  # (video id, split, category, real clip under ../shared/data (all at most 640x360), captions)
    ("video0", "train", 4, "vggsound/video/-Qowmc0P9ic_34000_44000.mp4",
     ["people are marching in the street", "a band plays drums in a parade"]),
    ("video1", "train", 10, "vas/videos/fireworks/video_02997.mp4", ["fireworks explode in the sky"]),
    ("video2", "train", 3, "vggsound/video/0nib7bMm8BA_15000_25000.mp4",
     ["a man is playing tennis", "a person hits a tennis ball"]),
    ("video3", "train", 1, "videos/v_GGSY1Qvo990.mp4", ["a man lifts a heavy barbell", "a man is lifting weights"]),
    ("video4", "validate", 4, "vas/videos/fireworks/video_03051.mp4", ["fireworks go off at night"]),
    ("video5", "validate", 3, "vas/videos/cough/video_00331.mp4", ["a man is coughing"]),
    ("video6", "train", 13, "vas/videos/dog/video_02677.mp4", ["a dog is barking", "a small dog barks at the camera"]),
    ("video7", "validate", 13, "vggsound/video/1aDnyPubxdY_118000_128000.mp4", ["a lion is roaring", "lions roar"]),
    ("video8", "test", 13, "vas/videos/dog/video_02754.mp4", ["a dog is barking", "a dog barks in a room"]),
    ("video9", "test", 13, "vas/videos/baby/video_01951.mp4", ["a baby is crying", "a child cries"]),
    ("video10", "train", 0, "vas/videos/drum/video_02480.mp4", ["a man is playing the drums"]),
    ("video11", "test", 4, "vas/videos/drum/video_02542.mp4", ["a person plays a drum"]),  # a source's: not decoded
]
SOURCES, TARGET = "news,sports", "animal"
#: MSVD: clip ids <ytid>_<start>_<end>; the real ActivityNet sample (dog and scooter) and VAS clips
MSVD = [  # (clip id, split, real clip, captions)
    ("ZNVhz7ctTq0_0_14", "train", "videos/v_ZNVhz7ctTq0.mp4", ["a dog rides a scooter", "a dog is on a scooter"]),
    ("Pw9Ad8wO0fE_20_30", "train", "vas/videos/baby/video_01951.mp4", ["a baby is crying"]),
    ("Qx0bOa7Dk0s_5_15", "val", "vas/videos/cough/video_00331.mp4", ["a man is coughing"]),
    ("Ry1cPb8El1t_0_10", "test", "vas/videos/dog/video_02754.mp4", ["a dog is barking", "a dog barks"]),
    ("Sz2dQc9Fm2u_3_13", "test", "vas/videos/drum/video_02480.mp4", ["a man is playing the drums"]),
]
PAPER_MSRVTT = "TAVT (paper): mean over the five MSR-VTT targets"
PAPER_MSVD = "TAVT (paper): MSR-VTT -> MSVD, A_rec in place of audio"
FAST = ["--model", "tavt-tiny", "--batch_size", "2", "--eval_limit", "2", "--adapt_steps", "2", "--workers", "1",
        "--score_args", "--no-java", "--python", sys.executable]


def msrvtt_domains_root(shared: Path, root: Path) -> Path:
    """An MSR-VTT root (videodatainfo.json, TrainValVideo/ and TestVideo/) of real clips in four TAVT domains."""
    (root / "TrainValVideo").mkdir(parents=True)
    (root / "TestVideo").mkdir()
    videos, sentences = [], []
    for i, (vid, split, cat, clip, caps) in enumerate(MSRVTT):
        videos.append({"category": cat, "url": f"https://www.youtube.com/watch?v={vid}", "video_id": vid,
                       "start time": 10.0 + i, "end time": 20.0 + i, "split": split, "id": i})
        sentences += [{"caption": c, "video_id": vid, "sen_id": len(sentences)} for c in caps]
        folder = root / ("TestVideo" if split == "test" else "TrainValVideo")
        (folder / f"{vid}.mp4").symlink_to(shared / clip)
    (root / "videodatainfo.json").write_text(json.dumps({"info": {"year": 2016}, "videos": videos,
                                                         "sentences": sentences}))
    return root


def msvd_root(shared: Path, root: Path) -> Path:
    """An MSVD root: AllVideoDescriptions.txt, YouTubeClips/<clip id>.avi (real mp4 clips) and split lists."""
    (root / "YouTubeClips").mkdir(parents=True)
    lines = ["# MSVD descriptions", "# VideoID Description"]
    for cid, split, clip, caps in MSVD:
        (root / "YouTubeClips" / f"{cid}.avi").symlink_to(shared / clip)
        lines += [f"{cid} {c}" for c in caps]
    (root / "AllVideoDescriptions.txt").write_text("\n".join(lines) + "\n")
    for split in ("train", "val", "test"):
        (root / f"msvd_{split}.txt").write_text("".join(f"{c}\n" for c, s, _, _ in MSVD if s == split))
    return root


def _run(recipe: str, cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *args],
                         env=recipe_env(VXT_JAVA=str(cwd / "no-java")), cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def _numbers(row: list[str], n: int) -> list[float]:
    vals = [float(v) for v in row[:n]]
    assert all(math.isfinite(v) and v >= 0 for v in vals), row
    return vals


def test_msrvtt_domains_then_msvd_on_tiny_real_roots(shared_data, tmp_path):
    root = msrvtt_domains_root(shared_data, tmp_path / "msrvtt")
    data, exp = tmp_path / "data", tmp_path / "exp"
    args = ["--root", str(root), "--data", str(data), "--exp", str(exp), "--sources", SOURCES, "--targets", TARGET,
            "--n_clusters", "4", "--meta_steps", "3", *FAST]
    res = _run("msrvtt-domains", tmp_path, *args)
    for stage in range(1, 7):
        assert f"stage {stage}:" in res.stderr

    # the data: TAVT's domains from the categories
    rows = {s: [json.loads(x) for x in (data / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "test")}
    assert {r["id"]: r["domain"] for r in rows["train"]} == {
        "msrvtt-video0": "news", "msrvtt-video1": "news", "msrvtt-video2": "sports", "msrvtt-video3": "sports",
        "msrvtt-video6": "animal", "msrvtt-video10": "music"}

    # meta-training on the sources' clips with the recipe's settings (Algorithm 1); adaptation inherits them
    meta = json.loads((exp / "meta" / "config.json").read_text())
    assert meta["source_domains"] == ["news", "sports"] and meta["stage"] == "meta"
    assert (meta["n_clusters"], meta["lambda"], meta["mu"], meta["tau"]) == (4, 1e-4, 1e-2, 0.4)
    run = json.loads((exp / "meta" / "run.json").read_text())
    assert (run["overrides"]["inner_lr"], run["overrides"]["outer_lr"], run["max_steps"]) == (1e-4, 1e-3, 3)
    assert any("inner_loss" in json.loads(x) for x in (exp / "meta" / "metrics.jsonl").read_text().splitlines())
    cfg = json.loads((exp / "adapt-animal" / "config.json").read_text())
    assert cfg["stage"] == "adapt" and cfg["target_domain"] == "animal" and cfg["freeze_avmm"] is False
    assert cfg["n_clusters"] == 4 and cfg["trained_from"] == str(exp / "meta")
    preds = json.loads((exp / "adapt-animal" / "preds_test.json").read_text())["predictions"]
    assert [p["id"] for p in preds] == ["msrvtt-video8", "msrvtt-video9"]  # the target's test clips only

    # RESULTS.md: the target's row of numbers next to the paper's
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["metrics"] == ["Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"]  # --no-java
    text = (exp / "RESULTS.md").read_text()
    assert text.startswith("# TAVT across MSR-VTT's domains: meta-trained on news, sports")
    table = markdown_table(text, "# TAVT across")
    assert set(table) == {"animal", PAPER_MSRVTT}
    b1, b4, meteor, rouge, cider = table["animal"][:5]
    _numbers([b1, b4, rouge, cider], 4)
    assert meteor == "" and table["animal"][5:7] == ["2", "real"]
    assert table[PAPER_MSRVTT][:5] == ["78.5", "42.1", "28.6", "61.9", "53.0"]

    # MSVD: the audio-absent target, adapted from the meta-trained model
    mroot = msvd_root(shared_data, tmp_path / "msvd")
    mdata, mexp = tmp_path / "data-msvd", tmp_path / "exp-msvd"
    res = _run("msvd", tmp_path, "--root", str(mroot), "--data", str(mdata), "--exp", str(mexp),
               "--meta_exp", str(exp / "meta"), *FAST)
    for stage in range(1, 6):
        assert f"stage {stage}:" in res.stderr
    test = [json.loads(x) for x in (mdata / "test.jsonl").read_text().splitlines()]
    assert [(r["domain"], r["missing"]) for r in test] == [("msvd", ["audio"])] * 2
    cfg = json.loads((mexp / "adapt-msvd" / "config.json").read_text())
    assert cfg["freeze_avmm"] is True and cfg["trained_from"] == str(exp / "meta")
    preds = json.loads((mexp / "adapt-msvd" / "preds_test.json").read_text())["predictions"]
    assert sorted(p["id"] for p in preds) == sorted(r["id"] for r in test)
    table = markdown_table((mexp / "RESULTS.md").read_text(), "# TAVT from MSR-VTT (news, sports) to MSVD")
    assert set(table) == {"msvd", PAPER_MSVD}
    _numbers([table["msvd"][k] for k in (0, 1, 3, 4)], 4)
    assert table["msvd"][5:7] == ["2", "A_rec (AVMM frozen)"]
    assert table[PAPER_MSVD][:5] == ["84.7", "53.9", "36.1", "73.3", "96.8"]

    # a rerun skips every finished stage
    again = _run("msvd", tmp_path, "--root", str(mroot), "--data", str(mdata), "--exp", str(mexp),
                 "--meta_exp", str(exp / "meta"), *FAST, timeout=60)
    assert "vxt train" not in again.stderr and again.stderr.count("skip (exists") == 4


def test_msvd_without_a_meta_trained_model_says_what_to_run(shared_data, tmp_path):
    mroot = msvd_root(shared_data, tmp_path / "msvd")
    res = subprocess.run(["bash", str(REPO / "recipes" / "msvd" / "run.sh"), "--root", str(mroot), "--data",
                          str(tmp_path / "d"), "--exp", str(tmp_path / "e"), "--meta_exp", str(tmp_path / "none"),
                          *FAST], env=recipe_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "recipes/msrvtt-domains/run.sh --stop-stage 2" in res.stderr
    assert not (tmp_path / "e").exists()


def test_msvd_domains_option(shared_data, tmp_path, run_cli):
    from vxt.data.manifest import load_split

    mroot = msvd_root(shared_data, tmp_path / "msvd")
    code, _, err = run_cli("prepare", "msvd", "--root", mroot, "--out", tmp_path / "o", "--no-cache",
                           "--domains", "msvd")
    assert code == 0, err
    assert [e["domain"] for e in load_split(tmp_path / "o", "train")] == ["msvd", "msvd"]
    code, _, err = run_cli("prepare", "msvd", "--root", mroot, "--out", tmp_path / "o2", "--no-cache",
                           "--domains", "a,b")
    assert code == 2 and "one domain name" in err


def test_report_mean_over_targets_and_missing(tmp_path):
    report = load_report("msrvtt-domains")
    exp = tmp_path / "exp"
    scores = {"animation": {"Bleu_1": 0.70, "Bleu_4": 0.30, "METEOR": 0.25, "ROUGE_L": 0.60, "CIDEr": 0.40},
              "music": {"Bleu_1": 0.80, "Bleu_4": 0.40, "METEOR": 0.30, "ROUGE_L": 0.64, "CIDEr": 0.60}}
    for t, m in scores.items():
        run = exp / f"adapt-{t}"
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": m, "n_scored": 10, "settings": {"java": True, "comparable_to_published": True}}))
        (run / "config.json").write_text(json.dumps({"freeze_avmm": False}))
        (run / "train_summary.json").write_text(json.dumps({"steps": 20, "seconds": 4.0}))
    (exp / "meta").mkdir()
    (exp / "meta" / "config.json").write_text(json.dumps({"name": "tavt-base", "source_domains": ["news", "movie"],
                                                          "n_clusters": 100}))
    assert report.main([str(exp), "--targets", "animation,music,kids"]) == 0
    text = (exp / "RESULTS.md").read_text()
    table = markdown_table(text, "# TAVT across MSR-VTT's domains: meta-trained on news, movie")
    assert table["animation"][:9] == ["70.00", "30.00", "25.00", "60.00", "40.00", "10", "real", "20", "4.0"]
    assert table["mean over 2 of 3 targets"][:6] == ["75.00", "35.00", "27.50", "62.00", "50.00", "20"]
    assert table[PAPER_MSRVTT][:5] == ["78.5", "42.1", "28.6", "61.9", "53.0"]
    assert "Missing (no scores yet): kids" in text and "not comparable" not in text
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == ["kids"] and doc["mean_over"] == ["animation", "music"]
    assert math.isclose(doc["mean"]["CIDEr"], 50.0) and doc["meta"]["n_clusters"] == 100
    # one target (MSVD): no mean row; the meta-trained run named apart
    assert report.main([str(exp), "--targets", "music", "--paper", "msvd", "--meta", str(exp / "meta")]) == 0
    table = markdown_table((exp / "RESULTS.md").read_text(), "# TAVT from MSR-VTT (news, movie) to MSVD")
    assert set(table) == {"music", PAPER_MSVD}
