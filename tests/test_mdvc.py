"""MDVC captioner: per-modality transformers (video, audio, speech) with late fusion."""

from __future__ import annotations

import json

import pytest
import torch

from vxt.errors import VxtError
from vxt.models.dense import build_dense_model, load_dense_model
from vxt.nn.vocab import build_vocab

CAPTIONS = [
    "a woman runs down the track.",
    "she jumps into the sand pit",
    "people in the stands clap and cheer .",
    "a man measures the jump",
]
SPEECH = ["and she is off", "what a jump", "", "the judge measures"]
DV, DA = 10, 6


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vocab():
    return build_vocab(CAPTIONS)


@pytest.fixture(scope="module")
def speech_vocab():
    return build_vocab(SPEECH)


def make_batch(vocab, speech_vocab, B=4, tv=(5, 3, 6, 4), ta=(7, 2, 9, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    Tv, Ta = max(tv[:B]), max(ta[:B])
    ids, cmask = vocab.encode_batch(CAPTIONS[:B])
    sp, smask = speech_vocab.encode_batch(SPEECH[:B], add_bos_eos=False)  # example 2 has no speech
    return {"video": torch.randn(B, Tv, DV, generator=g),
            "video_mask": torch.arange(Tv)[None] < torch.tensor(tv[:B])[:, None],
            "audio": torch.randn(B, Ta, DA, generator=g),
            "audio_mask": torch.arange(Ta)[None] < torch.tensor(ta[:B])[:, None],
            "speech": sp, "speech_mask": smask,
            "caption_ids": ids, "caption_mask": cmask}


def tiny(vocab, speech_vocab, **over):
    torch.manual_seed(0)
    return build_dense_model("mdvc-tiny", {"d_video": DV, "d_audio": DA, "speech_vocab": speech_vocab.itos,
                                           **over}, vocab)


def test_paper_preset_facts():
    from vxt.registry import MODELS

    cfg = MODELS.default_config("mdvc")
    assert cfg["modalities"] == ["video", "audio", "speech"]
    assert (cfg["d_video"], cfg["d_audio"], cfg["d_model_speech"]) == (1024, 128, 512)
    assert (cfg["heads"], cfg["smoothing"], cfg["d_ff_video"]) == (4, 0.7, 2048)


def test_forward_shapes_backward_finite(vocab, speech_vocab):
    m = tiny(vocab, speech_vocab)
    batch = make_batch(vocab, speech_vocab)
    assert not batch["speech_mask"][2].any()
    streams, masks = m.encode_streams(batch)
    assert {k: tuple(v.shape) for k, v in streams.items()} == {
        "video": (4, 6, 32), "audio": (4, 9, 16), "speech": (4, 4, 24)}
    out = m(batch)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    # the generator sees the three decoders' outputs side by side: FC(32+16+24 -> hidden) -> ReLU -> FC(vocab)
    assert m.generator[0].in_features == 72 and m.generator[-1].out_features == len(vocab)
    cfg = m.config
    assert json.loads(json.dumps(cfg)) == cfg and cfg["speech_vocab"] == speech_vocab.itos


def test_adam_steps_lower_the_loss(vocab, speech_vocab):
    m = tiny(vocab, speech_vocab, dropout=0.0)
    batch = make_batch(vocab, speech_vocab)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    first = m(batch)["loss"].item()
    for _ in range(15):
        loss = m(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert m(batch)["loss"].item() < 0.7 * first


def test_greedy_batched_equals_per_row(vocab, speech_vocab):
    m = tiny(vocab, speech_vocab).eval()
    batch = make_batch(vocab, speech_vocab)
    full = m.generate(batch, max_len=12)
    assert full.shape[0] == 4 and full.shape[1] <= 12
    for b in range(4):
        tv, ta = int(batch["video_mask"][b].sum()), int(batch["audio_mask"][b].sum())
        ts = max(int(batch["speech_mask"][b].sum()), 1)
        row = {"video": batch["video"][b:b + 1, :tv], "audio": batch["audio"][b:b + 1, :ta],
               "speech": batch["speech"][b:b + 1, :ts], "speech_mask": batch["speech_mask"][b:b + 1, :ts]}
        one = m.generate(row, max_len=12)[0]
        assert torch.equal(full[b, : one.shape[0]], one)
        assert (full[b, one.shape[0]:] == vocab.pad_id).all()


def test_missing_audio_and_speech_do_not_depend_on_masked_values(vocab, speech_vocab):
    m = tiny(vocab, speech_vocab).eval()
    batch = make_batch(vocab, speech_vocab)
    batch["audio_mask"] = batch["audio_mask"].clone()
    batch["audio_mask"][0] = False
    outs = []
    for seed in (1, 2):
        g = torch.Generator().manual_seed(seed)
        b = dict(batch)
        b["audio"] = torch.where(b["audio_mask"][..., None], b["audio"],
                                 torch.randn(b["audio"].shape, generator=g) * 30)
        b["speech"] = torch.where(b["speech_mask"], b["speech"],
                                  torch.randint(0, len(speech_vocab), b["speech"].shape, generator=g))
        with torch.no_grad():
            outs.append((m(b)["loss"], m.generate(b, max_len=8)))
    (l1, g1), (l2, g2) = outs
    assert torch.isfinite(l1)
    assert torch.equal(l1, l2) and torch.equal(g1, g2)
    # a batch without audio or speech keys runs, like the masked one
    video_only = {k: v for k, v in batch.items() if k.split("_")[0] in ("video", "caption")}
    masked = dict(batch, audio_mask=torch.zeros_like(batch["audio_mask"]),
                  speech_mask=torch.zeros_like(batch["speech_mask"]))
    with torch.no_grad():
        assert torch.equal(m.generate(video_only, max_len=8), m.generate(masked, max_len=8))
        assert torch.allclose(m(video_only)["loss"], m(masked)["loss"], atol=1e-6)


def test_subset_of_modalities_and_errors(vocab, speech_vocab):
    m = tiny(vocab, speech_vocab, modalities=["video", "audio"])
    batch = make_batch(vocab, speech_vocab)
    assert set(m.encode_streams(batch)[0]) == {"video", "audio"}
    assert torch.isfinite(m(batch)["loss"])
    with pytest.raises(VxtError, match="must be among"):
        tiny(vocab, speech_vocab, modalities=["video", "subtitles"])
    with pytest.raises(VxtError, match="not divisible by 3 heads"):
        tiny(vocab, speech_vocab, heads=3)


def test_save_load_roundtrip(vocab, speech_vocab, tmp_path):
    from vxt.train.checkpoint import load_checkpoint

    m = tiny(vocab, speech_vocab).eval()
    batch = make_batch(vocab, speech_vocab)
    m.save_pretrained(tmp_path / "ckpt")
    for loaded in (load_dense_model(tmp_path / "ckpt"), load_checkpoint(tmp_path / "ckpt")):
        loaded.eval()
        assert type(loaded).__name__ == "MDVC" and loaded.config == m.config
        assert loaded.speech_vocab.itos == speech_vocab.itos
        with torch.no_grad():
            assert torch.equal(loaded(batch)["loss"], m(batch)["loss"])
            assert torch.equal(loaded.generate(batch, max_len=8), m.generate(batch, max_len=8))
