"""Positional encodings: sinusoidal (Vaswani et al.), computed for any length; learned per-axis tables on a grid."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[length, dim] sinusoidal positions (Vaswani et al.): sin on even channels, cos on odd."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * i / dim)
    pe = torch.zeros(length, dim, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe.to(dtype)


class PositionalEncoding(nn.Module):
    """Adds sinusoidal positions then dropout (no parameters; any length)."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.dim = dim
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + sinusoidal_positions(x.shape[1], self.dim, x.device, x.dtype))


class FactorisedPositions(nn.Module):
    """Learned positions on a grid of tokens, one table per axis, summed (SparseSync's visual and audio ones).

    ``shape`` is the token grid (e.g. ``(16, 7, 7)`` for time x height x width,
    ``(9, 20)`` for frequency x time); ``forward(x)`` takes ``[B, *shape, dim]``
    and adds ``sum_a table_a[i_a]``: ``sum(shape) * dim`` parameters instead of
    ``prod(shape) * dim``.
    """

    def __init__(self, shape: tuple[int, ...] | list[int], dim: int, init_std: float = 0.02):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.tables = nn.ParameterList([nn.Parameter(torch.randn(s, dim) * init_std) for s in self.shape])

    def table(self) -> torch.Tensor:
        """``[*shape, dim]``: the position added at each grid cell."""
        n = len(self.shape)
        out = 0
        for a, t in enumerate(self.tables):
            view = [1] * n + [t.shape[-1]]
            view[a] = self.shape[a]
            out = out + t.view(*view)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:-1]) != self.shape:
            raise ValueError(f"expected a token grid of {self.shape}, got {tuple(x.shape[1:-1])}")
        return x + self.table().to(x.dtype)
