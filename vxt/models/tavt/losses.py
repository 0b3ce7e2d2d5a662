"""TAVT's objectives: L_rec, the dual counterfactual contrastive losses L_dis / L_dep, the W_ma token weights.

All are pure functions of tensors, so each is tested on its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(a_rec: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_rec = MSE(A_rec, A) over the units that have real audio (``mask`` [B, L]); 0 when none has."""
    m = mask.to(a_rec.dtype).unsqueeze(-1)
    n = m.sum() * a_rec.shape[-1]
    if float(n) == 0:
        return a_rec.sum() * 0.0
    return (((a_rec - audio.to(a_rec.dtype)) ** 2) * m).sum() / n


def counterfactual_perms(k: int, n: int, device=None) -> list[torch.Tensor]:
    """The cluster permutations that make the counterfactual reconstructions A-.

    Cyclic shifts ``k -> (k + s) mod K`` for ``s = 1..n`` (at most K-1 of
    them): every one is a derangement (no cluster keeps its weight), so with
    distinct centres each ``A-`` differs from ``A+`` wherever the weights are
    not uniform, and the negatives are the same at every step (deterministic).
    """
    n = max(0, min(int(n), k - 1))
    base = torch.arange(k, device=device)
    return [(base + s) % k for s in range(1, n + 1)]


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over rows of ``-log(e^{s+/tau} / (e^{s+/tau} + sum_j e^{s-_j/tau}))``, s = cosine similarity.

    ``anchor``, ``positive`` [N, D]; ``negatives`` [N, J, D]. N = 0 gives 0.
    """
    if anchor.shape[0] == 0:
        return anchor.sum() * 0.0
    pos = F.cosine_similarity(anchor, positive, dim=-1, eps=1e-8)  # [N]
    neg = F.cosine_similarity(anchor.unsqueeze(1), negatives, dim=-1, eps=1e-8)  # [N, J]
    logits = torch.cat([pos.unsqueeze(1), neg], dim=1) / float(tau)
    return -(logits[:, 0] - torch.logsumexp(logits, dim=1)).mean()


def discrimination_loss(audio, a_rec, a_negs, mask, tau: float) -> torch.Tensor:
    """L_dis (eq. 6): InfoNCE per audio unit, anchor the real audio A, positive A+ = A_rec, negatives A-.

    ``audio``, ``a_rec`` [B, L, Da]; ``a_negs`` [B, L, J, Da]; ``mask`` [B, L] (units with real audio).
    """
    if a_negs.shape[2] == 0:
        return a_rec.sum() * 0.0
    m = mask.bool()
    return info_nce(audio[m].to(a_rec.dtype), a_rec[m], a_negs[m], tau)


def dependence_scores(alpha_av: torch.Tensor, alpha_va: torch.Tensor) -> torch.Tensor:
    """psi(V, A) = alpha_av / alpha_va per target position [B, Lt]."""
    return alpha_av / alpha_va.clamp(min=1e-6)


def dependence_loss(psi: torch.Tensor, psi_pos: torch.Tensor, psi_negs: list[torch.Tensor], tok_mask: torch.Tensor,
                    rows: torch.Tensor, tau: float) -> torch.Tensor:
    """L_dep (eq. 7): InfoNCE over the per-word dependence scores of a caption.

    The anchor is psi computed with the real audio A, the positive with A+,
    the negatives with A-. Each is a vector over the caption's words;
    similarity is the cosine of the *log* scores (the ratios themselves are all
    positive, so their cosine is close to 1 for any pair; their logs are signed
    around 0 = equal reliance). ``tok_mask`` [B, Lt]: real target words;
    ``rows`` [B]: the captions whose example has real audio.
    """
    if not psi_negs or not bool(rows.any()):
        return psi.sum() * 0.0
    m = tok_mask.to(psi.dtype)

    def vec(p):
        return (torch.log(p.clamp(min=1e-6)) * m)[rows]

    return info_nce(vec(psi), vec(psi_pos), torch.stack([vec(p) for p in psi_negs], dim=1), tau)


def token_weights(table_sum: torch.Tensor, table_count: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                  normalize: bool = True) -> torch.Tensor:
    """W_ma (eq. 8) of each target token [B, Lt]: the running mean of alpha_av / alpha_va over the
    training samples where the word occurs; 1 for a word not seen yet. With ``normalize`` the weights
    of a batch's real tokens average 1 (the loss keeps the scale of plain cross-entropy)."""
    table = torch.where(table_count > 0, table_sum / table_count.clamp(min=1), torch.ones_like(table_sum))
    w = table[targets].to(torch.float32)
    m = mask.to(w.dtype)
    if normalize and float(m.sum()) > 0:
        w = w / ((w * m).sum() / m.sum()).clamp(min=1e-6)
    return w * m


def weighted_caption_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
    """L_cap (eq. 9): sum_t W_ma(y_t) CE_t over the real tokens, divided by their number."""
    ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                         reduction="none").view(targets.shape)
    n = mask.sum().clamp(min=1)
    return (ce * weights * mask.to(ce.dtype)).sum() / n


@torch.no_grad()
def update_token_table(table_sum: torch.Tensor, table_count: torch.Tensor, targets: torch.Tensor,
                       psi: torch.Tensor, mask: torch.Tensor) -> None:
    """Add this batch's per-word dependence scores to W_ma's running sums (in place)."""
    m = mask.bool()
    ids = targets[m]
    table_sum.index_add_(0, ids, psi[m].detach().to(table_sum.dtype))
    table_count.index_add_(0, ids, torch.ones_like(ids, dtype=table_count.dtype))
