"""SparseSync's inputs: where the 5 s trims lie, and reading them (frames, log power spectrogram).

Times here are seconds from the start of the example's clip (its manifest
``start``, 0 for a whole file); reads add that start. An input with offset
``o`` (vxt's convention: the audio lags by ``o``) is the video trim
``[v, v + 5]`` with the audio trim ``[v - o, v - o + 5]``:

* training (:func:`train_trim`): ``o`` a random grid class; ``v`` a random
  start on the frame grid (``k / fps``) for which both trims lie inside the
  clip; the audio start then moves by a random jitter of at most
  ``audio_jitter`` (kept inside the clip, and below half a class, so the
  class stays right); the offset and start are drawn by
  :func:`vxt.data.offsets.draw_offset`, as ``vxt prepare``'s fixed lists
  are; the frames are mirrored left to right with probability ``hflip``
  (:func:`hflip`, SparseSync's 0.5);
* evaluation (:func:`eval_trim`): the example's fixed ``offset`` and
  ``vstart`` when the manifest has them, else ones drawn from the example id
  (the same at every evaluation); never mirrored;
* a media file given to ``vxt decode`` (:func:`file_trim`): the file as it
  is (audio and video trims at the same times, centred in the file unless
  ``vstart`` is given): the offset found is the file's own; a file longer
  than a trim is read in windows sliding over it (:func:`file_windows`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vxt.data.offsets import draw_offset
from vxt.data.offsets import feasible_vstarts as _feasible
from vxt.errors import DataError


@dataclass(frozen=True)
class Trim:
    """One model input: where its video and audio trims start (seconds from the clip start)."""

    vstart: float
    astart: float
    #: the offset the trims were taken at (vxt's: audio lag, s), None for a file taken as it is
    offset: float | None


def _frames(cfg: dict) -> int:
    return int(round(float(cfg["clip_seconds"]) * float(cfg["fps"])))


def _samples(cfg: dict) -> int:
    return int(round(float(cfg["clip_seconds"]) * int(cfg["sample_rate"])))


def feasible_vstarts(duration: float, offset: float, cfg: dict) -> tuple[int, int]:
    """The frame indices ``k`` (``v = k / fps``) whose trims at ``offset`` both lie inside ``[0, duration]``."""
    return _feasible(duration, offset, fps=float(cfg["fps"]), clip_seconds=float(cfg["clip_seconds"]))


def train_trim(duration: float, grid, cfg: dict, rng: random.Random) -> Trim:
    """A random training input (see the module docstring) drawn with ``rng``."""
    offset, v = draw_offset(duration, grid, rng, fps=float(cfg["fps"]), clip_seconds=float(cfg["clip_seconds"]))
    a = v - offset
    sr = int(cfg["sample_rate"])
    jit = float(cfg["audio_jitter"])
    if jit > 0:
        room_lo, room_hi = a, duration - float(cfg["clip_seconds"]) - a  # how far the audio may move each way
        j = rng.randint(-int(jit * sr), int(jit * sr)) / sr
        a = a + min(max(j, -room_lo), room_hi)
    return Trim(v, max(0.0, a), offset)


def hflip(frames: np.ndarray, p: float, rng: random.Random | None) -> np.ndarray:
    """``frames`` (``[T, H, W, 3]``) mirrored left to right with probability ``p`` (SparseSync's training
    augmentation, 0.5); ``rng`` is not drawn from when ``p`` is 0 or there is no ``rng`` (evaluation)."""
    if rng is None or not p > 0 or rng.random() >= p:
        return frames
    return np.ascontiguousarray(frames[:, :, ::-1])


def eval_trim(example: dict, duration: float, grid, cfg: dict) -> Trim:
    """The example's fixed input (``offset``, ``vstart``), or one drawn from its id."""
    if example.get("offset") is not None:
        offset = float(example["offset"])
        if example.get("vstart") is not None:
            v = float(example["vstart"])
        else:
            k_lo, k_hi = feasible_vstarts(duration, offset, cfg)
            v = (k_lo + k_hi) // 2 / float(cfg["fps"])
    else:
        rng = random.Random(f"sync-eval-{example.get('id')}")
        try:
            offset, v = draw_offset(duration, grid, rng, fps=float(cfg["fps"]), clip_seconds=float(cfg["clip_seconds"]))
        except DataError:
            raise DataError(f"too short ({duration:.2f} s) for an evaluation trim", example_id=example.get("id")) from None
    clip = float(cfg["clip_seconds"])
    a = v - offset
    tol = 0.5 / float(cfg["fps"])
    if min(v, a) < -tol or max(v, a) + clip > duration + tol:
        raise DataError(f"offset {offset:+.2f} s at vstart {v:.2f} s needs {clip:g} s trims outside the "
                        f"{duration:.2f} s clip (they would be padded)", example_id=example.get("id"))
    return Trim(max(0.0, v), max(0.0, a), offset)


