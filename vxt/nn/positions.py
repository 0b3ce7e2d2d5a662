"""Positional encodings: sinusoidal (Vaswani et al.), computed for any length."""

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
