"""Audio-visual synchronisation (SparseSync): the offset grid and its metrics.

Convention (vxt's, everywhere): an offset is how much *later* the sound is
heard than what it belongs to is seen; positive = the audio lags the video.
A model input with offset ``o`` takes the video trim ``[vstart, vstart + 5]``
and the audio trim ``[vstart - o, vstart - o + 5]`` of an in-sync clip.

SparseSync's fixed-offset lists (``path,offset_sec,vstart_sec``) take the
audio trim from ``vstart_sec + offset_sec``: their ``offset_sec`` is minus
vxt's offset (:func:`from_sparsesync_offset`).

The grid: ``n_classes`` offsets evenly from ``-max_offset`` to
``+max_offset`` (21 classes of 0.2 s from -2 to +2 s; the 3-class variant is
-1, 0, +1 s). Metrics (fractions):

``accuracy_1``
    top-1: the predicted class is the target class;
``accuracy_pm1``
    the predicted class is at most one class from the target (chance
    ``(3n - 2) / n^2``: 13.8% for 21 uniform classes);
``accuracy_3class``
    prediction and target both snapped to the 3-class grid (-1, 0, +1 s,
    i.e. half of ``max_offset`` either side) agree: audio early, in sync,
    audio late.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

# the convention and the grid live in the data layer (prepare writes fixed lists on the grid): re-exported
from vxt.data.offsets import DEFAULT_CLASSES, DEFAULT_MAX_OFFSET, from_sparsesync_offset, offset_grid  # noqa: F401

from vxt.errors import DataError, VxtError

METRICS = ("accuracy_1", "accuracy_pm1", "accuracy_3class")


def offset_to_class(offset: float | Sequence[float] | np.ndarray, grid: np.ndarray | None = None):
    """The index of the grid offset nearest ``offset`` (an int, or an int array for several)."""
    g = offset_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    x = np.asarray(offset, dtype=np.float64)
    idx = np.abs(x[..., None] - g).argmin(axis=-1)
    return int(idx) if idx.ndim == 0 else idx.astype(np.int64)


def class_to_offset(cls: int | Sequence[int] | np.ndarray, grid: np.ndarray | None = None):
    """The offset (seconds) of grid class ``cls`` (a float, or an array for several)."""
    g = offset_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    c = np.asarray(cls, dtype=np.int64)
    if c.size and (c.min() < 0 or c.max() >= len(g)):
        raise ValueError(f"offset class out of range 0..{len(g) - 1}")
    out = g[c]
    return float(out) if out.ndim == 0 else out


def grid_for(n_classes: int | None = None, max_offset: float | None = None) -> np.ndarray:
    """The grid of a predictions file: 21 -> +-2 s, 3 -> +-1 s unless ``max_offset`` says otherwise."""
    n = int(n_classes or DEFAULT_CLASSES)
    if max_offset is None:
        max_offset = 1.0 if n == 3 else DEFAULT_MAX_OFFSET
    return offset_grid(n, max_offset)


def accuracy(pred_cls, target_cls) -> float:
    p, t = np.asarray(pred_cls), np.asarray(target_cls)
    return float((p == t).mean()) if t.size else float("nan")


def accuracy_within(pred_cls, target_cls, k: int = 1) -> float:
    """The fraction of predictions at most ``k`` classes from their target."""
    p, t = np.asarray(pred_cls, dtype=np.int64), np.asarray(target_cls, dtype=np.int64)
    return float((np.abs(p - t) <= k).mean()) if t.size else float("nan")


def chance_within(n_classes: int, k: int = 1) -> float:
    """The within-``k`` accuracy of uniform random guesses on uniform targets."""
    n = int(n_classes)
    hits = sum(min(n - 1, c + k) - max(0, c - k) + 1 for c in range(n))
    return hits / (n * n)


def three_class(offsets, max_offset: float = DEFAULT_MAX_OFFSET) -> np.ndarray:
    """Offsets snapped to the 3-class grid (-m/2, 0, +m/2): 0 audio early, 1 in sync, 2 audio late."""
    return np.asarray(offset_to_class(np.atleast_1d(np.asarray(offsets, dtype=np.float64)),
                                      offset_grid(3, float(max_offset) / 2)))


def confusion_matrix(pred_cls, target_cls, n_classes: int) -> np.ndarray:
    """``[n, n]`` counts: row = target class, column = predicted class."""
    n = int(n_classes)
    cm = np.zeros((n, n), dtype=np.int64)
    p, t = np.asarray(pred_cls, dtype=np.int64), np.asarray(target_cls, dtype=np.int64)
    if p.shape != t.shape:
        raise ValueError("predictions and targets differ in number")
    if t.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= n):
        raise ValueError(f"a class is out of range 0..{n - 1}")
    np.add.at(cm, (t, p), 1)
    return cm


def score_offsets(pred_offsets, target_offsets, grid: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics of predicted against target offsets (seconds), both snapped to ``grid``.

    Returns the :data:`METRICS` fractions plus ``n``, ``n_classes``, the
    ``grid``, the ``confusion`` matrix (rows: targets) and ``chance_pm1``.
    """
    g = offset_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    p = np.atleast_1d(np.asarray(pred_offsets, dtype=np.float64))
    t = np.atleast_1d(np.asarray(target_offsets, dtype=np.float64))
    if p.shape != t.shape:
        raise ValueError("predictions and targets differ in number")
    pc, tc = np.atleast_1d(offset_to_class(p, g)), np.atleast_1d(offset_to_class(t, g))
    m = float(np.abs(g).max())
    return {
        "accuracy_1": accuracy(pc, tc),
        "accuracy_pm1": accuracy_within(pc, tc, 1),
        "accuracy_3class": accuracy(three_class(p, m), three_class(t, m)),
        "n": int(t.size),
        "n_classes": int(len(g)),
        "grid": [float(x) for x in g],
        "chance_pm1": chance_within(len(g), 1),
        "confusion": confusion_matrix(pc, tc, len(g)).tolist(),
    }


