"""BMT captioner and the shared dense-captioning pieces (vocabulary, attention, loss, greedy decoding)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from vxt.errors import VxtError
from vxt.models.dense import build_dense_model, load_dense_model
from vxt.nn.attention import Attention
from vxt.nn.losses import label_smoothing_kl
from vxt.nn.vocab import WordVocab, build_vocab, tokenize

CAPTIONS = [
    "a woman runs down the track.",
    "she jumps into the sand pit",
    "people in the stands clap and cheer .",
    "a man measures the jump",
]
DV, DA = 12, 6


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vocab():
    return build_vocab(CAPTIONS)


def make_batch(vocab, B=4, tv=(5, 3, 6, 4), ta=(7, 2, 9, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    Tv, Ta = max(tv[:B]), max(ta[:B])
    video, audio = torch.randn(B, Tv, DV, generator=g), torch.randn(B, Ta, DA, generator=g)
    vmask = torch.arange(Tv)[None] < torch.tensor(tv[:B])[:, None]
    amask = torch.arange(Ta)[None] < torch.tensor(ta[:B])[:, None]
    ids, cmask = vocab.encode_batch(CAPTIONS[:B])
    return {"video": video, "video_mask": vmask, "audio": audio, "audio_mask": amask,
            "caption_ids": ids, "caption_mask": cmask}


def tiny(vocab, **over):
    torch.manual_seed(0)
    return build_dense_model("bmt-tiny", {"d_video": DV, "d_audio": DA, **over}, vocab)


# ------------------------------------------------------------------ shared pieces


def test_vocab_specials_order_and_roundtrip(vocab):
    assert vocab.itos[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    # most frequent first: "the" appears 4 times, "a" twice
    assert vocab.itos[4] == "the"
    assert tokenize("She jumps, into the PIT.") == ["she", "jumps", ",", "into", "the", "pit", "."]
    ids = vocab.encode("a woman jumps into the pit zebra")
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id and vocab.unk_id in ids
    assert vocab.decode(vocab.encode("a woman runs down the track.")) == "a woman runs down the track."
    assert WordVocab.from_json(json.loads(json.dumps(vocab.to_json()))).itos == vocab.itos
    assert len(vocab.encode("a woman runs down the track", max_len=4)) == 4
    assert build_vocab(CAPTIONS, min_freq=2).itos[4:] == ["the", ".", "a"]  # ties by spelling


def test_attention_all_masked_keys_give_zero_not_nan():
    torch.manual_seed(0)
    att = Attention(8, 4, 8, 2)
    q, kv = torch.randn(2, 3, 8, requires_grad=True), torch.randn(2, 5, 4)
    mask = torch.tensor([[True, True, False, False, False], [False] * 5])
    out = att(q, kv, mask)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[1], att.out.bias.expand(3, 8))  # no key -> attention output 0 -> just the bias
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    # masked keys have no influence
    kv2 = kv.clone()
    kv2[0, 2:] = 100.0
    assert torch.allclose(att(q, kv2, mask)[0], out[0])


def test_label_smoothing_kl_known_values():
    torch.manual_seed(0)
    V, s = 7, 0.3
    logits = torch.randn(2, 3, V)
    lp = torch.log_softmax(logits, -1)
    tgt = torch.tensor([[4, 5, 0], [6, 0, 0]])  # 0 = pad
    total, n = label_smoothing_kl(lp, tgt, pad_id=0, smoothing=0.0)
    assert int(n) == 3
    ce = F.nll_loss(lp.reshape(-1, V), tgt.reshape(-1), ignore_index=0, reduction="sum")
    assert torch.allclose(total, ce)
    total, _ = label_smoothing_kl(lp, tgt, pad_id=0, smoothing=s)
    manual = 0.0
    for (b, t) in [(0, 0), (0, 1), (1, 0)]:
        y = int(tgt[b, t])
        for v in range(1, V):
            p = (1 - s) if v == y else s / (V - 2)
            manual += p * (math.log(p) - float(lp[b, t, v]))
    assert abs(float(total) - manual) < 1e-4


# ------------------------------------------------------------------ BMT


def test_registry_presets_and_config(vocab):
    from vxt.registry import MODELS

    for name in ("bmt", "bmt-tiny", "mdvc", "mdvc-tiny"):
        assert name in MODELS.names()
    paper = MODELS.default_config("bmt")
    assert (paper["n_layers"], paper["heads"], paper["d_model"], paper["smoothing"], paper["dropout"],
            paper["max_len"], paper["lr"]) == (2, 4, 1024, 0.7, 0.1, 30, 5e-5)
    m = MODELS.create("bmt-tiny", {"d_video": DV, "d_audio": DA}, vocab=vocab)
    cfg = m.config
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["name"] == "bmt-tiny" and cfg["arch"] == "bmt" and cfg["vocab"] == vocab.itos
    assert cfg["d_ff_caps"] == 64  # resolved values are recorded
    with pytest.raises(VxtError, match="unknown bmt config keys: d_modle"):
        build_dense_model("bmt-tiny", {"d_modle": 3}, vocab)
    with pytest.raises(VxtError, match="vocabulary"):
        build_dense_model("bmt-tiny", {})


def test_forward_shapes_backward_finite(vocab):
    m = tiny(vocab)
    batch = make_batch(vocab)
    streams, masks = m.encode_streams(batch)
    assert streams["video"].shape == (4, 6, 32) and streams["audio"].shape == (4, 9, 16)
    assert masks["video"].dtype == torch.bool
    out = m(batch)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert int(out["n_tokens"]) == int(batch["caption_mask"][:, 1:].sum())
    out["loss"].backward()
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    m.eval()
    gen = m.generate(batch, max_len=7)
    assert gen.dtype == torch.long and gen.shape[0] == 4 and gen.shape[1] <= 7


def test_wrong_feature_width_is_a_clear_error(vocab):
    m = tiny(vocab)
    batch = make_batch(vocab)
    batch["video"] = torch.randn(4, 6, DV + 1)
    with pytest.raises(VxtError, match="video features have 13 dims but the model expects 12"):
        m(batch)


def test_adam_steps_lower_the_loss(vocab):
    m = tiny(vocab, dropout=0.0)
    batch = make_batch(vocab)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    first = m(batch)["loss"].item()
    for _ in range(15):
        loss = m(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert m(batch)["loss"].item() < 0.7 * first


def test_greedy_batched_equals_per_row(vocab):
    m = tiny(vocab).eval()
    batch = make_batch(vocab)
    full = m.generate(batch, max_len=12)
    for b in range(4):
        tv, ta = int(batch["video_mask"][b].sum()), int(batch["audio_mask"][b].sum())
        row = {"video": batch["video"][b:b + 1, :tv], "audio": batch["audio"][b:b + 1, :ta]}
        one = m.generate(row, max_len=12)[0]
        L = one.shape[0]
        assert torch.equal(full[b, :L], one)
        assert (full[b, L:] == vocab.pad_id).all()


def test_generation_stops_at_eos_per_row(vocab):
    m = tiny(vocab, dropout=0.0)
    batch = make_batch(vocab)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(40):  # memorise the four captions
        loss = m(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    gen = m.generate(batch, max_len=20)
    assert gen.shape[1] < 20  # stopped early: every row reached </s>
    for b, row in enumerate(gen.tolist()):
        assert vocab.eos_id in row
        after = row[row.index(vocab.eos_id) + 1:]
        assert all(t == vocab.pad_id for t in after)
    assert m.decode_text(gen) == [vocab.decode(vocab.encode(c)) for c in CAPTIONS]


def test_missing_audio_is_masked_not_noise(vocab):
    m = tiny(vocab).eval()
    batch = make_batch(vocab)
    batch["audio_mask"] = batch["audio_mask"].clone()
    batch["audio_mask"][1] = False           # one example without audio
    outs = []
    for seed in (1, 2):
        b = dict(batch)
        g = torch.Generator().manual_seed(seed)
        garbage = torch.randn(b["audio"].shape, generator=g) * 50
        b["audio"] = torch.where(b["audio_mask"][..., None], b["audio"], garbage)
        with torch.no_grad():
            outs.append((m(b)["loss"], m.encode_streams(b)[0]["video"], m.generate(b, max_len=8)))
    (l1, v1, g1), (l2, v2, g2) = outs
    assert torch.isfinite(l1) and torch.isfinite(v1).all()
    assert torch.equal(l1, l2) and torch.equal(v1, v2) and torch.equal(g1, g2)

    # no audio at all: all-False mask, or the key absent, give the same captions; gradients stay finite
    allmiss = dict(batch, audio_mask=torch.zeros_like(batch["audio_mask"]))
    absent = {k: v for k, v in batch.items() if not k.startswith("audio")}
    with torch.no_grad():
        g_masked = m.generate(allmiss, max_len=8)
        g_absent = m.generate(absent, max_len=8)
        l_masked, l_absent = m(allmiss)["loss"], m(absent)["loss"]
    assert torch.equal(g_masked, g_absent)
    assert torch.allclose(l_masked, l_absent, atol=1e-6)
    m.train()
    loss = m(allmiss)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_save_load_roundtrip(vocab, tmp_path):
    from vxt.train.checkpoint import load_checkpoint

    m = tiny(vocab).eval()
    batch = make_batch(vocab)
    m.save_pretrained(tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["config.json", "model.safetensors", "vocab.json"]
    for loaded in (load_dense_model(tmp_path / "ckpt"), load_checkpoint(tmp_path / "ckpt")):
        loaded.eval()
        assert type(loaded).__name__ == "BMT" and loaded.config == m.config
        with torch.no_grad():
            assert torch.equal(loaded(batch)["loss"], m(batch)["loss"])
            assert torch.equal(loaded.generate(batch, max_len=8), m.generate(batch, max_len=8))


def test_glove_init_from_a_local_file(vocab, tmp_path):
    glove = tmp_path / "glove.tiny.txt"
    glove.write_text("the 0.1 0.2 0.3 0.4\nwoman 1 2 3 4\nunrelated 9 9 9 9\n")
    m = tiny(vocab, glove_path=str(glove), d_model_caps=4, heads=2, d_ff_caps=8)
    w = m.emb_c.embedding.weight
    assert torch.allclose(w[vocab.stoi["woman"]], torch.tensor([1.0, 2, 3, 4]))
    assert not w.requires_grad  # frozen, as the public code by default
    m.save_pretrained(tmp_path / "g")
    glove.unlink()  # a saved model no longer needs the GloVe file
    again = load_dense_model(tmp_path / "g")
    assert torch.equal(again.emb_c.embedding.weight, w)
    with pytest.raises(VxtError, match="never downloads"):
        tiny(vocab, glove_path=str(tmp_path / "nope.txt"), d_model_caps=4, word_emb_dim=4)
