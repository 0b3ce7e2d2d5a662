"""recipes/sound/run.sh end to end on tiny synthetic foley (specvqgan-tiny, a few steps, one seed, a sampler cell
with features, the no-features cell and the LPAPS codebook cell), and recipes/sound/report.py on hand-made run dirs
of every cell (mean ± std, early stops, missing runs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import load_report, markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "recipes" / "sound" / "run.sh"
CELLS = ["feats1", "nofeats", "vq-gan-lpaps"]
ALL = ["feats", "nofeats", "feats1", "feats5", "row", "vq", "vq-gan", "vq-gan-lpaps"]
SAMPLER_HEAD = "## Sampler"
CODEBOOK_HEAD = "## Codebook"


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_recipe_runs_every_stage_on_tiny_foley(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    cmd = ["bash", str(RUN), "--data", str(data), "--exp", str(exp), "--seeds", "0", "--cells", " ".join(CELLS),
           "--n_train", "4", "--n_val", "2", "--n_test", "2", "--workers", "1", "--codebook_steps", "2",
           "--vocoder_steps", "1", "--sampler_steps", "2", "--melception_steps", "2", "--batch_size", "2",
           "--eval_limit", "2", "--python", sys.executable]
    res = subprocess.run(cmd, env=recipe_env(), capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    for stage in range(1, 10):
        assert f"stage {stage}:" in res.stderr

    # the features: one file per sound clip, written once for every sampler
    sound = [r for split in ("train", "val", "test") for r in _rows(data / f"{split}.jsonl") if r["task"] == "sound"]
    assert sorted(f.stem for f in (data / "features").glob("*.npy")) == sorted(r["id"] for r in sound)
    assert np.load(data / "features" / f"{sound[0]['id']}.npy").shape == (215, 512)

    # the codebook with LPAPS trains with the stand-in the recipe wrote; the samplers sample from it
    cb = exp / "codebook-vq-gan-lpaps-seed0"
    cfg = json.loads((cb / "config.json").read_text())
    assert cfg["perceptual"] == str((exp / "lpaps").resolve()) and (exp / "lpaps" / "standin.json").is_file()
    assert any("lpaps" in r for r in _rows(cb / "metrics.jsonl"))
    for cell, n_feats in (("feats1", 1), ("nofeats", 0)):
        cfg = json.loads((exp / f"sampler-{cell}-seed0" / "config.json").read_text())
        assert cfg["sampler"]["n_feats"] == n_feats and cfg["trained_from"] == str(cb.resolve())
        assert cfg["features"]["source"] == ("files" if n_feats else "none")
        assert cfg["vocoder_exp"] == str((exp / "vocoder").resolve())
        assert json.loads((exp / f"sampler-{cell}-seed0" / "run.json").read_text())["patience"] == 2

    # decoded: the first --eval_limit test clips, each with its spectrogram and its sampling time
    test_ids = [r["id"] for r in _rows(data / "test.jsonl") if r["task"] == "sound"][:2]
    for run in ("codebook-vq-gan-lpaps-seed0", "sampler-feats1-seed0", "sampler-nofeats-seed0"):
        preds = json.loads((exp / run / "preds_test.json").read_text())["predictions"]
        assert [p["id"] for p in preds] == test_ids
        assert all(p["sample_seconds"] > 0 and p["vocoder"].startswith("MelGAN (") for p in preds)
        assert all(np.load(p["spectrogram"]).shape == (80, 848) for p in preds)

    # the report: every cell with finite numbers, nothing missing, a plot
    doc = json.loads((exp / "results.json").read_text())
    assert doc["missing"] == [] and doc["cells"] == CELLS
    assert {"FID", "MKL", "onset_alignment", "onset_recall"} <= set(doc["metrics"])
    assert {r["cell"] for r in doc["summary"]} == set(CELLS)
    for r in doc["runs"]:
        assert r["n"] == 2 and all(math.isfinite(r[k]) for k in doc["metrics"]) and r["sample_seconds"] > 0
    text = (exp / "RESULTS.md").read_text()
    sampler = markdown_table(text, SAMPLER_HEAD)
    codebook = markdown_table(text, CODEBOOK_HEAD)
    assert set(sampler) == {"1 feat", "No feats"} and set(codebook) == {"VQ + PatchGAN + LPAPS"}
    for row in [*sampler.values(), *codebook.values()]:
        assert all(math.isfinite(float(v)) for v in row[:4])  # FID, MKL, onset alignment, onset recall
    assert "as SpecVQGAN's code ran it, at init" in text
    assert (exp / "sound.png").read_bytes()[:4] == b"\x89PNG"

    # a rerun skips every finished stage
    again = subprocess.run(cmd, env=recipe_env(), capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    # prepare, features, LPAPS, 1 codebook, vocoder, 2 samplers, Melception, 3 decodes, 3 scores
    assert again.stderr.count("skip (exists") == 1 + 1 + 1 + 1 + 1 + 2 + 1 + 3 + 3


def test_recipe_refuses_unknown_cells(tmp_path):
    res = subprocess.run(["bash", str(RUN), "--cells", "feats nofeats loud", "--exp", str(tmp_path)],
                         env=recipe_env(), capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert res.returncode == 2 and "unknown cell loud" in res.stderr
    res = subprocess.run(["bash", str(RUN), "--sampler_codebook", "feats", "--exp", str(tmp_path)],
                         env=recipe_env(), capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert res.returncode == 2 and "--sampler_codebook must be a codebook cell" in res.stderr


def _run_dir(exp: Path, name: str, fid: float, steps: int, seconds: float, *, stopped: bool = False,
             l1: float | None = None, specs: list | None = None) -> None:
    run = exp / name
    run.mkdir(parents=True)
    metrics = {"FID": fid, "KID": 0.001, "KID_std": 0.0, "IS": 1.5, "IS_std": 0.1, "MKL": fid / 10,
               "onset_alignment": 0.5, "onset_recall": 0.25}
    (run / "preds_test.scores.json").write_text(json.dumps({"metrics": metrics, "n_scored": 16}))
    rows = [{"id": f"c{i}", "sample_seconds": seconds, **({"l1": l1} if l1 is not None else {})} for i in range(2)]
    for i, spec in enumerate(specs or []):  # the spectrograms decode writes beside the wavs
        np.save(run / f"c{i}.npy", spec.astype(np.float32))
        rows[i]["spectrogram"] = str(run / f"c{i}.npy")
    (run / "preds_test.json").write_text(json.dumps({"task": "sound", "predictions": rows}))
    summary = {"steps": steps, "seconds": 30.0, "best": -3.0}
    if stopped:
        summary["early_stop"] = {"step": steps, "epoch": 4, "patience": 2, "best": -3.0}
    (run / "train_summary.json").write_text(json.dumps(summary))


def test_report_every_cell_mean_std_and_missing(tmp_path):
    exp = tmp_path / "exp"
    for k, cell in enumerate(ALL):
        kind = "codebook" if cell.startswith("vq") else "sampler"
        for seed, fid in ((0, 10.0 + k), (1, 12.0 + k)):
            if cell == "row" and seed == 1:
                continue  # a run that did not finish
            # feats: the same spectrogram for both clips (a collapsed model); feats5: two different ones
            rng = np.random.default_rng(seed)
            specs = {"feats": [np.full((80, 848), 0.3)] * 2,
                     "feats5": [rng.uniform(0, 1, (80, 848)) for _ in range(2)]}.get(cell)
            _run_dir(exp, f"{kind}-{cell}-seed{seed}", fid, 48 if seed else 60, 0.5 + seed,
                     stopped=cell == "nofeats" and seed == 0, l1=0.1 if kind == "codebook" else None, specs=specs)
    assert load_report("sound").main([str(exp), "--seeds", "0 1", "--cells", " ".join(ALL)]) == 0
    text = (exp / "RESULTS.md").read_text()
    sampler, codebook = markdown_table(text, SAMPLER_HEAD), markdown_table(text, CODEBOOK_HEAD)
    assert list(sampler) == ["212 feats (all rows)", "No feats", "1 feat", "5 feats", "212 feats, row-major codes"]
    assert list(codebook) == ["VQ (L1 + VQ losses)", "VQ + PatchGAN", "VQ + PatchGAN + LPAPS"]
    # FID, MKL, onset alignment %, onset recall %, spread, seeds, s/clip, train s, steps
    assert sampler["212 feats (all rows)"] == ["11.00 ± 1.41", "1.10 ± 0.14", "50.00 ± 0.00", "25.00 ± 0.00",
                                               "0.00 ± 0.00", "2", "1.0", "30.0", "54"]
    spread = float(sampler["5 feats"][4].split(" ± ")[0])
    assert 15 < spread < 18  # two uniform draws: their std, |a - b| / 2, averages 1/6 (x 100: 16.7)
    assert sampler["No feats"][4] == "" and sampler["No feats"][-1] == "54 (1/2 early)"
    assert sampler["212 feats, row-major codes"][:6] == ["14.00", "1.40", "50.00", "25.00", "", "1"]
    # the codebook cells: 1-L1 in % from the rows' reconstruction L1, no steps column
    assert codebook["VQ + PatchGAN + LPAPS"] == ["18.00 ± 1.41", "1.80 ± 0.14", "50.00 ± 0.00", "25.00 ± 0.00",
                                                "90.00 ± 0.00", "", "2", "1.0", "30.0"]
    # a run whose spectrograms are the same for every clip is called out, and only that one
    collapsed = next(x for x in text.splitlines() if x.startswith("**Collapsed:**"))
    assert "212 feats (all rows)" in collapsed and "5 feats" not in collapsed
    for row in [*sampler.values(), *codebook.values()]:
        assert all(math.isfinite(float(v.split(" ± ")[0])) for v in row[:4])
    doc = json.loads((exp / "results.json").read_text())
    assert [Path(m).name for m in doc["missing"]] == ["sampler-row-seed1"]
    assert all("KID" in r for r in doc["runs"]) and doc["metrics"] == ["FID", "MKL", "onset_alignment",
                                                                       "onset_recall"]
    assert "Missing (no scores yet): " in text and "sampler-row-seed1" in text
