"""avcap (Shen et al., 2023): fusion variants and their masks, gradients, balancers, front end, train + decode."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from vxt.errors import VxtError
from vxt.nn.vocab import SPECIALS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FUSIONS = ("merged", "cross", "global", "local_global_merged", "local_global_cross")
WORDS = "a red circle moves left while drum plays blue square".split()
VOCAB = [*SPECIALS, "<next>", *WORDS]


def make(**over):
    from vxt.models.avcap import build_avcap

    model = build_avcap("avcap-tiny", {"vocab": VOCAB, "frontend": "cache", **over})
    torch.manual_seed(0)
    return model


def items(n: int = 3, audio_missing=()) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        ex = {"id": f"clip-{i}", "targets": ["a red circle moves left"], "next_targets": ["a blue square"],
              "subtitles": [{"start": 0.0, "end": 1.0, "text": "a drum plays"}]}
        media = {"video": rng.integers(0, 255, (2, 4, 32, 32, 3), dtype=np.uint8),
                 "audio": None if i in audio_missing else rng.normal(size=(100, 64)).astype(np.float32)}
        out.append({"example": ex, "media": media})
    return out


def streams(B=2, sizes=(("video", 5), ("audio", 7)), d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {m: (torch.randn(B, n, d, generator=g), torch.ones(B, n, dtype=torch.bool)) for m, n in sizes}


def encoder(variant, mods=("video", "audio"), layers=1):
    from vxt.models.avcap.fusion import CrossModalEncoder

    torch.manual_seed(0)
    return CrossModalEncoder(variant, list(mods), 16, 2, 32, layers, 0.0, 64).eval()


# ---------------------------------------------------------------- fusion


@pytest.mark.parametrize("variant", FUSIONS)
def test_every_fusion_variant_gives_the_memory_shape(variant):
    for sizes in ((("video", 5), ("audio", 7)), (("video", 5), ("audio", 7), ("subtitles", 3)), (("video", 5),)):
        mods = [m for m, _ in sizes]
        s = streams(sizes=sizes)
        s["audio" if "audio" in s else "video"][1][1] = False  # a fully masked stream in row 1
        mem, mask = encoder(variant, mods, layers=2)(s)
        n = sum(k for _, k in sizes) + (len(sizes) if "global" in variant else 0)
        assert mem.shape == (2, n, 16) and mask.shape == (2, n)
        assert torch.isfinite(mem).all()


def test_global_fusion_crosses_modalities_only_through_the_global_tokens():
    enc = encoder("global")
    s = streams()
    mem, _ = enc(s)
    video_part = slice(0, 1 + 5)  # [g_v, 5 video tokens], then [g_a, 7 audio tokens]
    other = dict(s)
    other["audio"] = (torch.randn(2, 7, 16) * 3, s["audio"][1])  # the audio's local tokens changed
    mem2, _ = enc(other)
    assert torch.allclose(mem[:, video_part], mem2[:, video_part], atol=1e-6)
    assert not torch.allclose(mem[:, 7:], mem2[:, 7:])  # the audio tokens did change
    with torch.no_grad():
        enc.global_tokens["audio"].add_(torch.randn(1, 1, 16))  # the audio's global token changed
    mem3, _ = enc(s)
    assert not torch.allclose(mem[:, 1:6], mem3[:, 1:6], atol=1e-4)
    # the contrast: in the local fusions a video token sees the audio's local tokens
    for variant in ("merged", "cross", "local_global_merged"):
        enc = encoder(variant)
        a, b = enc(s)[0], enc(other)[0]
        assert not torch.allclose(a[:, :5 + ("global" in variant)], b[:, :5 + ("global" in variant)], atol=1e-4)


def test_masked_tokens_change_nothing():
    s = streams()
    s["audio"][1][1] = False
    for variant in FUSIONS:
        enc = encoder(variant, layers=2)
        mem, mask = enc(s)
        noisy = dict(s)
        x = s["audio"][0].clone()
        x[1] = 100.0
        noisy["audio"] = (x, s["audio"][1])
        mem2, _ = enc(noisy)
        assert torch.allclose(mem[1][mask[1]], mem2[1][mask[1]], atol=1e-5), variant


def mixed(va="local_global_cross", vt="merged", layers=2):
    from vxt.models.avcap.fusion import MixedFusion

    torch.manual_seed(0)
    return MixedFusion(va, vt, 16, 2, 32, layers, 0.0, 64).eval()


VAT = (("video", 5), ("audio", 7), ("subtitles", 3))


@pytest.mark.parametrize("va", FUSIONS)
def test_mixed_fusion_concatenates_a_video_audio_and_a_video_text_memory(va):
    s = streams(sizes=VAT)
    mem, mask = mixed(va)(s)
    n_va = 5 + 7 + (2 if "global" in va else 0)
    assert mem.shape == (2, n_va + 5 + 3, 16) and mask.shape == (2, n_va + 5 + 3) and bool(mask.all())
    # the video-text half is a merged encoder of its own over [video, subtitles]
    enc = mixed(va).branches["vt"]
    assert enc.variant == "merged" and enc.modalities == ["video", "subtitles"]
    assert torch.allclose(mem[:, n_va:], enc({m: s[m] for m in ("video", "subtitles")})[0], atol=1e-6)
    with pytest.raises(VxtError, match="needs video, audio and subtitles"):
        mixed(va)(streams(sizes=VAT[:2]))


def test_mixed_fusion_keeps_audio_and_text_apart():
    enc = mixed()  # [g_v, 5 video, g_a, 7 audio | 5 video, 3 subtitles]
    va, vt = slice(0, 14), slice(14, 22)
    s = streams(sizes=VAT)
    mem, _ = enc(s)
    for m, unchanged, changed in (("subtitles", va, vt), ("audio", vt, va)):
        other = dict(s)
        other[m] = (torch.randn_like(s[m][0]) * 3, s[m][1])
        mem2, _ = enc(other)
        assert torch.allclose(mem[:, unchanged], mem2[:, unchanged], atol=1e-6), m  # no token of the other pair sees m
        video = slice(changed.start + (1 if m == "audio" else 0), changed.start + (6 if m == "audio" else 5))
        assert not torch.allclose(mem[:, video], mem2[:, video], atol=1e-4), m  # its own pair's video tokens do
    # a fully masked audio stream (row 1) changes nothing and stays masked; the video-text half is untouched by it
    s["audio"][1][1] = False
    mem, mask = enc(s)
    assert not mask[1, 7:14].any() and mask[1, :7].all() and mask[1, 14:].all() and mask[0].all()
    noisy = dict(s)
    x = s["audio"][0].clone()
    x[1] = 100.0
    noisy["audio"] = (x, s["audio"][1])
    mem2, _ = enc(noisy)
    assert torch.isfinite(mem).all() and torch.allclose(mem[1][mask[1]], mem2[1][mask[1]], atol=1e-5)


# ---------------------------------------------------------------- the model


@pytest.mark.parametrize("variant", FUSIONS)
def test_gradients_reach_both_encoders(variant):
    model = make(fusion=variant, stage="pretrain")  # MBP: L + w_a L_a + w_v L_v
    batch = model.collate(items(3, audio_missing=(2,)), train=True, rng=random.Random(0))
    assert batch["video"].shape == (3, 3, 8, 32, 32) and batch["audio"].shape == (3, 64, 64)
    assert not batch["audio_mask"][2].any()
    out = model(batch)
    out["loss"].backward()
    for name in ("video.backbone.patch_embed.proj.weight", "video.proj.weight", "audio.inp.weight",
                 "audio.layers.0.att.q.weight", "decoder.out.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert {"log_loss_av", "log_loss_a", "log_loss_v", "log_w_a", "log_w_v"} <= set(out)


def test_modalities_and_subtitles_encoder():
    model = make(modalities=["video", "subtitles"])  # V+T: the subtitles in place of the audio
    assert model.audio is None and model.text is not None
    batch = model.collate(items(2), train=True, rng=random.Random(0))
    assert "audio" not in batch and batch["text"].shape[0] == 2
    model(batch)["loss"].backward()
    assert model.text.embed.weight.grad.abs().sum() > 0
    with pytest.raises(VxtError, match="modalities"):
        make(modalities=["history"])
    with pytest.raises(VxtError, match="fusion"):
        make(fusion="late")
    with pytest.raises(VxtError, match="pre-training objective"):
        make(balance="mbp")  # fine-tuning is never balanced


def test_vat_mixed_fusion_trains_all_three_encoders_and_masks_a_missing_audio(tmp_path):
    from vxt.decoding import DecodingOptions
    from vxt.models import load_model

    model = make(modalities="video,audio,subtitles", fusion="mixed", stage="pretrain")  # MBP: V vs A+T
    assert set(model.fusion.branches) == {"va", "vt"}
    assert model.fusion.branches["va"].variant == "local_global_cross"
    batch = model.collate(items(3, audio_missing=(2,)), train=True, rng=random.Random(0))
    assert not batch["audio_mask"][2].any() and batch["text_mask"].any(1).all()
    enc = model.encode(batch)
    nv, na, nt = (enc[m][0].shape[1] for m in ("video", "audio", "subtitles"))
    assert na == 64 // 4
    memory, mask = model.fusion(enc)
    # [g_v, video, g_a, audio | video, subtitles]: row 2's audio tokens are masked, nothing else
    assert memory.shape[1] == mask.shape[1] == 1 + nv + 1 + na + nv + nt
    audio = slice(2 + nv, 2 + nv + na)
    assert not mask[2, audio].any() and mask[:2, audio].all() and mask[:, :2 + nv].all()
    assert torch.equal(mask[:, audio.stop:], torch.cat([enc["video"][1], enc["subtitles"][1]], 1))
    out = model(batch)
    out["loss"].backward()
    params = dict(model.named_parameters())
    for name in ("video.backbone.patch_embed.proj.weight", "audio.inp.weight", "text.embed.weight",
                 "fusion.branches.va.global_tokens.audio", "fusion.branches.vt.local.0.layer.att.q.weight"):
        assert params[name].grad is not None and params[name].grad.abs().sum() > 0, name
    with pytest.raises(VxtError, match="fusion=mixed is the V\\+A\\+T fusion"):
        make(fusion="mixed")  # V+A
    with pytest.raises(VxtError, match="mixed_va"):
        make(modalities="video,audio,subtitles", fusion="mixed", mixed_va="late")
    model.eval().save_pretrained(tmp_path / "m")
    eval_batch = model.collate(items(2), train=False)
    opts = DecodingOptions(beam_size=2, max_length=5)
    assert load_model(tmp_path / "m").predict(eval_batch, opts) == model.predict(eval_batch, opts)


def _first_tokens(model) -> set[int]:
    """Every sequence's first decoder input in the next forward (its BOS: <s> for PCC, <next> for PNC)."""
    seen: set[int] = set()
    forward = model.decoder.forward

    def spy(memory, memory_mask, ys, ys_mask=None):
        seen.update(ys[:, 0].tolist())
        return forward(memory, memory_mask, ys, ys_mask)

    model.decoder.forward = spy
    return seen


