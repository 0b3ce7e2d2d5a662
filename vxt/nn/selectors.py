"""Learned queries that read a long token sequence down to a few vectors (SparseSync's "selectors").

A :class:`QuerySelector` holds ``n`` learned query vectors (plus a learned
position each) and passes them through blocks of pre-LayerNorm
self-attention among the queries, cross-attention from the queries to the
context tokens, and a GELU MLP (:class:`CrossBlock`); it returns
``[B, n, dim]`` whatever the number of context tokens. Perceiver-like
resamplers and Q-Formers are the same pattern.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.nn.attention import Attention


class CrossBlock(nn.Module):
    """``x += SelfAttn(LN x); x += CrossAttn(LN x, context); x += MLP(LN x)`` (pre-LN, GELU, 4x width)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, mlp_ratio: int = 4):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_att = Attention(dim, dim, dim, heads, dropout)
        self.cross_att = Attention(dim, dim, dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.ln1(x)
        x = x + self.drop(self.self_att(y, y))
        x = x + self.drop(self.cross_att(self.ln2(x), context, context_mask))
        return x + self.drop(self.mlp(self.ln3(x)))


class QuerySelector(nn.Module):
    """``n`` learned queries read ``context [B, T, dim]`` (any T) through ``layers`` :class:`CrossBlock` s."""

    def __init__(self, n: int, dim: int, layers: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.n = int(n)
        self.queries = nn.Parameter(torch.randn(self.n, dim))
        self.positions = nn.Parameter(torch.rand(self.n, dim))
        self.drop_q, self.drop_c = nn.Dropout(dropout), nn.Dropout(dropout)
        self.blocks = nn.ModuleList(CrossBlock(dim, heads, dropout) for _ in range(int(layers)))

    def forward(self, context: torch.Tensor, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        B = context.shape[0]
        x = (self.queries + self.positions).to(context.dtype).unsqueeze(0).expand(B, -1, -1)
        x, context = self.drop_q(x), self.drop_c(context)
        for blk in self.blocks:
            x = blk(x, context, context_mask)
        return x
