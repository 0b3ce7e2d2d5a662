#!/usr/bin/env python3
"""The tables (mean ± std over seeds, per cell and target domain) and plots of recipes/tavt/run.sh.

    python recipes/tavt/report.py exp/tavt [--seeds "0 1 2"] [--cells "tavt no-maml tavt-s10"]
                                           [--targets night,pixel] [--audio-absent pixel]
                                           [--support-fraction 1.0] [--previous results.json]

Reads each adapted run's ``preds_test.scores.json`` (``EXP/CELL-seedS-adapt-TARGET``) and the
``train_summary.json`` of it and of its meta-trained run (``EXP/BASE-seedS``: a curve cell ``BASE-sNN``, BASE
adapted on NN% of the support, shares BASE's); writes ``EXP/RESULTS.md``, ``EXP/results.json``,
``EXP/tavt.png`` and, with curve cells, ``EXP/tavt_support.png`` (CIDEr against the support share, the
paper's Fig. 5). ``--previous`` names the ``results.json`` of an earlier report: its runs stand in for the
run dirs that are gone (a run dir that has scores always wins). A run without scores is listed as missing,
never left out silently.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
import re
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import metric_cells, read_json, report_parser, save_figure, stats  # noqa: E402

#: (key in the scores JSON, column title); METEOR is only there when `vxt score` ran with Java
METRICS = (("Bleu_4", "BLEU-4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("CIDEr", "CIDEr"))
LABELS = {"tavt": "TAVT", "no-maml": "w/o MAML (pooled sources)", "no-rec": "w/o L_rec", "no-dis": "w/o L_dis",
          "no-dep": "w/o L_dep", "no-wma": "w/o modality-aware weights", "k4": "K = 4 clusters",
          "k16": "K = 16 clusters", "k64": "K = 64 clusters", "no-avmm": "w/o AVMM",
          "no-audio": "w/o audio (video only)", "no-real-audio": "w/o real audio (A_rec only)",
          "avcap-maml": "avcap + MAML (a baseline in Algorithm 1)"}
CURVE = re.compile(r"^(.+)-s(\d+)$")


def cell_base(cell: str) -> str:
    """The cell whose meta-trained model ``cell`` adapts (``tavt-s10`` -> ``tavt``)."""
    m = CURVE.match(cell)
    return m.group(1) if m else cell


def cell_share(cell: str, default: float) -> float:
    """The support fraction ``cell`` adapts on: NN / 100 for ``BASE-sNN``, the recipe's for any other."""
    m = CURVE.match(cell)
    return int(m.group(2)) / 100 if m else float(default)


def is_curve(cell: str) -> bool:
    return CURVE.match(cell) is not None


def label(cell: str) -> str:
    m = CURVE.match(cell)
    if m:
        return f"{LABELS.get(m.group(1), m.group(1))}, {int(m.group(2))}% support"
    return LABELS.get(cell, cell)


def support_clips(run_info: dict | None) -> int | None:
    """How many target clips the adapted run trained on: ``--train-fraction`` draws its seeded share from the
    whole train split before the target's examples are picked (vxt.train.loop, then the meta strategy), so the
    count varies with the seed. Recomputed the same way from the run's ``run.json`` and its data dir; None
    when either is gone."""
    if not run_info or not run_info.get("data"):
        return None
    data = Path(run_info["data"])
    target = (run_info.get("overrides") or {}).get("target_domain")
    if target is None or not (data / "train.jsonl").is_file():
        return None
    from vxt.data.loader import subsample
    from vxt.tasks import get_task_entry

    train = get_task_entry(run_info.get("task") or "caption").examples(data, "train")
    picked = subsample(train, float(run_info.get("train_fraction", 1.0)), int(run_info.get("seed", 0)))
    return sum(1 for ex in picked if ex.get("domain") == target)


