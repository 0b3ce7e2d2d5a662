"""vxt.decoding.beam: beam search over any step function (exact with a wide beam, greedy with width 1)."""

from __future__ import annotations

import itertools
import math

import torch

from vxt.decoding.beam import beam_search
from vxt.decoding.greedy import greedy_decode

PAD, BOS, EOS = 0, 1, 2
V = 5  # pad, bos, eos, a, b


def toy_step(seed: int):
    """A fixed random next-word distribution per (example, prefix); pad and bos are never produced."""
    table: dict = {}
    g = torch.Generator().manual_seed(seed)

    def logp(b: int, prefix: tuple) -> torch.Tensor:
        key = (b, prefix)
        if key not in table:
            x = torch.randn(V, generator=g) * 2
            x[PAD] = x[BOS] = -math.inf
            table[key] = torch.log_softmax(x, -1)
        return table[key]

    def step(ys, rows):
        return torch.stack([logp(int(b), tuple(y.tolist())) for y, b in zip(ys, rows)])

    return step, logp


def brute_force(logp, b: int, max_len: int, lp: float):
    best = (-math.inf, None)
    for n in range(1, max_len + 1):
        for words in itertools.product((3, 4), repeat=n - 1):
            for last in (EOS, 3, 4):
                if last != EOS and n < max_len:
                    continue  # a hypothesis ends with </s>, or at max_len
                seq = [*words, last]
                prefix, s = (BOS,), 0.0
                for w in seq:
                    s += float(logp(b, prefix)[w])
                    prefix = prefix + (w,)
                score = s / n ** lp
                if score > best[0]:
                    best = (score, seq)
    return best


def test_a_wide_beam_finds_the_best_sequence():
    for seed, lp in ((0, 1.0), (1, 0.0), (2, 2.0)):
        step, logp = toy_step(seed)
        ids, scores = beam_search(step, 3, 16, 4, BOS, EOS, PAD, "cpu", length_penalty=lp)
        for b in range(3):
            score, seq = brute_force(logp, b, 4, lp)
            row = [t for t in ids[b].tolist() if t != PAD]
            assert row == seq
            assert math.isclose(scores[b], score, rel_tol=1e-5)


def test_width_one_is_greedy():
    """Without length normalisation (a normalised beam may still prefer a longer, better-scoring caption)."""
    step, _ = toy_step(3)
    ids, _ = beam_search(step, 4, 1, 6, BOS, EOS, PAD, "cpu", length_penalty=0.0)
    every = torch.arange(4)
    greedy = greedy_decode(lambda ys: step(ys, every[: ys.shape[0]]), 4, 6, BOS, EOS, PAD, "cpu")
    for b in range(4):
        assert [t for t in ids[b].tolist() if t != PAD] == [t for t in greedy[b].tolist() if t != PAD]


def test_width_five_never_worse_than_greedy():
    step, logp = toy_step(4)
    ids5, s5 = beam_search(step, 2, 5, 5, BOS, EOS, PAD, "cpu")
    ids1, s1 = beam_search(step, 2, 1, 5, BOS, EOS, PAD, "cpu")
    assert all(a >= b - 1e-6 for a, b in zip(s5, s1))
    assert ids5.shape[0] == 2 and ids5.dtype == torch.long
