"""The avcap recipes on real benchmarks end to end at tiny size (avcap-tiny, 2 optimizer steps): recipes/howto100m
pre-trains on a tiny HowTo100M root, and recipes/{youcook2,msrvtt-avcap,vatex,anet-paragraphs} fine-tune from it on
tiny roots in each benchmark's format (the real sample videos of ../shared/data), decode, score and write RESULTS.md
beside the paper's numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import roots  # noqa: E402
from recipe_tools import markdown_table, recipe_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAST = ["--model", "avcap-tiny", "--max_steps", "2", "--batch_size", "2", "--eval_limit", "1", "--workers", "1",
        "--python", sys.executable]
#: recipe -> (root builder, the split it scores, the checkpoint it decodes, the paper's B4 / METEOR / ROUGE-L / CIDEr)
FINETUNES = {
    "youcook2": (roots.youcook2_root, "val", "last", ["20.60", "24.20", "49.60", "217.00"]),
    "msrvtt-avcap": (roots.msrvtt_real_root, "test", "best", ["46.00", "30.60", "64.00", "57.00"]),
    "vatex": (roots.vatex_root, "test", "best", ["38.80", "25.90", "52.90", "73.50"]),
    "anet-paragraphs": (roots.anet_paragraph_root, "val", "last", ["11.73", "16.14", "30.68", "26.11"]),
}


def _run(recipe: str, cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=recipe_env(VXT_JAVA=str(cwd / "no-java")))


def _ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def _commands(res: subprocess.CompletedProcess, verb: str) -> list[str]:
    """The logged `vxt VERB ...` commands of a recipe run."""
    return [x.split("$ ", 1)[1] for x in res.stderr.splitlines() if "$ " in x and f"vxt {verb} " in x]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def pretrained(shared_data, tmp_path_factory):
    """recipes/howto100m/run.sh on a tiny HowTo100M root: (cwd, data dir, experiment dir, the run)."""
    cwd = tmp_path_factory.mktemp("avcap-real")
    root = roots.howto100m_root(shared_data, cwd / "howto100m")
    res = _ok(_run("howto100m", cwd, "--root", str(root), "--split_list", str(root / "test_list.txt"),
                   "--data", str(cwd / "data" / "howto100m"), "--exp", str(cwd / "exp" / "howto100m"), *FAST))
    return cwd, cwd / "data" / "howto100m", cwd / "exp" / "howto100m", res


def test_howto100m_pretraining(pretrained):
    _, data, exp, res = pretrained
    for stage in (1, 2, 3):
        assert f"stage {stage}:" in res.stderr
    (train,) = _commands(res, "train")
    for opt in ("--stage pretrain", "--set balance=mbp", "--set pnc=true", "--lr 1e-4", "--modalities video,audio",
                "--set fusion=local_global_merged", "--model avcap-tiny", "--max-steps 2"):
        assert opt in train
    # the clips: every video's ASR cut into clips, the split list's video in test, the CRC-picked one in val
    vids = {s: {ex["id"].removeprefix("howto100m-").rsplit("-c", 1)[0] for ex in _jsonl(data / f"{s}.jsonl")}
            for s in ("train", "val", "test")}
    assert vids == {s: {v for v, (_, sp) in roots.HOWTO100M_VIDEOS.items() if sp == s} for s in vids}
    train_rows = _jsonl(data / "train.jsonl")
    assert sum("next_targets" in ex for ex in train_rows) >= 3
    # the captions are the transcript, so all of their words are spoken
    cov = json.loads((data / "coverage.json").read_text())
    assert cov["splits"]["train"]["coverage"] == 1.0 and cov["splits"]["train"]["n_with_transcript"] == len(train_rows)
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["stage"] == "pretrain" and cfg["balance"] == "mbp" and cfg["pnc"] is True
    assert cfg["modalities"] == ["video", "audio"] and cfg["fusion"] == "local_global_merged"
    logged = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_av", "loss_a", "loss_v", "w_a", "w_v"} <= set(next(r for r in logged if "split" not in r))


@pytest.mark.parametrize("recipe", list(FINETUNES))
def test_finetune_decode_score_and_results(recipe, pretrained, shared_data):
    cwd, _, pre, _ = pretrained
    build, split, ckpt, paper = FINETUNES[recipe]
    root = build(shared_data, cwd / "roots" / recipe)
    data, exp = cwd / "data" / recipe, cwd / "exp" / recipe
    args = ["--root", str(root), "--data", str(data), "--exp", str(exp), "--pretrain_exp", str(pre),
            "--score_args", "--no-java", *FAST]
    res = _ok(_run(recipe, cwd, *args))
    for stage in range(1, 6):
        assert f"stage {stage}:" in res.stderr
    (train,) = _commands(res, "train")
    assert "--stage finetune" in train and "--lr 1e-5" in train and f"--set init={pre}" in train
    (decode,) = _commands(res, "decode")
    assert f"--split {split}" in decode and "--beam 5" in decode and f"--ckpt {exp}/{ckpt}" in decode

    # fine-tuned from the pre-training: its architecture and vocabulary
    cfg, pre_cfg = (json.loads((d / "config.json").read_text()) for d in (exp, pre))
    assert cfg["stage"] == "finetune" and cfg["init"] == str(pre) and cfg["vocab"] == pre_cfg["vocab"]
    assert cfg["modalities"] == ["video", "audio"] and cfg["fusion"] == "local_global_merged"

    # the decoded examples are the split's caption examples; the scores are the table's
    wanted = [ex for ex in _jsonl(data / f"{split}.jsonl") if ex["task"] == "caption"]
    preds = json.loads((exp / f"preds_{split}.json").read_text())["predictions"]
    assert [p["id"] for p in preds] == [ex["id"] for ex in wanted] and preds
    scores = json.loads((exp / f"preds_{split}.scores.json").read_text())
    if recipe == "anet-paragraphs":
        # val_1's segments captioned, each video scored as one paragraph against val_1's and val_2's
        v1, v2 = (json.loads((root / f"{n}.json").read_text())[roots.LIFTER] for n in ("val_1", "val_2"))
        assert [p["start"] for p in preds] == [float(ts[0]) for ts in v1["timestamps"]]

        def para(ann):
            order = sorted(range(len(ann["sentences"])), key=lambda k: ann["timestamps"][k][0])
            return " ".join(ann["sentences"][k].strip() for k in order)

        assert all(p["paragraph"]["references"] == [para(v1), para(v2)] for p in preds)
        assert scores["settings"]["paragraph"] is True and scores["n_videos"] == 1 and scores["n_references"] == 2
    else:
        assert scores["n_scored"] == len(wanted)

    text = (exp / "RESULTS.md").read_text()
    table = markdown_table(text, "## Scores")
    ours = table["vxt, this run"]
    assert ours[:3] == ["V+A", "local_global_merged", "PCC + PNC, MBP"]
    for (key, cell) in zip(("Bleu_4", "METEOR", "ROUGE_L", "CIDEr"), ours[3:]):
        if key == "METEOR":
            assert cell == ""  # scored without Java
        else:
            assert math.isfinite(float(cell)) and float(cell) == pytest.approx(100 * scores["metrics"][key], abs=0.005)
    assert table["Shen et al. 2023"] == ["V+A", "local_global_merged", "PCC + PNC, MBP", *paper]
    if recipe == "youcook2":
        assert table["Shen et al. 2023, without MBP"][-1] == "184.20"
        assert table["Shen et al. 2023, without PNC"][2:] == ["PCC, MBP", "", "", "", "192.40"]
    assert "not comparable to published numbers" in text
    doc = json.loads((exp / "results.json").read_text())
    assert doc["run"]["steps"] == 2 and doc["comparable_to_published"] is False

    # the speech coverage rate where the data has transcripts (here: the .srt files beside two MSR-VTT clips)
    if recipe == "msrvtt-avcap":
        cov = json.loads((data / "coverage.json").read_text())
        assert cov["splits"]["test"]["n_with_transcript"] == 1
        assert f"test {100 * cov['splits']['test']['coverage']:.2f} %" in text
        assert doc["coverage"]["test"] == cov["splits"]["test"]["coverage"]
    else:
        assert not (data / "coverage.json").exists() and "no speech coverage rate" in text
        assert "no transcripts (subtitles)" in res.stderr

    # a rerun skips every finished stage
    again = _ok(_run(recipe, cwd, *args, timeout=60))
    assert "vxt train" not in again.stderr and "vxt decode" not in again.stderr
    assert again.stderr.count("skip (exists") == 5 + (recipe == "msrvtt-avcap")


def test_what_a_finetuning_recipe_refuses(tmp_path):
    """One-line errors, before anything runs: no --root, a pre-training that is not there, Kinetics weights for a
    pre-trained model, an unknown option."""
    cases = [(["--stage", "1"], "--root is required"),
             (["--stage", "3", "--pretrain_exp", str(tmp_path / "nothing")], "no pre-training at"),
             (["--video_weights", "swin.pth"], "--video_weights is for a run without pre-training"),
             (["--balance", "mbp"], "unknown option --balance")]
    for args, message in cases:
        res = _run("youcook2", tmp_path, *args, timeout=30)
        assert res.returncode == 2 and message in res.stderr, res.stderr
        assert "$ " not in res.stderr  # no command ran


def test_results_name_the_pretraining_as_the_paper_does(tmp_path):
    """RESULTS.md's pre-training column comes from the config of the run ``init`` names: the objectives (PCC + PNC,
    or PCC alone with pnc=false) and the balancing the run used (none where a side is missing)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("avcap_results", REPO / "recipes" / "avcap_results.py")
    results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results)
    cases = [({"balance": "mbp"}, "PCC + PNC, MBP"), ({"balance": "auto"}, "PCC + PNC, MBP"),
             ({"balance": "none"}, "PCC + PNC, no balancing"), ({"balance": "gblend"}, "PCC + PNC, G-Blend"),
             ({"balance": "mbp", "pnc": False}, "PCC, MBP"),
             ({"balance": "mbp", "modalities": ["video"]}, "PCC + PNC, no balancing")]
    for i, (over, label) in enumerate(cases):
        pre = tmp_path / f"pre{i}"
        pre.mkdir()
        (pre / "config.json").write_text(json.dumps({"stage": "pretrain", "modalities": ["video", "audio"], **over}))
        assert results.pretraining({"init": str(pre)}) == label, over
    assert results.pretraining({"init": None}) == "none"
    assert "no config.json" in results.pretraining({"init": str(tmp_path / "gone")})