def plot_confusion(cm, grid, path: str | Path, title: str | None = None) -> Path:
    """Write the confusion matrix as a PNG (matplotlib, the ``plot`` extra: ``pip install vxt[plot]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise VxtError("the confusion plot needs matplotlib: pip install 'vxt[plot]'") from None
    cm = np.asarray(cm)
    labels = [f"{float(x):+.1f}" for x in grid]
    n = len(labels)
    size = max(4.0, 0.32 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    try:
        ax.imshow(cm, cmap="Blues", interpolation="nearest")
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        ax.set_xlabel("predicted offset (s, audio later > 0)")
        ax.set_ylabel("target offset (s)")
        if title:
            ax.set_title(title, fontsize=9)
        if n <= 25:
            top = cm.max() if cm.size else 0
            for i in range(n):
                for j in range(n):
                    if cm[i, j]:
                        ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=6,
                                color="white" if cm[i, j] > top / 2 else "black")
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
    finally:
        plt.close(fig)
    return out


def score_sync_file(pred_path: str, preds: dict[str, float], targets: dict[str, float], meta: dict,
                    warn=lambda m: None) -> tuple[dict[str, float], dict[str, Any]]:
    """``vxt score`` of one sync predictions file: (metrics, extra); writes the confusion PNG beside it.

    The grid is the file's ``offset_grid`` when it has one, else the one its
    ``probs`` imply (21 classes: +-2 s; 3: +-1 s), else 21 classes.
    """
    if meta.get("offset_grid"):
        grid = np.asarray(meta["offset_grid"], dtype=np.float64)
    else:
        grid = grid_for(meta.get("n_classes"))
    ids = [i for i in targets if i in preds]
    if not ids:
        raise DataError("no prediction has a target offset to be scored against", path=pred_path)
    r = score_offsets([preds[i] for i in ids], [targets[i] for i in ids], grid)
    far = [i for i in ids if abs(targets[i]) > float(np.abs(grid).max()) + 1e-6]
    if far:
        warn(f"{len(far)} targets lie outside the offset grid (first: {far[0]}); they count as its end classes")
    metrics = {k: r[k] for k in METRICS}
    extra: dict[str, Any] = {"n_scored": r["n"], "n_classes": r["n_classes"], "grid": r["grid"],
                             "chance_pm1": r["chance_pm1"], "confusion": r["confusion"]}
    try:
        png = plot_confusion(r["confusion"], r["grid"], default_plot_path(pred_path),
                             title=f"{Path(pred_path).name}: top-1 {100 * metrics['accuracy_1']:.1f}%")
        extra["confusion_png"] = str(png)
    except (VxtError, OSError, ValueError) as e:  # no matplotlib, an unwritable folder: the scores still count
        warn(f"no confusion plot: {e.message if isinstance(e, VxtError) else e}")
    return metrics, extra


def default_plot_path(pred_path: str | Path) -> Path:
    """``<preds>.confusion.png`` beside a predictions file."""
    p = Path(pred_path)
    stem = p.name[: -len(p.suffix)] if p.suffix in (".json", ".jsonl") else p.name
    return p.with_name(f"{stem}.confusion.png")
