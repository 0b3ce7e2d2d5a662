"""``meta``: meta-learning over source domains (TAVT's Algorithm 1), a strategy of the one training loop.

Options (``--set key=value``; the model's builder ignores them):

``source_domains``  the domains meta-training draws from (comma list; default: every domain of the train split)
``meta``            ``on`` (default) or ``none``: the same model trained plainly on the pooled source domains
``stage``           ``meta`` (default) or ``adapt``: fine-tune on ``target_domain``'s train split (plain steps)
``target_domain``   the domain ``--stage adapt`` fine-tunes on (and validates on)
``inner_lr``        the inner SGD step (default 1e-4)
``outer_lr``        the outer Adam learning rate (default 1e-3; ``--lr`` is the plain steps' rate)
``second_order``    differentiate through the inner steps (default false: first-order)

One meta-step, for the parameters theta (only those that train):

1. pick the query domain (seeded by the step: a resumed run draws the same),
   the other K-1 source domains are the support; draw one batch per domain
   (``batch_size`` examples, each rank its shard, as the loop shards a batch);
2. inner steps, in order over the support batches then the query batch:
   ``theta_j = theta_{j-1} - inner_lr * grad L(theta_{j-1}; B_j)`` (with
   :func:`torch.func.functional_call` on the adapted weights);
3. the outer loss is the sum over the same K batches of the losses at the
   adapted weights ``theta_K``; its gradient with respect to theta (through
   the inner steps with ``second_order``; at ``theta_K``, the first-order
   approximation, otherwise) is averaged over ranks and Adam takes the step.

Any other one-run model whose ``forward(batch)`` returns ``{"loss": ...}`` is
meta-trained with ``vxt train --strategy meta`` (VX2TEXT, avcap: the paper
wraps its baselines in MAML). A model whose own strategy is ``meta`` (TAVT)
reads these options itself (its clusters are fitted on the source domains;
it adapts its ``--ckpt``); any other gets its builder's overrides without
them, and ``--stage adapt`` starts it from the ``--ckpt`` weights. A model
trained by a stage plan or adversarially (``staged``, ``gan``) cannot be
meta-trained: a one-line error says so.

The gradient is all-reduced by hand (the strategy differentiates the bare
model, so DDP's hooks do not run), which keeps it right under ``--nproc``.
What is logged: ``loss`` (the outer loss / K), ``inner_loss``, and the mean
over the outer evaluations of every ``log_*`` scalar the model reports.
"""

from __future__ import annotations

import dataclasses
import random

from vxt.errors import VxtError
from vxt.registry import STRATEGIES
from vxt.train.strategies import Strategy

MODES = ("meta", "pooled", "adapt")
#: the overrides this strategy reads (``--ckpt`` and ``--stage`` arrive as overrides too); a model that is not
#: natively meta-trained does not see them
META_KEYS = ("source_domains", "meta", "inner_lr", "outer_lr", "second_order", "stage", "target_domain", "ckpt")


def _too_few_domains(found) -> VxtError:
    found = ", ".join(sorted(found)) or "none"
    return VxtError(f"meta-learning needs examples of at least 2 source domains (manifest 'domain'; found: "
                    f"{found}): prepare with `vxt prepare synth --domains ...`, or --set meta=none")


def _domains(value) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(d).strip() for d in items if str(d).strip()]


def _flag(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "none", "")
    return bool(value)


def meta_settings(opts) -> dict:
    """The strategy's reading of a run's overrides (see the module docstring)."""
    o = opts.overrides
    stage = o.get("stage", "meta")
    if stage not in ("meta", "adapt"):
        raise VxtError(f"--stage must be meta or adapt, got {stage!r}")
    mode = "adapt" if stage == "adapt" else ("meta" if _flag(o.get("meta"), True) else "pooled")
    return {"mode": mode, "sources": _domains(o.get("source_domains")), "target": o.get("target_domain"),
            "inner_lr": float(o.get("inner_lr", 1e-4)), "outer_lr": float(o.get("outer_lr", 1e-3)),
            "second_order": _flag(o.get("second_order"), False)}


