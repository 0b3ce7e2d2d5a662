"""Batched beam search over any step function (the word-level captioners' decoder; T5's is in search.py).

The step function sees the live hypotheses of every example at once::

    step(ys, rows) -> log-probs [N, V]

``ys`` [N, t] are the prefixes (each starting with ``<s>``), ``rows`` [N] the
batch row each hypothesis belongs to (index the encoder memory with it:
``memory[rows]``). Hypotheses are ranked by ``sum_logprob / length **
length_penalty`` (Hugging Face's convention; the length counts the generated
tokens, ``</s>`` included). An example stops once it holds ``beam_size``
finished hypotheses and no live one can still beat the worst of them (log-probs
are never positive, so that bound is exact); at ``max_len`` the live
hypotheses are finished as they are.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def _norm(score: float, length: int, length_penalty: float) -> float:
    return score / (max(length, 1) ** length_penalty)


def _best_possible(score: float, t: int, max_len: int, length_penalty: float) -> float:
    """The best normalised score a live hypothesis of length ``t`` (sum ``score`` <= 0) can still reach."""
    if t >= max_len:
        return -math.inf
    # s / L ** lp is monotone in L, so its maximum over t < L <= max_len is at an end of the range
    return max(_norm(score, t + 1, length_penalty), _norm(score, max_len, length_penalty))


@torch.no_grad()
def beam_search(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], batch_size: int, beam_size: int,
                max_len: int, bos_id: int, eos_id: int, pad_id: int, device, length_penalty: float = 1.0,
                ) -> tuple[torch.Tensor, list[float]]:
    """Beam search for ``batch_size`` examples at once; returns (ids [B, L], scores).

    ``ids`` hold each example's best hypothesis without ``<s>``, ``</s>`` kept,
    then ``<pad>`` (the layout of :func:`vxt.decoding.greedy.greedy_decode`);
    ``scores`` its normalised log-probability. ``beam_size = 1`` is greedy decoding.
    """
    K = int(beam_size)
    if K < 1 or max_len < 1:
        raise ValueError("beam_size and max_len must be at least 1")
    ys = torch.full((batch_size, 1), bos_id, dtype=torch.long, device=device)
    rows = torch.arange(batch_size, device=device)
    scores = torch.zeros(batch_size, dtype=torch.float32, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
    for t in range(1, max_len + 1):
        logp = step(ys, rows).float()
        V = logp.shape[-1]
        total = (scores[:, None] + logp).cpu()
        row_list = rows.tolist()
        keep_src: list[int] = []
        keep_tok: list[int] = []
        keep_score: list[float] = []
        keep_rows: list[int] = []
        order: dict[int, list[int]] = {}
        for i, b in enumerate(row_list):
            order.setdefault(b, []).append(i)
        for b, idx in order.items():
            flat = total[idx].reshape(-1)
            top_v, top_i = flat.topk(min(2 * K, flat.numel()))
            alive_v: list[float] = []
            for rank, (v, j) in enumerate(zip(top_v.tolist(), top_i.tolist())):
                if v == -math.inf:
                    break
                src, tok = idx[j // V], j % V
                prefix = ys[src, 1:].tolist()
                if tok == eos_id:
                    if rank < K:  # an </s> below the top K would not have been kept as a live beam either
                        finished[b].append((_norm(v, t, length_penalty), prefix + [eos_id]))
                    continue
                if t == max_len:  # out of length: finish it as it stands
                    finished[b].append((_norm(v, t, length_penalty), prefix + [tok]))
                else:
                    keep_src.append(src)
                    keep_tok.append(tok)
                    keep_score.append(v)
                    keep_rows.append(b)
                    alive_v.append(v)
                if len(alive_v) == K or (t == max_len and len(finished[b]) >= K):
                    break
            finished[b].sort(key=lambda h: -h[0])
            del finished[b][K:]
            if len(finished[b]) >= K and alive_v:
                worst = finished[b][-1][0]
                if max(_best_possible(v, t, max_len, length_penalty) for v in alive_v) <= worst:
                    n = len(alive_v)  # this example is done: drop its live beams
                    del keep_src[-n:], keep_tok[-n:], keep_score[-n:], keep_rows[-n:]
        if not keep_src:
            break
        src_t = torch.tensor(keep_src, dtype=torch.long, device=device)
        ys = torch.cat([ys[src_t], torch.tensor(keep_tok, dtype=torch.long, device=device)[:, None]], dim=1)
        scores = torch.tensor(keep_score, dtype=torch.float32, device=device)
        rows = torch.tensor(keep_rows, dtype=torch.long, device=device)
    best = [max(f, key=lambda h: h[0]) if f else (-math.inf, [eos_id]) for f in finished]
    length = max(len(seq) for _, seq in best)
    out = torch.full((batch_size, length), pad_id, dtype=torch.long, device=device)
    for b, (_, seq) in enumerate(best):
        out[b, : len(seq)] = torch.tensor(seq, dtype=torch.long, device=device)
    return out, [s for s, _ in best]
