"""SpecVQGAN's spectrogram front end, its inverse, and the Griffin-Lim fallback vocoder.

:func:`melspectrogram` is exactly SpecVQGAN's ``melspec_10s_22050hz``
extraction (``feature_extraction/extract_mel_spectrogram.py``): the wave at
22,050 Hz is zero-padded or trimmed to 10 s (220,500 samples), ``|STFT|``
with a 1024-point periodic Hann window and hop 256, **centred** (librosa's
``center=True``: half a window of padding each side, so frame ``t`` is
centred on sample ``256 t``; without it every frame is half a window late
and the match with SpecVQGAN's files is lost), 80 Slaney-scale mel bands
from 125 to 7,600 Hz with Slaney area normalisation (librosa's
``filters.mel`` defaults, which ``torchaudio.functional.melscale_fbanks(
norm="slaney", mel_scale="slaney")`` reproduces: librosa itself is not
needed), then ``max(1e-5) -> log10 -> x20 -> -20 -> +100 -> /100 ->
clip [0, 1]``, trimmed to 860 frames. The pad mode of the centring only
changes the first and last two frames (reflect, librosa's old default, is
used).

The model sees the centre 80 x 848 crop (:func:`centre_crop`, SpecVQGAN's
``CenterCrop``: frames 6..853), scaled to [-1, 1].

:func:`mel_to_linear` undoes the normalisation (a clipped value comes back as
the clip bound) and the mel projection (non-negative least squares, as
librosa's ``mel_to_stft``); :func:`griffin_lim` turns a spectrogram back into
a wave with torchaudio's Griffin-Lim: the lower-quality fallback when no
MelGAN vocoder is given.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 22050
SECONDS = 10.0
N_SAMPLES = 220500
N_FFT = 1024
HOP = 256
N_MELS = 80
F_MIN, F_MAX = 125.0, 7600.0
N_FRAMES = 860
CROP_FRAMES = 848
FLOOR = 1e-5
#: what the Griffin-Lim fallback is called wherever its output is labelled
FALLBACK_LABEL = "griffin-lim (fallback vocoder: lower quality than MelGAN)"


@lru_cache(maxsize=2)
def mel_filters(sr: int = SAMPLE_RATE):
    """The ``[80, 513]`` float64 Slaney mel filterbank (librosa's ``filters.mel(sr, 1024, 80, 125, 7600)``)."""
    import torchaudio

    fb = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, F_MIN, F_MAX, N_MELS, int(sr), norm="slaney",
                                               mel_scale="slaney")
    return fb.T.contiguous().double()


def fit_length(wave, n: int = N_SAMPLES) -> tuple[np.ndarray, bool]:
    """``(wave zero-padded or trimmed to n samples as float64, whether it was padded)``."""
    w = np.asarray(wave, dtype=np.float64).reshape(-1)
    if len(w) >= n:
        return w[:n], False
    out = np.zeros(n, dtype=np.float64)
    out[: len(w)] = w
    return out, True


