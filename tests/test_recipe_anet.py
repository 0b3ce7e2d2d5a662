"""recipes/anet/run.sh end to end on a tiny ActivityNet Captions root (bmt-tiny, a few steps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: the videos of the tiny root: the two real samples and two short ActivityNet videos generated as stand-ins
REAL = {"train": ["v_ZNVhz7ctTq0"], "val": ["v_GGSY1Qvo990"]}
STAND_INS = {"train": ["v_1aNOjjLWjxc"], "val": ["v_j73Wh1olDsA"]}


def _stand_in(path: Path, duration: float, seed: int) -> None:
    from vxt.data.synth import write_mp4

    rng = np.random.default_rng(seed)
    n = int(round(duration * 25))
    base = rng.integers(0, 255, size=(1, 8, 8, 3))
    frames = np.repeat(np.repeat(base, 8, axis=1), 8, axis=2).repeat(n, axis=0).astype(np.uint8)
    frames[:, :, :, 0] = (frames[:, :, :, 0].astype(int) + np.arange(n)[:, None, None] * 3 % 255).astype(np.uint8)
    wave = (0.1 * rng.standard_normal(int(duration * 16000))).astype(np.float32)
    write_mp4(path, frames, wave)


def _tiny_root(shared: Path, root: Path) -> None:
    (root / "videos").mkdir(parents=True)
    anns = {name: json.loads((shared / "anet" / f"{name}.json").read_text()) for name in ("train", "val_1", "val_2")}
    files = {"train": ["train"], "val": ["val_1", "val_2"]}
    for split, names in files.items():
        for i, vid in enumerate(REAL[split] + STAND_INS[split]):
            for name in names:
                sub = anns[name][vid]
                out = root / f"{name}.json"
                data = json.loads(out.read_text()) if out.exists() else {}
                data[vid] = sub
                out.write_text(json.dumps(data))
            target = root / "videos" / f"{vid}.mp4"
            if vid in REAL[split]:
                os.symlink(shared / "videos" / f"{vid}.mp4", target)
            else:
                _stand_in(target, float(anns[names[0]][vid]["duration"]), seed=i)


def test_recipe_runs_every_stage_on_a_tiny_root(shared_data, tmp_path):
    root = tmp_path / "root"
    _tiny_root(shared_data, root)
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env.update({"PATH": bindir + os.pathsep + env.get("PATH", ""), "VXT": str(Path(bindir) / "vxt"),
                "VXT_NO_PROGRESS": "1", "VXT_JAVA": str(tmp_path / "no-java"), "OMP_NUM_THREADS": "1"})
    cmd = ["bash", str(REPO / "recipes" / "anet" / "run.sh"), "--root", str(root), "--data", str(tmp_path / "data"),
           "--exp", str(tmp_path / "exp"), "--model", "bmt-tiny", "--max-steps", "2", "--batch-size", "2",
           "--prop-batch-size", "2", "--epochs", "1", "--prop-epochs", "1", "--workers", "1",
           "--score-args", "--no-java", "--python", sys.executable,
           "--", "--set", "feature_settings.frames=4", "--set", "feature_settings.size=32", "--set", "max_len=8"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    exp = tmp_path / "exp"
    for stage in range(1, 7):
        assert f"stage {stage}:" in res.stderr
    data = tmp_path / "data"
    assert len((data / "train.jsonl").read_text().splitlines()) >= 2  # dense + caption examples per video
    assert (exp / "captioner" / "best" / "config.json").exists() and (exp / "best" / "config.json").exists()
    for name in ("gt_val", "gt_test", "val", "test"):
        preds = json.loads((exp / f"preds_{name}.json").read_text())
        assert {p["id"] for p in preds["predictions"]} == {"v_GGSY1Qvo990-dense", "v_j73Wh1olDsA-dense"}
    gt = json.loads((exp / "preds_gt_test.json").read_text())["predictions"]
    ref = json.loads((root / "val_2.json").read_text())["v_GGSY1Qvo990"]["timestamps"]
    row = next(p for p in gt if p["id"] == "v_GGSY1Qvo990-dense")
    assert [[e["start"], e["end"]] for e in row["events"]] == ref  # val_2's own segments
    results = json.loads((exp / "results.json").read_text())
    for mode in ("gt_segments", "learned_proposals"):
        assert {"Bleu_3", "Bleu_4", "CIDEr", "Precision", "Recall", "F1"} <= set(results[mode])
        assert all(0 <= v <= 100 or k == "CIDEr" for k, v in results[mode].items())
    assert results["gt_segments"]["Recall"] == 100.0
    # a second run skips every stage whose output exists
    again = subprocess.run(cmd[:2] + ["--stage", "5"] + cmd[2:], env=env, capture_output=True, text=True, cwd=tmp_path,
                           timeout=300)
    assert again.returncode == 0 and again.stderr.count("skip (exists") == 9
