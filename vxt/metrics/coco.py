"""pycocoevalcap's BLEU, ROUGE-L and CIDEr(-D), restated for many small sets, bit for bit.

The dense-captioning protocol calls each scorer once per video and per tIoU
threshold on a handful of items; most of the time then goes into rebuilding
n-gram counts and into NumPy scalar arithmetic. These functions compute the
same numbers from per-sentence caches with the same floating-point operations
in the same order, so each result is *identical* (not merely close) to what
``Bleu(4)``, ``Rouge()`` and ``Cider()`` return on the same ``gts``/``res``:

* n-gram counts come from pycocoevalcap's own ``precook`` (same dict order,
  which fixes the order of the CIDEr sums);
* BLEU sums integer statistics and then runs the exact closing formula of
  ``BleuScorer.compute_score`` (option ``closest``);
* ROUGE-L item scores come from ``Rouge.calc_score`` itself, cached per
  distinct (hypothesis, references) pair; the set score is ``np.mean`` of the
  same array;
* CIDEr keeps ``np.log`` for the logarithms (cached per argument), Python
  ``pow(x, 2)`` for the squares (what NumPy float64 scalars call too), and
  ``np.mean`` wherever the original takes a mean.

tests/test_metrics_caption.py checks the equality against pycocoevalcap.
A *set* here is a list of items ``(hyp_tokens, [ref_tokens, ...])`` (already
PTB-tokenized strings), i.e. what ``compute_score(gts, res)`` receives for
one video.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Item = tuple[str, tuple[str, ...]]

_N = 4
_SIGMA = 6.0


class CocoScorers:
    """Caches shared by every set scored in one evaluation (one per process)."""

    def __init__(self) -> None:
        self._counts: dict[str, dict] = {}
        self._bleu: dict[Item, tuple[int, int, tuple[int, ...], tuple[int, ...]]] = {}
        self._rouge: dict[Item, float] = {}
        self._log: dict[float, np.float64] = {}
        from pycocoevalcap.rouge.rouge import Rouge

        self._rouge_scorer = Rouge()

    # ------------------------------------------------------------ shared pieces

    def counts(self, sentence: str) -> dict:
        """pycocoevalcap's ``precook`` n-gram counts of a tokenized sentence (cached)."""
        c = self._counts.get(sentence)
        if c is None:
            from pycocoevalcap.cider.cider_scorer import precook

            c = self._counts[sentence] = dict(precook(sentence, _N))
        return c

    def _np_log(self, x: float) -> np.float64:
        v = self._log.get(x)
        if v is None:
            v = self._log[x] = np.log(x)
        return v

    # ------------------------------------------------------------ BLEU

    def _bleu_item(self, item: Item) -> tuple[int, int, tuple[int, ...], tuple[int, ...]]:
        got = self._bleu.get(item)
        if got is not None:
            return got
        hyp, refs = item
        reflens = []
        maxcounts: dict = {}
        for ref in refs:
            words = ref.split()
            reflens.append(len(words))
            for ngram, count in self.counts(ref).items():
                if count > maxcounts.get(ngram, 0):
                    maxcounts[ngram] = count
        testlen = len(hyp.split())
        reflen = min((abs(l - testlen), l) for l in reflens)[1]
        guess = tuple(max(0, testlen - k + 1) for k in range(1, _N + 1))
        correct = [0] * _N
        for ngram, count in self.counts(hyp).items():
            correct[len(ngram) - 1] += min(maxcounts.get(ngram, 0), count)
        got = self._bleu[item] = (testlen, reflen, guess, tuple(correct))
        return got

    def bleu(self, items: Sequence[Item]) -> list[float]:
        """Corpus BLEU-1..4 of the set, as ``Bleu(4).compute_score`` returns it."""
        small = 1e-9
        tiny = 1e-15
        testlen = 0
        reflen = 0
        guess = [0] * _N
        correct = [0] * _N
        for item in items:
            t, r, g, c = self._bleu_item(item)
            testlen += t
            reflen += r
            for k in range(_N):
                guess[k] += g[k]
                correct[k] += c[k]
        bleus = []
        bleu = 1.0
        for k in range(_N):
            bleu *= float(correct[k] + tiny) / (guess[k] + small)
            bleus.append(bleu ** (1.0 / (k + 1)))
        ratio = (testlen + tiny) / (reflen + small)
        if ratio < 1:
            for k in range(_N):
                bleus[k] *= math.exp(1 - 1 / ratio)
        return bleus

    # ------------------------------------------------------------ ROUGE-L

    def rouge_item(self, item: Item) -> float:
        v = self._rouge.get(item)
        if v is None:
            v = self._rouge[item] = self._rouge_scorer.calc_score([item[0]], list(item[1]))
        return v

    def rouge(self, items: Sequence[Item]) -> np.float64:
        """Mean ROUGE-L of the set, as ``Rouge().compute_score`` returns it."""
        return np.mean(np.array([self.rouge_item(it) for it in items]))

    # ------------------------------------------------------------ CIDEr-D

    def cider(self, items: Sequence[Item]) -> np.float64:
        """CIDEr of the set, document frequencies from the set's own references, as ``Cider()`` computes it."""
        crefs = [[self.counts(r) for r in refs] for _, refs in items]
        df: dict = {}
        for refs in crefs:
            for ngram in {ngram for ref in refs for ngram in ref}:
                df[ngram] = df.get(ngram, 0.0) + 1
        ref_len = self._np_log(float(len(crefs)))
        # the tf-idf weight of an n-gram, float(ref_len - log(max(1, df))), once per n-gram of the set
        logs = self._log
        weight: dict = {}
        for ngram, d in df.items():
            ld = logs.get(d)
            if ld is None:
                ld = self._np_log(d)
            weight[ngram] = float(ref_len - ld)
        unseen = float(ref_len - self._np_log(1.0))  # n-grams of no reference: df 0 -> log(max(1, 0)) = 0
        vectors: dict[int, tuple] = {}  # id(counts) -> (vec, norm, length); counts dicts are cached per sentence

        def counts2vec(cnts: dict):
            got = vectors.get(id(cnts))
            if got is not None:
                return got
            vec: list[dict] = [{}, {}, {}, {}]
            norm = [0.0, 0.0, 0.0, 0.0]
            length = 0
            for ngram, term_freq in cnts.items():
                n = len(ngram) - 1
                v = float(term_freq) * weight.get(ngram, unseen)
                vec[n][ngram] = v
                norm[n] += pow(v, 2)
                if n == 1:
                    length += term_freq
            got = vectors[id(cnts)] = (vec, [math.sqrt(x) for x in norm], length)
            return got

        scores = []
        for (hyp, _), refs in zip(items, crefs):
            vec, norm, length = counts2vec(self.counts(hyp))
            score = [0.0, 0.0, 0.0, 0.0]
            for ref in refs:
                vec_ref, norm_ref, length_ref = counts2vec(ref)
                delta = float(length - length_ref)
                penalty = np.e ** (-(delta**2) / (2 * _SIGMA**2))
                for n in range(_N):
                    val = 0.0
                    vr = vec_ref[n]
                    for ngram, vh in vec[n].items():
                        r = vr.get(ngram, 0.0)
                        val += min(vh, r) * r
                    if norm[n] != 0 and norm_ref[n] != 0:
                        val /= norm[n] * norm_ref[n]
                    val *= penalty
                    score[n] += val
            # np.mean of 4 float64 values sums them in order, then divides.
            score_avg = (((score[0] + score[1]) + score[2]) + score[3]) / 4
            score_avg /= len(refs)
            score_avg *= 10.0
            scores.append(score_avg)
        return np.mean(np.array(scores))
