"""From continuous modalities to encoder tokens: differentiable tokenization and its alternatives.

VX2TEXT (Lin et al., CVPR 2021, Sec. 3.1) maps each continuous modality m
(video, audio) into the text model's embedding space through the top
categories of a classifier N_m pretrained on a label space C_m:

``gumbel`` (the paper's differentiable tokenization)
    Gumbel noise ``g = -log(-log(u))``, ``u ~ U(0, 1)`` is added to
    ``log p_m(c|x)``; the top ``K_m`` categories of the perturbed scores are a
    sample of ``K_m`` categories without replacement (the Gumbel-top-k trick).
    Forward: each selected category's hard one-hot ``c^k`` selects rows of a
    learned embedding ``W_m`` (``e^k = W_m^T c^k``). Backward (straight
    through): the gradient of each one-hot flows through
    ``softmax((log p_m + g) / tau)`` over all categories, so the text loss
    fine-tunes the classifier. At evaluation the top ``K_m`` are taken
    without noise.
``frozen``
    The classifiers are frozen (no gradient, eval mode); hard top-K, no noise.
``feature`` (the paper's "Multimodal Feature Embedding" baseline)
    No category tokens: a per-modality ``Linear + LayerNorm`` maps the
    classifier's probability vector over C_m (pooled over clips) to one
    token.

Category embeddings (:class:`CategoryEmbedding`): ``W_m`` is
``[C, L_max, D]`` -- each category owns the embedding sequence of its name's
subword tokens, initialised from the text model's own input embeddings and
padded to the longest name, with a mask of the valid positions. A selected
category inserts its *valid* rows only: the encoder input is compacted (the
padded positions are dropped, not masked), so T5's relative positions count
real tokens only.

Clips: at evaluation the probabilities of all N clips are pooled (mean); the
selected categories are ordered by time (the clip where each one peaks), ties
by score. Training samples one clip (the data loader picks it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TOKENIZATIONS = ("gumbel", "frozen", "feature")
_EPS = 1e-10


def gumbel_noise(shape, *, generator: torch.Generator | None = None, device=None, dtype=torch.float32) -> Tensor:
    """Standard Gumbel noise ``-log(-log(u))``, ``u ~ U(0, 1)``."""
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return -torch.log(-torch.log(u.clamp(_EPS, 1.0 - _EPS)))


def gumbel_topk(log_p: Tensor, k: int, *, noise: bool = True, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor]:
    """The top ``k`` categories of ``log_p + g`` (``[..., C]`` -> indices ``[..., k]``, best first).

    With noise this samples ``k`` categories without replacement from
    ``p ∝ exp(log_p)`` (ordered: the first is a draw from p, the second a draw
    from p without the first, ...). Returns the indices and the perturbed
    scores ``[..., C]``.
    """
    scores = log_p + gumbel_noise(log_p.shape, generator=generator, device=log_p.device, dtype=log_p.dtype) if noise else log_p
    k = min(int(k), log_p.shape[-1])
    return scores.topk(k, dim=-1).indices, scores


def straight_through_one_hot(indices: Tensor, scores: Tensor, tau: float = 1.0) -> Tensor:
    """Hard one-hots ``[B, K, C]`` of ``indices`` whose gradient is that of ``softmax(scores / tau)``.

    ``hard + (soft - soft.detach())``: the forward value is exactly the hard
    one-hot (the difference is exactly zero), the backward pass sees
    ``d one_hot_k / d scores = d soft / d scores`` for each of the K one-hots
    (the ``hard - soft.detach() + soft`` estimator).
    """
    soft = torch.softmax(scores / tau, dim=-1)
    hard = F.one_hot(indices, scores.shape[-1]).to(soft.dtype)
    return hard + (soft - soft.detach()).unsqueeze(-2)


def pool_clips(log_p: Tensor, clip_mask: Tensor) -> Tensor:
    """log of the mean probability over the valid clips: ``[B, N, C]``, ``[B, N]`` -> ``[B, C]``.

    With one clip this is ``log_p`` itself (exactly).
    """
    masked = log_p.masked_fill(~clip_mask[..., None], float("-inf"))
    n = clip_mask.sum(dim=1).clamp(min=1).to(log_p.dtype)
    return torch.logsumexp(masked, dim=1) - torch.log(n)[:, None]


def order_by_time(indices: Tensor, log_p: Tensor, clip_mask: Tensor) -> Tensor:
    """Reorder selected categories ``[B, K]`` (given best first) by the clip where each peaks.

    Ties (same clip, e.g. a single clip) keep the given order, i.e. by score.
    """
    masked = log_p.masked_fill(~clip_mask[..., None], float("-inf"))
    peak = masked.argmax(dim=1)  # [B, C]
    t = peak.gather(1, indices)
    order = torch.sort(t, dim=1, stable=True).indices
    return indices.gather(1, order)


def select_categories(log_p: Tensor, clip_mask: Tensor, k: int, *, noise: bool = False,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The K categories an example contributes: ``[B, N, C]`` clip log-probs -> indices ``[B, K]``.

    Clips are pooled (:func:`pool_clips`), the top K taken (with Gumbel noise:
    sampled without replacement) and ordered by time, then by score
    (:func:`order_by_time`). Returns the indices, the pooled log-probs and the
    (perturbed) scores.
    """
    pooled = pool_clips(log_p, clip_mask)
    idx, scores = gumbel_topk(pooled, k, noise=noise, generator=generator)
    return order_by_time(idx, log_p, clip_mask), pooled, scores


