"""Modality balancers: how pre-training weighs the joint loss L against the mono-modal losses L_a and L_v.

Every balancer answers one question per training step: the weights ``{"av",
"a", "v"}`` of ``L_total = w_av L + w_a L_a + w_v L_v``, where L is the loss
with both modalities, L_a the loss with the video embeddings set to zeros
(audio alone) and L_v with the audio set to zeros (video alone). Weights are
functions of detached loss values only. State lives in buffers, so it is saved
with the weights and ``--resume`` continues it.

- ``none``: L alone; L_a and L_v are still computed (under ``no_grad``) and logged.
- ``mbp`` (Modality Balanced Pre-training, Shen et al. 2023):
  ``G_m = (L_m - L)^2``, ``w~ = softmax(alpha G)`` over {a, v},
  ``w_m(t) = beta w_m(t-1) + (1 - beta) w~_m(t)``; ``w_av = 1``; ``w(0) = (1/2, 1/2)``.
- ``gblend`` (Gradient-Blending, Wang et al. 2020, online): the losses are
  averaged over a window of training steps, on the training rows and on a
  held-out slice of the training data that is never trained on; between two
  windows N and N+n, per loss k in {av, a, v}: the overfitting
  ``O = L_heldout - L_train``, ``dO = O_{N+n} - O_N``, the generalisation
  ``dG = L_heldout,N - L_heldout,N+n``, and ``w_k ~ max(dG_k, 0) / dO_k^2``,
  normalised to sum to one (kept as they were when no loss generalised).
  Before the first two windows: 1/3 each.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

KEYS = ("av", "a", "v")


class Balancer(nn.Module):
    """The interface: ``step(losses, heldout) -> weights``; whether the mono losses are back-propagated."""

    name = ""
    #: L_a and L_v take part in the gradient (False: computed under no_grad, logged only)
    backprop_mono = True
    #: the balancer measures on held-out rows of the training batches (never trained on)
    needs_holdout = False

    def step(self, losses: dict[str, float] | None, heldout: dict[str, float] | None = None,
             n_heldout: int = 0) -> dict[str, float]:
        """Update from one training step's loss values; return this step's weights."""
        raise NotImplementedError

    def combine(self, L: torch.Tensor, L_a: torch.Tensor, L_v: torch.Tensor, w: dict[str, float]) -> torch.Tensor:
        if not self.backprop_mono:
            return w["av"] * L
        return w["av"] * L + w["a"] * L_a + w["v"] * L_v


class NoBalance(Balancer):
    """``none``: L only; L_a and L_v logged, not back-propagated."""

    name = "none"
    backprop_mono = False

    def step(self, losses, heldout=None, n_heldout=0):
        return {"av": 1.0, "a": 0.0, "v": 0.0}


def mbp_update(w_prev: torch.Tensor, L: float, L_a: float, L_v: float, alpha: float, beta: float) -> torch.Tensor:
    """One MBP step: ``beta w_prev + (1 - beta) softmax(alpha [(L_a - L)^2, (L_v - L)^2])``."""
    G = torch.tensor([(L_a - L) ** 2, (L_v - L) ** 2], dtype=torch.float64)
    target = torch.softmax(alpha * G, dim=0)
    return beta * w_prev.double() + (1.0 - beta) * target


class MBP(Balancer):
    """``mbp``: Modality Balanced Pre-training (the mono loss further from L gets the larger weight)."""

    name = "mbp"

    def __init__(self, alpha: float = 10.0, beta: float = 0.99):
        super().__init__()
        self.alpha, self.beta = float(alpha), float(beta)
        self.register_buffer("w", torch.full((2,), 0.5, dtype=torch.float64))

    def step(self, losses, heldout=None, n_heldout=0):
        if losses is not None:
            self.w.copy_(mbp_update(self.w, losses["av"], losses["a"], losses["v"], self.alpha, self.beta))
        return {"av": 1.0, "a": float(self.w[0]), "v": float(self.w[1])}


def gblend_weights(train_prev, held_prev, train_now, held_now, eps: float = 1e-12) -> list[float] | None:
    """G-Blend's weights from two measurements (each a loss per key in {av, a, v}); None if nothing generalised.

    ``w_k ~ dG_k / dO_k^2`` with ``dG = held_prev - held_now`` and ``dO = (held_now - train_now) -
    (held_prev - train_prev)``; a loss that did not generalise (dG <= 0) gets 0; normalised to sum to 1.
    """
    raw = []
    for tp, hp, tn, hn in zip(train_prev, held_prev, train_now, held_now):
        dG = float(hp) - float(hn)
        dO = (float(hn) - float(tn)) - (float(hp) - float(tp))
        raw.append(max(dG, 0.0) / (dO * dO + eps))
    total = sum(raw)
    if not total > 0 or not math.isfinite(total):
        return None
    return [r / total for r in raw]


class GBlend(Balancer):
    """``gblend``: weights from the overfitting-to-generalisation ratio on a held-out slice (Wang et al.)."""

    name = "gblend"
    needs_holdout = True

    def __init__(self, window: int):
        super().__init__()
        self.window = max(1, int(window))
        self.register_buffer("w", torch.full((3,), 1.0 / 3.0, dtype=torch.float64))
        self.register_buffer("acc_train", torch.zeros(3, dtype=torch.float64))
        self.register_buffer("acc_held", torch.zeros(3, dtype=torch.float64))
        self.register_buffer("counts", torch.zeros(2, dtype=torch.float64))  # training steps, held-out rows
        self.register_buffer("prev", torch.zeros(6, dtype=torch.float64))    # last window: train (3), held-out (3)
        self.register_buffer("has_prev", torch.zeros((), dtype=torch.bool))

    def step(self, losses, heldout=None, n_heldout=0):
        if losses is not None:
            self.acc_train += torch.tensor([losses[k] for k in KEYS], dtype=torch.float64)
            self.counts[0] += 1
        if heldout is not None and n_heldout > 0:
            self.acc_held += torch.tensor([heldout[k] for k in KEYS], dtype=torch.float64) * n_heldout
            self.counts[1] += n_heldout
        if self.counts[1] >= self.window and self.counts[0] > 0:
            train = self.acc_train / self.counts[0]
            held = self.acc_held / self.counts[1]
            if bool(self.has_prev):
                w = gblend_weights(self.prev[:3].tolist(), self.prev[3:].tolist(), train.tolist(), held.tolist())
                if w is not None:
                    self.w.copy_(torch.tensor(w, dtype=torch.float64))
            self.prev.copy_(torch.cat([train, held]))
            self.has_prev.fill_(True)
            self.acc_train.zero_()
            self.acc_held.zero_()
            self.counts.zero_()
        return {k: float(v) for k, v in zip(KEYS, self.w.tolist())}


def make_balancer(name: str, cfg: dict) -> Balancer:
    if name == "none":
        return NoBalance()
    if name == "mbp":
        return MBP(cfg["mbp_alpha"], cfg["mbp_beta"])
    if name == "gblend":
        window = int(cfg.get("gblend_window") or 0) or int(cfg.get("n_holdout") or 0) or 1
        return GBlend(window)
    raise ValueError(f"unknown balancer {name!r}")
