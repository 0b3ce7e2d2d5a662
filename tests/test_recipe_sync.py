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
