"""Decoding: greedy and batched beam search on a T5 decoder, candidate scoring, greedy decoding of
any step function, beam search over any step function (:mod:`vxt.decoding.beam`), and dense events from proposals (:mod:`vxt.decoding.events`).

``DecodingOptions`` is importable without torch; the decoders are loaded on
first access (``from vxt.decoding import BeamSearchDecoder``).
"""

from __future__ import annotations

from vxt.decoding.options import DecodingOptions

_LAZY = {
    "EncoderOut": "vxt.decoding.search",
    "T5Inference": "vxt.decoding.search",
    "GreedyDecoder": "vxt.decoding.search",
    "BeamSearchDecoder": "vxt.decoding.search",
    "decode": "vxt.decoding.search",
    "score_candidates": "vxt.decoding.scoring",
    "greedy_decode": "vxt.decoding.greedy",
    "beam_search": "vxt.decoding.beam",
}

__all__ = ["DecodingOptions", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vxt.decoding' has no attribute {name!r}")
