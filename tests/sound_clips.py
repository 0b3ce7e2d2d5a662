"""Tiny clips with a 22.05 kHz soundtrack for the ``--task sound`` tests (written with PyAV)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_clip(path: Path, seconds: float = 2.0, *, sr: int = 22050, fps: int = 10, size: int = 32,
               audio: bool = True, video: bool = True, seed: int = 0, events=(0.5, 1.2)) -> Path:
    """An mp4: a square that flashes at each event time (H.264) and a click + decaying tone there (AAC)."""
    import av

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = av.open(str(path), "w")
    vs = as_ = None
    if video:
        vs = out.add_stream("libx264", rate=fps)
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "30"}
    if audio:
        as_ = out.add_stream("aac", rate=sr, layout="mono")
    if vs is not None:
        for i in range(int(seconds * fps)):
            t = i / fps
            img = np.full((size, size, 3), 30, np.uint8)
            if any(0 <= t - e < 0.2 for e in events):
                img[8:24, 8:24] = 230
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    if as_ is not None:
        n = int(seconds * sr)
        t = np.arange(n) / sr
        w = 0.01 * rng.standard_normal(n)
        for k, e in enumerate(events):
            on = t >= e
            w += on * 0.5 * np.sin(2 * np.pi * (300 + 200 * k + 100 * seed) * (t - e)) * np.exp(-6 * np.clip(t - e, 0, None))
        w = w.astype(np.float32)
        fs = as_.codec_context.frame_size or 1024
        for s in range(0, n, fs):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(w[None, s : s + fs]), format="fltp", layout="mono")
            f.sample_rate = sr
            f.pts = s
            f.time_base = Fraction(1, sr)
            for p in as_.encode(f):
                out.mux(p)
        for p in as_.encode(None):
            out.mux(p)
    out.close()
    return path


def write_sound_data(root: Path, n_train: int = 2, n_val: int = 1, seconds: float = 2.0) -> Path:
    """A data dir of --task sound clips: ``{train,val}.jsonl`` and ``media/``."""
    root.mkdir(parents=True, exist_ok=True)
    k = 0
    for split, n in (("train", n_train), ("val", n_val)):
        rows = []
        for i in range(n):
            cid = f"{split}-{i}"
            write_clip(root / "media" / f"{cid}.mp4", seconds, seed=k)
            k += 1
            rows.append({"id": cid, "task": "sound", "video": f"media/{cid}.mp4", "start": 0.0, "end": seconds,
                         "duration": seconds, "label": "click",
                         "sound_events": [{"time": 0.5, "kind": "click"}, {"time": 1.2, "kind": "click"}]})
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
