"""--task sound end to end on CPU: the specvqgan-tiny codebook trains (gan strategy) and decodes to a wav,
and `--out X.mp4` copies the input's video packets as they are under the generated sound."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sound_clips import write_clip, write_sound_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _video_packets(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(p.pts, p.dts, bytes(p)) for p in c.demux(v) if p.size]


@pytest.fixture(scope="module")
def trained_all(tmp_path_factory):
    """``--stage all``: the codebook into OUT/codebook, the MelGAN into OUT/vocoder, then the sampler on the
    codebook into OUT (features from files)."""
    from vxt.cli import main

    root = tmp_path_factory.mktemp("sound")
    data = write_sound_data(root / "data", n_train=2, n_val=1, seconds=2.0)
    feats = root / "feats"
    feats.mkdir()
    for i, cid in enumerate(("train-0", "train-1", "val-0", "silent")):
        np.save(feats / f"{cid}.npy", np.random.default_rng(i).normal(size=(215, 16)).astype(np.float32))
    exp = root / "exp"
    code = main(["train", "--task", "sound", "--model", "specvqgan-tiny", "--data", str(data), "--stage", "all",
                 "--max-steps", "2", "--batch-size", "1", "--set", "perceptual=none", "--features", str(feats),
                 "--out", str(exp)])
    assert code == 0
    return data, exp, feats


@pytest.fixture(scope="module")
def trained(trained_all):
    data, exp, _ = trained_all
    return data, exp / "codebook"


def test_codebook_trains_with_the_gan_strategy(trained):
    data, exp = trained
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert train_rows and "d_loss" in train_rows[-1]  # disc_start 1: the discriminator trains at step 2
    assert any("1-L1" in r for r in rows)
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["arch"] == "specvqgan" and cfg["stage"] == "codebook" and cfg["perceptual"] == "none"
    assert cfg["codebook"]["ch_mult"] == [1, 1, 2, 2, 4]
    import torch

    state = torch.load(exp / "train_state.pt", weights_only=True)
    assert {"optimizer", "d_optimizer"} <= set(state)
    from vxt.models import load_checkpoint

    model = load_checkpoint(exp)
    _, _, codes = model.vqgan(torch.zeros(1, 1, 80, 848))
    assert codes.shape == (1, 5, 53)  # 265 codes


def test_decode_reconstructs_writes_a_wav_and_muxes(trained, run_cli, tmp_path):
    data, exp = trained
    clip = data / "media" / "val-0.mp4"
    out = tmp_path / "with_sound.mp4"
    voc = exp.parent / "vocoder"
    code, stdout, err = run_cli("decode", clip, "--task", "sound", "--ckpt", exp, "--set", f"vocoder={voc}",
                                "--out", out)
    assert code == 0, err
    preds = json.loads((tmp_path / "with_sound.preds.json").read_text())
    row = preds["predictions"][0]
    assert row["vocoder"] == f"MelGAN ({voc.resolve()})" and "MelGAN" in err + stdout
    assert row["reference_audio"].endswith("val-0.mp4") and row["sample_rate"] == 22050
    import wave

    with wave.open(row["audio"]) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1 and w.getnframes() == 256 * 847
    assert _video_packets(out) == _video_packets(clip)  # copied packet for packet
    import av

    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and c.streams.audio[0].sample_rate == 22050
    from vxt.data.media import read_audio

    sound = read_audio(out, sr=22050)
    assert abs(len(sound) / 22050 - 2.0) < 0.06  # trimmed to the 2 s video
    assert np.abs(sound).max() > 0
    # a codebook trained alone knows no vocoder: the fallback, labelled as such (or when asked for)
    code, stdout, err = run_cli("decode", clip, "--task", "sound", "--ckpt", exp, "--out", tmp_path / "gl.mp4")
    assert code == 0, err
    row = json.loads((tmp_path / "gl.preds.json").read_text())["predictions"][0]
    assert row["vocoder"].startswith("griffin-lim") and "fallback" in row["vocoder"] and "fallback" in err + stdout
    code, _, err = run_cli("decode", clip, "--task", "sound", "--ckpt", exp, "--set", f"vocoder={exp}")
    assert code != 0 and "--stage vocoder" in err and len(err.strip().splitlines()) == 1


def test_vocoder_stage_trains_melgan_and_resynthesises(trained_all, run_cli, tmp_path):
    data, exp, _ = trained_all
    voc = exp / "vocoder"
    cfg = json.loads((voc / "config.json").read_text())
    assert cfg["stage"] == "vocoder" and cfg["vocoder"]["ratios"] == [8, 8, 2, 2] and "codebook" not in cfg
    rows = [json.loads(line) for line in (voc / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert train_rows and {"d_loss", "adv", "fm"} <= set(train_rows[-1])  # MelGAN's two losses, both sides
    assert any("1-L1" in r for r in rows)
    assert json.loads((exp / "config.json").read_text())["vocoder_exp"] == str(voc.resolve())  # the sampler's
    code, stdout, err = run_cli("decode", data / "media" / "val-0.mp4", "--task", "sound", "--ckpt", voc,
                                "--out", tmp_path / "resynth.mp4")
    assert code == 0, err
    row = json.loads((tmp_path / "resynth.preds.json").read_text())["predictions"][0]
    assert row["vocoder"] == "MelGAN (this checkpoint)" and 0.0 <= row["l1"] <= 1.0
    import wave

    with wave.open(row["audio"]) as w:
        assert w.getframerate() == 22050 and w.getnframes() == 256 * 859  # the whole 860-frame spectrogram


def test_melgan_shapes_and_losses():
    import torch

    from vxt.models.sound.melgan import (VOCODER, MelGANGenerator, MultiScaleDiscriminator, discriminator_loss,
                                         generator_loss)

    g = MelGANGenerator(VOCODER)
    assert g.hop == 256 and sum(p.numel() for p in g.parameters()) == 4_266_050  # MelGAN's 4.26 M parameters
    tiny = {**VOCODER, "ngf": 4, "n_residual": 1, "num_D": 3, "ndf": 4, "n_layers_D": 2}
    wave = MelGANGenerator(tiny)(torch.rand(2, 80, 8))
    assert wave.shape == (2, 1, 8 * 256) and wave.abs().max() <= 1
    d = MultiScaleDiscriminator(tiny)
    real = d(torch.randn(2, 1, 2048))
    assert [r[-1].shape[-1] for r in real] == [128, 64, 32]  # each scale pools by 2 (then strides 4 x 4)
    real = [[t.detach() for t in r] for r in real]
    assert float(discriminator_loss(real, real)) == pytest.approx(
        sum(float(torch.relu(1 - r[-1]).mean() + torch.relu(1 + r[-1]).mean()) for r in real), rel=1e-6)
    total, adv, fm = generator_loss(real, real, 2, 10.0)
    assert float(fm) == 0.0 and float(total) == pytest.approx(float(adv))  # identical features: no matching loss


def test_one_line_errors(trained, run_cli, tmp_path):
    data, exp = trained
    code, _, err = run_cli("train", "--task", "sound", "--model", "specvqgan-tiny", "--data", data,
                           "--max-steps", "1", "--out", tmp_path / "e1")
    assert code != 0 and "--set perceptual=" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "--task", "sound", "--model", "specvqgan-tiny", "--data", data,
                           "--max-steps", "1", "--set", f"perceptual={tmp_path / 'nowhere'}", "--out", tmp_path / "e2")
    assert code != 0 and "LPAPS" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "--task", "sound", "--model", "specvqgan-tiny", "--data", data,
                           "--stage", "decoder", "--out", tmp_path / "e3")
    assert code != 0 and "--stage must be one of codebook, vocoder, sampler, all" in err
    code, _, err = run_cli("train", "--task", "sound", "--model", "specvqgan-tiny", "--data", data,
                           "--stage", "sampler", "--out", tmp_path / "e4")
    assert code != 0 and "--set codebook=EXP" in err and len(err.strip().splitlines()) == 1
    audio_only = write_clip(tmp_path / "audio_only.mp4", 1.0, video=False)
    code, _, err = run_cli("decode", audio_only, "--task", "sound", "--ckpt", exp)
    assert code != 0 and "no video stream" in err and len(err.strip().splitlines()) == 1


def test_mux_audio_keeps_the_video_bytes(tmp_path):
    from vxt.data.media import read_audio
    from vxt.data.media.mux import mux_audio

    src = write_clip(tmp_path / "src.mp4", 1.5, seed=3)
    t = np.arange(int(3.0 * 22050)) / 22050
    info = mux_audio(src, tmp_path / "dst.mp4", 0.3 * np.sin(2 * np.pi * 330 * t), 22050)
    assert _video_packets(tmp_path / "dst.mp4") == _video_packets(src)
    assert info["video_packets"] == 15 and info["audio_seconds"] == pytest.approx(1.5, abs=1e-3)
    got = read_audio(tmp_path / "dst.mp4", sr=22050)
    assert abs(len(got) / 22050 - 1.5) < 0.06


def test_sampler_stage_samples_sound_for_a_silent_video(trained_all, run_cli, tmp_path):
    data, exp, feats = trained_all
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["stage"] == "sampler" and cfg["trained_from"] == str((exp / "codebook").resolve())
    assert cfg["sampler"]["n_codes"] == 265 and cfg["sampler"]["d_feat"] == 16 and cfg["sampler"]["n_feats"] == 5
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert any("-CE" in r for r in rows)
    silent = write_clip(tmp_path / "silent.mp4", 2.0, audio=False)
    out = tmp_path / "silent_with_sound.mp4"
    code, stdout, err = run_cli("decode", silent, "--task", "sound", "--ckpt", exp, "--features", feats,
                                "--samples", "2", "--out", out)
    assert code == 0, err
    preds = json.loads((tmp_path / "silent_with_sound.preds.json").read_text())["predictions"]
    assert [(r["id"], r["sample"]) for r in preds] == [("silent", 0), ("silent", 1)]
    assert "reference_audio" not in preds[0] and all(r["vocoder"].startswith("MelGAN (") for r in preds)
    import wave

    for r in preds:
        with wave.open(r["audio"]) as w:
            assert w.getframerate() == 22050 and w.getnframes() == 256 * 847
    assert _video_packets(out) == _video_packets(silent)
    code, _, err = run_cli("decode", silent, "--task", "sound", "--ckpt", exp / "codebook", "--samples", "2")
    assert code != 0 and "sampler" in err and len(err.strip().splitlines()) == 1


def test_sampler_pieces():
    import torch

    from vxt.models.sound.features import prepare_rows, resample_frames
    from vxt.models.sound.sampler import GPT, column_major, from_column_major

    codes = torch.arange(2 * 5 * 53).view(2, 5, 53)
    seq = column_major(codes)
    assert seq[0, :5].tolist() == [0, 53, 106, 159, 212]  # the 5 frequency codes of time step 0 first
    assert torch.equal(from_column_major(seq, 5, 53), codes)
    f = np.arange(212)[:, None].astype(np.float32)
    assert resample_frames(f, 212)[:, 0].tolist() == list(range(212))
    assert resample_frames(f, 5)[:, 0].tolist() == [35, 77, 119, 162, 204]  # SpecVQGAN's ResampleFrames
    assert prepare_rows(np.ones((100, 3)), 212).shape == (212, 3)
    torch.manual_seed(0)
    gpt = GPT({"n_layer": 2, "n_head": 2, "n_embd": 16, "pdrop": 0.0, "n_feats": 3, "n_codes": 6, "d_feat": 4,
               "vocab_size": 7}).eval()
    feats, target = torch.randn(2, 3, 4), torch.randint(0, 7, (2, 6))
    logits = gpt(feats, target)
    assert logits.shape == (2, 6, 7)
    # causal: the logits of code i do not change when a later code changes
    other = target.clone()
    other[:, 4:] = (other[:, 4:] + 1) % 7
    assert torch.allclose(gpt(feats, other)[:, :5], logits[:, :5], atol=1e-6)
    # the cached sampler gives the full recomputation's logits: greedy (top-k 1) decoding matches argmax
    seq = gpt.sample(feats, top_k=1)
    assert torch.equal(gpt(feats, seq).argmax(-1), seq)


def test_visual_features_from_the_video(tmp_path):
    """No --features: per-frame ResNet features at 21.5 fps over the first 10 s (random init here)."""
    from vxt.models.sound.features import VisualFeatures

    clip = write_clip(tmp_path / "v.mp4", 1.0, audio=False)
    vf = VisualFeatures({"source": "resnet", "arch": "resnet18", "size": 32})
    raw = vf.raw({"id": "v"}, clip)
    assert raw.shape == (215, 512) and vf.dim() == 512
    assert vf.rows({"id": "v"}, 5, clip).shape == (5, 512)