@pytest.mark.parametrize("balance", ["none", "mbp"])
def test_pnc_switch_pretrains_on_the_current_caption_alone(balance, tiny_synth, tmp_path):
    on = make(stage="pretrain", balance=balance)
    off = make(stage="pretrain", balance=balance, pnc=False)
    for model, pnc in ((on, True), (off, False)):
        batch = model.collate(items(3), train=True, rng=random.Random(0))
        assert ("next_ids" in batch) == pnc
        if not pnc:
            batch = {**batch, **on.collate(items(3), train=True, rng=random.Random(0))}  # offered, still unused
        seen = _first_tokens(model)
        out = model(batch)
        out["loss"].backward()
        bos, nxt = model.vocab.bos_id, model.next_id
        assert seen == ({bos, nxt} if pnc else {bos})  # the joint and both mono-modal losses
        assert ("log_loss_pnc" in out) == pnc
        assert out["log_loss_av"] == pytest.approx(out["log_loss_pcc"] + out.get("log_loss_pnc", 0.0))
    assert on(on.collate(items(3), train=True, rng=random.Random(0)))["log_loss_pnc"] > 0
    with pytest.raises(VxtError, match="pnc must be true or false"):
        make(stage="pretrain", pnc="no")
    from vxt.models.avcap import build_avcap

    # without PNC a data dir with no next captions pre-trains (on its captions); with it, it is refused
    assert not build_avcap("avcap-tiny", {"stage": "pretrain", "pnc": False}, tiny_synth).trains_pnc
    with pytest.raises(VxtError, match="needs `next_targets`"):
        build_avcap("avcap-tiny", {"stage": "pretrain"}, tiny_synth)
    # pnc is what a run trains: a pre-training started from a no-PNC checkpoint trains PNC unless told otherwise
    off.save_pretrained(tmp_path / "nopnc")
    again = build_avcap("avcap-tiny", {"stage": "pretrain", "init": str(tmp_path / "nopnc")})
    assert again.trains_pnc and again.config["fusion"] == off.config["fusion"]
    assert not make(pnc=True).trains_pnc  # fine-tuning never trains PNC