def collect(exp: Path, seeds: list[int], cells: list[str], targets: list[str], support_fraction: float = 1.0):
    rows, missing = [], []
    for cell in cells:
        for t in targets:
            for s in seeds:
                run = exp / f"{cell}-seed{s}-adapt-{t}"
                scores = read_json(run / "preds_test.scores.json")
                if scores is None:
                    missing.append(str(run))
                    continue
                m = scores.get("metrics") or {}
                vals = {k: 100 * float(m[k]) for k, _ in METRICS if k in m}  # vxt score writes the fractions
                adapt = read_json(run / "train_summary.json") or {}
                meta = read_json(exp / f"{cell_base(cell)}-seed{s}" / "train_summary.json") or {}
                info = read_json(run / "run.json")
                share = float(info["train_fraction"]) if info and "train_fraction" in info else \
                    cell_share(cell, support_fraction)
                rows.append({"cell": cell, "target": t, "seed": s, "run": str(run), "n": scores.get("n_scored"),
                             "java": (scores.get("settings") or {}).get("java"),
                             "meta_steps": meta.get("steps"), "meta_seconds": meta.get("seconds"),
                             "adapt_steps": adapt.get("steps"), "adapt_seconds": adapt.get("seconds"),
                             "share": share, "support_clips": support_clips(info), **vals})
    return rows, missing


def merge_previous(rows: list[dict], missing: list[str], path: Path, cells: list[str], targets: list[str],
                   seeds: list[int], support_fraction: float) -> tuple[list[dict], list[str], int]:
    """Add the runs of an earlier ``results.json`` that this exp dir lacks (same cell, target and seed);
    returns (rows, the runs still missing, how many were taken)."""
    doc = read_json(path)
    if doc is None:
        raise SystemExit(f"report.py: --previous {path}: no such file")
    have = {(r["cell"], r["target"], r["seed"]) for r in rows}
    taken = []
    for r in doc.get("runs") or []:
        key = (r.get("cell"), r.get("target"), r.get("seed"))
        if key in have or r.get("cell") not in cells or r.get("target") not in targets or r.get("seed") not in seeds:
            continue
        have.add(key)
        # a report older than the curve records no share: its runs adapted on the recipe's support fraction
        taken.append({"share": cell_share(r["cell"], support_fraction), "support_clips": None, **r,
                      "from": str(path)})
    order = {(c, t, s): i for i, (c, t, s) in enumerate((c, t, s) for c in cells for t in targets for s in seeds)}
    rows = sorted(rows + taken, key=lambda r: order[(r["cell"], r["target"], r["seed"])])
    found = {f"{r['cell']}-seed{r['seed']}-adapt-{r['target']}" for r in taken}
    return rows, [m for m in missing if Path(m).name not in found], len(taken)


def summarise(rows: list[dict], cells: list[str], targets: list[str], metrics: list[str]) -> list[dict]:
    out = []
    for c in cells:
        for t in targets:
            sub = [r for r in rows if r["cell"] == c and r["target"] == t]
            if sub:
                out.append({"cell": c, "target": t, "seeds": [r["seed"] for r in sub],
                            **{k: stats([r[k] for r in sub if k in r]) for k in metrics}})
    return out


def curve_points(rows: list[dict], cells: list[str], targets: list[str], metrics: list[str]) -> list[dict]:
    """The low-resource curve: per base cell that has curve cells (``BASE-sNN``), target and support share, the
    mean ± std of each metric and of the support clip count over the seeds. The base cell itself is the point
    at its own share (the recipe's ``support_fraction``)."""
    bases = list(dict.fromkeys(cell_base(c) for c in cells if is_curve(c)))
    out = []
    for t in targets:
        for b in bases:
            sub = [r for r in rows if cell_base(r["cell"]) == b and r["target"] == t]
            for share in sorted({r["share"] for r in sub}):
                pts = [r for r in sub if r["share"] == share]
                clips = [r["support_clips"] for r in pts if r.get("support_clips") is not None]
                out.append({"base": b, "target": t, "share": share, "cells": sorted({r["cell"] for r in pts}),
                            "seeds": [r["seed"] for r in pts], "support_clips": stats(clips),
                            "support_clips_range": [min(clips), max(clips)] if clips else None,
                            **{k: stats([r[k] for r in pts if k in r]) for k in metrics}})
    return out


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]


