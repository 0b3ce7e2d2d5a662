"""recipes/sync/report.py: the table over seeds, chance levels and the shift check, on hand-made run dirs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _report():
    return load_report("sync")


def test_chance_levels_match_the_metric_module():
    from vxt.metrics.sync import chance_within

    ch = _report().chance(21)
    assert ch["accuracy_1"] == pytest.approx(100 / 21)
    assert ch["accuracy_pm1"] == pytest.approx(100 * chance_within(21, 1))


def test_report_table_mean_std_missing_and_shift_check(tmp_path):
    exp = tmp_path / "exp"
    acc = {("dense", 0): 0.30, ("dense", 1): 0.50, ("pretrained", 0): 0.60, ("pretrained", 1): 0.80}
    for (cell, seed), a in acc.items():
        run = exp / (f"dense-seed{seed}" if cell == "dense" else f"sparse-{cell}-seed{seed}")
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"accuracy_1": a / 2, "accuracy_pm1": a, "accuracy_3class": 1.0}, "n_scored": 48}))
        (run / "train_summary.json").write_text(json.dumps({"steps": 300, "seconds": 100.0 + seed}))
    (exp / "shift").mkdir()
    for seed, off in ((0, 0.6), (1, 1.0)):
        (exp / "shift" / f"pretrained-seed{seed}.sync.preds.json").write_text(json.dumps(
            {"predictions": [{"offset": off, "probs": [0.25, 0.75]}]}))
    assert _report().main([str(exp), "--seeds", "0 1", "--cells", "pretrained scratch", "--shift", "0.6"]) == 0
    text = (exp / "RESULTS.md").read_text()
    assert "| dense pre-training, then sparse | 35.00 ± 7.07 | 70.00 ± 14.14 | 100.00 ± 0.00 | 300 | 100 |" in text
    assert "| chance (uniform guess) | 4.76 | 13.83 | 33.33 |" in text
    assert "1 of 2 runs within ±0.2 s." in text and "+0.40" in text
    doc = json.loads((exp / "results.json").read_text())
    assert sorted(Path(m).name for m in doc["missing"]) == ["sparse-scratch-seed0", "sparse-scratch-seed1"]


def test_report_input_length_table_and_summed_confusions(tmp_path):
    exp = tmp_path / "exp"
    grid = [-1.0, 0.0, 1.0]
    for cell, seed, acc, cm in (("pretrained", 0, 0.5, [[1, 0, 0], [0, 1, 0], [1, 0, 1]]),
                                ("pretrained", 1, 0.7, [[1, 0, 0], [0, 0, 1], [0, 0, 2]]),
                                ("len3", 0, 0.2, [[0, 1, 0], [0, 1, 0], [0, 1, 0]]),
                                ("len7", 0, 0.9, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])):
        run = exp / f"sparse-{cell}-seed{seed}"
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"accuracy_1": acc, "accuracy_pm1": acc, "accuracy_3class": acc}, "n_scored": 4,
             "confusion": cm, "grid": grid}))
    rep = _report()
    assert rep.main([str(exp), "--seeds", "0 1", "--cells", "pretrained len7 len3"]) == 0
    text = (exp / "RESULTS.md").read_text()
    length = text.split("## Input length", 1)[1].split("##", 1)[0]
    assert length.index("| 3 s | 20.00") < length.index("| 7 s | 90.00")  # in order of length
    assert "| 3 s" not in text.split("## Input length", 1)[0]  # not in the main table
    doc = json.loads((exp / "results.json").read_text())
    assert doc["confusion"]["pretrained"] == [[2, 0, 0], [0, 1, 1], [1, 0, 3]]  # summed over the seeds
    assert (exp / "confusion-pretrained.png").stat().st_size > 0 and "confusion-len3.png" in text
    assert "sparse-len7-seed1" in " ".join(doc["missing"])


def test_recipe_runs_end_to_end_with_an_input_length_cell(tmp_path):
    """The whole recipe at the smallest size: both foley data sets, pre-training, fine-tuning, decoding, scoring,
    the shift check and the report with its table and confusion plot; then an input-length cell's commands (a
    dry run, VXT=true: each command is logged, none runs; the report's length table has its own test above)."""
    import subprocess

    from recipe_tools import markdown_table, recipe_env

    exp = tmp_path / "exp"
    base = ["bash", str(REPO / "recipes" / "sync" / "run.sh"), "--data", str(tmp_path / "data"), "--seeds", "0",
            "--n_train", "2", "--n_val", "1", "--n_test", "2", "--workers", "1", "--dense_steps", "2",
            "--sparse_steps", "2", "--batch_size", "2", "--python", sys.executable]
    r = subprocess.run([*base, "--exp", str(exp), "--cells", "pretrained"], cwd=tmp_path, env=recipe_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    text = (exp / "RESULTS.md").read_text()
    assert "dense pre-training, then sparse" in markdown_table(text, "# SparseSync on synthetic foley")
    assert (exp / "confusion-pretrained.png").exists()
    assert (exp / "shift" / "pretrained-seed0.sync.preds.json").exists()

    dry = subprocess.run([*base, "--exp", str(tmp_path / "dry"), "--cells", "len7", "--stop-stage", "4"],
                         cwd=tmp_path, env={**recipe_env(), "VXT": "true"}, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr[-3000:]
    cmds = [x.split("$ true ", 1)[1] for x in dry.stderr.splitlines() if "$ true " in x]
    data, dexp = tmp_path / "data", tmp_path / "dry"
    for events in ("dense", "sparse"):  # 11 s clips (--len_seconds) for the 7 s trims, beside the 10 s ones
        assert any(c.startswith(f"prepare synth --mode foley --events {events} --seconds 11 --out {data}/len/{events} ")
                   for c in cmds), cmds
    train = [c for c in cmds if c.startswith("train ")]
    dense = next(c for c in train if c.endswith(f"--out {dexp}/dense-len7-seed0"))
    sparse = next(c for c in train if c.endswith(f"--out {dexp}/sparse-len7-seed0"))
    assert f"--data {data}/len/dense " in dense and "--set clip_seconds=7" in dense
    assert f"--data {data}/len/sparse " in sparse and "--set clip_seconds=7" in sparse
    assert f"--set init={dexp}/dense-len7-seed0" in sparse
    assert any(c.startswith(f"decode {data}/len/sparse --task sync --split test --ckpt {dexp}/sparse-len7-seed0 ")
               for c in cmds)