def test_none_logs_the_mono_losses_without_back_propagating_them():
    model = make(stage="pretrain", balance="none")
    batch = model.collate(items(3), train=True, rng=random.Random(0))
    out = model(batch)
    assert float(out["loss"].detach()) == pytest.approx(out["log_loss_av"])
    assert out["log_loss_a"] != pytest.approx(out["log_loss_av"]) and out["log_w_a"] == out["log_w_v"] == 0.0
    out["loss"].backward()
    g_none = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    model.balancer = None  # L alone
    model(batch)["loss"].backward()
    g_L = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert len(g_none) == len(g_L) and all(torch.allclose(a, b) for a, b in zip(g_none, g_L))


def test_mbp_weights_move_toward_the_mono_loss_furthest_from_L():
    from vxt.models.avcap.balance import MBP

    bal = MBP(alpha=10.0, beta=0.9)
    w = bal.step({"av": 1.0, "a": 1.5, "v": 1.05})
    target = torch.softmax(torch.tensor([10 * 0.25, 10 * 0.0025], dtype=torch.float64), 0)
    assert w["a"] == pytest.approx(0.9 * 0.5 + 0.1 * float(target[0]))
    assert w["av"] == 1.0 and w["a"] + w["v"] == pytest.approx(1.0)
    seen = [w["a"]]
    for _ in range(30):
        seen.append(bal.step({"av": 1.0, "a": 1.5, "v": 1.05})["a"])
    assert all(b > a for a, b in zip(seen, seen[1:])) and seen[-1] > 0.9  # the audio lags: its loss weighs more
    for _ in range(60):  # now the video-only loss is the far one
        w = bal.step({"av": 1.0, "a": 1.02, "v": 1.6})
    assert w["v"] > 0.9 > w["a"]
    state = MBP().state_dict()
    assert set(state) == {"w"}  # saved with the weights, so --resume continues it