def plot(summary: list[dict], cells: list[str], targets: list[str], metrics: list[str], audio_absent: set,
         path: Path) -> bool:
    plt = _pyplot()
    if plt is None:
        return False
    titles = dict(METRICS)
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(4.0, 0.55 * len(cells) + 1.5) * len(metrics), 3.6),
                             squeeze=False)
    width = 0.8 / max(1, len(targets))
    for n, (ax, k) in enumerate(zip(axes[0], metrics)):
        for j, t in enumerate(targets):
            means, stds = [], []
            for c in cells:
                st = next((r[k] for r in summary if r["cell"] == c and r["target"] == t and r.get(k)), None)
                means.append(st["mean"] if st else 0.0)
                stds.append(st["std"] if st else 0.0)
            xs = [i + (j - (len(targets) - 1) / 2) * width for i in range(len(cells))]
            name = f"{t} (no audio: A_rec)" if t in audio_absent else t
            ax.bar(xs, means, width, yerr=stds, capsize=2, color=COLOURS[j % len(COLOURS)], label=name)
        ax.set_xticks(range(len(cells)), [label(c).replace(" (", "\n(") for c in cells], fontsize=7,
                      rotation=30, ha="right")
        ax.set_title(titles.get(k, k), fontsize=9)
        ax.set_ylim(bottom=0)
        if n == 0:
            ax.legend(fontsize=7)
    save_figure(fig, path)
    return True


