"""The ``gan`` training strategy: generator and discriminator steps alternate, each with its own Adam."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vxt.registry import MODELS, STRATEGIES
from vxt.train.options import TrainOptions
from vxt.train.strategies import GanStrategy, StepContext

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ToyGan(nn.Module):
    """G maps noise to a number, D scores numbers; D is switched on from step ``disc_start``."""

    def __init__(self, disc_start: int = 1, with_disc: bool = True):
        super().__init__()
        self.g = nn.Linear(2, 1)
        self.d = nn.Linear(1, 1) if with_disc else None
        self.disc_start = disc_start
        self.parts = []

    def gan_parameters(self):
        return list(self.g.parameters()), ([] if self.d is None else list(self.d.parameters()))

    def gan_settings(self, opts):
        return {"lr": 0.01, "betas": (0.5, 0.9)}

    def forward(self, batch):
        part = batch.get("gan_part", "generator")
        self.parts.append((part, batch.get("gan_step")))
        if part == "discriminator":
            return {"loss": torch.relu(1 - self.d(batch["real"])).mean() + torch.relu(1 + self.d(batch["fake"])).mean()}
        fake = self.g(batch["z"])
        loss = (fake - batch["real"]).abs().mean()
        out = {"log_l1": loss.detach()}
        if self.d is not None and batch.get("gan_step", 0) >= self.disc_start:
            loss = loss - self.d(fake).mean()
            out["disc_batch"] = {"real": batch["real"], "fake": fake.detach()}
        out["loss"] = loss
        return out


def _ctx(model):
    return StepContext(model=model, module=model, params=[], opts=TrainOptions(task="sound", lr=1.0),
                       total_steps=4, device=torch.device("cpu"))


def test_registered_and_used_by_specvqgan():
    assert "gan" in STRATEGIES.names()
    assert MODELS.get("specvqgan-tiny").strategy == "gan" and MODELS.get("specvqgan").strategy == "gan"


def test_alternation_and_disc_start():
    torch.manual_seed(0)
    model = ToyGan(disc_start=1)
    s = GanStrategy()
    ctx = _ctx(model)
    s.setup(ctx)
    assert s.lr() == 0.01 and s.milestones == [] and s.optimizer.defaults["betas"] == (0.5, 0.9)
    batch = {"z": torch.randn(4, 2), "real": torch.ones(4, 1)}
    d_before = [p.detach().clone() for p in model.d.parameters()]
    logged = s.step(ctx, batch, 0)
    assert "d_loss" not in logged and "l1" in logged
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.d.parameters()))  # D is off at step 0
    g_before = [p.detach().clone() for p in model.g.parameters()]
    logged = s.step(ctx, batch, 1)
    assert "d_loss" in logged and "loss" in logged
    assert model.parts[-2:] == [("generator", 1), ("discriminator", 1)]
    assert not all(torch.equal(a, b) for a, b in zip(d_before, model.d.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, model.g.parameters()))
    state = s.state_dict()
    other = GanStrategy()
    other.setup(_ctx(model))
    other.load_state_dict(state)
    assert other.d_optimizer.state_dict()["state"].keys() == s.d_optimizer.state_dict()["state"].keys()


def test_without_a_discriminator_it_trains_as_plain():
    model = ToyGan(with_disc=False)
    s = GanStrategy()
    ctx = _ctx(model)
    s.setup(ctx)
    assert not s.adversarial and s.lr() == 1.0  # the plain strategy's Adam at --lr
    logged = s.step(ctx, {"z": torch.randn(4, 2), "real": torch.ones(4, 1)}, 0)
    assert set(logged) >= {"loss"} and "d_loss" not in logged
    assert set(s.state_dict()) == {"optimizer", "scheduler"}


def test_stage_plan():
    entry = MODELS.get("specvqgan-tiny")
    runs = GanStrategy().plan(TrainOptions(task="sound", model="specvqgan-tiny", out="E"), entry)
    assert [(o.out, o.overrides["stage"], k) for o, k in runs] == [("E/codebook", "codebook", "codebook"),
                                                                  ("E/vocoder", "vocoder", "vocoder"),
                                                                  ("E", "sampler", "sampler")]
    # "{NAME}": the output of the earlier stage NAME, not only of the previous one
    assert runs[2][0].overrides["codebook_exp"] == "E/codebook"
    assert runs[2][0].overrides["vocoder_exp"] == "E/vocoder"
    one = TrainOptions(task="sound", out="E", overrides={"stage": "codebook"})
    assert [k for _, k in GanStrategy().plan(one, entry)] == [None]
