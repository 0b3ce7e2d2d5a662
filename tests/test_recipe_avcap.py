"""recipes/avcap/run.sh end to end on tiny narrated videos (avcap-tiny, 2 optimizer steps, one seed, three cells: MBP
without PNC, V+A+T's mixed fusion (with PNC), no pre-training), every cell's command lines (a `vxt` that does nothing), and
recipes/avcap/report.py on hand-made run dirs (mean ± std, missing runs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report, markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
CELLS = ["mbp-nopnc", "inputs-VAT", "no-pretrain"]


def _report():
    return load_report("avcap")


def _env(tmp_path: Path) -> dict:
    return recipe_env(VXT_JAVA=str(tmp_path / "no-java"), MPLBACKEND="Agg")


def _run(tmp_path: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = ["bash", str(REPO / "recipes" / "avcap" / "run.sh"), *args]
    return subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=timeout)


_table = markdown_table


def test_recipe_pretrains_finetunes_scores_and_plots(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    args = ["--data", str(data), "--exp", str(exp), "--seeds", "0", "--cells", " ".join(CELLS),
            "--n_train", "2", "--n_val", "1", "--n_test", "1", "--workers", "1", "--pretrain_steps", "2",
            "--finetune_steps", "2", "--batch_size", "4", "--eval_limit", "2", "--beam", "2",
            "--python", sys.executable]
    res = _run(tmp_path, *args)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    for stage in range(1, 6):
        assert f"stage {stage}:" in res.stderr
    cmds = [x for x in res.stderr.splitlines() if "$ " in x]
    assert all(" train --resume --task caption --model avcap-tiny " in x for x in cmds if " train " in x)
    pre = {x.rsplit("--out ", 1)[1]: x for x in cmds if "--stage pretrain" in x}
    assert set(pre) == {f"{exp}/pretrain-{k}-seed0" for k in ("mbp-nopnc", "mbp-inputs-VAT")}
    assert all("--lr 1e-3" in x and "--set balance=mbp" in x for x in pre.values())
    assert "--set pnc=false" in pre[f"{exp}/pretrain-mbp-nopnc-seed0"]
    assert sum("pnc=" in x for x in pre.values()) == 1
    fine = {x.rsplit("--out ", 1)[1]: x for x in cmds if "--stage finetune" in x}
    assert set(fine) == {f"{exp}/finetune-{c}-seed0" for c in CELLS}
    assert f"--set init={exp}/pretrain-mbp-nopnc-seed0" in fine[f"{exp}/finetune-mbp-nopnc-seed0"]
    assert f"--set init={exp}/pretrain-mbp-inputs-VAT-seed0" in fine[f"{exp}/finetune-inputs-VAT-seed0"]
    assert "init=" not in fine[f"{exp}/finetune-no-pretrain-seed0"] and all("--lr 1e-4" in x for x in fine.values())
    assert sum(" score " in x and x.endswith("--no-java") for x in cmds) == 3

    # the runs: the stages' own examples, the balancer's losses logged, fine-tuned from the pre-trained vocabulary
    pt = json.loads((exp / "pretrain-mbp-nopnc-seed0" / "config.json").read_text())
    assert pt["stage"] == "pretrain" and pt["balance"] == "mbp" and pt["pnc"] is False
    assert json.loads((exp / "pretrain-mbp-inputs-VAT-seed0" / "config.json").read_text())["pnc"] is True
    ft = json.loads((exp / "finetune-mbp-nopnc-seed0" / "config.json").read_text())
    assert ft["stage"] == "finetune" and ft["vocab"] == pt["vocab"]
    vat = json.loads((exp / "finetune-inputs-VAT-seed0" / "config.json").read_text())  # the architecture carried over
    assert vat["fusion"] == "mixed" and vat["modalities"] == ["video", "audio", "subtitles"]
    assert (vat["mixed_va"], vat["mixed_vt"]) == ("local_global_cross", "merged")
    for k, pnc in (("mbp-nopnc", False), ("mbp-inputs-VAT", True)):
        logged = [json.loads(x) for x in (exp / f"pretrain-{k}-seed0" / "metrics.jsonl").read_text().splitlines()]
        first = next(r for r in logged if "split" not in r)
        assert {"loss_av", "loss_a", "loss_v", "w_a", "w_v", "loss_pcc"} <= set(first)
        assert ("loss_pnc" in first) == pnc, k  # without PNC: no next-caption loss at all
        if not pnc:
            assert first["loss_av"] == pytest.approx(first["loss_pcc"])
    test_rows = [json.loads(x) for x in (data / "test.jsonl").read_text().splitlines() if x.strip()]
    captions = [r["id"] for r in test_rows if r["task"] == "caption" and "next_targets" not in r]
    preds = json.loads((exp / "finetune-inputs-VAT-seed0" / "preds_test.json").read_text())["predictions"]
    assert [p["id"] for p in preds] == captions and captions

    # the report: every cell, finite numbers, nothing missing, both plots
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["cells"] == CELLS and doc["seeds"] == [0]
    assert doc["metrics"] == ["Bleu_4", "ROUGE_L", "CIDEr"]  # no METEOR without Java
    assert [r["cell"] for r in doc["summary"]] == CELLS
    for r in doc["runs"]:
        assert r["n"] == len(captions) and all(math.isfinite(r[k]) and r[k] >= 0 for k in doc["metrics"])
    assert {p["pretrain"] for p in doc["pretraining"]} == {"mbp-nopnc", "mbp-inputs-VAT"}
    for p in doc["pretraining"]:
        assert p["w_a"]["mean"] + p["w_v"]["mean"] == pytest.approx(1.0)
        assert (p["loss_pnc"] is None) == (p["pretrain"] == "mbp-nopnc")
    text = (exp / "RESULTS.md").read_text()
    table = _table(text, "## Pre-training objectives")
    assert set(table) == {"PCC (no PNC), MBP", "no pre-training"}
    assert all(math.isfinite(float(v)) for row in table.values() for v in row[:3])
    assert "`--set pnc=false`" in text and "`--set fusion=mixed`" in text
    assert set(_table(text, "## Inputs")) == {"V+A+T (mixed fusion)"}
    losses = _table(text, "## Pre-training losses")
    assert losses["mbp-nopnc"][3] == "" and losses["mbp-inputs-VAT"][3] != ""  # L_PNC
    assert "Missing" not in text
    for png in ("cider.png", "losses.png"):
        assert (exp / png).read_bytes()[:8] == PNG

    # a rerun skips every finished stage
    again = _run(tmp_path, *args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    assert again.stderr.count("skip (exists") == 1 + 2 + 3 + 3 * 2

    # the optional groups expand to their cells (sharing the mbp runs where the settings are the default's);
    # with nothing trained for them the report lists them as missing; an unknown cell is refused
    other = tmp_path / "exp-groups"
    only5 = _run(tmp_path, *args[:2], "--exp", str(other), "--seeds", "0", "--cells", "mbp fusion inputs", "--stage", "5",
                 "--python", sys.executable, timeout=300)
    assert only5.returncode == 0, only5.stderr[-3000:]
    doc = json.loads((other / "results.json").read_text())
    assert doc["cells"] == ["mbp", "fusion-merged", "fusion-cross", "fusion-global", "fusion-local_global_merged",
                            "fusion-local_global_cross", "inputs-A", "inputs-V", "inputs-VA", "inputs-VT",
                            "inputs-VAT"]
    assert sorted(Path(m).name for m in doc["missing"]) == sorted(
        [f"finetune-{c}-seed0" for c in ("fusion-merged", "fusion-cross", "fusion-global",
                                         "fusion-local_global_cross", "inputs-A", "inputs-V", "inputs-VT",
                                         "inputs-VAT", "mbp")])  # the mbp runs once
    bad = _run(tmp_path, "--cells", "mbp-nopnc-VAT", "--stage", "5", timeout=30)
    assert bad.returncode == 2 and "unknown cell mbp-nopnc-VAT" in bad.stderr


def test_every_cell_trains_with_its_options(tmp_path):
    """Stages 1-3 with a `vxt` that does nothing: the command lines of the objectives (Table 2: each balancer with
    and without PNC) and inputs (Table 4: V+A+T with the mixed fusion) cells."""
    exp = tmp_path / "exp"
    env = _env(tmp_path)
    env["VXT"] = "true"
    res = subprocess.run(["bash", str(REPO / "recipes" / "avcap" / "run.sh"), "--data", str(tmp_path / "data"),
                          "--exp", str(exp), "--seeds", "0", "--cells", "objectives inputs", "--stop-stage", "3"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    cmds = [x.split("$ ", 1)[1] for x in res.stderr.splitlines() if "$ true train " in x]
    pre = {x.rsplit("--out ", 1)[1].removeprefix(f"{exp}/pretrain-").removesuffix("-seed0"): x
           for x in cmds if "--stage pretrain" in x}
    objectives = ["none", "gblend", "mbp", "none-nopnc", "gblend-nopnc", "mbp-nopnc"]
    assert sorted(pre) == sorted([*objectives, "mbp-inputs-A", "mbp-inputs-V", "mbp-inputs-VT", "mbp-inputs-VAT"])
    for k in objectives:
        balance = k.removesuffix("-nopnc")
        assert pre[k].count("--set ") == (2 if k.endswith("-nopnc") else 1), pre[k]
        assert f"--set balance={balance}" in pre[k] and ("--set pnc=false" in pre[k]) == k.endswith("-nopnc")
    assert "--set modalities=video,audio,subtitles --set fusion=mixed" in pre["mbp-inputs-VAT"]
    assert "fusion=" not in pre["mbp-inputs-VT"] and "--set modalities=video,subtitles" in pre["mbp-inputs-VT"]
    fine = {x.rsplit("--out ", 1)[1].removeprefix(f"{exp}/finetune-").removesuffix("-seed0"): x
            for x in cmds if "--stage finetune" in x}
    assert sorted(fine) == sorted([*objectives, "no-pretrain", "inputs-A", "inputs-V", "inputs-VT", "inputs-VAT"])
    for c in objectives:
        assert fine[c].endswith(f"--stage finetune --set init={exp}/pretrain-{c}-seed0 --out {exp}/finetune-{c}-seed0")


def test_report_mean_std_missing_and_the_loss_curves(tmp_path):
    exp = tmp_path / "exp"
    cider = {("mbp", 0): 0.30, ("mbp", 1): 0.50, ("none", 0): 0.20, ("mbp-nopnc", 0): 0.25, ("mbp-nopnc", 1): 0.25}
    for (cell, seed), v in cider.items():
        run = exp / f"finetune-{cell}-seed{seed}"
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"Bleu_4": v / 2, "ROUGE_L": v, "CIDEr": v}, "n_scored": 16, "settings": {"java": False}}))
        (run / "train_summary.json").write_text(json.dumps({"steps": 30, "seconds": 10.0}))
    for k in ("none", "mbp", "mbp-nopnc"):
        for seed in (0, 1):
            run = exp / f"pretrain-{k}-seed{seed}"
            run.mkdir(parents=True)
            (run / "train_summary.json").write_text(json.dumps({"steps": 40, "seconds": 100.0}))
            lv = 3.0 if k == "none" else 2.0 + seed
            tasks = {"loss_pcc": 2.0} if k == "mbp-nopnc" else {"loss_pcc": 1.2, "loss_pnc": 0.8 - 0.2 * seed}
            rows = [{"step": 10, "loss": 9.0, "loss_av": 4.0, "loss_a": 4.5, "loss_v": 5.0, "w_a": 0.5, "w_v": 0.5},
                    {"step": 10, "split": "val", "CIDEr": 0.1},
                    {"step": 20, "loss": 6.0, "loss_av": 2.0, "loss_a": 2.5, "loss_v": lv, "w_a": 0.4, "w_v": 0.6,
                     **tasks}]
            (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cells = "none mbp mbp-nopnc no-pretrain fusion-local_global_merged"
    assert _report().main([str(exp), "--seeds", "0 1", "--cells", cells]) == 0
    text = (exp / "RESULTS.md").read_text()
    assert "| PCC + PNC, MBP | 20.00 ± 7.07 | 40.00 ± 14.14 | 40.00 ± 14.14 | 2 | 100.0 | 10.0 |" in text
    assert "| PCC + PNC, no balancing | 10.00 | 20.00 | 20.00 | 1 | 100.0 | 10.0 |" in text
    # the default fusion is the mbp cell's runs
    assert "| local_global_merged | 20.00 ± 7.07 | 40.00 ± 14.14 | 40.00 ± 14.14 | 2 | 100.0 | 10.0 |" in text
    assert "| PCC (no PNC), MBP | 12.50 ± 0.00 | 25.00 ± 0.00 | 25.00 ± 0.00 | 2 | 100.0 | 10.0 |" in text
    assert "`--set pnc=false`" in text
    # L, L_PCC, L_PNC, L_a, L_v, w_a, w_v: no PNC loss without PNC
    assert ("| mbp | 20 | 2.000 ± 0.000 | 1.200 ± 0.000 | 0.700 ± 0.141 | 2.500 ± 0.000 | 2.500 ± 0.707 | "
            "0.400 ± 0.000 | 0.600 ± 0.000 |") in text
    assert "| mbp-nopnc | 20 | 2.000 ± 0.000 | 2.000 ± 0.000 |  | 2.500 ± 0.000 | 2.500 ± 0.707 |" in text
    doc = json.loads((exp / "results.json").read_text())
    assert doc["metrics"] == ["Bleu_4", "ROUGE_L", "CIDEr"]
    assert sorted(Path(m).name for m in doc["missing"]) == [
        "finetune-no-pretrain-seed0", "finetune-no-pretrain-seed1", "finetune-none-seed1"]
    assert "Missing (no scores yet): " in text
    for png in ("cider.png", "losses.png"):
        assert (exp / png).read_bytes()[:8] == PNG
