"""recipes/lrs3/run.sh then recipes/vggsound-sparse/run.sh (fine-tuned from it) on tiny roots, sparsesync-tiny."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import recipe_env  # noqa: E402
from roots import vggsound_root  # noqa: E402
from syncmedia import write_clip  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAST = ["--model", "sparsesync-tiny", "--max_steps", "2", "--epochs", "1", "--batch_size", "1", "--workers", "1",
        "--python", sys.executable]


def _run(recipe: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *args], env=recipe_env(), cwd=cwd,
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def test_lrs3_pretraining_then_vggsound_sparse_fine_tuning(shared_data, tmp_path):
    lrs3 = tmp_path / "lrs3"
    for i, key in enumerate(["pretrain/TESTVID/00001", "pretrain/trainvid/00001", "pretrain/trainvid/00002"]):
        write_clip(lrs3 / f"{key}.mp4", 9.6, (2.0, 5.0), size=32, noise=0.01, seed=i)
    (lrs3 / "lrs3_test.txt").write_text("pretrain/TESTVID/00001\n")
    _run("lrs3", tmp_path, "--root", str(lrs3), *FAST)
    exp = tmp_path / "exp" / "lrs3-sparsesync"
    res = json.loads((exp / "results.json").read_text())
    assert {"accuracy_1", "accuracy_pm1", "accuracy_3class"} <= set(res)
    assert res["paper_accuracy_pm1"]["full scene"] == 96.9
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["selectors"] is True and cfg["clip_seconds"] == 5

    vgg = vggsound_root(shared_data, tmp_path / "vggsound")
    out = _run("vggsound-sparse", tmp_path, "--root", str(vgg), "--lrs3_exp", str(exp), "--cells",
               "pretrained scratch", *FAST)
    vexp = tmp_path / "exp" / "vggsound-sparse"
    doc = json.loads((vexp / "results.json").read_text())
    assert set(doc["cells"]) == {"pretrained", "scratch"} and doc["paper_accuracy_pm1"]["pretrained"] == 44.3
    assert "| pretrained |" in (vexp / "RESULTS.md").read_text() and "| scratch |" in out.stdout
    # the fine-tuned run starts from the LRS3 weights; the scratch one does not
    assert json.loads((vexp / "pretrained" / "config.json").read_text())["init"] == str(exp)
    assert json.loads((vexp / "scratch" / "config.json").read_text()).get("init") is None
    # a rerun skips every finished stage
    again = _run("vggsound-sparse", tmp_path, "--root", str(vgg), "--lrs3_exp", str(exp), "--cells",
                 "pretrained scratch", *FAST)
    assert again.stderr.count("skip (exists") >= 5
