"""recipes/avcap/run.sh end to end on tiny narrated videos (avcap-tiny, 2 optimizer steps, one seed, three cells),
and recipes/avcap/report.py on hand-made run dirs (mean ± std, missing runs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report, markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
CELLS = ["none", "mbp", "no-pretrain"]


def _report():
    return load_report("avcap")


def _env(tmp_path: Path) -> dict:
    return recipe_env(VXT_JAVA=str(tmp_path / "no-java"), MPLBACKEND="Agg")


def _run(tmp_path: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    cmd = ["bash", str(REPO / "recipes" / "avcap" / "run.sh"), *args]
    return subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=timeout)


_table = markdown_table


def test_recipe_pretrains_finetunes_scores_and_plots(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    args = ["--data", str(data), "--exp", str(exp), "--seeds", "0", "--cells", " ".join(CELLS),
            "--n_train", "2", "--n_val", "1", "--n_test", "1", "--workers", "1", "--pretrain_steps", "2",
            "--finetune_steps", "2", "--batch_size", "4", "--eval_limit", "2", "--beam", "2",
            "--python", sys.executable]
    t0 = time.time()
    res = _run(tmp_path, *args)
    elapsed = time.time() - t0
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    for stage in range(1, 6):
        assert f"stage {stage}:" in res.stderr
    cmds = [x for x in res.stderr.splitlines() if "$ " in x]
    assert all(" train --resume --task caption --model avcap-tiny " in x for x in cmds if " train " in x)
    pre = [x for x in cmds if "--stage pretrain" in x]
    assert len(pre) == 2 and "--set balance=none" in pre[0] and "--set balance=mbp" in pre[1]
    assert all("--lr 1e-3" in x for x in pre)
    fine = {x.rsplit("--out ", 1)[1]: x for x in cmds if "--stage finetune" in x}
    assert set(fine) == {f"{exp}/finetune-{c}-seed0" for c in CELLS}
    assert f"--set init={exp}/pretrain-mbp-seed0" in fine[f"{exp}/finetune-mbp-seed0"]
    assert "init=" not in fine[f"{exp}/finetune-no-pretrain-seed0"] and all("--lr 1e-4" in x for x in fine.values())
    assert sum(" score " in x and x.endswith("--no-java") for x in cmds) == 3

    # the runs: the stages' own examples, the balancer's losses logged, fine-tuned from the pre-trained vocabulary
    pt = json.loads((exp / "pretrain-mbp-seed0" / "config.json").read_text())
    assert pt["stage"] == "pretrain" and pt["balance"] == "mbp"
    ft = json.loads((exp / "finetune-mbp-seed0" / "config.json").read_text())
    assert ft["stage"] == "finetune" and ft["vocab"] == pt["vocab"]
    for k in ("none", "mbp"):
        logged = [json.loads(x) for x in (exp / f"pretrain-{k}-seed0" / "metrics.jsonl").read_text().splitlines()]
        assert {"loss_av", "loss_a", "loss_v", "w_a", "w_v"} <= set(next(r for r in logged if "split" not in r))
    test_rows = [json.loads(x) for x in (data / "test.jsonl").read_text().splitlines() if x.strip()]
    captions = [r["id"] for r in test_rows if r["task"] == "caption" and "next_targets" not in r]
    preds = json.loads((exp / "finetune-none-seed0" / "preds_test.json").read_text())["predictions"]
    assert [p["id"] for p in preds] == captions and captions

    # the report: every cell, finite numbers, nothing missing, both plots
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["cells"] == CELLS and doc["seeds"] == [0]
    assert doc["metrics"] == ["Bleu_4", "ROUGE_L", "CIDEr"]  # no METEOR without Java
    assert [r["cell"] for r in doc["summary"]] == CELLS
    for r in doc["runs"]:
        assert r["n"] == len(captions) and all(math.isfinite(r[k]) and r[k] >= 0 for k in doc["metrics"])
    assert {p["pretrain"] for p in doc["pretraining"]} == {"none", "mbp"}
    mbp = next(p for p in doc["pretraining"] if p["pretrain"] == "mbp")
    assert mbp["w_a"]["mean"] + mbp["w_v"]["mean"] == pytest.approx(1.0)
    text = (exp / "RESULTS.md").read_text()
    table = _table(text, "## Pre-training objectives")
    assert set(table) == {"PCC + PNC, no balancing", "PCC + PNC, MBP", "no pre-training"}
    assert all(math.isfinite(float(v)) for row in table.values() for v in row[:3])
    assert "no switch to pre-train without Predict Next Caption" in text
    assert "## Pre-training losses" in text and "Missing" not in text
    for png in ("cider.png", "losses.png"):
        assert (exp / png).read_bytes()[:8] == PNG
    assert elapsed < 100, f"the tiny recipe took {elapsed:.0f} s"

    # a rerun skips every finished stage
    again = _run(tmp_path, *args, timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    assert again.stderr.count("skip (exists") == 1 + 2 + 3 + 3 * 2

    # the optional groups expand to their cells (sharing the mbp runs where the settings are the default's);
    # with nothing trained for them the report lists them as missing; an unknown cell is refused
    other = tmp_path / "exp-groups"
    only5 = _run(tmp_path, *args[:2], "--exp", str(other), "--seeds", "0", "--cells", "mbp fusion inputs", "--stage", "5",
                 "--python", sys.executable, timeout=60)
    assert only5.returncode == 0, only5.stderr[-3000:]
    doc = json.loads((other / "results.json").read_text())
    assert doc["cells"] == ["mbp", "fusion-merged", "fusion-cross", "fusion-global", "fusion-local_global_merged",
                            "fusion-local_global_cross", "inputs-A", "inputs-V", "inputs-VA", "inputs-VT",
                            "inputs-VAT"]
    assert sorted(Path(m).name for m in doc["missing"]) == sorted(
        [f"finetune-{c}-seed0" for c in ("fusion-merged", "fusion-cross", "fusion-global",
                                         "fusion-local_global_cross", "inputs-A", "inputs-V", "inputs-VT",
                                         "inputs-VAT", "mbp")])  # the mbp runs once
    bad = _run(tmp_path, "--cells", "no-pnc", "--stage", "5", timeout=30)
    assert bad.returncode == 2 and "unknown cell no-pnc" in bad.stderr


def test_report_mean_std_missing_and_the_loss_curves(tmp_path):
    exp = tmp_path / "exp"
    cider = {("mbp", 0): 0.30, ("mbp", 1): 0.50, ("none", 0): 0.20}
    for (cell, seed), v in cider.items():
        run = exp / f"finetune-{cell}-seed{seed}"
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"Bleu_4": v / 2, "ROUGE_L": v, "CIDEr": v}, "n_scored": 16, "settings": {"java": False}}))
        (run / "train_summary.json").write_text(json.dumps({"steps": 30, "seconds": 10.0}))
    for k in ("none", "mbp"):
        for seed in (0, 1):
            run = exp / f"pretrain-{k}-seed{seed}"
            run.mkdir(parents=True)
            (run / "train_summary.json").write_text(json.dumps({"steps": 40, "seconds": 100.0}))
            lv = 3.0 if k == "none" else 2.0 + seed
            rows = [{"step": 10, "loss": 9.0, "loss_av": 4.0, "loss_a": 4.5, "loss_v": 5.0, "w_a": 0.5, "w_v": 0.5},
                    {"step": 10, "split": "val", "CIDEr": 0.1},
                    {"step": 20, "loss": 6.0, "loss_av": 2.0, "loss_a": 2.5, "loss_v": lv, "w_a": 0.4, "w_v": 0.6}]
            (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _report().main([str(exp), "--seeds", "0 1", "--cells", "none mbp no-pretrain fusion-local_global_merged"]) == 0
    text = (exp / "RESULTS.md").read_text()
    assert "| PCC + PNC, MBP | 20.00 ± 7.07 | 40.00 ± 14.14 | 40.00 ± 14.14 | 2 | 100.0 | 10.0 |" in text
    assert "| PCC + PNC, no balancing | 10.00 | 20.00 | 20.00 | 1 | 100.0 | 10.0 |" in text
    # the default fusion is the mbp cell's runs
    assert "| local_global_merged | 20.00 ± 7.07 | 40.00 ± 14.14 | 40.00 ± 14.14 | 2 | 100.0 | 10.0 |" in text
    assert "| mbp | 20 | 2.000 ± 0.000 | 2.500 ± 0.000 | 2.500 ± 0.707 | 0.400 ± 0.000 | 0.600 ± 0.000 |" in text
    doc = json.loads((exp / "results.json").read_text())
    assert doc["metrics"] == ["Bleu_4", "ROUGE_L", "CIDEr"]
    assert sorted(Path(m).name for m in doc["missing"]) == [
        "finetune-no-pretrain-seed0", "finetune-no-pretrain-seed1", "finetune-none-seed1"]
    assert "Missing (no scores yet): " in text
    for png in ("cider.png", "losses.png"):
        assert (exp / png).read_bytes()[:8] == PNG
