"""Training strategies: the pluggable parts of vxt's one training loop.

A strategy decides two things, each with a default:

- :meth:`Strategy.plan`: which runs a ``vxt train`` makes (one; or, for
  ``staged``, one per stage of the model's stage plan, each run feeding the
  next: BMT's captioner first, then the proposal generator on its encoder);
- :meth:`Strategy.setup` / :meth:`Strategy.step`: how the optimizers are made
  and what one training step does (``plain``: Adam with the step schedule,
  one forward/backward per batch). Meta-learning (an inner step per support
  batch, an outer update) and adversarial training (alternating generator and
  discriminator steps) replace these two, keeping the loop's batching,
  checkpoints, resume, evaluation and logging.

Strategies are registered in ``vxt.registry.STRATEGIES``; a model's registry
entry names its strategy (``MODELS.register(..., strategy="staged")``),
otherwise the task's default applies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from vxt.errors import VxtError
from vxt.registry import STRATEGIES


@dataclasses.dataclass
class StepContext:
    """What a strategy's step sees: the run's modules, parameters and options."""

    model: Any                 # the task model (its config, collate, param_groups)
    module: Any                # what runs forward: the model, or its DDP wrapper
    params: list               # the parameters that train (filled in by Strategy.setup)
    opts: Any                  # the run's TrainOptions
    total_steps: int
    device: Any
    is_dist: bool = False
    world_size: int = 1


class Strategy:
    """The ``plain`` strategy: one run; Adam, the lr divided by ``lr_gamma`` at the milestones, one step per batch."""

    name = "plain"

    # ------------------------------------------------------------ which runs

    def plan(self, opts, entry) -> list:
        """The runs of ``vxt train``: ``[(opts, key)]``; ``key`` names a run in a staged summary."""
        return [(opts, None)]

    def combine(self, summaries: list[tuple[str | None, dict]]) -> dict:
        """One summary of the planned runs (the last run's, with the earlier ones under their keys)."""
        key, last = summaries[-1]
        last = dict(last or {})
        for k, s in summaries[:-1]:
            if k and s:
                last[k] = s
        return last

    # ------------------------------------------------------------ one run

    def setup(self, ctx: StepContext) -> None:
        import torch

        opts = self.opts = ctx.opts
        # a model may give its parameters their own learning rates, or freeze some (VX2TEXT: classifier_lr_scale)
        groups = ctx.model.param_groups(opts.lr) if hasattr(ctx.model, "param_groups") else None
        ctx.params = [p for p in ctx.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(groups or ctx.params, lr=opts.lr)
        milestones = sorted({max(1, int(round(f * ctx.total_steps))) for f in opts.lr_milestones})
        self.milestones = milestones
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=milestones,
                                                              gamma=opts.lr_gamma)

    def state_dict(self) -> dict:
        """What ``train_state.pt`` keeps of the strategy (``--resume`` restores it)."""
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def step(self, ctx: StepContext, batch: dict, step: int) -> dict:
        """One optimizer step on ``batch``; returns the scalars to log (``loss`` at least)."""
        import torch

        device = ctx.device
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = ctx.module(batch)
        loss = out["loss"]
        if not torch.isfinite(loss):
            raise VxtError(f"the loss became {loss.item()} at step {step}: lower --lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        if ctx.is_dist and "n_tokens" in out:
            # DDP averages gradients over ranks: weight each rank's token mean so that the
            # average equals the mean over all the global batch's tokens (as one process computes)
            n_local = out["n_tokens"].detach().to(loss.dtype)
            n_total = n_local.clone()
            torch.distributed.all_reduce(n_total)
            (loss * n_local * ctx.world_size / n_total.clamp(min=1)).backward()
        else:
            loss.backward()
        if ctx.opts.grad_clip:
            torch.nn.utils.clip_grad_norm_(ctx.params, ctx.opts.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        logged = {"loss": float(loss.detach())}
        for k, v in out.items():  # extra scalars a model reports (e.g. per-modality losses)
            if k.startswith("log_") and isinstance(v, (int, float, torch.Tensor)):
                logged[k[4:]] = float(v)
        return logged


class StagedStrategy(Strategy):
    """``staged``: the stages of the model's plan in order (``--stage both``), or one stage alone.

    The plan comes from the model's registry entry (``stages=``): each stage
    is ``{"stage": name, "subdir": where under OUT ("" = OUT itself),
    "set": overrides}``, where the value ``"{prev}"`` stands for the previous
    stage's output dir. Each stage is a plain run.
    """

    name = "staged"

    def plan(self, opts, entry) -> list:
        from vxt.train.options import default_out

        stages = list(entry.meta.get("stages") or [])
        names = [s["stage"] for s in stages]
        stage = opts.overrides.get("stage", "both")
        if stage not in (*names, "both"):
            raise VxtError(f"--stage must be one of {', '.join((*names, 'both'))}, got {stage!r}")
        if stage != "both":
            return [(opts, None)]
        out = Path(opts.out or default_out(opts))
        runs, prev = [], None
        for s in stages:
            target = out / s["subdir"] if s["subdir"] else out
            sets = {k: (str(prev) if v == "{prev}" else v) for k, v in s["set"].items()}
            over = {**opts.overrides, "stage": s["stage"], **sets}
            runs.append((dataclasses.replace(opts, out=str(target), overrides=over), s["stage"]))
            prev = target
        return runs


STRATEGIES.register("plain", description=Strategy.__doc__.splitlines()[0])(Strategy)
STRATEGIES.register("staged", description=StagedStrategy.__doc__.splitlines()[0])(StagedStrategy)


def strategy_for(task, entry) -> Strategy:
    """The strategy that trains the model ``entry`` for ``task`` (the model's own, else the task's)."""
    return STRATEGIES.create(entry.strategy or task.strategy)
