"""Pre-extracted feature streams (BMT/MDVC's layout), segment slicing and padding.

BMT ships features per video as ``<name>_rgb.npy`` and ``<name>_flow.npy``
(I3D, [T_v, 1024] each, one row per stack of 64 frames at 25 fps) and
``<name>_vggish.npy`` (VGGish, [T_a, 128], one row per 0.96 s of audio).
:func:`load_bmt_features` reads them into one visual stream (RGB and flow
summed, as the public code does, or concatenated: 2048-d) and one audio
stream, each with its time step in seconds.

The visual step: with the video's ``duration`` given, it is inferred as
``duration / T_v`` (what BMT's segment cropping assumes: feature index =
T_v x time / duration); without it, it is the extraction's nominal
64 / 25 = 2.56 s. For the sample ``women_long_jump`` (35.1 s, 14 stacks) the
inferred step is 35.1 / 14 = 2.507 s (the nominal 2.56 s would put the 14th
stack's end at 35.84 s). The audio step is VGGish's 0.96 s.

A missing stream file is data, not a crash: the stream is None and named in
``missing`` (a model then runs with that stream masked).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from vxt.errors import DataError

I3D_STACK_FRAMES = 64
I3D_FPS = 25.0
VIDEO_STEP_NOMINAL = I3D_STACK_FRAMES / I3D_FPS  # 2.56 s
VGGISH_STEP = 0.96


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read the feature file ({e})", path=str(path)) from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(f"a feature file holds a [T, D] array with T >= 1, got shape {arr.shape}", path=str(path))
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise DataError("the feature file holds NaN or infinite values", path=str(path))
    return arr


def load_bmt_features(stem_or_dir: str | Path, video_name: str | None = None, combine: str = "sum",
                      duration: float | None = None, audio_dir: str | Path | None = None,
                      video_step: float | None = None) -> dict:
    """Load one video's I3D + VGGish features in BMT's layout.

    ``stem_or_dir``: a folder holding ``<video_name>_{rgb,flow,vggish}.npy``,
    or the stem itself (``.../women_long_jump``; ``video_name`` then optional).
    ``audio_dir``: where ``<video_name>.npy`` VGGish files live when they are
    apart (BMT's ``vggish_npy/`` folder); by default ``<stem>_vggish.npy``.
    ``combine``: ``"sum"`` (1024-d, the public code) or ``"concat"`` (2048-d).
    ``duration`` (seconds): used to infer the visual step (see the module doc);
    ``video_step`` overrides it.

    Returns ``{"video": float32 [T_v, D] or None, "audio": float32 [T_a, 128] or None,
    "video_step": s, "audio_step": 0.96, "duration": s or None, "missing": [...]}``.
    """
    if combine not in ("sum", "concat"):
        raise DataError(f"combine must be 'sum' or 'concat', got {combine!r}")
    base = Path(stem_or_dir)
    if base.is_dir():
        if not video_name:
            raise DataError("give the video name when passing a features folder", path=str(base))
        stem = base / video_name
    else:
        stem = base
        video_name = video_name or base.name
    rgb_p, flow_p = Path(f"{stem}_rgb.npy"), Path(f"{stem}_flow.npy")
    aud_p = Path(audio_dir) / f"{video_name}.npy" if audio_dir is not None else Path(f"{stem}_vggish.npy")

    missing: list[str] = []
    video = None
    if rgb_p.exists() and flow_p.exists():
        rgb, flow = _load_npy(rgb_p), _load_npy(flow_p)
        if rgb.shape != flow.shape:
            raise DataError(f"RGB {rgb.shape} and flow {flow.shape} features differ in shape", path=str(flow_p))
        video = rgb + flow if combine == "sum" else np.concatenate([rgb, flow], axis=1)
    elif rgb_p.exists() or flow_p.exists():
        have, lack = (rgb_p, flow_p) if rgb_p.exists() else (flow_p, rgb_p)
        raise DataError(f"found {have.name} but not {lack.name} (I3D needs both streams)", path=str(lack))
    else:
        missing.append("video")
    audio = _load_npy(aud_p) if aud_p.exists() else None
    if audio is None:
        missing.append("audio")
    if video is None and audio is None:
        raise DataError(f"no features for {video_name!r} (looked for {rgb_p.name}, {flow_p.name}, {aud_p.name})",
                        path=str(stem.parent))

    if video_step is None:
        if duration is not None and video is not None:
            if not duration > 0:
                raise DataError(f"duration must be > 0, got {duration}", path=str(stem))
            video_step = float(duration) / video.shape[0]
        else:
            video_step = VIDEO_STEP_NOMINAL
    return {"video": video, "audio": audio, "video_step": float(video_step), "audio_step": VGGISH_STEP,
            "duration": None if duration is None else float(duration), "missing": missing}


def segment_indices(n_steps: int, step: float, start: float, end: float) -> tuple[int, int]:
    """[i0, i1) of the steps overlapping [start, end] (step i covers [i*step, (i+1)*step)); at least one."""
    if n_steps <= 0:
        raise DataError("cannot slice an empty feature stream")
    if not step > 0:
        raise DataError(f"feature step must be > 0, got {step}")
    start, end = float(start), float(end)
    if end < start:
        start, end = end, start
    i0 = min(max(int(math.floor(start / step + 1e-9)), 0), n_steps - 1)
    i1 = min(max(int(math.ceil(end / step - 1e-9)), i0 + 1), n_steps)
    return i0, i1


def segment_features(feats: np.ndarray, step: float, start: float, end: float) -> np.ndarray:
    """The rows of ``feats`` [T, D] (``step`` seconds each) that overlap the segment [start, end] s.

    Always at least one row: a segment shorter than a step, or lying past the
    stream's end, gets the nearest step.
    """
    i0, i1 = segment_indices(len(feats), step, start, end)
    return feats[i0:i1]


def pad_streams(rows: Sequence[np.ndarray | None], dim: int, min_len: int = 1):
    """Stack [T_i, dim] arrays (None = missing) into (float32 tensor [B, T, dim], bool mask [B, T]).

    A missing row is all zeros with an all-False mask (the models treat it as absent).
    """
    import torch

    length = max([len(r) for r in rows if r is not None] + [min_len])
    x = torch.zeros(len(rows), length, dim, dtype=torch.float32)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        if r is None:
            continue
        if r.ndim != 2 or r.shape[1] != dim:
            raise DataError(f"feature row {i} has shape {tuple(r.shape)}, expected [T, {dim}]")
        x[i, : len(r)] = torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32))
        mask[i, : len(r)] = True
    return x, mask


def example_duration(example: dict, path: Path | None = None) -> float:
    """The length of a dense example's video in seconds (manifest ``duration``, ``end``, or a probe)."""
    for key in ("duration", "end"):
        v = example.get(key)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    if path is not None:
        from vxt.data.media import probe

        info = probe(path)
        if info.duration:
            return float(info.duration)
    raise DataError("a dense example needs a duration (manifest 'duration', or a media file to probe)",
                    example_id=example.get("id"))
