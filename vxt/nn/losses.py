"""Losses shared by the captioners."""

from __future__ import annotations

import torch
import torch.nn.functional as F

def label_smoothing_kl(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int,
                       smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(smoothed target || model) summed over non-pad positions; returns (sum, n_tokens).

    The smoothed distribution puts ``1 - smoothing`` on the target word,
    ``smoothing / (V - 2)`` on every other word except ``<pad>`` (0), so it sums
    to one; rows whose target is ``<pad>`` are ignored. ``smoothing = 0`` gives
    cross-entropy. Divide the sum by n_tokens for the per-token loss.
    """
    V = log_probs.shape[-1]
    lp = log_probs.reshape(-1, V).float()
    tgt = target.reshape(-1)
    keep = tgt != pad_id
    lp, tgt = lp[keep], tgt[keep]
    n = keep.sum()
    if lp.numel() == 0:
        return log_probs.sum() * 0.0, n
    dist = torch.full_like(lp, smoothing / max(V - 2, 1))
    dist.scatter_(1, tgt.unsqueeze(1), 1.0 - smoothing)
    dist[:, pad_id] = 0.0
    return F.kl_div(lp, dist, reduction="sum"), n
