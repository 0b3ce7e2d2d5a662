"""Greedy and batched beam search over a Hugging Face T5 decoder with a key/value cache.

The encoder runs once (:class:`EncoderOut`); :class:`T5Inference` feeds the
decoder one new token per step, keeping transformers' ``EncoderDecoderCache``
(self-attention keys/values grow, cross-attention keys/values are computed on
the first step and reused) and reorders it when beams are re-ranked.

Beam search follows Hugging Face's semantics (``generate(num_beams=n)`` with
``early_stopping=False``), so the two agree token for token:

- every example keeps ``n`` running beams; the first starts at score 0, the
  others at -1e9 (so step one does not pick the same token n times);
- each step takes the top ``2n`` continuations of all beams by accumulated
  log-probability; those that end in ``</s>`` (or reach ``max_length``) and
  rank within the top ``n`` become finished hypotheses with score
  ``sum_logprob / length ** length_penalty`` (length = generated tokens,
  ``</s>`` included); the best ``n`` unfinished ones continue;
- an example is done when it has ``n`` finished hypotheses and its best
  running beam, normalised by the current length, cannot beat the worst of
  them; decoding stops when every example is done or ``max_length`` is hit.

All examples x beams are decoded together as one batch of ``B * n`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vxt.decoding.options import DecodingOptions

NEG_INF = -1.0e9


@dataclass
class EncoderOut:
    """The encoder's output for a batch: hidden states ``[B, L, D]`` and the input mask ``[B, L]`` (1 = token)."""

    hidden: Tensor
    mask: Tensor

    def repeat_interleave(self, n: int) -> "EncoderOut":
        """Each example's rows repeated ``n`` times in place (example 0 x n, example 1 x n, ...)."""
        if n == 1:
            return self
        return EncoderOut(self.hidden.repeat_interleave(n, dim=0), self.mask.repeat_interleave(n, dim=0))

    def index_select(self, index: Tensor) -> "EncoderOut":
        return EncoderOut(self.hidden.index_select(0, index), self.mask.index_select(0, index))


@dataclass
class Hypothesis:
    """One decoded output: its tokens (no start token, no ``</s>``) and scores."""

    tokens: list[int]
    sum_logprob: float
    score: float


class T5Inference:
    """Step-wise T5 decoding with a key/value cache."""

    def __init__(self, t5, enc: EncoderOut):
        from transformers.modeling_outputs import BaseModelOutput

        self.t5 = t5
        self.enc = enc
        self._enc_outputs = BaseModelOutput(last_hidden_state=enc.hidden)
        self.cache = None

    def logits(self, tokens: Tensor) -> Tensor:
        """Next-token logits ``[N, V]`` (float32) for the decoder inputs ``tokens`` ``[N, t]``.

        Only the tokens not yet in the cache are fed.
        """
        n_cached = 0 if self.cache is None else int(self.cache.get_seq_length())
        out = self.t5(
            encoder_outputs=self._enc_outputs,
            attention_mask=self.enc.mask,
            decoder_input_ids=tokens[:, n_cached:],
            past_key_values=self.cache,
            use_cache=True,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1].float()

    def rearrange_kv_cache(self, source_indices: Tensor) -> None:
        """Row ``i`` of the cache becomes old row ``source_indices[i]`` (beam re-ranking)."""
        if self.cache is not None:
            self.cache.reorder_cache(source_indices)


def _special_ids(t5) -> tuple[int, int, int]:
    cfg = t5.config
    start = cfg.decoder_start_token_id if cfg.decoder_start_token_id is not None else cfg.pad_token_id
    return int(start), int(cfg.eos_token_id), int(cfg.pad_token_id)


class GreedyDecoder:
    """Argmax at each step until ``</s>`` or ``max_length`` (finished rows are padded)."""

    def __init__(self, options: DecodingOptions):
        self.options = options

    @torch.no_grad()
    def decode(self, t5, enc: EncoderOut) -> list[Hypothesis]:
        start, eos, pad = _special_ids(t5)
        n = enc.hidden.shape[0]
        device = enc.hidden.device
        inference = T5Inference(t5, enc)
        tokens = torch.full((n, 1), start, dtype=torch.long, device=device)
        unfinished = torch.ones(n, dtype=torch.bool, device=device)
        sum_logprobs = torch.zeros(n, dtype=torch.float32, device=device)
        for _ in range(self.options.max_length):
            logits = inference.logits(tokens)
            next_tokens = logits.argmax(dim=-1)
            logprobs = F.log_softmax(logits, dim=-1).gather(1, next_tokens[:, None])[:, 0]
            sum_logprobs = sum_logprobs + logprobs * unfinished
            next_tokens = torch.where(unfinished, next_tokens, torch.full_like(next_tokens, pad))
            tokens = torch.cat([tokens, next_tokens[:, None]], dim=1)
            unfinished = unfinished & (next_tokens != eos)
            if not bool(unfinished.any()):
                break
        out = []
        for row, lp in zip(tokens[:, 1:].tolist(), sum_logprobs.tolist()):
            toks = row[: row.index(eos)] if eos in row else row
            length = min(len(row), len(toks) + 1)
            out.append(Hypothesis(toks, lp, lp / max(1, length) ** self.options.length_penalty))
        return out


