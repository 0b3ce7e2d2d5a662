"""The training loop: determinism, resume equal to an unbroken run, DDP equal to one process, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vxt.train.loop import MetricsLog, TrainOptions, train

# a small, fast, deterministic caption model
TINY = {"text": {"dropout_rate": 0.0}}


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _opts(data, out, **kw) -> TrainOptions:
    base = dict(task="caption", data=str(data), out=str(out), max_steps=6, batch_size=4, lr=1e-3,
                overrides=json.loads(json.dumps(TINY)), evaluate=False, log_every=1)
    base.update(kw)
    return TrainOptions(**base)


def _weights(exp: Path) -> dict:
    return load_file(str(exp / "model.safetensors"))


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if atol == 0.0:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=1e-4, msg=k)


def test_train_writes_an_experiment_dir(tiny_synth, tmp_path):
    exp = tmp_path / "exp"
    summary = train(_opts(tiny_synth, exp, max_steps=3, evaluate=True, eval_limit=2))
    for name in ("config.json", "model.safetensors", "tokenizer.json", "train_state.pt", "metrics.jsonl", "run.json"):
        assert (exp / name).exists(), name
    assert (exp / "best" / "model.safetensors").exists()
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert any(r.get("split") == "val" and "CIDEr" in r for r in rows)
    assert summary["metric"] == "CIDEr" and summary["steps"] == 3
    run = json.loads((exp / "run.json").read_text())
    assert run["seed"] == 0 and run["lr_milestones_steps"] == [2]  # 50% and 75% of 3 steps


def test_same_command_same_weights(tiny_synth, tmp_path):
    train(_opts(tiny_synth, tmp_path / "a", max_steps=3))
    train(_opts(tiny_synth, tmp_path / "b", max_steps=3))
    _assert_same(_weights(tmp_path / "a"), _weights(tmp_path / "b"))


def test_resume_after_a_crash_equals_an_unbroken_run(tiny_synth, tmp_path, monkeypatch):
    # 4 examples... the caption split has 8 examples: 2 batches an epoch, 6 steps = 3 epochs; save every step
    unbroken = tmp_path / "unbroken"
    train(_opts(tiny_synth, unbroken, save_every=1))

    broken = tmp_path / "broken"
    real_add = MetricsLog.add

    def crash_at_step_3(self, row):
        real_add(self, row)
        if row.get("step") == 3 and "loss" in row:
            raise KeyboardInterrupt  # killed mid-epoch (epoch 2, after its first batch)

    monkeypatch.setattr(MetricsLog, "add", crash_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        train(_opts(tiny_synth, broken, save_every=1))
    monkeypatch.setattr(MetricsLog, "add", real_add)
    state = torch.load(broken / "last" / "train_state.pt", weights_only=True)
    assert state["step"] == 2  # the crash came before step 3's checkpoint
    train(_opts(tiny_synth, broken, save_every=1, resume=True))
    _assert_same(_weights(unbroken), _weights(broken))
    steps = [json.loads(line)["step"] for line in (broken / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_two_process_gloo_matches_one_process(tiny_synth, tmp_path):
    # frozen tokenization and no dropout: no randomness that depends on how a batch is split
    kw = dict(max_steps=2, overrides={**TINY, "tokenization": "frozen"})
    train(_opts(tiny_synth, tmp_path / "one", **kw))
    train(_opts(tiny_synth, tmp_path / "two", nproc=2, **kw))
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    # Adam turns float-rounding differences of near-zero gradients into visible ones: allow a tenth
    # of one step (lr 1e-3); a wrong loss weighting or a different batch is off by whole steps
    _assert_same(one, two, atol=1e-4)
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["world_size"] == 2


def test_classify_pretraining_gives_a_loadable_classifier(tiny_synth, tmp_path):
    from vxt.modalities import create_classifier

    exp = tmp_path / "cls"
    summary = train(TrainOptions(task="classify", modality="video", data=str(tiny_synth), out=str(exp),
                                 max_steps=2, batch_size=4, evaluate=True))
    assert summary["metric"] == "accuracy"
    labels = (tiny_synth / "labels" / "video.txt").read_text().split("\n")[:8]
    clf = create_classifier("tiny-video", labels=labels, weights=str(exp))
    assert clf.labels == labels


# ---------------------------------------------------------------- CLI: train, decode, their errors


@pytest.fixture(scope="module")
def caption_exp(tiny_synth, tmp_path_factory):
    exp = tmp_path_factory.mktemp("cap") / "exp"
    train(_opts(tiny_synth, exp, max_steps=2))
    return exp


def test_decode_data_dir_then_score(run_cli, tiny_synth, caption_exp, tmp_path):
    out = tmp_path / "preds.json"
    code, stdout, err = run_cli("decode", tiny_synth, "--task", "caption", "--split", "test", "--ckpt", caption_exp,
                                "--beam", "2", "--out", out)
    assert code == 0, err
    preds = json.loads(out.read_text())
    assert preds["task"] == "caption" and len(preds["predictions"]) == 4
    assert all(p["references"] for p in preds["predictions"])
    code, stdout, err = run_cli("score", out, "--no-java")
    assert code == 0, err
    assert (tmp_path / "preds.scores.json").exists()


def test_decode_an_mp4_with_explain(run_cli, tiny_synth, caption_exp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    video = sorted((tiny_synth / "media").glob("*.mp4"))[0]
    code, stdout, err = run_cli("decode", video, "--task", "caption", "--ckpt", caption_exp, "--greedy", "--explain")
    assert code == 0, err
    assert "video tokens" in stdout and "audio tokens" in stdout
    labels = (tiny_synth / "labels" / "video.txt").read_text().split()
    assert any(word in stdout for word in labels)
    # a decode of a media file without --out is named after the input (never a shared ./preds.json)
    out = tmp_path / f"{video.stem}.caption.preds.json"
    assert f"wrote {out.name}" in stdout and not (tmp_path / "preds.json").exists()
    preds = json.loads(out.read_text())
    assert preds["predictions"][0]["id"] == video.stem


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ckpt", "/nonexistent/exp"], "no such checkpoint"),
        (["--task", "qa", "--question", "what?", "--candidates", "a|b|c|d|e"], "trained for --task caption"),
    ],
)
def test_decode_errors_are_one_line(run_cli, tiny_synth, caption_exp, args, message):
    video = sorted((tiny_synth / "media").glob("*.mp4"))[0]
    if "--task" not in args:
        args = [*args, "--task", "caption"]
    if "--ckpt" not in args:
        args = [*args, "--ckpt", str(caption_exp)]
    code, stdout, err = run_cli("decode", video, *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_decode_unreadable_video_is_one_line(run_cli, caption_exp, tmp_path):
    bad = tmp_path / "notavideo.mp4"
    bad.write_text("this is text, not a video")
    code, stdout, err = run_cli("decode", bad, "--task", "caption", "--ckpt", caption_exp)
    assert code != 0 and "notavideo.mp4" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_qa_on_a_file_needs_a_question(run_cli, tiny_synth, caption_exp):
    video = sorted((tiny_synth / "media").glob("*.mp4"))[0]
    code, stdout, err = run_cli("decode", video, "--task", "qa", "--ckpt", caption_exp)
    assert code != 0 and "--question and --candidates" in err


def test_train_without_data_is_one_line(run_cli, tmp_path):
    code, stdout, err = run_cli("train", "--task", "caption", "--data", tmp_path / "nothing", "--max-steps", "1")
    assert code != 0 and "vxt prepare" in err and "Traceback" not in err
