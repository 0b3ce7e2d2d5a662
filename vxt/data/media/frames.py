"""Frame folders: clips read from a folder of images (``00001.jpg`` ...) taken at a known rate."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from vxt.data.media.video import clip_starts
from vxt.errors import MediaError

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# --------------------------------------------------------------------------- frame folders


def frame_folder_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frames folder in frame order (numeric stems sort numerically)."""
    d = Path(folder)
    if not d.is_dir():
        raise MediaError("frames folder not found", path=str(folder))
    files = [f for f in d.iterdir() if f.suffix.lower() in _IMAGE_EXTS and f.is_file()]
    if not files:
        raise MediaError("no JPEG frames in the folder", path=str(folder))

    def key(f: Path):
        digits = re.findall(r"\d+", f.stem)
        return (0, int(digits[-1]), f.name) if digits else (1, 0, f.name)

    return sorted(files, key=key)


def _nearest_index(t: float, folder_fps: float, n: int) -> int:
    return min(max(int(math.floor(t * folder_fps + 0.5)), 0), n - 1)


def read_frame_folder_clips(
    folder: str | os.PathLike,
    folder_fps: float,
    num_clips: int,
    frames: int,
    size: int,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
    mode: str = "uniform",
    rng=None,
) -> np.ndarray:
    """:func:`read_clips` over a folder of frames (``00001.jpg`` ...) taken at ``folder_fps``.

    Frame ``i`` (0-based, in file order) shows time ``i / folder_fps``. Only
    the frames a clip uses are opened; JPEGs are decoded at reduced scale
    (``draft``) when that still covers ``size``, then resized by Pillow.
    """
    if num_clips < 1 or frames < 1 or size < 1:
        raise ValueError("num_clips, frames and size must be >= 1")
    if not folder_fps > 0:
        raise ValueError("folder_fps must be > 0")
    files = frame_folder_files(folder)
    n = len(files)
    lo = max(0.0, float(start)) if start is not None else 0.0
    hi = float(end) if end is not None else n / folder_fps
    clip_len = frames / (fps if fps is not None else folder_fps)
    starts = clip_starts(lo, max(hi, lo), clip_len, num_clips, mode, rng)
    out = np.empty((num_clips, frames, size, size, 3), dtype=np.uint8)
    cache: dict[int, np.ndarray] = {}
    for c, s in enumerate(starts):
        first = _nearest_index(s, folder_fps, n)
        for k in range(frames):
            i = _nearest_index(s + k / fps, folder_fps, n) if fps is not None else min(first + k, n - 1)
            if i not in cache:
                cache[i] = _load_image(files[i], size)
            out[c, k] = cache[i]
    return out


def _load_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while the shorter side stays >= size.
                scale = min(w, h) / size
                im.draft("RGB", (max(1, int(math.ceil(w / scale))), max(1, int(math.ceil(h / scale)))))
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, int(round(w * scale))), max(size, int(round(h * scale)))
            im = im.resize((nw, nh), Image.BILINEAR)
            arr = np.asarray(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise MediaError(f"cannot decode this frame image ({type(e).__name__}: {e})", path=str(path)) from None
    y0, x0 = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return arr[y0 : y0 + size, x0 : x0 + size]

