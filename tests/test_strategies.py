"""Training strategies are parts of the one loop: a new one plugs in by name; staged plans its stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vxt.errors import VxtError
from vxt.registry import MODELS, STRATEGIES
from vxt.train.loop import TrainOptions, train
from vxt.train.options import resolve
from vxt.train.strategies import StagedStrategy, Strategy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _opts(data, out, **kw) -> TrainOptions:
    base = dict(task="caption", data=str(data), out=str(out), max_steps=3, batch_size=4, lr=1e-3,
                overrides={"text": {"dropout_rate": 0.0}}, evaluate=False, log_every=1)
    base.update(kw)
    return TrainOptions(**base)


def test_the_registry_lists_the_strategies():
    assert {"plain", "staged"} <= set(STRATEGIES.names())
    assert MODELS.get("bmt-tiny").strategy == "staged"
    assert MODELS.get("vx2text-tiny").strategy is None  # the task's default: plain


def test_staged_plan_chains_the_stages(tmp_path):
    entry = MODELS.get("bmt-tiny")
    opts = TrainOptions(task="dense", model="bmt-tiny", out=str(tmp_path / "E"), overrides={"d_model": 8})
    runs = StagedStrategy().plan(opts, entry)
    assert [key for _, key in runs] == ["captioner", "proposals"]
    first, second = runs[0][0], runs[1][0]
    assert first.out == str(tmp_path / "E" / "captioner") and first.overrides["stage"] == "captioner"
    assert second.out == str(tmp_path / "E") and second.overrides["stage"] == "proposals"
    assert second.overrides["captioner"] == str(tmp_path / "E" / "captioner")
    assert first.overrides["d_model"] == 8 and opts.overrides == {"d_model": 8}  # the caller's options untouched
    one = TrainOptions(task="dense", model="bmt-tiny", out="x", overrides={"stage": "proposals"})
    assert [o.out for o, _ in StagedStrategy().plan(one, entry)] == ["x"]
    with pytest.raises(VxtError, match="--stage must be one of captioner, proposals, both"):
        StagedStrategy().plan(TrainOptions(task="dense", overrides={"stage": "nope"}), entry)
    summary = StagedStrategy().combine([("captioner", {"exp": "E/captioner"}), ("proposals", {"exp": "E"})])
    assert summary == {"exp": "E", "captioner": {"exp": "E/captioner"}}


def test_a_new_strategy_plugs_into_the_loop(tiny_synth, tmp_path):
    """A strategy registered by name changes what a step does; batching, checkpoints and logs stay the loop's."""
    calls = []

    class Counting(Strategy):
        name = "counting-test"

        def step(self, ctx, batch, step):
            calls.append((step, len(batch["ids"])))
            out = super().step(ctx, batch, step)
            return {**out, "seen": float(len(batch["ids"]))}

    STRATEGIES.register("counting-test")(Counting)
    entry = MODELS.get("vx2text-tiny")
    old = entry.strategy
    entry.strategy = "counting-test"
    try:
        summary = train(_opts(tiny_synth, tmp_path / "e"))
    finally:
        entry.strategy = old
    assert [s for s, _ in calls] == [0, 1, 2] and summary["steps"] == 3
    rows = [json.loads(x) for x in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    assert [r["seen"] for r in rows if "loss" in r] == [4.0, 4.0, 4.0]  # extra scalars are logged
    assert (Path(tmp_path / "e") / "last" / "train_state.pt").exists()


def test_a_model_that_does_not_serve_the_task_is_one_line():
    with pytest.raises(VxtError) as e:
        resolve(TrainOptions(task="dense", model="vx2text-tiny"))
    assert "does not serve --task dense" in str(e.value) and "bmt-tiny" in str(e.value)
    with pytest.raises(VxtError, match="--task dense needs --model"):
        resolve(TrainOptions(task="dense"))
    task, entry = resolve(opts := TrainOptions(task="classify", modality="video"))
    assert opts.model == "classifier" and entry.name == "classifier" and task.name == "classify"


def test_cli_names_the_models_that_serve_a_task(run_cli, tiny_synth, tmp_path):
    code, _, err = run_cli("train", "--task", "caption", "--model", "bmt-tiny", "--data", tiny_synth,
                           "--out", tmp_path / "x")
    assert code != 0 and "does not serve --task caption" in err and "vx2text-tiny" in err
    assert len(err.strip().splitlines()) == 1
