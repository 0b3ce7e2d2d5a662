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
otherwise the task's default applies; ``vxt train --strategy NAME`` chooses
another (``meta`` around any one-run captioner: :mod:`vxt.train.meta`).
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
    rank: int = 0
    #: the run's training examples, and ``make_batch(examples, rng, tag)``: a collated batch of them on the
    #: device (``tag`` seeds the clip and reference choices): for a strategy that draws its own batches
    #: (``meta``: one per domain); ``plain`` uses neither
    examples: list = dataclasses.field(default_factory=list)
    make_batch: Any = None


class Strategy:
    """The ``plain`` strategy: one run; Adam, the lr divided by ``lr_gamma`` at the milestones, one step per batch."""

    name = "plain"
    #: whether the ``meta`` strategy may train, in this strategy's place, a model that names it: one run, one
    #: forward returning ``loss`` (a stage plan or an adversarial pair is not)
    meta_trainable = True

    # ------------------------------------------------------------ which runs

    def plan(self, opts, entry) -> list:
        """The runs of ``vxt train``: ``[(opts, key)]``; ``key`` names a run in a staged summary."""
        return [(opts, None)]

    def build_model(self, opts, build):
        """The model a (non-resumed) run starts from: ``build(opts)`` (the registry's builder) unless a strategy
        knows better (``meta --stage adapt`` of a model that does not adapt itself: the ``--ckpt`` weights)."""
        return build(opts)

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
        # a model may bring its own optimizer settings (SpecVQGAN's sampler: AdamW, minGPT's weight-decay groups)
        own = ctx.model.optimizer_settings(opts) if hasattr(ctx.model, "optimizer_settings") else None
        if own is not None:
            return self._setup_own(ctx, own)
        # a model may give its parameters their own learning rates, or freeze some (VX2TEXT: classifier_lr_scale)
        groups = ctx.model.param_groups(opts.lr) if hasattr(ctx.model, "param_groups") else None
        ctx.params = [p for p in ctx.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(groups or ctx.params, lr=opts.lr)
        milestones = sorted({max(1, int(round(f * ctx.total_steps))) for f in opts.lr_milestones})
        self.milestones = milestones
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=milestones,
                                                              gamma=opts.lr_gamma)

    def _setup_own(self, ctx: StepContext, own: dict) -> None:
        """The optimizer a model asks for: ``{"groups": param groups, "lr", "betas", "optimizer": "adamw" | "adam",
        "schedule": False}`` (``schedule`` False: a constant lr; True: the step schedule of ``--lr``'s help;
        ``"warmup"``: from ``warmup_from`` x lr up to lr linearly over ``warmup_steps`` steps, then constant)."""
        import torch

        opts = ctx.opts
        groups = own["groups"]
        ctx.params = [p for g in groups for p in g["params"]]
        make = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}[own.get("optimizer", "adamw")]
        self.optimizer = make(groups, lr=float(own["lr"]), betas=tuple(float(b) for b in own["betas"]))
        if own.get("schedule") == "warmup":
            n, f0 = max(1, int(own["warmup_steps"])), float(own.get("warmup_from", 0.0))
            self.milestones = [n]  # run.json records where the warm-up ends
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, lambda s: 1.0 if s >= n else f0 + (1.0 - f0) * s / n)
            return
        self.milestones = (sorted({max(1, int(round(f * ctx.total_steps))) for f in opts.lr_milestones})
                           if own.get("schedule", False) else [])
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=self.milestones,
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
    stage's output dir and ``"{NAME}"`` for that of the earlier stage NAME.
    Each stage is a plain run.
    """

    name = "staged"
    meta_trainable = False

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
        runs, prev, done = [], None, {}
        for s in stages:
            target = out / s["subdir"] if s["subdir"] else out
            outs = {"{prev}": prev, **{"{" + k + "}": v for k, v in done.items()}}
            sets = {k: (str(outs[v]) if isinstance(v, str) and outs.get(v) is not None else v)
                    for k, v in s["set"].items()}
            over = {**opts.overrides, "stage": s["stage"], **sets}
            runs.append((dataclasses.replace(opts, out=str(target), overrides=over), s["stage"]))
            prev = done[s["stage"]] = target
        return runs


class GanStrategy(StagedStrategy):
    """``gan``: adversarial training, a generator step then a discriminator step per batch (VQGAN, MelGAN).

    The model gives its two parameter sets (``gan_parameters() -> (generator,
    discriminator)``) and, optionally, ``gan_settings(opts) -> {"lr", "betas"}``
    (default ``--lr``, Adam betas (0.5, 0.9)); each set has its own Adam, the
    learning rate is constant. A step runs the model with
    ``batch["gan_part"] = "generator"`` and ``batch["gan_step"]`` (the step, so
    the model can switch its discriminator on late), backpropagates ``loss``
    into the generator, and, when the model returns a ``disc_batch`` (the
    detached real and generated inputs), runs it (``gan_part`` =
    ``"discriminator"``) and steps the discriminator on its ``loss``. No
    gradient clipping (as taming-transformers). A model stage with no
    discriminator parameters trains as ``plain``; a model with a stage plan
    (``stages=``) runs one stage (``--stage NAME``) or all in order
    (``--stage all``, the default).
    """

    name = "gan"

    def plan(self, opts, entry) -> list:
        names = [s["stage"] for s in entry.meta.get("stages") or []]
        if not names:
            return [(opts, None)]
        stage = opts.overrides.get("stage", "all")
        if stage not in (*names, "all"):
            raise VxtError(f"--stage must be one of {', '.join((*names, 'all'))}, got {stage!r}")
        if stage == "all":  # the staged plan's word for every stage in order
            opts = dataclasses.replace(opts, overrides={**opts.overrides, "stage": "both"})
        return super().plan(opts, entry)

    def setup(self, ctx: StepContext) -> None:
        import torch

        g_params, d_params = (ctx.model.gan_parameters() if hasattr(ctx.model, "gan_parameters") else (None, []))
        self.adversarial = bool(d_params)
        if not self.adversarial:
            return super().setup(ctx)
        self.opts = ctx.opts
        settings = {"lr": ctx.opts.lr, "betas": (0.5, 0.9)}
        if hasattr(ctx.model, "gan_settings"):
            settings.update(ctx.model.gan_settings(ctx.opts))
        self._lr = float(settings["lr"])
        betas = tuple(float(b) for b in settings["betas"])
        ctx.params = [p for p in g_params if p.requires_grad]
        self.optimizer = torch.optim.Adam(ctx.params, lr=self._lr, betas=betas)
        self.d_optimizer = torch.optim.Adam([p for p in d_params if p.requires_grad], lr=self._lr, betas=betas)
        self.milestones = []

    def state_dict(self) -> dict:
        if not self.adversarial:
            return super().state_dict()
        return {"optimizer": self.optimizer.state_dict(), "d_optimizer": self.d_optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if not self.adversarial:
            return super().load_state_dict(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])

    def lr(self) -> float:
        return self._lr if self.adversarial else super().lr()

    def step(self, ctx: StepContext, batch: dict, step: int) -> dict:
        import torch

        if not self.adversarial:
            return super().step(ctx, batch, step)
        device = ctx.device
        logged: dict[str, float] = {}
        for part, opt in (("generator", self.optimizer), ("discriminator", self.d_optimizer)):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out = ctx.module({**batch, "gan_part": part, "gan_step": step})
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise VxtError(f"the {part} loss became {loss.item()} at step {step}: lower --lr or check the data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            logged["loss" if part == "generator" else "d_loss"] = float(loss.detach())
            for k, v in out.items():
                if k.startswith("log_") and isinstance(v, (int, float, torch.Tensor)):
                    logged[k[4:]] = float(v)
            batch = out.get("disc_batch")
            if batch is None:  # the discriminator is not on yet
                break
        return logged


STRATEGIES.register("plain", description=Strategy.__doc__.splitlines()[0])(Strategy)
STRATEGIES.register("staged", description=StagedStrategy.__doc__.splitlines()[0])(StagedStrategy)
STRATEGIES.register("gan", description=GanStrategy.__doc__.splitlines()[0])(GanStrategy)


def strategy_for(task, entry, name: str | None = None) -> Strategy:
    """The strategy that trains the model ``entry`` for ``task``: ``name`` (``--strategy``) if given, else the
    model's own, else the task's."""
    return STRATEGIES.create(name or entry.strategy or task.strategy)
