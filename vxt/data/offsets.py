"""The audio-visual offset convention of vxt, and SparseSync's.

vxt's ``offset`` (manifest, ``preds.json``) is positive when the audio is
heard later than the picture. SparseSync's fixed offset lists
(``path,offset_sec,vstart_sec``) take the audio from ``vstart_sec +
offset_sec``, so a positive ``offset_sec`` makes the audio early: the
opposite sign.

Also here, below the metrics and the models that use them: the offset grid,
where a trim may start (:func:`feasible_vstarts`), the one random draw of an
offset and a video start (:func:`draw_offset`: the sync model's training
inputs and the fixed lists ``vxt prepare`` writes), and reading and writing
those lists.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from vxt.errors import DataError


def from_sparsesync_offset(offset_sec: float) -> float:
    """A SparseSync list's ``offset_sec`` as vxt's offset (audio lag)."""
    return 0.0 - float(offset_sec)


def to_sparsesync_offset(offset: float) -> float:
    """vxt's offset (audio lag) as a SparseSync list's ``offset_sec``."""
    return 0.0 - float(offset) + 0.0  # never -0.0


# ---------------------------------------------------------------- the grid and where trims may start

#: SparseSync's defaults: 21 classes of 0.2 s from -2 to +2 s, 5 s trims at 25 fps
DEFAULT_CLASSES, DEFAULT_MAX_OFFSET, DEFAULT_CLIP_SECONDS, DEFAULT_FPS = 21, 2.0, 5.0, 25


def offset_grid(n_classes: int = DEFAULT_CLASSES, max_offset: float = DEFAULT_MAX_OFFSET):
    """The ``n_classes`` offsets (seconds) from ``-max_offset`` to ``+max_offset``, rounded to 1 ms."""
    import numpy as np

    n = int(n_classes)
    if n < 3 or n % 2 == 0:
        raise ValueError(f"an offset grid needs an odd number of classes >= 3 (with 0 in the middle), got {n}")
    if not max_offset > 0:
        raise ValueError(f"max_offset must be > 0, got {max_offset}")
    return np.round(np.linspace(-float(max_offset), float(max_offset), n), 3)


def feasible_vstarts(duration: float, offset: float, *, fps: float, clip_seconds: float) -> tuple[int, int]:
    """The frame indices ``k`` (``v = k / fps``) whose video trim ``[v, v + clip]`` and audio trim
    ``[v - offset, v - offset + clip]`` both lie inside ``[0, duration]`` (empty when ``hi < lo``)."""
    fps, clip = float(fps), float(clip_seconds)
    lo, hi = max(0.0, offset), min(duration - clip, duration - clip + offset)
    return math.ceil(lo * fps - 1e-6), math.floor(hi * fps + 1e-6)


def draw_offset(duration: float, grid, rng: random.Random, *, fps: float, clip_seconds: float) -> tuple[float, float]:
    """(offset, vstart): a random grid class, then a random feasible video start on the frame grid, drawn
    with ``rng`` (the training inputs of the sync model and the fixed lists of ``vxt prepare`` alike)."""
    offset = float(grid[rng.randrange(len(grid))])
    k_lo, k_hi = feasible_vstarts(duration, offset, fps=fps, clip_seconds=clip_seconds)
    if k_hi < k_lo:
        raise DataError(f"a {duration:.2f} s clip has no room for a {clip_seconds:g} s trim at offset {offset:+.2f} s")
    return offset, rng.randint(k_lo, k_hi) / float(fps)


# ---------------------------------------------------------------- fixed offset lists (SparseSync's csv)

LIST_FIELDS = ("path", "offset_sec", "vstart_sec")


def list_name(split: str, n_classes: int = DEFAULT_CLASSES, clip_seconds: float = DEFAULT_CLIP_SECONDS,
              max_offset: float = DEFAULT_MAX_OFFSET) -> str:
    """SparseSync's file name of a split's list: ``fixed_offsets_test_size21_crop5_min-2.00_max2.00.csv``."""
    return f"fixed_offsets_{split}_size{n_classes}_crop{clip_seconds:g}_min{-max_offset:.2f}_max{max_offset:.2f}.csv"


def list_key(path: str) -> str:
    """A list's ``path`` as a key: ``/`` separators, no ``./`` prefix, no media extension."""
    s = str(path).strip().replace("\\", "/")
    while s.startswith("./"):
        s = s[2:]
    head, dot, ext = s.rpartition(".")
    if dot and "/" not in ext and ext.lower() in ("mp4", "m4v", "mov", "mkv", "webm", "avi"):
        s = head
    return s


def read_offset_list(path: str | Path) -> dict[str, tuple[float, float]]:
    """A fixed offset list (``path,offset_sec,vstart_sec``, SparseSync's sign): key -> (vxt offset, vstart)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("offsets file not found", path=str(p))
    out: dict[str, tuple[float, float]] = {}
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not set(LIST_FIELDS) <= set(reader.fieldnames):
            raise DataError("expected the header path,offset_sec,vstart_sec", path=str(p))
        for n, row in enumerate(reader, 2):
            try:
                off, vs = float(row["offset_sec"]), float(row["vstart_sec"])
            except (TypeError, ValueError):
                raise DataError(f"line {n}: offset_sec and vstart_sec must be numbers", path=str(p)) from None
            out[list_key(row["path"] or "")] = (round(from_sparsesync_offset(off), 3), round(vs, 3))
    return out


def index_offset_list(rows: dict[str, tuple[float, float]]) -> tuple[dict, dict]:
    """(``rows``, every tail of their paths at a ``/`` -> its row) for :func:`match_key`; a tail two rows share
    with different values maps to None (ambiguous)."""
    tails: dict[str, tuple[float, float] | None] = {}
    for key, value in rows.items():
        parts = key.split("/")
        for i in range(1, len(parts)):
            tail = "/".join(parts[i:])
            tails[tail] = value if tails.get(tail, value) == value else None
    return rows, tails


def match_key(index: tuple[dict, dict], key: str) -> tuple[float, float] | None:
    """The row of ``index`` (:func:`index_offset_list`) for ``key``: the same path, or one path a tail of the
    other at a ``/`` (the list's ``pretrain/vid/00018`` names ``/data/lrs3/pretrain/vid/00018``; its
    ``video/<id>.mp4`` names the clip ``<id>``); None when no row, or no single row, names it."""
    rows, tails = index
    parts = key.split("/")
    for i in range(len(parts)):  # the key, then its tails, as a whole path of the list
        hit = rows.get("/".join(parts[i:]))
        if hit is not None:
            return hit
    return tails.get(key)


def write_offset_list(path: str | Path, rows: list[tuple[str, float, float]]) -> Path:
    """Write ``(path, vxt offset, vstart)`` rows as SparseSync's csv (its sign: ``offset_sec = -offset``), atomically."""
    import io

    from vxt.utils import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(LIST_FIELDS)
    for key, offset, vstart in rows:
        w.writerow([key, repr(round(to_sparsesync_offset(offset), 3)), repr(round(float(vstart), 3) + 0.0)])
    atomic_write_text(Path(path), buf.getvalue())
    return Path(path)
