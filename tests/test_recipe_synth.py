"""recipes/synth/run.sh (the main job) and recipes/synth/ablate.sh end to end, on a tiny corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env.update({"PATH": bindir + os.pathsep + env.get("PATH", ""), "VXT": str(Path(bindir) / "vxt"),
                "VXT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    return env


def _run(script: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", str(REPO / "recipes" / "synth" / script), *args], env=_env(cwd),
                         capture_output=True, text=True, cwd=cwd, timeout=400)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return res


TINY_RUN = ["--n_train", "6", "--n_val", "2", "--n_test", "2", "--workers", "1", "--video_cls_epochs", "1",
            "--audio_cls_epochs", "1", "--epochs", "1", "--qa_epochs", "1", "--batch_size", "4", "--beam", "1",
            "--score_args", "--no-java", "--python", sys.executable]


@pytest.fixture(scope="module")
def synth_recipe(tmp_path_factory):
    """The main job on 6/2/2 clips, one epoch per stage: the data, classifiers and experiments ablate.sh reuses."""
    cwd = tmp_path_factory.mktemp("synth_recipe")
    res = _run("run.sh", cwd, *TINY_RUN)
    return cwd, res


def test_synth_recipe_from_nothing_to_a_score_table(synth_recipe):
    cwd, res = synth_recipe
    for stage in range(1, 7):
        assert f"stage {stage}:" in res.stderr
    cmds = [x for x in res.stderr.splitlines() if "$ " in x]
    # every training continues what a killed run left (vxt train refuses to replace a trained model unasked)
    assert all(" train --resume --task " in x for x in cmds if " train " in x)
    qa_cmd = next(x for x in cmds if " train --resume --task qa " in x)
    # QA scores the candidates without reading them; the classifiers learn at a tenth of the lr
    assert "--modalities video,audio,subtitles,question" in qa_cmd and "--epochs 1" in qa_cmd
    assert all("--set classifier_lr_scale=0.1" in x for x in cmds if " train --resume --task " in x and "classify" not in x)
    table = (cwd / "exp" / "synth" / "RESULTS.md").read_text()
    rows = [r for r in table.splitlines() if r.startswith("| ")][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["caption", "qa", "dialog"]
    assert table in res.stdout  # printed at the end
    # 5 questions per test clip, each scored
    qa = json.loads((cwd / "exp" / "synth" / "qa" / "preds_test.json").read_text())["predictions"]
    assert len(qa) == 10 and all(0 <= p["choice"] < 5 for p in qa)
    again = _run("run.sh", cwd, *TINY_RUN, "--stop-stage", "5")
    assert "$ " not in again.stderr and again.stderr.count("skip (exists") >= 9


def test_ablate_runs_every_cell_for_every_seed_and_reports_mean_and_std(synth_recipe):
    cwd, _ = synth_recipe
    args = ["--grids", "tokenization k", "--seeds", "0 1", "--k_video_values", "1", "--k_audio_values", "1",
            "--epochs", "1", "--max_steps", "1", "--batch_size", "4", "--eval_limit", "2", "--jobs", "2",
            "--score_args", "--no-java", "--python", sys.executable]
    _run("ablate.sh", cwd, *args)
    out = cwd / "exp" / "synth" / "ablations"
    plan = [line.split("\t") for line in (out / "plan.tsv").read_text().splitlines()]
    # tokenization: gumbel, frozen, feature; k: K_v = K_a = 1, which is the gumbel run -- each for seeds 0 and 1
    assert len(plan) == 8
    runs = sorted({p[4] for p in plan})
    assert len(runs) == 6  # gumbel == K_v=1 K_a=1: trained once per seed, reported in both grids
    for run in runs:
        assert (Path(cwd, run) / "preds_test.scores.json").is_file(), (Path(cwd, run) / "log.txt").read_text()[-2000:]
    frozen = (Path(cwd) / next(p[4] for p in plan if p[1] == "frozen" and p[3] == "1") / "log.txt").read_text()
    assert "--tokenization frozen" in frozen and "--seed 1" in frozen and "--max-steps 1" in frozen
    report = (out / "RESULTS.md").read_text()
    assert "## Tokenization" in report and "## K_v and K_a" in report and "no scores yet" not in report
    row = next(r for r in report.splitlines() if r.startswith("| frozen |"))
    assert row.count("±") == 8  # BLEU-4, ROUGE-L, CIDEr (no METEOR without Java) + 5 named attributes
    agg = json.loads((out / "results.json").read_text())["aggregate"]
    cider = agg["k"]["K_v=1 K_a=1"]["caption"]["CIDEr"]
    assert cider["n"] == 2 and len(cider["values"]) == 2
    for name in ("tokenization", "k"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG
    # a rerun finds every run done; the report can be copied next to the recipe with its plots
    again = _run("ablate.sh", cwd, *args, "--stage", "2")
    assert "6 of 6 runs were already done" in again.stderr and "log.txt" not in again.stderr
    dest = cwd / "committed" / "RESULTS.md"
    subprocess.run([sys.executable, str(REPO / "recipes" / "synth" / "ablate_report.py"), str(out), "--copy-to", str(dest)],
                   check=True, capture_output=True, env=_env(cwd), cwd=cwd)
    assert "](ablation_plots/k.png)" in dest.read_text()
    assert (dest.parent / "ablation_plots" / "tokenization.png").read_bytes()[:8] == PNG


def test_ablation_report_lists_runs_without_scores(tmp_path):
    out = tmp_path / "abl"
    run = out / "runs" / "qa-all-seed0"
    run.mkdir(parents=True)
    (run / "preds_test.scores.json").write_text(json.dumps({"metrics": {"accuracy": 0.5}}))
    rows = [("qa_data", "generative 100%", "qa", "0", str(run), ""),
            ("qa_data", "discriminative 100%", "qa", "0", str(out / "runs" / "qa-disc-100-seed0"), "--head discriminative")]
    (out / "plan.tsv").write_text("".join("\t".join(r) + "\n" for r in rows))
    res = subprocess.run([sys.executable, str(REPO / "recipes" / "synth" / "ablate_report.py"), str(out)],
                         capture_output=True, text=True, env=_env(tmp_path))
    assert res.returncode == 0, res.stderr
    report = (out / "RESULTS.md").read_text()
    assert "1 run(s) have no scores yet" in report and "qa-disc-100-seed0" in report
    assert "| 100% | 50.00 ± 0.00 |  |" in report