def inner_step(model, weights: dict, batch, inner_lr: float, create_graph: bool, forward=None):
    """One SGD step of the weights ``weights`` (name -> tensor) on ``batch``; returns (new weights, model output).

    ``forward(weights, batch)`` runs the model with those weights (default:
    :func:`torch.func.functional_call`). A weight the loss does not reach
    keeps its value. Without ``create_graph`` the new weights are detached
    leaves (first-order).
    """
    import torch

    fwd = forward or (lambda w, b: torch.func.functional_call(model, w, (b,), strict=False))
    out = fwd(weights, batch)
    if not isinstance(out, dict) or "loss" not in out:
        raise VxtError(f"{type(model).__name__}'s forward returns no 'loss': it cannot be meta-trained")
    loss = out["loss"]
    if not torch.isfinite(loss):
        raise VxtError(f"the inner loss became {float(loss)}: lower inner_lr or check the data")
    names = [n for n, w in weights.items() if w.requires_grad]  # a constant weight keeps its value
    grads = torch.autograd.grad(loss, [weights[n] for n in names], create_graph=create_graph, allow_unused=True)
    step = {n: g for n, g in zip(names, grads) if g is not None}
    new = {n: (w - inner_lr * step[n] if n in step else w) for n, w in weights.items()}
    if not create_graph:
        new = {n: (w.detach().requires_grad_(True) if n in names else w) for n, w in new.items()}
    return new, out


def meta_gradients(model, params: dict, batches: list, inner_lr: float, second_order: bool, forward=None):
    """The meta-gradient of the parameters ``params`` for one meta-step on ``batches`` (support..., query).

    Returns (grads aligned with ``params`` (None: not reached), outer loss,
    inner losses, the outer outputs). See the module docstring for the algorithm.
    """
    import torch

    fwd = forward or (lambda w, b: torch.func.functional_call(model, w, (b,), strict=False))
    fast = dict(params)
    inner = []
    for b in batches:
        fast, out = inner_step(model, fast, b, inner_lr, second_order, fwd)
        inner.append(float(out["loss"].detach()))
    outs = [fwd(fast, b) for b in batches]
    outer = sum(o["loss"] for o in outs)
    if not torch.isfinite(outer):
        raise VxtError(f"the outer loss became {float(outer)}: lower outer_lr or check the data")
    wrt = list(params.values()) if second_order else list(fast.values())
    grads = torch.autograd.grad(outer, wrt, allow_unused=True)
    return list(grads), outer.detach(), inner, outs