class CategoryEmbedding(nn.Module):
    """``W_m``: one embedding sequence per category (its name's subword tokens), ``[C, L_max, D]``.

    ``token_mask[c, l]`` is True for the valid (unpadded) positions of
    category ``c``; ``token_ids`` are the name's token ids (for reference).
    """

    def __init__(self, names: list[str], tokenizer, input_embeddings: nn.Embedding):
        super().__init__()
        ids = [tokenizer(n, add_special_tokens=False)["input_ids"] or [tokenizer.unk_token_id] for n in names]
        length = max(len(x) for x in ids)
        token_ids = torch.full((len(ids), length), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(ids), length, dtype=torch.bool)
        for c, x in enumerate(ids):
            token_ids[c, : len(x)] = torch.tensor(x)
            mask[c, : len(x)] = True
        self.register_buffer("token_ids", token_ids)
        self.register_buffer("token_mask", mask)
        with torch.no_grad():
            weight = input_embeddings.weight.detach()[token_ids].clone() * mask[..., None]
        self.weight = nn.Parameter(weight)

    @property
    def num_categories(self) -> int:
        return self.weight.shape[0]

    def forward(self, one_hot: Tensor | None, indices: Tensor) -> list[Tensor]:
        """Token embeddings of the selected categories, one ``[n_b, D]`` tensor per example.

        ``one_hot`` ``[B, K, C]`` (straight-through, for gradients) or None
        (plain row lookup); ``indices`` ``[B, K]`` in the order they enter the
        sequence. Padded name positions are dropped (compacted).
        """
        if one_hot is not None:
            emb = torch.einsum("bkc,cld->bkld", one_hot.to(self.weight.dtype), self.weight)
        else:
            emb = self.weight[indices]
        valid = self.token_mask[indices]  # [B, K, L]
        return [emb[b][valid[b]] for b in range(indices.shape[0])]


class FeatureEmbedding(nn.Module):
    """Multimodal Feature Embedding: ``LayerNorm(Linear(p_m))`` -> one token of width D."""

    def __init__(self, num_categories: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(num_categories, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, probs: Tensor) -> Tensor:
        """``[B, C]`` -> ``[B, 1, D]``."""
        return self.norm(self.proj(probs)).unsqueeze(1)