def file_trim(duration: float, cfg: dict, vstart: float | None = None) -> Trim:
    """A media file as it is: both trims at ``vstart`` (default: centred, on the frame grid)."""
    clip, fps = float(cfg["clip_seconds"]), float(cfg["fps"])
    if duration + 0.5 / fps < clip:
        raise DataError(f"the file is {duration:.2f} s long: synchronisation needs at least {clip:g} s")
    if vstart is None:
        vstart = math.floor(max(0.0, duration - clip) / 2 * fps) / fps
    v = min(max(0.0, float(vstart)), max(0.0, duration - clip))
    return Trim(v, v, None)


def file_windows(duration: float, cfg: dict, hop: float | None = None, max_windows: int = 16) -> list[Trim]:
    """Trims sliding over a media file as it is: starts ``0, hop, 2 hop, ...`` (default hop: half a trim, rounded
    to whole frames), plus one ending at the file's end when the grid stops short of it; more than ``max_windows`` are
    thinned evenly (first and last kept). A file with room for one trim only gets :func:`file_trim`'s centred one."""
    clip, fps = float(cfg["clip_seconds"]), float(cfg["fps"])
    hop = clip / 2 if hop is None else float(hop)
    room = duration - clip
    if max_windows <= 1 or room < hop - 0.5 / fps:
        return [file_trim(duration, cfg)]
    last = math.floor(room * fps + 1e-6)  # frames
    step = max(1, math.floor(hop * fps + 0.5))  # the hop in whole frames (2.5 s at 25 fps: 63 frames, 2.52 s)
    frames = list(range(0, last + 1, step))
    if frames[-1] != last:
        frames.append(last)
    starts = [k / fps for k in frames]
    if len(starts) > max_windows:
        idx = np.unique(np.round(np.linspace(0, len(starts) - 1, max_windows)).astype(int))
        starts = [starts[i] for i in idx]
    return [Trim(v, v, None) for v in starts]


# ---------------------------------------------------------------- reading


def read_trim(path: str, trim: Trim, clip_start: float, cfg: dict, *, crop_at: tuple[int, int] | None = None):
    """(frames ``[T, crop, crop, 3]`` uint8, wave ``[N]`` float32) of ``trim`` in the file at ``path``.

    Frames: ``fps`` by timestamp from ``vstart``, the shorter side scaled to
    ``size_before_crop`` and centre-cropped square by the media layer, then the
    ``crop`` square at ``crop_at`` (top, left; default the centre). Audio: 16
    kHz mono from ``astart``; a file whose audio stops early is padded with
    silence at the end (this never happens inside a clip long enough).
    """
    from vxt.data.media import read_audio, read_clips

    T, N = _frames(cfg), _samples(cfg)
    clip = float(cfg["clip_seconds"])
    S, C = int(cfg["size_before_crop"]), int(cfg["crop"])
    v0 = clip_start + trim.vstart
    frames = read_clips(path, 1, T, S, start=v0, end=v0 + clip, fps=float(cfg["fps"]))[0]
    y, x = crop_at if crop_at is not None else ((S - C) // 2, (S - C) // 2)
    frames = np.ascontiguousarray(frames[:, y : y + C, x : x + C])
    a0 = clip_start + trim.astart
    wave = read_audio(path, start=a0, end=a0 + clip, sr=int(cfg["sample_rate"]))
    if len(wave) < N:
        wave = np.pad(wave, (0, N - len(wave)))
    return frames, wave[:N]


@lru_cache(maxsize=4)
def _spectrogram(n_fft: int, hop: int):
    import torchaudio

    return torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=2.0)


def log_spectrogram(wave, cfg: dict, standardise: bool = True):
    """``[F, T]`` float32: ``log(|STFT|^2 + 1e-6)`` (n_fft 512, hop 128, Hann, centred; 257 x 626 for 5 s at
    16 kHz), standardised per frequency over the clip's time (SparseSync's per-clip normalisation)."""
    import torch

    x = wave if torch.is_tensor(wave) else torch.from_numpy(np.asarray(wave, dtype=np.float32))
    with torch.no_grad():
        spec = torch.log(_spectrogram(int(cfg["n_fft"]), int(cfg["hop"]))(x.float()) + 1e-6)
        if standardise:
            spec = (spec - spec.mean(dim=-1, keepdim=True)) / (spec.std(dim=-1, keepdim=True) + 1e-6)
    return spec