class MetaStrategy(Strategy):
    """``meta``: TAVT's meta-learning over source domains (support/query, inner steps, an outer Adam update)."""

    name = "meta"

    # ------------------------------------------------------------ which runs and which examples

    def plan(self, opts, entry) -> list:
        from vxt.tasks import get_task_entry
        from vxt.train.options import default_out

        own = entry.strategy or get_task_entry(opts.task).strategy
        if own != self.name and not getattr(STRATEGIES.get(own).builder, "meta_trainable", True):
            raise VxtError(f"the model {entry.name} cannot be meta-trained: it is trained by the {own} strategy "
                           "(several runs or an adversarial pair, not one loss per batch)")
        s = meta_settings(opts)
        if s["mode"] == "adapt":
            if not s["target"]:
                raise VxtError("--stage adapt needs --set target_domain=NAME")
            if opts.out == default_out(opts):  # never overwrite the meta-trained experiment
                opts = dataclasses.replace(opts, out=f"{opts.out}-adapt-{s['target']}")
        return [(opts, None)]

    def select_examples(self, examples: list[dict], split: str, opts) -> list[dict]:
        """The examples the run trains (and validates) on: the source domains', or the target's (``adapt``)."""
        s = meta_settings(opts)
        if s["mode"] == "adapt":
            keep = [ex for ex in examples if ex.get("domain") == s["target"]]
            if split == "train" and not keep:
                raise VxtError(f"no {split} example of the target domain {s['target']!r}")
            return keep
        keep = examples if s["sources"] is None else [ex for ex in examples if ex.get("domain") in s["sources"]]
        if split == "train" and not keep:
            raise VxtError(f"no {split} example of the source domains {', '.join(s['sources'])}")
        found = {str(ex["domain"]) for ex in keep if ex.get("domain") is not None}
        if split == "train" and s["mode"] == "meta" and len(found) < 2:  # before anything is built
            raise _too_few_domains(found)
        return keep

    def build_model(self, opts, build):
        """A natively meta-trained model (its registry entry names ``meta``) reads the options itself; any other is
        built without them, or, ``--stage adapt``, loaded from ``--ckpt``."""
        from vxt.registry import MODELS

        if MODELS.get(opts.model).strategy == self.name:
            return build(opts)
        if meta_settings(opts)["mode"] != "adapt":
            return build(dataclasses.replace(opts, overrides={k: v for k, v in opts.overrides.items()
                                                              if k not in META_KEYS}))
        from pathlib import Path

        from vxt.models import load_checkpoint

        ckpt = opts.overrides.get("ckpt")
        if not ckpt:
            raise VxtError("--stage adapt fine-tunes a meta-trained model: give it with --ckpt DIR")
        model = load_checkpoint(ckpt)
        name = (getattr(model, "config", None) or {}).get("name")
        if name and name != opts.model:
            raise VxtError(f"--ckpt holds a {name}, not a {opts.model}", path=str(ckpt))
        if hasattr(model, "use_data_dir"):
            model.use_data_dir(Path(opts.data))
        model.train()
        return model

    # ------------------------------------------------------------ one run

    def setup(self, ctx) -> None:
        import torch

        self.settings = s = meta_settings(ctx.opts)
        if s["mode"] != "meta":
            return super().setup(ctx)
        self.opts = opts = ctx.opts
        ctx.params = [p for p in ctx.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(ctx.params, lr=s["outer_lr"])
        self.milestones = sorted({max(1, int(round(f * ctx.total_steps))) for f in opts.lr_milestones})
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=self.milestones,
                                                              gamma=opts.lr_gamma)
        by_domain: dict[str, list[dict]] = {}
        for ex in ctx.examples:
            if ex.get("domain") is not None:
                by_domain.setdefault(str(ex["domain"]), []).append(ex)
        if len(by_domain) < 2:
            raise _too_few_domains(by_domain)
        if ctx.make_batch is None:
            raise VxtError("the meta strategy draws its own batches: the loop gave it no make_batch")
        self.by_domain = by_domain
        self.domains = sorted(by_domain)

    def _draw(self, ctx, domain: str, step: int, rng: random.Random):
        pool = self.by_domain[domain]
        idx = rng.sample(range(len(pool)), min(self.opts.batch_size, len(pool)))
        shard = idx[ctx.rank :: ctx.world_size] or [idx[ctx.rank % len(idx)]]
        return ctx.make_batch([pool[i] for i in shard], random.Random(f"{self.opts.seed}-meta-{step}-{domain}-{ctx.rank}"),
                              f"meta-{step}-{domain}")

    def step(self, ctx, batch: dict, step: int) -> dict:
        if self.settings["mode"] != "meta":
            return super().step(ctx, batch, step)
        import torch

        s = self.settings
        rng = random.Random(f"{self.opts.seed}-meta-step-{step}")
        query = rng.choice(self.domains)
        support = [d for d in self.domains if d != query]
        rng.shuffle(support)
        batches = [self._draw(ctx, d, step, rng) for d in (*support, query)]
        model = ctx.model
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        device = ctx.device

        def forward(w, b):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                return torch.func.functional_call(model, w, (b,), strict=False)

        grads, outer, inner, outs = meta_gradients(model, params, batches, s["inner_lr"], s["second_order"], forward)
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(params.values(), grads):
            p.grad = torch.zeros_like(p) if g is None else g.detach().to(p.dtype)
        if ctx.is_dist:
            for p in params.values():
                torch.distributed.all_reduce(p.grad)
                p.grad.div_(ctx.world_size)
        if ctx.opts.grad_clip:
            torch.nn.utils.clip_grad_norm_(ctx.params, ctx.opts.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        logged = {"loss": float(outer.detach()) / len(batches), "inner_loss": sum(inner) / len(inner)}
        for out in outs:
            for k, v in out.items():
                if k.startswith("log_") and isinstance(v, (int, float, torch.Tensor)):
                    logged[k[4:]] = logged.get(k[4:], 0.0) + float(v) / len(outs)
        return logged


STRATEGIES.register("meta", description=MetaStrategy.__doc__.splitlines()[0])(MetaStrategy)
