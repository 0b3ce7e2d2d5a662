"""From an example's feature streams to TAVT's inputs: frames, clip means ``c_i`` and audio units ``a_i``.

The streams come from :class:`vxt.modalities.feature_store.FeatureStore` (per
frame features every ``video_step`` seconds, audio embeddings every
``audio_step`` seconds), cached per video. TAVT cuts the example's time range
into ``l`` clips of ``clip_seconds`` (T): clip ``i`` covers ``[start + iT,
start + (i+1)T)``; ``c_i`` is the mean of the frame rows whose centre falls in
it, and the audio unit ``a_i`` the mean of the audio rows whose centre falls
in it (a clip with no row takes the nearest one). So ``a_i`` is the sound of
clip ``i``, what the reconstructor predicts from ``p_i``, and the K-means
clusters are fitted on the same units.
"""

from __future__ import annotations

import math

import numpy as np


def _rows_in(n: int, step: float, lo: float, hi: float) -> np.ndarray:
    """Indices of the rows (centres at ``(j + 0.5) * step``) inside ``[lo, hi)``; the nearest one if none is."""
    centres = (np.arange(n) + 0.5) * step
    idx = np.nonzero((centres >= lo) & (centres < hi))[0]
    if idx.size == 0:
        idx = np.array([int(np.argmin(np.abs(centres - (lo + hi) / 2)))])
    return idx


def unit_bounds(start: float, end: float, clip_seconds: float, max_units: int) -> list[tuple[float, float]]:
    """The clips of ``[start, end)``: ``ceil(length / T)`` of length T (at most ``max_units``: then longer ones)."""
    length = max(end - start, 1e-3)
    n = max(1, int(math.ceil(length / float(clip_seconds) - 1e-6)))
    size = float(clip_seconds)
    if n > max_units:
        n, size = int(max_units), length / int(max_units)
    return [(start + i * size, min(start + (i + 1) * size, end) if i < n - 1 else end) for i in range(n)]


def example_units(feats: dict, example: dict, clip_seconds: float, max_units: int, max_frames: int) -> dict:
    """``{"frames" [M, Dv] | None, "clips" [L, Dv] | None, "audio" [L, Da] | None, "bounds"}`` of one example.

    ``feats`` is a feature store record (``video``, ``audio``, ``video_step``,
    ``audio_step``, ``duration``); the example's ``start``/``end`` (when
    given) select its part of the video.
    """
    duration = float(feats["duration"])
    start = float(example.get("start") or 0.0)
    end = example.get("end")
    end = duration if not isinstance(end, (int, float)) or end <= start else min(float(end), duration)
    if end <= start:
        start, end = 0.0, duration
    bounds = unit_bounds(start, end, clip_seconds, max_units)
    out: dict = {"frames": None, "clips": None, "audio": None, "bounds": bounds}
    video = feats.get("video")
    if video is not None and len(video):
        step = float(feats["video_step"])
        sel = _rows_in(len(video), step, start, end)
        frames = video[sel]
        if len(frames) > max_frames:  # uniform subsample
            frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
        out["frames"] = np.ascontiguousarray(frames, dtype=np.float32)
        out["clips"] = np.stack([video[_rows_in(len(video), step, lo, hi)].mean(0) for lo, hi in bounds]).astype(np.float32)
    audio = feats.get("audio")
    if audio is not None and len(audio):
        step = float(feats["audio_step"])
        out["audio"] = np.stack([audio[_rows_in(len(audio), step, lo, hi)].mean(0) for lo, hi in bounds]).astype(np.float32)
    return out
