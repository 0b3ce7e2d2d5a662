#!/usr/bin/env python3
"""The table (mean ± std over seeds), plot and shift check of recipes/sync/run.sh.

    python recipes/sync/report.py exp/sync [--seeds "0 1 2"] [--cells "pretrained scratch"] [--shift 0.6]

Reads each run's ``preds_test.scores.json`` and ``train_summary.json`` and the
shift check's predictions under ``EXP/shift/``; writes ``EXP/RESULTS.md``,
``EXP/results.json``, ``EXP/sync.png`` and, per training, the confusion matrix
of its test predictions summed over the seeds (``EXP/confusion-CELL.png``). The
input-length cells (``len3`` .. ``len7``) get a table of their own. A run
without scores is listed as missing, never left out silently.
"""

from __future__ import annotations

import datetime as dt
import platform
import statistics
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import mean_std, read_json, report_parser, save_figure  # noqa: E402

METRICS = ("accuracy_1", "accuracy_pm1", "accuracy_3class")
LABELS = {"dense": "dense pre-training only", "pretrained": "dense pre-training, then sparse",
          "scratch": "sparse from scratch", "no-selectors": "dense then sparse, no selectors",
          **{f"len{n}": f"{n} s input (dense then sparse, longer clips)" for n in range(3, 8)}}


def is_length(cell: str) -> bool:
    """An input-length cell (``len3`` .. ``len7``)."""
    return cell.startswith("len") and cell[3:].isdigit()


def chance(n_classes: int = 21) -> dict[str, float]:
    """Accuracy of a uniform guess on uniformly drawn offset classes (in %)."""
    pm1 = sum(min(i + 1, n_classes - 1) - max(i - 1, 0) + 1 for i in range(n_classes)) / n_classes ** 2
    return {"accuracy_1": 100 / n_classes, "accuracy_pm1": 100 * pm1, "accuracy_3class": 100 / 3}


def collect(exp: Path, seeds: list[int], cells: list[str], shift: float):
    rows, missing, shifts = [], [], []
    for cell in ["dense", *cells]:
        for s in seeds:
            run = exp / (f"dense-seed{s}" if cell == "dense" else f"sparse-{cell}-seed{s}")
            scores = read_json(run / "preds_test.scores.json")
            if scores is None:
                missing.append(str(run))
                continue
            summary = read_json(run / "train_summary.json") or {}
            m = scores["metrics"]
            vals = {k: 100 * float(m[k]) for k in METRICS if k in m}  # vxt score writes the fractions
            rows.append({"cell": cell, "seed": s, "run": str(run), "n": scores.get("n_scored"),
                         "steps": summary.get("steps"), "train_seconds": summary.get("seconds"), **vals,
                         "confusion": scores.get("confusion"), "grid": scores.get("grid")})
            if cell == "dense" or is_length(cell):
                continue
            pred = read_json(exp / "shift" / f"{cell}-seed{s}.sync.preds.json")
            if pred is not None:
                (p,) = pred["predictions"]
                shifts.append({"cell": cell, "seed": s, "offset": float(p["offset"]),
                               "prob": max(p["probs"]), "error": float(p["offset"]) - shift})
    return rows, missing, shifts


def confusion_sums(rows: list[dict]) -> dict[str, tuple[list[list[int]], list[float], int]]:
    """Per cell: the confusion matrices of its runs summed over the seeds, the offset grid, and the run count."""
    out: dict[str, tuple[list[list[int]], list[float], int]] = {}
    for r in rows:
        cm, grid = r.get("confusion"), r.get("grid")
        if not cm or not grid:
            continue
        if r["cell"] not in out:
            out[r["cell"]] = ([[0] * len(grid) for _ in grid], grid, 0)
        acc, g, n = out[r["cell"]]
        if len(cm) != len(acc):
            continue  # another grid: not summable
        for i, row in enumerate(cm):
            for j, v in enumerate(row):
                acc[i][j] += int(v)
        out[r["cell"]] = (acc, g, n + 1)
    return out


def plot_confusions(rows: list[dict], exp: Path) -> list[tuple[str, str]]:
    """Write ``confusion-CELL.png`` per cell (summed over seeds); returns (cell, file name) of those written."""
    try:
        from vxt.metrics.sync import plot_confusion
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    written = []
    for cell, (cm, grid, n) in confusion_sums(rows).items():
        name = f"confusion-{cell}.png"
        plot_confusion(cm, grid, exp / name, title=f"{LABELS.get(cell, cell)}: {n} seed(s) summed")
        written.append((cell, name))
    return written


