"""recipes/{avsd,tvqa,tvc,msrvtt}/run.sh end to end on tiny roots (vx2text-tiny, 2 optimizer steps, stand-in media)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import recipe_env  # noqa: E402
from roots import avsd_root, msrvtt_root, tvc_recipe_root, tvqa_recipe_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CAPTION_COLUMNS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]
#: fast settings: the tiny model, 2 steps, greedy, no Java (so no METEOR)
FAST = ["--model", "vx2text-tiny", "--max_steps", "2", "--batch_size", "2", "--eval_limit", "2", "--workers", "1",
        "--score_args", "--no-java", "--python", sys.executable]


def _env(tmp_path: Path) -> dict:
    return recipe_env(VXT_JAVA=str(tmp_path / "no-java"))


def _run(recipe: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the recipe in ``tmp_path`` (so its default data/ and exp/ dirs land there); fails on a non-zero exit."""
    cmd = ["bash", str(REPO / "recipes" / recipe / "run.sh"), *args]
    res = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=240)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    """The columns and rows of the Markdown table in RESULTS.md."""
    lines = [x for x in path.read_text().splitlines() if x.startswith("|")]
    cells = [[c.strip() for c in x.strip("|").split("|")] for x in lines]
    return cells[0], cells[2:]


def _check_rerun_and_stage5(recipe: str, tmp_path: Path, exp: Path, args: list[str], scores: str) -> None:
    """A rerun skips every finished stage; stage 5 alone rebuilds the scores and the table."""
    again = _run(recipe, tmp_path, *args)
    assert "$ " not in again.stderr, again.stderr  # nothing was run
    for stage in range(1, 6):
        assert f"stage {stage}:" in again.stderr
    assert again.stderr.count("skip (exists") >= 6
    before = (exp / "RESULTS.md").read_text()
    (exp / "RESULTS.md").unlink()
    (exp / scores).unlink()
    only5 = _run(recipe, tmp_path, "--stage", "5", "--stop-stage", "5", *args)
    assert "stage 5:" in only5.stderr and "stage 4:" not in only5.stderr and "stage 1:" not in only5.stderr
    assert f"vxt score {exp.relative_to(tmp_path)}/" in only5.stderr  # logged with its exact command
    assert (exp / "RESULTS.md").read_text().splitlines()[2:] == before.splitlines()[2:]


def test_avsd_recipe(tmp_path):
    root = avsd_root(tmp_path / "root", with_val=True)
    args = ["--root", str(root), *FAST, "--beam", "1"]
    res = _run("avsd", tmp_path, *args)
    for stage in range(1, 6):
        assert f"stage {stage}:" in res.stderr
    # the experiment is named after its settings; the paper's K_v / K_a / lr reach vxt train
    exp = tmp_path / "exp" / "avsd" / "vx2text-tiny-caption-lr1e-4-ep40-steps2"
    train_cmd = next(x for x in res.stderr.splitlines() if "$ " in x and " train " in x)
    assert "--set k_video=12 --set k_audio=6" in train_cmd and "--lr 1e-4" in train_cmd and "--task dialog" in train_cmd
    data = tmp_path / "data" / "avsd"
    train = [json.loads(x) for x in (data / "train.jsonl").read_text().splitlines()]
    assert len(train) == 3 and train[0]["caption"] == "A person opens a door and sits."
    preds = json.loads((exp / "preds_test.json").read_text())
    assert [p["id"] for p in preds["predictions"]] == ["avsd-XYZ34-t1"]
    assert preds["predictions"][0]["references"] == [f"reference {k}" for k in range(6)]
    cols, rows = _table(exp / "RESULTS.md")
    assert cols == ["task", *CAPTION_COLUMNS] and [r[0] for r in rows] == ["dialog"]
    _check_rerun_and_stage5("avsd", tmp_path, exp, args, "preds_test.scores.json")


def test_avsd_recipe_without_caption_prepares_without_caption(tmp_path):
    root = avsd_root(tmp_path / "root")
    res = _run("avsd", tmp_path, "--root", str(root), "--with_caption", "false", "--stop-stage", "1", *FAST)
    assert "--no-caption" in res.stderr
    train = [json.loads(x) for x in (tmp_path / "data" / "avsd-nocaption" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 3 and all("caption" not in e and "summary" not in e for e in train)
    bad = subprocess.run(["bash", str(REPO / "recipes" / "avsd" / "run.sh"), "--with_caption", "maybe"],
                         env=_env(tmp_path), capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "--with_caption must be true or false" in bad.stderr


def test_tvqa_recipe(shared_data, tmp_path):
    root = tvqa_recipe_root(shared_data, tmp_path / "root")
    args = ["--root", str(root), *FAST]
    _run("tvqa", tmp_path, *args)
    exp = tmp_path / "exp" / "tvqa" / "vx2text-tiny-lr1e-4-ep40-steps2"
    val = json.loads((exp / "preds_val.json").read_text())["predictions"]
    test = json.loads((exp / "preds_test.json").read_text())["predictions"]
    assert len(val) == 2 and len(test) == 2
    assert all(0 <= p["choice"] < 5 for p in val + test) and all("answer" in p for p in val)
    assert not any("answer" in p for p in test)  # the public test split has no answers
    cols, rows = _table(exp / "RESULTS.md")
    assert cols == ["task", "accuracy"] and rows[0][0] == "qa" and 0 <= float(rows[0][1]) <= 100
    _check_rerun_and_stage5("tvqa", tmp_path, exp, args, "preds_val.scores.json")


@pytest.mark.parametrize("recipe", ["tvc", "msrvtt"])
def test_caption_recipes(shared_data, tmp_path, recipe):
    if recipe == "tvc":
        root, split, n = tvc_recipe_root(shared_data, tmp_path / "root"), "val", 2
    else:
        root = msrvtt_root(tmp_path / "root", splits=("train", "train", "train", "validate", "test", "test"), missing=())
        split, n = "test", 2
    args = ["--root", str(root), *FAST, "--beam", "1"]
    _run(recipe, tmp_path, *args)
    exp = tmp_path / "exp" / recipe / "vx2text-tiny-lr1e-4-ep40-steps2"
    preds = json.loads((exp / f"preds_{split}.json").read_text())["predictions"]
    assert len(preds) == n and all(p["references"] for p in preds)
    if recipe == "tvc":
        test = json.loads((exp / "preds_test.json").read_text())["predictions"]
        assert len(test) == 2 and not any(p.get("references") for p in test)
    cols, rows = _table(exp / "RESULTS.md")
    assert cols == ["task", *CAPTION_COLUMNS] and [r[0] for r in rows] == ["caption"]
    assert "not comparable to published numbers" in (exp / "RESULTS.md").read_text()
    _check_rerun_and_stage5(recipe, tmp_path, exp, args, f"preds_{split}.scores.json")