class BeamSearchDecoder:
    """Batched beam search (Hugging Face semantics, ``early_stopping=False``); see the module docstring."""

    def __init__(self, options: DecodingOptions):
        self.options = options

    @torch.no_grad()
    def decode(self, t5, enc: EncoderOut) -> list[Hypothesis]:
        start, eos, _pad = _special_ids(t5)
        nb = self.options.beam_size
        lp_exp = self.options.length_penalty
        max_len = self.options.max_length
        b_size = enc.hidden.shape[0]
        device = enc.hidden.device
        inference = T5Inference(t5, enc.repeat_interleave(nb))
        tokens = torch.full((b_size * nb, 1), start, dtype=torch.long, device=device)
        running = torch.zeros(b_size, nb, dtype=torch.float32, device=device)
        running[:, 1:] = NEG_INF
        # per example: finished (score, sum_logprob, tokens), at most nb, best first
        finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(b_size)]
        done = [False] * b_size
        k = 2 * nb
        offsets = torch.arange(b_size, device=device)[:, None] * nb

        for t in range(max_len):
            logits = inference.logits(tokens)
            vocab = logits.shape[-1]
            logprobs = F.log_softmax(logits, dim=-1).view(b_size, nb, vocab)
            scores = (logprobs + running[:, :, None]).view(b_size, nb * vocab)
            top_scores, top_idx = scores.topk(k, dim=-1)
            src_beam = torch.div(top_idx, vocab, rounding_mode="floor")
            top_tok = top_idx % vocab
            new_len = t + 1
            hits = (top_tok == eos) | (new_len >= max_len)

            hits_l, scores_l, src_l, tok_l = hits.tolist(), top_scores.tolist(), src_beam.tolist(), top_tok.tolist()
            prev = tokens[:, 1:].tolist()
            chosen = torch.empty(b_size, nb, dtype=torch.long)
            for b in range(b_size):
                keep: list[int] = []
                for j in range(k):
                    if hits_l[b][j]:
                        if j < nb and not done[b]:
                            seq = prev[b * nb + src_l[b][j]]
                            body = seq if tok_l[b][j] == eos else seq + [tok_l[b][j]]
                            finished[b].append((scores_l[b][j] / new_len**lp_exp, scores_l[b][j], body))
                    elif len(keep) < nb:
                        keep.append(j)
                # only at max_length can fewer than nb continuations be open; the loop ends there anyway
                fill = [j for j in range(k) if j not in keep]
                keep.extend(fill[: nb - len(keep)])
                chosen[b] = torch.tensor(keep)
                if len(finished[b]) > nb:
                    finished[b].sort(key=lambda h: -h[0])
                    del finished[b][nb:]
            chosen = chosen.to(device)
            sel_scores = top_scores.gather(1, chosen) + hits.gather(1, chosen).float() * NEG_INF
            sel_src = (src_beam.gather(1, chosen) + offsets).view(-1)
            sel_tok = top_tok.gather(1, chosen).view(-1)
            tokens = torch.cat([tokens.index_select(0, sel_src), sel_tok[:, None]], dim=1)
            inference.rearrange_kv_cache(sel_src)
            running = sel_scores

            if new_len >= max_len:
                break
            best_running = running[:, 0].tolist()
            for b in range(b_size):
                if not done[b] and len(finished[b]) == nb:
                    worst = min(h[0] for h in finished[b])
                    if best_running[b] / new_len**lp_exp <= worst:
                        done[b] = True
            if all(done):
                break

        out = []
        for b in range(b_size):
            if finished[b]:
                score, slp, toks = max(finished[b], key=lambda h: h[0])
            else:  # not reachable: max_length finishes every beam
                row = tokens[b * nb, 1:].tolist()
                slp = float(running[b, 0])
                toks, score = row, slp / max(1, len(row)) ** lp_exp
            out.append(Hypothesis(list(toks), float(slp), float(score)))
        return out


def decode(t5, enc: EncoderOut, options: DecodingOptions) -> list[Hypothesis]:
    """Greedy (``options.greedy`` or ``beam_size == 1``) or beam search; one hypothesis per example."""
    decoder = GreedyDecoder(options) if options.use_greedy else BeamSearchDecoder(options)
    return decoder.decode(t5, enc)
