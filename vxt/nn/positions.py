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


def time_positions(n: int, dim: int, seconds: float) -> torch.Tensor:
    """``[n, dim]`` sinusoids of the centre times (s) of ``n`` tokens spanning ``seconds``, wavelengths from 0.1 s
    to 100 s: two streams whose token grids differ (25 fps frames, 16 kHz hops) get the same code for the same time,
    so attention can compare when things happen in each from the first step (``FactorisedPositions(time_axis=)``)."""
    t = (torch.arange(n, dtype=torch.float32) + 0.5) * (seconds / n)
    half = dim // 2
    wavelengths = 0.1 * torch.pow(torch.tensor(1000.0), torch.arange(half, dtype=torch.float32) / max(1, half - 1))
    ang = 2 * math.pi * t[:, None] / wavelengths[None]
    out = torch.zeros(n, dim)
    out[:, 0 : 2 * half : 2], out[:, 1 : 2 * half : 2] = torch.sin(ang), torch.cos(ang)
    return out


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
    ``prod(shape) * dim``. Every table starts at ``N(0, init_std)``, except the
    one of ``time_axis`` when given: it starts at :func:`time_positions` of the
    ``seconds`` the grid spans.
    """

    def __init__(self, shape: tuple[int, ...] | list[int], dim: int, init_std: float = 0.02,
                 time_axis: int | None = None, seconds: float | None = None):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.tables = nn.ParameterList([nn.Parameter(torch.randn(s, dim) * init_std) for s in self.shape])
        if time_axis is not None:  # still learned, but starting from where each token lies in time
            with torch.no_grad():
                self.tables[time_axis].copy_(time_positions(self.shape[time_axis], dim, float(seconds)))

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
