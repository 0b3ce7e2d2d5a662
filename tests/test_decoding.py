"""Greedy, beam search and candidate scoring against Hugging Face's T5 generate()."""

from __future__ import annotations

import pytest
import torch

from vxt.decoding import BeamSearchDecoder, DecodingOptions, EncoderOut, GreedyDecoder, score_candidates
from vxt.decoding.search import decode
from vxt.errors import VxtError


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


EOS = 1


def tiny_t5(seed: int = 0, eos_bias: float = 0.8, vocab: int = 40):
    """A random T5 with wide weights (varied outputs) and a constant bias on </s> (outputs end at varied steps)."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=vocab, d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=8,
                   dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=EOS)
    model = T5ForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" not in name:
                p.normal_(0, 0.3)
    bias = torch.zeros(vocab)
    bias[EOS] = eos_bias
    model.lm_head.register_forward_hook(lambda mod, inp, out: out + bias.to(out.dtype))
    return model


def inputs(seed: int, batch: int = 6, length: int = 9, dim: int = 32):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(batch, length, dim, generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    for b in range(batch):
        mask[b, length - (b % 4) :] = 0  # different padding per example
    return emb, mask


def encode(model, emb, mask) -> EncoderOut:
    with torch.no_grad():
        return EncoderOut(model.encoder(inputs_embeds=emb, attention_mask=mask).last_hidden_state, mask)


def hf_tokens(model, emb, mask, **kw) -> list[list[int]]:
    with torch.no_grad():
        out = model.generate(inputs_embeds=emb, attention_mask=mask, do_sample=False, **kw)
    rows = []
    for r in out[:, 1:].tolist():  # drop the decoder start token
        rows.append(r[: r.index(EOS)] if EOS in r else r)
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_equals_hf_generate(seed):
    model = tiny_t5(seed)
    emb, mask = inputs(seed + 10)
    ref = hf_tokens(model, emb, mask, num_beams=1, max_new_tokens=12)
    hyps = GreedyDecoder(DecodingOptions(greedy=True, max_length=12)).decode(model, encode(model, emb, mask))
    assert [h.tokens for h in hyps] == ref
    # the test covers outputs that stop early and outputs that run to max_length
    lengths = {len(r) for r in ref}
    assert min(lengths) < 12 or seed != 0


@pytest.mark.parametrize("seed,length_penalty", [(0, 1.0), (1, 1.0), (2, 0.5), (3, 2.0)])
def test_beam_search_equals_hf_num_beams_4(seed, length_penalty):
    model = tiny_t5(seed)
    emb, mask = inputs(seed + 20)
    ref = hf_tokens(model, emb, mask, num_beams=4, max_new_tokens=12, length_penalty=length_penalty)
    opts = DecodingOptions(beam_size=4, max_length=12, length_penalty=length_penalty)
    hyps = BeamSearchDecoder(opts).decode(model, encode(model, emb, mask))
    assert [h.tokens for h in hyps] == ref


def test_beam_outputs_differ_from_greedy_somewhere():
    """Guard: the beam test is not vacuous (beam search finds other outputs than greedy here)."""
    diffs = 0
    for seed in range(4):
        model = tiny_t5(seed)
        enc = encode(model, *inputs(seed + 20))
        g = GreedyDecoder(DecodingOptions(greedy=True, max_length=12)).decode(model, enc)
        b = BeamSearchDecoder(DecodingOptions(beam_size=4, max_length=12)).decode(model, enc)
        diffs += sum(x.tokens != y.tokens for x, y in zip(g, b))
    assert diffs > 0


@pytest.mark.parametrize("seed", [0, 3])
def test_beam_size_one_equals_greedy(seed):
    model = tiny_t5(seed)
    enc = encode(model, *inputs(seed))
    greedy = GreedyDecoder(DecodingOptions(greedy=True, max_length=10)).decode(model, enc)
    beam1 = BeamSearchDecoder(DecodingOptions(beam_size=1, max_length=10)).decode(model, enc)
    assert [h.tokens for h in beam1] == [h.tokens for h in greedy]
    for a, b in zip(beam1, greedy):
        assert a.sum_logprob == pytest.approx(b.sum_logprob, abs=1e-4)


def test_batched_beam_equals_per_example():
    model = tiny_t5(5)
    emb, mask = inputs(7)
    opts = DecodingOptions(beam_size=3, max_length=10)
    batched = BeamSearchDecoder(opts).decode(model, encode(model, emb, mask))
    for b in range(emb.shape[0]):
        n = int(mask[b].sum())
        single = BeamSearchDecoder(opts).decode(model, encode(model, emb[b : b + 1, :n], mask[b : b + 1, :n]))[0]
        assert single.tokens == batched[b].tokens
        assert single.score == pytest.approx(batched[b].score, abs=1e-4)


def test_beam_scores_are_length_normalised_logprobs():
    """A returned hypothesis' score is its teacher-forced log-likelihood / length ** length_penalty."""
    model = tiny_t5(1)
    enc = encode(model, *inputs(3))
    for lp in (1.0, 0.0):
        hyps = BeamSearchDecoder(DecodingOptions(beam_size=3, max_length=10, length_penalty=lp)).decode(model, enc)
        for b, h in enumerate(hyps):
            toks = h.tokens + ([EOS] if len(h.tokens) < 10 else [])
            cand = torch.tensor(toks)[None, None]
            with torch.no_grad():
                ll = score_candidates(model, EncoderOut(enc.hidden[b : b + 1], enc.mask[b : b + 1]), cand)
            assert h.sum_logprob == pytest.approx(float(ll), abs=1e-3)
            assert h.score == pytest.approx(float(ll) / len(toks) ** lp, abs=1e-3)


