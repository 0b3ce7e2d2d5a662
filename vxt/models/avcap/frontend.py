"""What the encoders see of an example's media: frames, the log-mel spectrogram, SpecAugment.

Two front ends (``--set frontend=``):

- ``paper`` (the default, the paper's): the model reads the media itself
  (``needs_media = False``): 16 frames, one from each of 16 equal segments of
  the example (a random frame in training, the segment's centre at test) at
  224 px; the audio resampled to 22,050 Hz by :func:`vxt.data.media.read_audio`,
  a log-amplitude mel spectrogram of 64 bins (frames of 1,536 samples, hop 588).
- ``cache``: the training loop's media cache (faster on CPU; not the paper's
  numbers): the cached clips' frames, picked the same way, resized to the
  model's size, and the cache's 16 kHz PANNs log-mel (64 bins, hop 10 ms).

Either way the spectrogram is then fitted to ``max_frames`` (longer:
down-sampled by picking evenly spaced frames; shorter: zero-padded and
masked), and SpecAugment masks it in training.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from vxt.errors import VxtError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's Video Swin weights normalise with these
IMAGENET_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=4)
def _mel(sr: int, n_fft: int, hop: int, n_mels: int):
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(sample_rate=sr, n_fft=n_fft, win_length=n_fft, hop_length=hop,
                                                n_mels=n_mels, power=1.0, center=True)


def paper_log_mel(wave: np.ndarray, acfg: dict) -> np.ndarray:
    """``log(max(mel_amplitude, 1e-5))`` [frames, n_mels] of a mono waveform at ``acfg["sample_rate"]``."""
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    n_fft = int(acfg["n_fft"])
    if x.numel() <= n_fft // 2:  # reflect padding needs more than half a window
        x = torch.nn.functional.pad(x, (0, n_fft // 2 + 1 - x.numel()))
    with torch.no_grad():
        mel = _mel(int(acfg["sample_rate"]), n_fft, int(acfg["hop"]), int(acfg["n_mels"]))(x)
    return torch.log(mel.clamp(min=1e-5)).transpose(0, 1).contiguous().numpy()


def frame_indices(n: int, k: int, rng: random.Random | None) -> list[int]:
    """``k`` of ``n`` frames: one per equal segment, random inside it with ``rng``, else its centre."""
    out = []
    for i in range(k):
        a, b = i * n / k, (i + 1) * n / k
        t = rng.uniform(a, b) if rng is not None else (a + b) / 2
        out.append(min(n - 1, int(t)))
    return out


def read_example_media(ex: dict, data_dir, cfg: dict, *, train: bool, rng: random.Random | None) -> dict:
    """The paper's front end: ``{"video": uint8 [F, S, S, 3] | None, "audio": [frames, mels] | None, "errors"}``.

    A modality the example lists as ``missing``, or that fails to decode, is
    None (a masked stream), never a crash; the reason is kept in ``errors``.
    """
    from vxt.data import media
    from vxt.data.manifest import resolve_media

    mods = cfg["modalities"]
    missing = set(ex.get("missing", []))
    rel = ex.get("video") or ex.get("audio")
    out: dict = {"video": None, "audio": None, "errors": {}}
    if rel is None:
        return out
    path = resolve_media(data_dir or ".", rel)
    kw = {"start": ex.get("start"), "end": ex.get("end")}
    v = cfg["video"]
    if "video" in mods and ex.get("video") and "video" not in missing:
        mode = "segments" if train else "uniform"
        try:
            if ex.get("fps") is not None:  # a folder of frames
                clips = media.read_frame_folder_clips(path, float(ex["fps"]), int(v["frames"]), 1, int(v["size"]),
                                                      mode=mode, rng=rng, **kw)
            else:
                clips = media.read_clips(path, int(v["frames"]), 1, int(v["size"]), fps=None, mode=mode, rng=rng,
                                         **kw)
            out["video"] = clips[:, 0]
        except VxtError as e:
            out["errors"]["video"] = e.message
    if "audio" in mods and "audio" not in missing and ex.get("fps") is None:
        a = cfg["audio"]
        try:
            wave = media.read_audio(path, sr=int(a["sample_rate"]), **kw)
            out["audio"] = paper_log_mel(wave, a) if wave.size else None
        except VxtError as e:
            out["errors"]["audio"] = e.message
    return out


def cached_media(media: dict, cfg: dict, *, rng: random.Random | None) -> dict:
    """The ``cache`` front end: the frames of the cached clips and the cached log-mel."""
    out: dict = {"video": None, "audio": None, "errors": {}}
    video = media.get("video")
    if "video" in cfg["modalities"] and video is not None:
        frames = np.asarray(video).reshape(-1, *np.asarray(video).shape[-3:])  # [N*T, S, S, 3]
        out["video"] = frames[frame_indices(len(frames), int(cfg["video"]["frames"]), rng)]
    audio = media.get("audio")
    if "audio" in cfg["modalities"] and audio is not None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.shape[-1] != int(cfg["audio"]["n_mels"]):
            raise VxtError(f"the cached log-mel has {audio.shape[-1]} bins, the model {cfg['audio']['n_mels']}")
        out["audio"] = audio
    return out


def video_tensor(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [F, H, W, 3] -> float [3, F, size, size], normalised (resized when the frames are not ``size``)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)  # [F, H, W, 3]
    x = x.permute(0, 3, 1, 2)  # [F, 3, H, W]
    if x.shape[-1] != size or x.shape[-2] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


def fit_frames(mel: np.ndarray, max_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[T, M] -> ([max_frames, M], mask [max_frames]): evenly spaced frames when longer, zero-padded when shorter."""
    x = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
    T, M = x.shape
    mask = torch.zeros(max_frames, dtype=torch.bool)
    if T > max_frames:
        idx = torch.linspace(0, T - 1, max_frames).round().long()
        x = x[idx]
        mask[:] = True
    else:
        x = torch.cat([x, torch.zeros(max_frames - T, M)], 0)
        mask[:T] = True
    return x, mask


def freq_mask_param(acfg: dict) -> int:
    """The frequency-mask parameter used: the paper's 128 exceeds the 64 bins (a mask as wide as the whole
    spectrogram); it is capped at half the bins (32 of 64), the width of the time mask's parameter."""
    return max(0, min(int(acfg["freq_mask"]), int(acfg["n_mels"]) // 2))


def spec_augment(mel: torch.Tensor, valid: int, acfg: dict, rng: random.Random) -> torch.Tensor:
    """One time mask (parameter ``time_mask``, inside the valid frames) and one frequency mask, filled with
    the example's mean value, drawn from a torch generator seeded by ``rng`` (reproducible per batch)."""
    import torchaudio

    if valid <= 0:
        return mel
    fill = float(mel[:valid].mean())
    spec = mel[:valid].t().unsqueeze(0)  # [1, M, T]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rng.randrange(2**31))
        t_param = min(int(acfg["time_mask"]), valid)
        if t_param > 0:
            spec = torchaudio.transforms.TimeMasking(t_param)(spec, mask_value=fill)
        f_param = freq_mask_param(acfg)
        if f_param > 0:
            spec = torchaudio.transforms.FrequencyMasking(f_param)(spec, mask_value=fill)
    out = mel.clone()
    out[:valid] = spec[0].t()
    return out


def data_dir_of(cfg: dict, override=None) -> Path | None:
    d = override or cfg.get("data_dir")
    return None if d is None else Path(d)