def melspectrogram(wave, sr: int = SAMPLE_RATE, *, fit: bool = True) -> np.ndarray:
    """SpecVQGAN's log-mel spectrogram of ``wave`` (mono, at ``sr`` = 22,050 Hz): ``[80, 860]`` float64 in [0, 1].

    ``fit=False`` skips the 10 s padding/trimming (then ``T = len(wave) // 256 + 1``, not trimmed to 860
    beyond that). See the module docstring for the steps.
    """
    import torch

    if int(sr) != SAMPLE_RATE:
        raise ValueError(f"SpecVQGAN's front end works at {SAMPLE_RATE} Hz, got a wave at {sr} Hz "
                         f"(read it with vxt.data.media.read_audio(path, sr={SAMPLE_RATE}))")
    w = fit_length(wave)[0] if fit else np.asarray(wave, dtype=np.float64).reshape(-1)
    x = torch.from_numpy(np.ascontiguousarray(w))
    if x.numel() <= N_FFT // 2:  # reflect padding needs more than half a window
        x = torch.nn.functional.pad(x, (0, N_FFT // 2 + 1 - x.numel()))
    window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
    with torch.no_grad():
        spec = torch.stft(x, N_FFT, HOP, N_FFT, window, center=True, pad_mode="reflect", return_complex=True).abs()
        mel = mel_filters(int(sr)) @ spec
    return normalise(mel.numpy())[:, :N_FRAMES]


def normalise(mel_magnitude: np.ndarray) -> np.ndarray:
    """``max(1e-5) -> log10 -> x20 -> -20 -> +100 -> /100 -> clip [0, 1]`` (SpecVQGAN's TRANSFORMS)."""
    db = 20.0 * np.log10(np.maximum(FLOOR, mel_magnitude)) - 20.0
    return np.clip((db + 100.0) / 100.0, 0.0, 1.0)


def denormalise(spec: np.ndarray) -> np.ndarray:
    """The inverse of :func:`normalise`: mel magnitudes (clipped values come back as the clip bounds)."""
    s = np.asarray(spec, dtype=np.float64)
    return 10.0 ** ((s * 100.0 - 100.0 + 20.0) / 20.0)


def centre_crop(spec: np.ndarray, frames: int = CROP_FRAMES) -> np.ndarray:
    """The centre ``frames`` of a ``[80, T]`` spectrogram (SpecVQGAN's CenterCrop: offset ``(T - frames) // 2``)."""
    T = spec.shape[-1]
    if T < frames:
        raise ValueError(f"a spectrogram of {T} frames is shorter than the {frames}-frame crop")
    o = (T - frames) // 2
    return spec[..., o : o + frames]


def crop_offset(T: int = N_FRAMES, frames: int = CROP_FRAMES) -> int:
    """Where :func:`centre_crop` starts (6 for 860 -> 848): the crop's first frame in the full spectrogram."""
    return (T - frames) // 2


def to_model(spec: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1] (what SpecVQGAN's models read and write)."""
    return 2.0 * np.asarray(spec) - 1.0


def from_model(x: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1], clipped."""
    return np.clip((np.asarray(x, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0)


def mel_to_linear(spec: np.ndarray, n_iter: int = 20) -> np.ndarray:
    """A ``[513, T]`` linear |STFT| whose mel projection best matches ``spec`` (``[80, T]`` in [0, 1]).

    Non-negative least squares (as librosa's ``mel_to_stft``), approximately:
    the clamped minimum-norm least-squares solution, refined by ``n_iter``
    multiplicative (Lee-Seung) updates that keep it non-negative.
    """
    import torch

    M = mel_filters().float()
    target = torch.from_numpy(denormalise(spec)).float()
    with torch.no_grad():
        S = (_pinv_filters() @ target).clamp(min=1e-8)
        MtY = M.T @ target
        for _ in range(int(n_iter)):
            S = S * MtY / (M.T @ (M @ S)).clamp(min=1e-12)
    return S.double().numpy()


@lru_cache(maxsize=1)
def _pinv_filters():
    import torch

    return torch.linalg.pinv(mel_filters()).float()


def griffin_lim(spec: np.ndarray, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """A 22,050 Hz wave (float32) from a ``[80, T]`` spectrogram in [0, 1] through torchaudio's Griffin-Lim
    (the fallback vocoder: audibly worse than MelGAN), from a seeded random phase. ``T`` frames give
    ``256 (T - 1)`` samples; a wave that would clip is scaled to a peak of 1."""
    import torch
    import torchaudio

    linear = torch.from_numpy(mel_to_linear(spec)).float()
    window = torch.hann_window(N_FFT, periodic=True)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        wave = torchaudio.functional.griffinlim(linear, window, N_FFT, HOP, N_FFT, 1.0, int(n_iter), 0.99,
                                                HOP * (linear.shape[-1] - 1), True)
    peak = float(wave.abs().max()) if wave.numel() else 0.0
    if peak > 1.0:
        wave = wave / peak
    return wave.numpy().astype(np.float32)