def test_gblend_weights_from_overfitting_and_generalisation():
    from vxt.models.avcap.balance import GBlend, gblend_weights

    # av: held-out 2.2 -> 1.6 (dG 0.6), overfitting 0.2 -> 0.6 (dO 0.4): 0.6 / 0.16 = 3.75
    # a:  held-out 2.1 -> 1.85 (dG 0.25), overfitting 0.1 -> 0.05 (dO -0.05): 0.25 / 0.0025 = 100
    # v:  held-out 2.0 -> 2.1: did not generalise: 0
    w = gblend_weights([2.0, 2.0, 1.8], [2.2, 2.1, 2.0], [1.0, 1.8, 1.0], [1.6, 1.85, 2.1])
    assert w == pytest.approx([3.75 / 103.75, 100 / 103.75, 0.0])
    assert gblend_weights([1, 1, 1], [1, 1, 1], [1, 1, 1], [2, 2, 2]) is None  # nothing generalised
    bal = GBlend(window=4)
    first = {"av": 2.0, "a": 2.0, "v": 1.8}, {"av": 2.2, "a": 2.1, "v": 2.0}
    second = {"av": 1.0, "a": 1.8, "v": 1.0}, {"av": 1.6, "a": 1.85, "v": 2.1}
    for train, held in (first, second):
        assert bal.step(train, held, 2) == pytest.approx({"av": 1 / 3, "a": 1 / 3, "v": 1 / 3})
        got = bal.step(train, held, 2)  # the window (4 held-out rows) closes here
    assert [got[k] for k in ("av", "a", "v")] == pytest.approx(w)


def test_gblend_never_trains_on_its_held_out_rows():
    model = make(stage="pretrain", balance="gblend", gblend_window=100)
    batch = model.collate(items(3), train=True, rng=random.Random(0))
    batch["heldout"] = torch.tensor([False, False, True])
    out = model(batch)
    changed = dict(batch)
    changed["caption_ids"] = batch["caption_ids"].clone()
    changed["caption_ids"][2, 1:-1] = len(VOCAB) - 1  # another caption on the held-out row
    out2 = model(changed)
    assert float(out["loss"].detach()) == pytest.approx(float(out2["loss"].detach()))
    assert out["log_w_av"] == pytest.approx(1 / 3)
    assert model.balancer.counts[1] == 2  # its held-out rows were measured


