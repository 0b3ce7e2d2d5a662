"""The ``meta`` strategy's pieces: the functional inner step, first- vs second-order meta-gradients, its plan."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.train.meta import MetaStrategy, inner_step, meta_gradients, meta_settings
from vxt.train.options import TrainOptions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Quadratic(nn.Module):
    """loss = mean((W x + b - y)^2): its Hessian is not zero, so second order differs from first."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3, 2)

    def forward(self, batch):
        return {"loss": ((self.lin(batch["x"]) - batch["y"]) ** 2).mean()}


class Linear(Quadratic):
    """loss = mean(c * (W x + b)): linear in the parameters, a zero Hessian."""

    def forward(self, batch):
        return {"loss": (batch["c"] * self.lin(batch["x"])).mean()}


def _batches(n=3):
    g = torch.Generator().manual_seed(1)
    return [{"x": torch.randn(4, 3, generator=g), "y": torch.randn(4, 2, generator=g),
             "c": torch.randn(4, 2, generator=g)} for _ in range(n)]


def test_the_inner_step_is_a_manual_sgd_step():
    model = Quadratic()
    b = _batches(1)[0]
    params = {n: p for n, p in model.named_parameters()}
    new, out = inner_step(model, params, b, 0.1, create_graph=False)
    model.zero_grad()
    model(b)["loss"].backward()
    for n, p in model.named_parameters():
        assert torch.allclose(new[n], p.detach() - 0.1 * p.grad, atol=1e-7)
        assert new[n].requires_grad and new[n].grad_fn is None  # first order: detached leaves
    assert float(out["loss"].detach()) == pytest.approx(float(model(b)["loss"].detach()))
    # the model's own weights are untouched (functional_call)
    assert torch.equal(model.lin.weight, Quadratic().lin.weight)


def test_first_and_second_order_agree_only_where_the_hessian_vanishes():
    for cls, same in ((Linear, True), (Quadratic, False)):
        model = cls()
        params = {n: p for n, p in model.named_parameters()}
        g1, outer1, inner1, _ = meta_gradients(model, params, _batches(), 0.5, second_order=False)
        g2, outer2, inner2, _ = meta_gradients(model, params, _batches(), 0.5, second_order=True)
        assert inner1 == pytest.approx(inner2) and float(outer1) == pytest.approx(float(outer2))
        close = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g1, g2))
        assert close is same, cls.__name__


def test_second_order_matches_finite_differences():
    """The second-order meta-gradient is the true derivative of the outer loss through the inner steps."""
    model = Quadratic().double()
    params = {n: p for n, p in model.named_parameters()}
    batches = [{k: v.double() for k, v in b.items()} for b in _batches(2)]
    grads, *_ = meta_gradients(model, params, batches, 0.3, second_order=True)

    def outer(w):
        p = {"lin.weight": w, "lin.bias": params["lin.bias"].detach().clone().requires_grad_(True)}
        for b in batches:
            p, _ = inner_step(model, p, b, 0.3, create_graph=True)
        return float(sum(torch.func.functional_call(model, p, (b,))["loss"] for b in batches).detach())

    w = params["lin.weight"].detach().clone().requires_grad_(True)
    eps, (i, j) = 1e-6, (1, 2)
    wp, wm = w.clone(), w.clone()
    wp.data[i, j] += eps
    wm.data[i, j] -= eps
    assert float(grads[0][i, j]) == pytest.approx((outer(wp) - outer(wm)) / (2 * eps), rel=1e-5)


def test_settings_select_and_plan():
    opts = TrainOptions(task="caption", out="exp/x", overrides={"source_domains": "a,b", "second_order": "true"})
    s = meta_settings(opts)
    assert s["mode"] == "meta" and s["sources"] == ["a", "b"] and s["second_order"] and s["inner_lr"] == 1e-4
    assert meta_settings(TrainOptions(task="caption", overrides={"meta": "none"}))["mode"] == "pooled"
    exs = [{"id": str(i), "domain": d} for i, d in enumerate("abcab")]
    strat = MetaStrategy()
    assert [e["domain"] for e in strat.select_examples(exs, "train", opts)] == list("abab")
    adapt = TrainOptions(task="caption", overrides={"stage": "adapt", "target_domain": "c"})
    assert [e["domain"] for e in strat.select_examples(exs, "train", adapt)] == ["c"]
    with pytest.raises(VxtError, match="target domain 'z'"):
        strat.select_examples(exs, "train", TrainOptions(task="caption", overrides={"stage": "adapt",
                                                                                     "target_domain": "z"}))
    with pytest.raises(VxtError, match="--stage must be meta or adapt"):
        meta_settings(TrainOptions(task="caption", overrides={"stage": "both"}))


def _ctx(model, examples, calls, **kw):
    from vxt.train.strategies import StepContext

    def make_batch(exs, rng, tag):
        calls.append((tag, [e["id"] for e in exs]))
        return {"x": torch.stack([e["x"] for e in exs]), "y": torch.stack([e["y"] for e in exs])}

    opts = TrainOptions(task="caption", batch_size=2, overrides={"outer_lr": 0.01}, lr_milestones=())
    return StepContext(model=model, module=model, params=[], opts=opts, total_steps=4, device=torch.device("cpu"),
                       examples=examples, make_batch=make_batch, **kw)


def _examples():
    g = torch.Generator().manual_seed(2)
    return [{"id": f"{d}{i}", "domain": d, "x": torch.randn(3, generator=g), "y": torch.randn(2, generator=g)}
            for d in ("a", "b", "c") for i in range(3)]


def test_a_meta_step_draws_one_batch_per_domain_and_updates(tmp_path):
    """Support domains then the query, one batch each (a function of the step: resumable); Adam moves theta;
    under a process group the gradient is all-reduced (here a 1-process gloo group)."""
    import torch.distributed as dist

    model, calls = Quadratic(), []
    strat = MetaStrategy()
    ctx = _ctx(model, _examples(), calls)
    strat.setup(ctx)
    w0 = model.lin.weight.detach().clone()
    logged = strat.step(ctx, {}, 0)
    assert set(logged) == {"loss", "inner_loss"} and not torch.equal(model.lin.weight, w0)
    doms = [tag.rsplit("-", 1)[1] for tag, _ in calls]
    assert sorted(doms) == ["a", "b", "c"] and all(len(ids) == 2 for _, ids in calls)
    again, calls2 = MetaStrategy(), []
    ctx2 = _ctx(Quadratic(), _examples(), calls2)
    again.setup(ctx2)
    again.step(ctx2, {}, 0)
    assert calls2 == calls  # the same draws for the same step
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        calls3 = []
        ctx3 = _ctx(Quadratic(), _examples(), calls3, is_dist=True, world_size=1, rank=0)
        third = MetaStrategy()
        third.setup(ctx3)
        third.step(ctx3, {}, 0)
        assert torch.allclose(ctx3.model.lin.weight, model.lin.weight)
    finally:
        dist.destroy_process_group()
    assert set(strat.state_dict()) == {"optimizer", "scheduler"}


def test_meta_needs_two_domains():
    examples = [e for e in _examples() if e["domain"] == "a"]
    with pytest.raises(VxtError, match="at least 2 source domains"):
        MetaStrategy().setup(_ctx(Quadratic(), examples, []))
