"""SpecVQGAN's sampler optimiser: AdamW (0.9, 0.95), weight decay 0.01 on Linear weight matrices only (minGPT /
taming), a constant lr = 5e-6 x batch size unless --lr is given."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sampler_model(tmp_path):
    from vxt.models.sound.options import PRESETS
    from vxt.models.sound.task_model import SoundTaskModel

    p = PRESETS["specvqgan-tiny"]
    cfg = {"arch": "specvqgan", "task": "sound", "stage": "sampler", "codebook": p["codebook"],
           "sampler": {**p["sampler"], "d_feat": 16, "n_codes": 265, "vocab_size": 64},
           "features": {"source": "files", "dir": str(tmp_path)}, "base_lr": p["base_lr"], "betas": p["betas"]}
    return SoundTaskModel(cfg)


def _setup(model, **opts):
    from vxt.train.options import TrainOptions
    from vxt.train.strategies import StepContext, strategy_for
    from vxt.registry import MODELS
    from vxt.tasks import get_task_entry

    o = TrainOptions(task="sound", model="specvqgan-tiny", **opts)
    strat = strategy_for(get_task_entry("sound"), MODELS.get("specvqgan-tiny"))
    ctx = StepContext(model=model, module=model, params=[], opts=o, total_steps=8, device=torch.device("cpu"))
    strat.setup(ctx)
    return strat, ctx


def test_decay_groups_follow_mingpt():
    from vxt.nn.optim import decay_groups

    m = nn.ModuleDict({"emb": nn.Embedding(5, 4), "proj": nn.Linear(4, 4), "ln": nn.LayerNorm(4),
                       "head": nn.Linear(4, 5, bias=False), "skip": nn.Linear(3, 4)})
    m.register_parameter("pos", nn.Parameter(torch.zeros(1, 3, 4)))
    decay, rest = decay_groups(m, 0.01, no_decay=("skip",))
    assert decay["names"] == ["proj.weight", "head.weight"] and decay["weight_decay"] == 0.01
    assert set(rest["names"]) == {"emb.weight", "proj.bias", "ln.weight", "ln.bias", "skip.weight", "skip.bias", "pos"}
    assert rest["weight_decay"] == 0.0


def test_sampler_param_groups_and_lr_rule(tmp_path):
    model = _sampler_model(tmp_path)
    strat, ctx = _setup(model, batch_size=8, lr_given=False)
    opt = strat.optimizer
    assert isinstance(opt, torch.optim.AdamW)
    decay, rest = opt.param_groups
    linear_weights = {f"{n}.weight" for n, mod in model.sampler.named_modules() if isinstance(mod, nn.Linear)}
    assert set(decay["names"]) == linear_weights - {"feat_emb.weight"}  # SpecVQGAN's 1x1 Conv1d: never decayed
    assert "head.weight" in decay["names"] and "blocks.0.qkv.weight" in decay["names"]
    assert not any(n.endswith("bias") or "ln" in n or n in ("tok_emb.weight", "pos_emb") for n in decay["names"])
    assert {"tok_emb.weight", "pos_emb", "feat_emb.weight", "ln_f.weight", "blocks.0.qkv.bias"} <= set(rest["names"])
    assert decay["weight_decay"] == 0.01 and rest["weight_decay"] == 0.0 and decay["betas"] == (0.9, 0.95)
    n_train = sum(1 for p in model.parameters() if p.requires_grad)
    assert len(decay["params"]) + len(rest["params"]) == n_train == len(list(model.sampler.parameters()))
    assert decay["lr"] == pytest.approx(5e-6 * 8) and strat.milestones == []
    for _ in range(8):  # constant: no step schedule
        opt.step()
        strat.scheduler.step()
    assert strat.lr() == pytest.approx(4e-5)


def test_explicit_lr_wins(tmp_path, monkeypatch):
    model = _sampler_model(tmp_path)
    assert _setup(model, batch_size=4, lr=3e-4, lr_given=True)[0].lr() == pytest.approx(3e-4)
    assert _setup(model, batch_size=4, lr=3e-4)[0].lr() == pytest.approx(3e-4)  # library use: not the default
    assert _setup(model, batch_size=4)[0].lr() == pytest.approx(2e-5)
    # the CLI says whether --lr was given
    import vxt.train.loop as loop

    seen = []
    monkeypatch.setattr(loop, "train", lambda opts: seen.append(opts) or {})
    from vxt.cli import main

    main(["train", "--task", "sound", "--data", str(tmp_path)])
    main(["train", "--task", "sound", "--data", str(tmp_path), "--lr", "1e-4"])
    assert [o.lr_explicit() for o in seen] == [False, True] and seen[1].lr == 1e-4