def test_predict_beam_and_greedy_and_save_load(tmp_path):
    from vxt.decoding import DecodingOptions
    from vxt.models import load_model

    model = make().eval()
    batch = model.collate(items(2), train=False)
    beam = model.predict(batch, DecodingOptions(beam_size=5, max_length=6))
    greedy = model.predict(batch, DecodingOptions(greedy=True, max_length=6))
    assert [p["id"] for p in beam] == ["clip-0", "clip-1"] and all(isinstance(p["prediction"], str) for p in greedy)
    assert all("<next>" not in p["prediction"] for p in beam)
    model.save_pretrained(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.predict(batch, DecodingOptions(beam_size=5, max_length=6)) == beam


# ---------------------------------------------------------------- front end and schedule


def test_audio_frames_spec_augment_and_frame_sampling():
    from vxt.data.media.video import clip_starts
    from vxt.models.avcap import frontend as fe

    x, mask = fe.fit_frames(np.ones((10, 64), np.float32), 16)
    assert x.shape == (16, 64) and int(mask.sum()) == 10 and float(x[10:].abs().sum()) == 0.0
    x, mask = fe.fit_frames(np.arange(600, dtype=np.float32)[:, None].repeat(64, 1), 256)
    assert bool(mask.all()) and float(x[0, 0]) == 0.0 and float(x[-1, 0]) == 599.0  # down-sampled, ends kept
    acfg = {"time_mask": 32, "freq_mask": 128, "n_mels": 64}
    assert fe.freq_mask_param(acfg) == 32  # the paper's 128 exceeds the 64 bins: capped at half of them
    mel = torch.randn(256, 64)
    a = fe.spec_augment(mel, 200, acfg, random.Random(1))
    b = fe.spec_augment(mel, 200, acfg, random.Random(1))
    assert torch.equal(a, b) and torch.equal(a[200:], mel[200:])
    assert fe.frame_indices(32, 16, None) == list(range(1, 32, 2))
    idx = fe.frame_indices(32, 16, random.Random(0))
    assert all(2 * i <= k < 2 * i + 2 for i, k in enumerate(idx))
    starts = clip_starts(0.0, 16.0, 0.1, 16, "segments", random.Random(0))
    assert all(i <= s < i + 1 for i, s in enumerate(starts))


def test_paper_front_end_reads_22050_hz(tiny_synth):
    from vxt.data.media import read_audio
    from vxt.models.avcap import frontend as fe
    from vxt.models.avcap.config import TINY_CONFIG

    ex = next(json.loads(l) for l in (tiny_synth / "train.jsonl").read_text().splitlines())
    got = fe.read_example_media(ex, tiny_synth, TINY_CONFIG, train=True, rng=random.Random(0))
    assert got["video"].shape == (8, 32, 32, 3) and got["video"].dtype == np.uint8
    wave = read_audio(tiny_synth / ex["video"], start=ex["start"], end=ex["end"], sr=22050)
    assert got["audio"].shape == (len(wave) // 588 + 1, 64)
    gone = fe.read_example_media({**ex, "missing": ["audio"]}, tiny_synth, TINY_CONFIG, train=False, rng=None)
    assert gone["audio"] is None and gone["video"] is not None


def test_warmup_linear_schedule():
    from vxt.registry import STRATEGIES
    from vxt.train.strategies import StepContext
    from vxt.train.warmup import warmup_linear_factor

    assert [warmup_linear_factor(s, 10, 2) for s in range(10)] == pytest.approx(
        [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    strategy = STRATEGIES.create("warmup_linear")

    class Opts:
        lr = 1e-4

    ctx = StepContext(model=torch.nn.Linear(2, 1), module=None, params=[], opts=Opts(), total_steps=20, device="cpu")
    strategy.setup(ctx)  # 10% of 20 steps warm up
    lrs = []
    for _ in range(20):
        lrs.append(strategy.lr())
        strategy.optimizer.step()
        strategy.scheduler.step()
    assert strategy.milestones == [2]
    assert lrs == pytest.approx([1e-4 * warmup_linear_factor(s, 20, 2) for s in range(20)])
    assert lrs[:3] == pytest.approx([5e-5, 1e-4, 1e-4]) and lrs[-1] == pytest.approx(1e-4 / 18)


# ---------------------------------------------------------------- the command line


def _vxt(*args) -> int:
    from vxt.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def narrated(tiny_synth, tmp_path_factory) -> Path:
    """tiny_synth's caption clips with `next_targets` (the next clip's caption), sharing its media."""
    out = tmp_path_factory.mktemp("narrated")
    (out / "media").symlink_to(tiny_synth / "media")
    (out / "dataset.json").write_text((tiny_synth / "dataset.json").read_text())
    for split in ("train", "val"):
        rows = [json.loads(l) for l in (tiny_synth / f"{split}.jsonl").read_text().splitlines()]
        rows = [r for r in rows if r.get("task") == "caption"]
        for r, nxt in zip(rows, rows[1:]):
            r["next_targets"] = nxt["targets"][:1]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def test_train_finetune_and_pretrain_then_decode_a_real_mp4(tiny_synth, narrated, shared_data, tmp_path, no_java,
                                                           capsys):
    common = ["--task", "caption", "--model", "avcap-tiny", "--max-steps", 2, "--batch-size", 4, "--eval-limit", 1]
    ft = tmp_path / "ft"
    assert _vxt("train", "--data", tiny_synth, *common, "--stage", "finetune", "--set", "frontend=cache",
                "--out", ft) == 0
    assert (ft / "best" / "model.safetensors").exists()
    pt = tmp_path / "pt"
    assert _vxt("train", "--data", narrated, *common, "--stage", "pretrain", "--out", pt) == 0
    rows = [json.loads(l) for l in (pt / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "split" not in r]
    assert logged and {"loss_av", "loss_a", "loss_v", "w_a", "w_v"} <= set(logged[-1])
    assert json.loads((pt / "run.json").read_text())["lr_milestones_steps"] == [1]  # warm-up: 10% of 2 steps, >= 1
    capsys.readouterr()
    code = _vxt("train", "--data", tiny_synth, *common, "--stage", "pretrain", "--out", tmp_path / "bad")
    err = capsys.readouterr().err
    assert code != 0 and "needs `next_targets`" in err and len(err.strip().splitlines()) == 1
    video = shared_data / "videos" / "v_ZNVhz7ctTq0.mp4"
    preds = tmp_path / "preds.json"
    assert _vxt("decode", video, "--task", "caption", "--ckpt", pt, "--out", preds) == 0
    got = json.loads(preds.read_text())
    assert got["predictions"][0]["id"] == "v_ZNVhz7ctTq0" and got["predictions"][0]["prediction"]
    assert got["decoding"]["beam"] == 5
    # the cache front end's checkpoint decodes media files through the loop's decode settings
    assert _vxt("decode", video, "--task", "caption", "--ckpt", ft, "--greedy", "--out", tmp_path / "p2.json") == 0
    # fine-tuning from the pre-trained checkpoint: its weights and vocabulary, this run's stage
    ft2 = tmp_path / "ft2"
    assert _vxt("train", "--data", tiny_synth, *common[:4], "--max-steps", 1, "--batch-size", 4, "--eval-limit", 1,
                "--set", f"init={pt}", "--lr", "1e-5", "--out", ft2) == 0
    cfg = json.loads((ft2 / "config.json").read_text())
    assert cfg["stage"] == "finetune" and cfg["vocab"] == json.loads((pt / "config.json").read_text())["vocab"]


def test_mbp_state_moves_on_training_steps_only():
    model = make(stage="pretrain")
    batch = model.collate(items(2), train=True, rng=random.Random(0))
    model.eval()
    model(batch)
    assert model.balancer.w.tolist() == [0.5, 0.5]
    model.train()
    model(batch)
    assert model.balancer.w.tolist() != [0.5, 0.5]


def test_each_stage_trains_and_decodes_its_own_examples_of_a_narrated_split():
    from vxt.models.avcap.model import stage_examples

    rows = [{"id": "s1-pretrain", "targets": ["a"], "next_targets": ["b"]},
            {"id": "s2-pretrain", "targets": ["b"], "next_targets": []},  # the last step: no next one, still marked
            {"id": "s1-caption", "targets": ["a red cube"]}]
    assert [r["id"] for r in stage_examples(rows, "pretrain")] == ["s1-pretrain", "s2-pretrain"]
    assert [r["id"] for r in stage_examples(rows, "finetune")] == ["s1-caption"]
    plain = [r for r in rows if "next_targets" not in r]
    assert stage_examples(plain, "finetune") == plain and stage_examples(rows[:2], "finetune") == rows[:2]
    model = make(stage="finetune")
    assert [r["id"] for r in model.training_examples(rows, "train")] == ["s1-caption"]
    assert [r["id"] for r in model.select_examples(rows)] == ["s1-caption"]
