"""The ``warmup_linear`` training strategy: Adam, a linear warm-up, then a linear decay to zero.

Shen et al. (2023) pre-train with Adam at 1e-4, 10% of the steps warming up
linearly, then decaying linearly. Everything but the schedule is the ``plain``
strategy's (whose step schedule stays as it is). A model may name its own
warm-up fraction (``model.warmup_fraction``; default 0.1).
"""

from __future__ import annotations

from vxt.registry import STRATEGIES
from vxt.train.strategies import StepContext, Strategy


def warmup_linear_factor(step: int, total: int, warmup: int) -> float:
    """The lr factor at optimizer step ``step`` (0-based): (step + 1) / warmup, then (total - step) / (total - warmup)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


class WarmupLinearStrategy(Strategy):
    """``warmup_linear``: one run; Adam, the lr warmed up linearly over the first 10% of the steps, then decayed linearly to 0."""

    name = "warmup_linear"

    def setup(self, ctx: StepContext) -> None:
        import torch

        opts = self.opts = ctx.opts
        groups = ctx.model.param_groups(opts.lr) if hasattr(ctx.model, "param_groups") else None
        ctx.params = [p for p in ctx.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(groups or ctx.params, lr=opts.lr)
        total = max(1, int(ctx.total_steps))
        fraction = float(getattr(ctx.model, "warmup_fraction", 0.1))
        warmup = max(1, int(round(fraction * total))) if fraction > 0 else 0
        self.milestones = [warmup]  # run.json records where the warm-up ends
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: warmup_linear_factor(s, total, warmup))


STRATEGIES.register("warmup_linear", description=WarmupLinearStrategy.__doc__.splitlines()[0])(WarmupLinearStrategy)