def plot(rows: list[dict], cells: list[str], ch: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    order = ["dense", *cells]
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.4))
    for ax, k in zip(axes, METRICS):
        means, stds = [], []
        for c in order:
            xs = [r[k] for r in rows if r["cell"] == c and k in r]
            means.append(statistics.mean(xs) if xs else 0.0)
            stds.append(statistics.stdev(xs) if len(xs) > 1 else 0.0)
        ax.bar(range(len(order)), means, yerr=stds, capsize=3, color="#4c72b0")
        ax.axhline(ch[k], color="#c44e52", ls="--", lw=1, label="chance")
        ax.set_xticks(range(len(order)), [LABELS.get(c, c).replace(", ", ",\n") for c in order], fontsize=7)
        ax.set_title(k.replace("_", " "), fontsize=9)
        ax.set_ylim(0, 100)
        ax.legend(fontsize=7)
    save_figure(fig, path)
    return True


def table_rows(rows: list[dict], cells: list[str], label=lambda c: LABELS.get(c, c)) -> list[str]:
    """One Markdown row per cell with runs: the metrics' mean ± std, the steps and the median training seconds."""
    out = []
    for c in cells:
        sub = [r for r in rows if r["cell"] == c]
        if not sub:
            continue
        steps = sub[0].get("steps")
        secs = [r["train_seconds"] for r in sub if r.get("train_seconds") is not None]
        cols = [mean_std([r[k] for r in sub if k in r]) for k in METRICS]
        cols += ["" if steps is None else str(steps), f"{statistics.median(secs):.0f}" if secs else ""]
        out.append(f"| {label(c)} | " + " | ".join(cols) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = report_parser(__doc__, "pretrained scratch")
    ap.add_argument("--shift", type=float, default=0.6)
    args = ap.parse_args(argv)
    seeds, cells = [int(s) for s in args.seeds.split()], args.cells.split()
    rows, missing, shifts = collect(args.exp, seeds, cells, args.shift)
    ch = chance()
    lines = ["# SparseSync on synthetic foley", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{platform.processor() or platform.machine()}, CPU. Regenerate with `bash recipes/sync/run.sh`.", "",
             "Test split of sparse foley (1-3 sounding events in 10 s, silent movers, off-screen sounds), "
             "its fixed offsets (21 classes, -2..+2 s). Metrics in %; mean ± std over seeds "
             f"{', '.join(map(str, seeds))}.", "",
             "| training | top-1 | within ±1 class | 3-class | steps | train s |", "|---|---|---|---|---|---|"]
    main_cells = [c for c in cells if not is_length(c)]
    length_cells = sorted((c for c in cells if is_length(c)), key=lambda c: int(c[3:]))
    lines += table_rows(rows, ["dense", *main_cells])
    lines.append("| chance (uniform guess) | " + " | ".join(f"{ch[k]:.2f}" for k in METRICS) + " |  |  |")
    lines.append("")
    if plot(rows, main_cells, ch, args.exp / "sync.png"):
        lines += ["![sync](sync.png)", ""]
    if length_cells:
        lines += ["## Input length", "",
                  "Dense pre-training then sparse fine-tuning with trims of N s, on longer foley clips (`--seconds`: "
                  "a 7 s trim needs 7 + 2 x 2 s); every length is tested on the same clips, offsets and starts "
                  "(the paper, VGGSound-Sparse, within ±1 class: 3 / 4 / 5 / 6 / 7 s: 36.8 / 43.0 / 44.3 / 45.6 / "
                  "46.5).", "",
                  "| input | top-1 | within ±1 class | 3-class | steps | train s |", "|---|---|---|---|---|---|"]
        lines += table_rows(rows, length_cells, label=lambda c: f"{c[3:]} s")
        lines.append("")
    confusions = plot_confusions(rows, args.exp)
    if confusions:
        lines += ["## Confusion matrices", "",
                  "Test predictions against their targets (rows), summed over the seeds:", ""]
        lines += [f"- {LABELS.get(c, c)}: [{name}]({name})" for c, name in confusions]
        lines.append("")
    if shifts:
        lines += [f"## A test clip with its audio moved by +{args.shift:g} s", "",
                  "`vxt decode --task sync` of the shifted file (`vxt decode --fix --set shift=` wrote it):", "",
                  "| run | offset found (s) | probability | error (s) |", "|---|---|---|---|"]
        for r in shifts:
            lines.append(f"| {LABELS.get(r['cell'], r['cell'])}, seed {r['seed']} | {r['offset']:+.2f} | "
                         f"{100 * r['prob']:.1f}% | {r['error']:+.2f} |")
        ok = sum(abs(r["error"]) <= 0.2 + 1e-9 for r in shifts)
        lines += ["", f"{ok} of {len(shifts)} runs within ±0.2 s.", ""]
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    runs = [{k: v for k, v in r.items() if k not in ("confusion", "grid")} for r in rows]
    write_json(args.exp / "results.json", {"runs": runs, "shift_check": shifts, "chance": ch, "missing": missing,
                                           "confusion": {c: cm for c, (cm, _, _) in confusion_sums(rows).items()}})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