def test_score_candidates_matches_per_candidate_loss():
    model = tiny_t5(2)
    emb, mask = inputs(4, batch=3)
    enc = encode(model, emb, mask)
    g = torch.Generator().manual_seed(0)
    cands = torch.zeros(3, 4, 6, dtype=torch.long)
    lengths = [[3, 6, 1, 4], [2, 2, 5, 0], [6, 1, 1, 3]]
    for b in range(3):
        for c in range(4):
            n = lengths[b][c]
            if n:
                cands[b, c, : n - 1] = torch.randint(2, 40, (n - 1,), generator=g)
                cands[b, c, n - 1] = EOS
    with torch.no_grad():
        scores = score_candidates(model, enc, cands)
        mean = score_candidates(model, enc, cands, norm="mean")
    for b in range(3):
        for c in range(4):
            n = lengths[b][c]
            if n == 0:
                assert scores[b, c] == float("-inf")
                continue
            labels = cands[b, c, :n][None]
            with torch.no_grad():
                out = model(inputs_embeds=emb[b : b + 1], attention_mask=mask[b : b + 1], labels=labels)
            # HF's loss is the mean token NLL
            assert float(mean[b, c]) == pytest.approx(-float(out.loss), abs=1e-4)
            assert float(scores[b, c]) == pytest.approx(-float(out.loss) * n, abs=1e-3)


def test_decode_dispatch_and_options():
    model = tiny_t5(0)
    enc = encode(model, *inputs(0, batch=2))
    assert [h.tokens for h in decode(model, enc, DecodingOptions(beam_size=1, max_length=5))] == [
        h.tokens for h in GreedyDecoder(DecodingOptions(greedy=True, max_length=5)).decode(model, enc)
    ]
    assert all(len(h.tokens) <= 5 for h in decode(model, enc, DecodingOptions(beam_size=2, max_length=5)))
    with pytest.raises(VxtError, match="beam_size"):
        DecodingOptions(beam_size=0)
    with pytest.raises(VxtError, match="candidate_norm"):
        DecodingOptions(candidate_norm="max")
    with pytest.raises(Exception):
        DecodingOptions().beam_size = 3  # frozen
