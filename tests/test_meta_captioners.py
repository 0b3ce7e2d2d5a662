"""``vxt train --strategy meta``: the meta strategy around a captioner that is not natively meta-trained (avcap)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_java")


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory) -> Path:
    """3 scenes in photo and cartoon (6 caption clips), no val split (no validation: fast)."""
    from vxt.data.prepare import prepare

    out = tmp_path_factory.mktemp("meta-captioners") / "synth2"
    prepare("synth", out, options={"n_train": 3, "n_val": 0, "n_test": 0, "n_dense_train": 0, "n_dense_val": 0,
                                   "n_dense_test": 0, "qa_per_clip": 1, "domains": "photo,cartoon", "seed": 0},
            workers=1, progress=False)
    for split in ("val", "test"):
        (out / f"{split}.jsonl").unlink(missing_ok=True)
    return out


def test_avcap_meta_trains_from_the_cli(run_cli, two_domains, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from vxt.train.meta import MetaStrategy

    start: dict = {}
    setup = MetaStrategy.setup

    def spy(self, ctx):  # the weights the run starts from
        start.update({k: v.detach().clone() for k, v in ctx.model.state_dict().items()})
        return setup(self, ctx)

    monkeypatch.setattr(MetaStrategy, "setup", spy)
    exp = tmp_path / "avcap-meta"
    code, out, err = run_cli("train", "--task", "caption", "--model", "avcap-tiny", "--strategy", "meta",
                             "--data", two_domains, "--set", "source_domains=photo,cartoon", "--set", "outer_lr=1e-3",
                             "--max-steps", "2", "--batch-size", "2", "--out", exp)
    assert code == 0, err
    rows = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines() if x.strip()]
    last = [r for r in rows if "loss" in r][-1]
    assert last["step"] == 2 and math.isfinite(last["loss"]) and math.isfinite(last["inner_loss"])
    assert json.loads((exp / "run.json").read_text())["strategy"] == "meta"
    after = load_file(str(exp / "model.safetensors"))
    changed = [k for k in after if k in start and after[k].is_floating_point()
               and not torch.equal(after[k], start[k].to(after[k].dtype))]
    assert changed, "meta-training changed no weight"
    # the builder never saw the strategy's options (avcap rejects unknown ones)
    assert "source_domains" not in json.loads((exp / "config.json").read_text())

    # --stage adapt: the meta-trained weights, fine-tuned on one domain (plain steps)
    adapt = tmp_path / "avcap-adapt"
    code, out, err = run_cli("train", "--task", "caption", "--model", "avcap-tiny", "--strategy", "meta",
                             "--data", two_domains, "--stage", "adapt", "--set", "target_domain=cartoon", "--ckpt", exp,
                             "--max-steps", "1", "--batch-size", "2", "--out", adapt)
    assert code == 0, err
    run = json.loads((adapt / "run.json").read_text())
    assert run["steps_per_epoch"] == 2  # the 3 cartoon clips, in batches of 2
    # and it decodes the target domain alone (--set domain= for a model with decode options of its own, too)
    preds = tmp_path / "preds.json"
    code, out, err = run_cli("decode", two_domains, "--task", "caption", "--split", "train", "--set", "domain=cartoon",
                             "--ckpt", adapt, "--greedy", "--out", preds)
    assert code == 0, err
    rows = json.loads(preds.read_text())["predictions"]
    assert len(rows) == 3 and all("cartoon" in r["id"] for r in rows)


def _one_line_error(run_cli, *args) -> str:
    code, out, err = run_cli(*args)
    assert code != 0
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_model_with_a_stage_plan_cannot_be_meta_trained(run_cli, two_domains, tmp_path):
    line = _one_line_error(run_cli, "train", "--task", "dense", "--model", "bmt-tiny", "--strategy", "meta",
                           "--data", two_domains, "--out", tmp_path / "x")
    assert "bmt-tiny cannot be meta-trained" in line and "staged" in line


def test_one_domain_is_too_few(run_cli, two_domains, tmp_path):
    line = _one_line_error(run_cli, "train", "--task", "caption", "--model", "vx2text-tiny", "--strategy", "meta",
                           "--data", two_domains, "--set", "source_domains=photo", "--out", tmp_path / "x")
    assert "at least 2 source domains" in line and "found: photo" in line
    line = _one_line_error(run_cli, "train", "--task", "caption", "--strategy", "nope", "--data", two_domains)
    assert "unknown training strategy 'nope'" in line


def test_a_forward_without_loss_cannot_be_meta_trained():
    import torch

    from vxt.errors import VxtError
    from vxt.train.meta import inner_step

    model = torch.nn.Linear(2, 1)
    with pytest.raises(VxtError, match="returns no 'loss'"):
        inner_step(model, dict(model.named_parameters()), torch.zeros(1, 2), 0.1, False,
                   forward=lambda w, b: torch.func.functional_call(model, w, (b,)))
