"""Batched greedy decoding over any step function (the dense captioners' decoder)."""

from __future__ import annotations

from typing import Callable

import torch


@torch.no_grad()
def greedy_decode(step: Callable[[torch.Tensor], torch.Tensor], batch_size: int, max_len: int,
                  bos_id: int, eos_id: int, pad_id: int, device) -> torch.Tensor:
    """Batched greedy decoding.

    ``step(ys)`` takes the prefixes [B, t] (starting with ``<s>``) and returns
    log-probabilities of the next word [B, V]. Every row stops at its own
    ``</s>``; the loop ends when all rows have stopped or after ``max_len``
    words. Returns [B, L] word ids (without ``<s>``; ``</s>`` kept; then ``<pad>``).
    """
    ys = torch.full((batch_size, 1), bos_id, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    for _ in range(max_len):
        nxt = step(ys).argmax(dim=-1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)
        done = done | (nxt == eos_id)
        if bool(done.all()):
            break
    return ys[:, 1:]
