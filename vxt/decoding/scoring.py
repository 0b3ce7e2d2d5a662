"""Multiple-choice answering by generation: score each candidate by the decoder's log-likelihood.

VX2TEXT answers multiple-choice questions generatively: every candidate is
in the encoder input, and the answer is the candidate the decoder finds most
likely, ``sum_t log p(a_t | a_<t, input)`` over its tokens (``</s>``
included). ``norm="mean"`` divides by the token count instead (a length
normalisation that favours no candidate for its length); the default is the
plain sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vxt.decoding.search import EncoderOut, _special_ids


def candidate_logprobs(t5, enc: EncoderOut, candidate_ids: Tensor, candidate_mask: Tensor | None = None) -> Tensor:
    """Per-token log-probs ``[B, C, L]`` of the candidates (0 at padded positions); differentiable."""
    start, _eos, pad = _special_ids(t5)
    b, c, length = candidate_ids.shape
    flat = candidate_ids.reshape(b * c, length)
    mask = (flat != pad) if candidate_mask is None else candidate_mask.reshape(b * c, length).bool()
    dec_in = torch.cat([torch.full_like(flat[:, :1], start), flat[:, :-1]], dim=1)
    dec_in = torch.where(torch.cat([torch.ones_like(mask[:, :1]), mask[:, :-1]], dim=1), dec_in, torch.full_like(dec_in, pad))
    rep = enc.repeat_interleave(c)
    from transformers.modeling_outputs import BaseModelOutput

    logits = t5(
        encoder_outputs=BaseModelOutput(last_hidden_state=rep.hidden),
        attention_mask=rep.mask,
        decoder_input_ids=dec_in,
        use_cache=False,
    ).logits
    lp = F.log_softmax(logits.float(), dim=-1).gather(2, flat.clamp(min=0)[:, :, None])[:, :, 0]
    return (lp * mask).reshape(b, c, length)


def score_candidates(model, encoder_out: EncoderOut, candidate_ids: Tensor, candidate_mask: Tensor | None = None,
                     norm: str = "sum") -> Tensor:
    """Log-likelihood of each candidate, ``[B, C]``, batched over all ``B x C`` (example, candidate) pairs.

    ``model``: a T5ForConditionalGeneration (or a model holding one as ``.t5``).
    ``candidate_ids``: ``[B, C, L]`` token ids ending in ``</s>``, right-padded with ``<pad>``;
    ``candidate_mask`` marks real tokens (default: ids != pad). Candidates
    without tokens (padding candidates) score ``-inf``.
    """
    t5 = getattr(model, "t5", model)
    _start, _eos, pad = _special_ids(t5)
    mask = (candidate_ids != pad) if candidate_mask is None else candidate_mask.bool()
    lp = candidate_logprobs(t5, encoder_out, candidate_ids, mask).sum(-1)
    n = mask.sum(-1).to(lp.dtype)
    if norm == "mean":
        lp = lp / n.clamp(min=1)
    elif norm != "sum":
        raise ValueError(f"norm must be 'sum' or 'mean', got {norm!r}")
    return lp.masked_fill(n == 0, float("-inf"))
