"""What the recipes' report scripts share: reading run files, mean ± std over seeds, writing a figure atomically.

    import sys; sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/
    from report_lib import mean_std, read_json, save_figure, stats
"""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path


def read_json(path: Path) -> dict | None:
    """The JSON in ``path``, None when there is no such file (a run that did not finish)."""
    return json.loads(path.read_text()) if path.is_file() else None


def stats(xs: list[float]) -> dict | None:
    """``{"mean", "std" (sample; 0 for one value), "n"}`` of ``xs``; None when empty."""
    if not xs:
        return None
    return {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def mean_std(xs: list[float]) -> str:
    """``"12.34 ± 0.56"`` over the seeds (a single run: its value; none: empty)."""
    if not xs:
        return ""
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def metric_cells(sub: list[dict], metrics: list[str], seconds: tuple[str, ...]) -> list[str]:
    """A results row's cells: mean ± std of each metric over the runs ``sub``, the number of runs, and the
    median of each ``seconds`` field (empty where no run recorded it)."""
    cols = [mean_std([r[k] for r in sub if k in r]) for k in metrics] + [str(len(sub))]
    for key in seconds:
        xs = [r[key] for r in sub if r.get(key) is not None]
        cols.append(f"{statistics.median(xs):.1f}" if xs else "")
    return cols


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """Write a matplotlib figure as PNG (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    from vxt.utils import atomic_write_bytes

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def report_parser(doc: str, cells: str):
    """The arguments every report takes: the experiment dir, ``--seeds`` and ``--cells`` (default ``cells``)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("exp", type=Path)
    ap.add_argument("--seeds", default="0 1 2")
    ap.add_argument("--cells", default=cells)
    return ap