def plot_curve(points: list[dict], targets: list[str], audio_absent: set, path: Path, metric: str = "CIDEr") -> bool:
    """One panel per target: ``metric`` (mean ± std over the seeds) against the support share, a line per base."""
    plt = _pyplot()
    if plt is None or not points:
        return False
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.4), squeeze=False, sharey=True)
    bases = list(dict.fromkeys(p["base"] for p in points))
    for ax, t in zip(axes[0], targets):
        for j, b in enumerate(bases):
            pts = [p for p in points if p["base"] == b and p["target"] == t and p.get(metric)]
            if not pts:
                continue
            ax.errorbar([100 * p["share"] for p in pts], [p[metric]["mean"] for p in pts],
                        yerr=[p[metric]["std"] for p in pts], marker="o", capsize=3, color=COLOURS[j % len(COLOURS)],
                        label=LABELS.get(b, b))
        ax.set_title(f"target {t}" + (" (audio removed: A_rec)" if t in audio_absent else ""), fontsize=9)
        ax.set_xlabel("target support used (% of its train split, nominal)", fontsize=8)
        ax.set_xlim(0, 105)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylim(bottom=0)  # after every panel is drawn (shared y: the top fits them all)
    axes[0][0].set_ylabel(f"{metric} (%)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    save_figure(fig, path)
    return True


def _clips_cell(p: dict) -> str:
    st, rng = p.get("support_clips"), p.get("support_clips_range")
    if not st:
        return ""
    return f"{st['mean']:.1f} ({rng[0]}–{rng[1]})" if rng[0] != rng[1] else f"{st['mean']:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = report_parser(__doc__, "tavt no-maml")
    ap.add_argument("--targets", default="night,pixel")
    ap.add_argument("--audio-absent", default="pixel")
    ap.add_argument("--support-fraction", type=float, default=1.0,
                    help="the support fraction of the cells that are not CELL-sNN (run.sh's --support_fraction), "
                         "for runs whose run.json is gone")
    ap.add_argument("--previous", type=Path, default=None,
                    help="the results.json of an earlier report: its runs fill in for run dirs that are gone")
    args = ap.parse_args(argv)
    seeds, cells = [int(s) for s in args.seeds.split()], args.cells.split()
    targets = [t for t in args.targets.replace(",", " ").split() if t]
    absent = {t for t in args.audio_absent.replace(",", " ").split() if t}
    rows, missing = collect(args.exp, seeds, cells, targets, args.support_fraction)
    n_previous = 0
    if args.previous is not None:
        rows, missing, n_previous = merge_previous(rows, missing, args.previous, cells, targets, seeds,
                                                   args.support_fraction)
    # METEOR only when every scored run has it (`vxt score --no-java` leaves it out)
    metrics = [k for k, _ in METRICS if rows and all(k in r for r in rows)]
    summary = summarise(rows, cells, targets, metrics)
    points = curve_points(rows, cells, targets, metrics)
    bar_cells = [c for c in cells if not is_curve(c)]
    lines = ["# TAVT on synthetic visual domains", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{platform.processor() or platform.machine()}, CPU. Regenerate with `bash recipes/tavt/run.sh`.", "",
             "Meta-trained on the source domains, fine-tuned on each target's support set (its train split), "
             "captions of the target's test split. Metrics in % (pycocoevalcap's formulas"
             + (", pure-Python tokenizer: `vxt score --no-java`, not comparable to published numbers"
                if rows and not any(r.get("java") for r in rows) else "")
             + f"); mean ± std over seeds {', '.join(map(str, seeds))}.", ""]
    if n_previous:
        lines += [f"{n_previous} of the {len(rows)} runs are taken from `{args.previous}` (an earlier report: "
                  "their run dirs are not in this exp dir).", ""]
    sizes = {k: sorted({r.get(k) for r in rows if r.get(k) is not None}) for k in ("n", "meta_steps", "adapt_steps")}
    mixed = {k: v for k, v in sizes.items() if len(v) > 1}
    if mixed:
        lines += ["Runs of different sizes are mixed here: "
                  + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in mixed.items()) + ".", ""]
    titles = dict(METRICS)
    for t in targets:
        head = f"## Target {t}" + (" (audio removed: the encoder is fed A_rec, the AVMM frozen)" if t in absent else "")
        if t in absent and {"no-avmm", "no-audio"} & set(bar_cells):  # they have no A_rec to feed
            head = head[:-1] + "; w/o AVMM: the audio masked out, w/o audio: no audio path)"
        lines += [head, "", "| cell | " + " | ".join(titles[k] for k in metrics) + " | seeds | meta s | adapt s |",
                  "|---|" + "---|" * (len(metrics) + 3)]
        for c in bar_cells:
            sub = [r for r in rows if r["cell"] == c and r["target"] == t]
            if not sub:
                continue
            cols = metric_cells(sub, metrics, ("meta_seconds", "adapt_seconds"))
            lines.append(f"| {label(c)} | " + " | ".join(cols) + " |")
        lines.append("")
    if rows and bar_cells and plot(summary, bar_cells, targets, metrics, absent, args.exp / "tavt.png"):
        lines += ["![tavt](tavt.png)", ""]
    if points:
        lines += ["## Low-resource adaptation: the target's support share (the paper's Fig. 5)", "",
                  "`CELL-sNN` adapts CELL's meta-trained model on NN% of the support; the row at the recipe's own "
                  "support fraction (100%) is CELL itself. `--train-fraction` draws its seeded share from the whole train split before the "
                  "target's clips are picked, so the support a run gets varies with the seed: *clips* is the mean "
                  "number of target clips it trained on (min–max over the seeds).", "",
                  "| target | cell | support | clips | " + " | ".join(titles[k] for k in metrics) + " | seeds |",
                  "|---|---|---|---|" + "---|" * (len(metrics) + 1)]
        for p in points:
            cols = [f"{p[k]['mean']:.2f} ± {p[k]['std']:.2f}" if p[k] and p[k]["n"] > 1 else
                    (f"{p[k]['mean']:.2f}" if p[k] else "") for k in metrics]
            lines.append(f"| {p['target']} | {LABELS.get(p['base'], p['base'])} | {100 * p['share']:g}% | "
                         f"{_clips_cell(p)} | " + " | ".join(cols) + f" | {len(p['seeds'])} |")
        lines.append("")
        if "CIDEr" in metrics and plot_curve(points, targets, absent, args.exp / "tavt_support.png"):
            lines += ["![tavt_support](tavt_support.png)", ""]
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    bad = [r["run"] for r in rows if any(not math.isfinite(r[k]) for k in metrics if k in r)]
    if bad:
        lines += ["Not finite: " + ", ".join(bad), ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    write_json(args.exp / "results.json", {"cells": cells, "targets": targets, "audio_absent": sorted(absent),
                                           "seeds": seeds, "metrics": metrics, "runs": rows, "summary": summary,
                                           "curve": points, "missing": missing,
                                           "previous": None if args.previous is None else str(args.previous)})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
