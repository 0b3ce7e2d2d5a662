"""Vector quantisation (VQ-VAE, van den Oord et al. 2017; the VQGAN codebook of taming-transformers).

:class:`VectorQuantizer` replaces each vector of a ``[B, D, H, W]`` map (or a
``[B, N, D]`` sequence) by its nearest codebook entry (squared Euclidean
distance), passes gradients straight through (``z + (z_q - z).detach()``),
and returns the codebook and commitment losses::

    loss = mean((sg[z] - z_q)^2) + beta * mean((z - sg[z_q])^2)

(the first term moves the codes to the encoder outputs, the second, the
commitment term weighted by ``beta`` = 0.25, keeps the encoder near its
codes). The codebook starts uniform in ``[-1/n, 1/n]`` as taming's does.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class VectorQuantizer(nn.Module):
    """A codebook of ``n_codes`` vectors of ``dim``; see the module docstring."""

    def __init__(self, n_codes: int, dim: int, beta: float = 0.25):
        super().__init__()
        if n_codes < 1 or dim < 1:
            raise ValueError(f"a codebook needs n_codes >= 1 and dim >= 1, got {n_codes} x {dim}")
        self.n_codes, self.dim, self.beta = int(n_codes), int(dim), float(beta)
        self.embedding = nn.Embedding(self.n_codes, self.dim)
        self.embedding.weight.data.uniform_(-1.0 / self.n_codes, 1.0 / self.n_codes)

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """The index of the nearest code of each row of ``flat`` ``[N, dim]`` (ties: the lowest index)."""
        w = self.embedding.weight
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ w.t() + w.pow(2).sum(1)[None, :])
        return d.argmin(1)

    def forward(self, z: torch.Tensor, channels_first: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z_q, loss, indices)``: ``z_q`` shaped as ``z`` (straight-through), the scalar VQ loss, and the
        code indices (``[B, H, W]`` for a channels-first map, ``[B, N]`` for a sequence)."""
        if channels_first:
            if z.shape[1] != self.dim:
                raise ValueError(f"expected {self.dim} channels, got {z.shape[1]}")
            zl = z.movedim(1, -1)
        else:
            zl = z
        flat = zl.reshape(-1, self.dim)
        idx = self.nearest(flat.detach().float())
        zq = self.embedding(idx).view_as(zl).to(zl.dtype)
        loss = torch.mean((zq - zl.detach()) ** 2) + self.beta * torch.mean((zq.detach() - zl) ** 2)
        zq = zl + (zq - zl).detach()  # straight-through: the decoder's gradient reaches the encoder
        if channels_first:
            zq = zq.movedim(-1, 1)
        return zq, loss, idx.view(zl.shape[:-1])

    def lookup(self, indices: torch.Tensor, channels_first: bool = True) -> torch.Tensor:
        """The codes of ``indices`` (``[B, H, W]`` -> ``[B, dim, H, W]``, or ``[..., dim]`` unless channels_first)."""
        zq = self.embedding(indices)
        return zq.movedim(-1, 1) if channels_first else zq
