"""recipes/tavt/run.sh end to end on tiny synthetic domains (tavt-tiny, a few steps, one seed, two cells; then
the architecture ablations and a low-resource cell added to the same exp dir), and recipes/tavt/report.py on
hand-made run dirs (mean ± std, missing runs, the support curve, runs of an earlier results.json)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
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
    res = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=600)
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

    # a rerun skips every finished stage
    again = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    assert again.stderr.count("skip (exists") == 1 + 1 + 2 + 4 + 8

    # the ablations: each cell's switch reaches its meta-training (a dry run with VXT=true, which logs each command
    # and runs nothing; tests/test_tavt.py trains each switch); a low-resource cell then runs for real, added to the
    # same runs (night)
    added = ["no-avmm", "no-audio", "no-real-audio", "avcap-maml"]
    dry = subprocess.run(cmd[:cmd.index("--cells")] + ["--cells", " ".join(added), "--targets", "night"] +
                         cmd[cmd.index("--cells") + 2:] + ["--stage", "3", "--stop-stage", "4", "--exp",
                                                           str(tmp_path / "dry")],
                         env={**_env(tmp_path), "VXT": "true"}, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert dry.returncode == 0, dry.stderr[-3000:]
    logged = [x for x in dry.stderr.splitlines() if "$ true train" in x]
    for cell, switch in (("no-avmm", "use_avmm"), ("no-audio", "use_audio"), ("no-real-audio", "use_real_audio")):
        meta = [x for x in logged if x.rstrip().endswith(f"--out {tmp_path / 'dry'}/{cell}-seed0")]
        assert len(meta) == 1 and f"--set {switch}=false" in meta[0], logged
        assert sum(f"--out {tmp_path / 'dry'}/{cell}-seed0-adapt-night" in x for x in logged) == 1
    # the baseline in Algorithm 1: avcap meta-trained by the meta strategy, and adapted by it
    baseline = [x for x in logged if "/avcap-maml-seed0" in x]
    assert len(baseline) == 2 and all("--model avcap-tiny" in x and "--strategy meta" in x for x in baseline)
    assert "--stage adapt" in baseline[1] and f"--ckpt {tmp_path / 'dry'}/avcap-maml-seed0 " in baseline[1]
    assert all("--model tavt-tiny" in x for x in logged if "/avcap-maml-seed0" not in x)
    more = cmd[:cmd.index("--cells")] + ["--cells", "tavt tavt-s50", "--targets", "night"] + \
        cmd[cmd.index("--cells") + 2:] + ["--stage", "3"]
    res = subprocess.run(more, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert json.loads((exp / "tavt-seed0" / "config.json").read_text())["use_real_audio"] is True
    # the curve cell adapts tavt's meta-trained model (no meta-training of its own) on half the train split
    assert not (exp / "tavt-s50-seed0").exists()
    run = json.loads((exp / "tavt-s50-seed0-adapt-night" / "run.json").read_text())
    assert run["train_fraction"] == 0.5 and Path(run["overrides"]["ckpt"]).name == "tavt-seed0"
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["targets"] == ["night"]
    table = _table((exp / "RESULTS.md").read_text(), "## Target night")
    assert set(table) == {"TAVT"}
    curve = {p["share"]: p for p in doc["curve"]}
    assert sorted(curve) == [0.5, 1.0] and {p["base"] for p in doc["curve"]} == {"tavt"}
    assert curve[1.0]["support_clips"]["mean"] == 4  # all 4 night clips of the train split
    clips = curve[0.5]["support_clips"]["mean"]  # what the seeded half of the whole split holds of night
    assert run["steps_per_epoch"] == math.ceil(clips / 2) and 1 <= clips <= 4
    assert all(math.isfinite(curve[f]["CIDEr"]["mean"]) for f in curve)
    assert "## Low-resource adaptation" in (exp / "RESULTS.md").read_text()
    assert (exp / "tavt_support.png").read_bytes()[:4] == b"\x89PNG"


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


def _scored_run(exp: Path, name: str, cider: float, info: dict | None = None) -> None:
    run = exp / name
    run.mkdir(parents=True)
    (run / "preds_test.scores.json").write_text(json.dumps(
        {"metrics": {"Bleu_4": cider / 2, "ROUGE_L": cider, "CIDEr": cider}, "n_scored": 16,
         "settings": {"java": False}}))
    (run / "train_summary.json").write_text(json.dumps({"steps": 60, "seconds": 10.0}))
    if info is not None:
        (run / "run.json").write_text(json.dumps(info))


def test_report_curve_and_runs_of_an_earlier_report(tmp_path):
    exp, data = tmp_path / "exp", tmp_path / "data"
    data.mkdir()
    # a train split of 20 night clips (and 2 QA rows that the caption task ignores): 10% of it is 2 night clips
    rows = [{"id": f"c{i}", "task": "caption", "domain": "night", "targets": ["x"]} for i in range(20)]
    rows += [{"id": f"q{i}", "task": "qa", "domain": "night"} for i in range(2)]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for seed, v in ((0, 0.20), (1, 0.30)):
        _scored_run(exp, f"tavt-s10-seed{seed}-adapt-night", v,
                    {"task": "caption", "data": str(data), "seed": seed, "train_fraction": 0.1,
                     "overrides": {"target_domain": "night", "stage": "adapt"}})
    _scored_run(exp, "tavt-seed0-adapt-night", 0.80)  # no run.json: the share is --support-fraction's
    (exp / "tavt-seed0").mkdir()
    (exp / "tavt-seed0" / "train_summary.json").write_text(json.dumps({"steps": 300, "seconds": 100.0}))
    # an earlier report holds tavt seed 0 (here too: this dir's run wins) and seed 1, and no-maml seed 0
    prev = {"runs": [{"cell": c, "target": "night", "seed": s, "run": f"exp/tavt/{c}-seed{s}-adapt-night", "n": 16,
                      "java": False, "meta_steps": 300, "meta_seconds": 50.0, "adapt_steps": 60,
                      "adapt_seconds": 12.0, "Bleu_4": v / 2, "ROUGE_L": v, "CIDEr": v}
                     for c, s, v in (("tavt", 0, 10.0), ("tavt", 1, 60.0), ("no-maml", 0, 40.0))]}
    (tmp_path / "old.json").write_text(json.dumps(prev))
    cells = "tavt no-maml tavt-s10"
    assert _report().main([str(exp), "--seeds", "0 1", "--cells", cells, "--targets", "night",
                           "--previous", str(tmp_path / "old.json")]) == 0
    doc = json.loads((exp / "results.json").read_text())
    got = {(r["cell"], r["seed"]): r["CIDEr"] for r in doc["runs"]}
    assert got == {("tavt", 0): 80.0, ("tavt", 1): 60.0, ("no-maml", 0): 40.0, ("tavt-s10", 0): 20.0,
                   ("tavt-s10", 1): 30.0}
    assert [Path(m).name for m in doc["missing"]] == ["no-maml-seed1-adapt-night"]
    assert [r.get("from") is not None for r in doc["runs"]] == [False, True, True, False, False]
    # the curve: tavt at 10% (2 clips in each seed) and at 100% (this run and the earlier report's)
    assert [(p["base"], p["share"]) for p in doc["curve"]] == [("tavt", 0.1), ("tavt", 1.0)]
    low, full = doc["curve"]
    assert low["support_clips"] == {"mean": 2, "std": 0.0, "n": 2} and full["support_clips"] is None
    assert low["CIDEr"]["mean"] == 25.0 and full["CIDEr"]["mean"] == 70.0
    text = (exp / "RESULTS.md").read_text()
    assert "2 of the 5 runs are taken from" in text
    table = _table(text, "## Target night")
    assert set(table) == {"TAVT", "w/o MAML (pooled sources)"}  # the curve cell has its own table
    assert table["TAVT"][2] == "70.00 ± 14.14"
    assert "| night | TAVT | 10% | 2.0 | 12.50 ± 3.54 | 25.00 ± 7.07 | 25.00 ± 7.07 | 2 |" in text
    assert "| night | TAVT | 100% |  | 35.00 ± 7.07 | 70.00 ± 14.14 | 70.00 ± 14.14 | 2 |" in text
    assert (exp / "tavt_support.png").read_bytes()[:4] == b"\x89PNG"


def test_run_sh_refuses_unknown_cells_and_shares(tmp_path):
    for cell, says in (("no-such", "unknown cell no-such"), ("tavt-s0", "must be 1..100"),
                       ("no-such-s10", "unknown cell no-such"), ("tavt-s10-s20", "unknown cell tavt-s10")):
        res = subprocess.run(["bash", str(REPO / "recipes" / "tavt" / "run.sh"), "--cells", f"tavt {cell}",
                              "--data", str(tmp_path / "d"), "--exp", str(tmp_path / "e")],
                             env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert res.returncode == 2 and says in res.stderr, res.stderr
    assert not (tmp_path / "d").exists() and not (tmp_path / "e").exists()  # refused before any stage


def test_report_names_the_architecture_ablations(tmp_path):
    exp = tmp_path / "exp"
    cells = ["tavt", "no-avmm", "no-audio", "no-real-audio"]
    for i, cell in enumerate(cells):
        run = exp / f"{cell}-seed0-adapt-night"
        run.mkdir(parents=True)
        v = 0.1 * (i + 1)
        (run / "preds_test.scores.json").write_text(json.dumps(
            {"metrics": {"Bleu_4": v, "ROUGE_L": v, "CIDEr": v}, "n_scored": 4, "settings": {"java": False}}))
    assert _report().main([str(exp), "--seeds", "0", "--cells", " ".join(cells), "--targets", "night"]) == 0
    table = _table((exp / "RESULTS.md").read_text(), "## Target night")
    assert set(table) == {"TAVT", "w/o AVMM", "w/o audio (video only)", "w/o real audio (A_rec only)"}
    assert table["w/o real audio (A_rec only)"][2] == "40.00"  # CIDEr x 100
