"""recipes/tavt/run.sh end to end on tiny synthetic domains (tavt-tiny, a few steps, one seed, two cells), and
recipes/tavt/report.py on hand-made run dirs (mean ± std, missing runs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report, markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CELLS = ["tavt", "no-maml"]
TARGETS = ["night", "pixel"]


def _report():
    return load_report("tavt")


def _env(tmp_path: Path) -> dict:
    return recipe_env(VXT_JAVA=str(tmp_path / "no-java"))


_table = markdown_table


def test_recipe_runs_every_stage_on_tiny_domains(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    cmd = ["bash", str(REPO / "recipes" / "tavt" / "run.sh"), "--data", str(data), "--exp", str(exp),
           "--seeds", "0", "--cells", " ".join(CELLS), "--n_train", "4", "--n_val", "2", "--n_test", "2",
           "--workers", "1", "--meta_steps", "3", "--adapt_steps", "2", "--batch_size", "2", "--eval_limit", "2",
           "--python", sys.executable]
    t0 = time.time()
    res = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=240)
    elapsed = time.time() - t0
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    for stage in range(1, 7):
        assert f"stage {stage}:" in res.stderr

    # the data: five domains, the audio-absent target marked in every split, the others untouched
    rows = [json.loads(x) for x in (data / "test.jsonl").read_text().splitlines() if x.strip()]
    assert {r["domain"] for r in rows} == {"photo", "cartoon", "sketch", "night", "pixel"}
    assert all(("audio" in (r.get("missing") or [])) == (r["domain"] == "pixel") for r in rows)
    assert json.loads((data / "audio_removed.json").read_text())["domains"] == ["pixel"]

    # the runs: meta-trained on the sources, the AVMM frozen only for the audio-absent target
    for c in CELLS:
        cfg = json.loads((exp / f"{c}-seed0" / "config.json").read_text())
        assert cfg["source_domains"] == ["photo", "cartoon", "sketch"]
        for t in TARGETS:
            cfg = json.loads((exp / f"{c}-seed0-adapt-{t}" / "config.json").read_text())
            assert cfg["stage"] == "adapt" and cfg["target_domain"] == t
            assert cfg["freeze_avmm"] is (t == "pixel")
            preds = json.loads((exp / f"{c}-seed0-adapt-{t}" / "preds_test.json").read_text())["predictions"]
            assert [p["id"] for p in preds] == [r["id"] for r in rows if r["domain"] == t and r["task"] == "caption"]
    meta_log = [json.loads(x) for x in (exp / "tavt-seed0" / "metrics.jsonl").read_text().splitlines()]
    assert any("inner_loss" in r for r in meta_log)  # Algorithm 1
    assert not any("inner_loss" in r for r in
                   (json.loads(x) for x in (exp / "no-maml-seed0" / "metrics.jsonl").read_text().splitlines()))

    # the report: every cell and target, finite numbers, nothing missing, a plot
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["cells"] == CELLS and doc["targets"] == TARGETS
    assert {"Bleu_4", "ROUGE_L", "CIDEr"} <= set(doc["metrics"])
    assert {(r["cell"], r["target"]) for r in doc["summary"]} == {(c, t) for c in CELLS for t in TARGETS}
    for r in doc["runs"]:
        assert r["n"] == 2 and all(math.isfinite(r[k]) and r[k] >= 0 for k in doc["metrics"])
    text = (exp / "RESULTS.md").read_text()
    for t in TARGETS:
        table = _table(text, f"## Target {t}")
        assert set(table) == {"TAVT", "w/o MAML (pooled sources)"}
        assert all(math.isfinite(float(v)) for row in table.values() for v in row[:3])
    assert "audio removed" in text.split("## Target pixel", 1)[1].splitlines()[0]
    assert (exp / "tavt.png").read_bytes()[:4] == b"\x89PNG"
    assert elapsed < 90, f"the tiny recipe took {elapsed:.0f} s"

    # a rerun skips every finished stage
    again = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    assert again.stderr.count("skip (exists") == 1 + 1 + 2 + 4 + 8


def test_report_mean_std_and_missing(tmp_path):
    exp = tmp_path / "exp"
    cider = {(0, "night"): 0.30, (1, "night"): 0.50, (0, "pixel"): 0.20}
    for (seed, t), v in cider.items():
        run = exp / f"tavt-seed{seed}-adapt-{t}"
        run.mkdir(parents=True)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"Bleu_4": v / 2, "ROUGE_L": v, "CIDEr": v}, "n_scored": 16, "settings": {"java": False}}))
        (run / "train_summary.json").write_text(json.dumps({"steps": 60, "seconds": 10.0}))
    (exp / "tavt-seed0").mkdir()
    (exp / "tavt-seed0" / "train_summary.json").write_text(json.dumps({"steps": 300, "seconds": 100.0}))
    assert _report().main([str(exp), "--seeds", "0 1", "--cells", "tavt no-maml", "--targets", "night,pixel"]) == 0
    text = (exp / "RESULTS.md").read_text()
    assert "| TAVT | 20.00 ± 7.07 | 40.00 ± 14.14 | 40.00 ± 14.14 | 2 | 100.0 | 10.0 |" in text
    assert "| TAVT | 10.00 | 20.00 | 20.00 | 1 | 100.0 | 10.0 |" in text
    doc = json.loads((exp / "results.json").read_text())
    assert doc["metrics"] == ["Bleu_4", "ROUGE_L", "CIDEr"]  # no METEOR without Java
    assert sorted(Path(m).name for m in doc["missing"]) == [
        "no-maml-seed0-adapt-night", "no-maml-seed0-adapt-pixel", "no-maml-seed1-adapt-night",
        "no-maml-seed1-adapt-pixel", "tavt-seed1-adapt-pixel"]
