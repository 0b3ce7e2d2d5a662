"""A small seeded K-means in torch (k-means++ seeding, Lloyd iterations), for cluster codebooks.

scikit-learn is not a dependency of vxt; this is enough for the codebooks the
systems fit once at build time (TAVT's universal auditory semantic space)::

    from vxt.nn.kmeans import kmeans
    centres = kmeans(x, k=64, seed=0)     # x: [N, D] float -> [k, D]

The result is a pure function of ``(x, k, seed, iters)``: the same data and
seed give the same centres on the CPU.
"""

from __future__ import annotations

import torch

from vxt.errors import VxtError


def _plusplus(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each next centre drawn with probability proportional to the squared distance."""
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=gen))
    centres = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:  # every point sits on a centre already: any point will do
            idx = int(torch.randint(n, (1,), generator=gen))
        else:
            idx = int(torch.multinomial(d2 / total, 1, generator=gen))
        centres.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(1))
    return torch.stack(centres)


def kmeans(x, k: int, seed: int = 0, iters: int = 50, tol: float = 1e-6) -> torch.Tensor:
    """``k`` centres ``[k, D]`` (float32) of the rows of ``x`` ``[N, D]``.

    With fewer distinct rows than ``k`` the missing centres are copies of
    data rows plus a tiny seeded jitter, so the codebook keeps ``k`` distinct
    entries. An empty cluster is re-seeded at the row farthest from its centre.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() != 2 or x.shape[0] == 0:
        raise VxtError(f"K-means needs a non-empty [N, D] matrix, got shape {list(x.shape)}")
    k = int(k)
    if k < 1:
        raise VxtError(f"K-means needs k >= 1, got {k}")
    gen = torch.Generator().manual_seed(int(seed))
    n_distinct = torch.unique(x, dim=0).shape[0]
    if n_distinct < k:
        scale = float(x.std()) if x.numel() > 1 else 1.0
        reps = x[torch.randint(x.shape[0], (k - n_distinct,), generator=gen)]
        jitter = torch.randn(reps.shape, generator=gen) * max(scale, 1e-3) * 1e-2
        return torch.cat([torch.unique(x, dim=0), reps + jitter])
    centres = _plusplus(x, k, gen)
    for _ in range(int(iters)):
        assign = torch.cdist(x, centres).argmin(1)
        new = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        empty = counts == 0
        new = new / counts.clamp(min=1).unsqueeze(1)
        if bool(empty.any()):
            far = ((x - centres[assign]) ** 2).sum(1).argsort(descending=True)
            new[empty] = x[far[: int(empty.sum())]]
        shift = float(((new - centres) ** 2).sum())
        centres = new
        if shift <= tol:
            break
    return centres
