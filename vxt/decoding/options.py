"""Decoding options (whisper's ``DecodingOptions`` style: one frozen dataclass passed around)."""

from __future__ import annotations

from dataclasses import dataclass

from vxt.errors import VxtError


@dataclass(frozen=True)
class DecodingOptions:
    """How ``model.predict`` turns encoder outputs into text.

    - ``beam_size``: beam width (the paper decodes captions and dialog replies with 5);
    - ``greedy``: decode greedily (argmax at each step) instead of beam search;
    - ``max_length``: the most tokens generated per output, ``</s>`` included
      (``max_new_tokens`` in Hugging Face terms);
    - ``length_penalty``: beam hypotheses are ranked by ``sum_logprob / length ** length_penalty``
      (Hugging Face's convention; length counts the generated tokens, ``</s>`` included);
    - ``candidate_norm``: multiple-choice answers are scored by the decoder's log-likelihood
      of each candidate, ``"sum"`` of its token log-probs (the default) or their ``"mean"``.
    """

    beam_size: int = 5
    greedy: bool = False
    max_length: int = 32
    length_penalty: float = 1.0
    candidate_norm: str = "sum"

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise VxtError(f"beam_size must be at least 1, got {self.beam_size}")
        if self.max_length < 1:
            raise VxtError(f"max_length must be at least 1, got {self.max_length}")
        if self.candidate_norm not in ("sum", "mean"):
            raise VxtError(f"candidate_norm must be 'sum' or 'mean', got {self.candidate_norm!r}")

    @property
    def use_greedy(self) -> bool:
        return self.greedy or self.beam_size == 1
