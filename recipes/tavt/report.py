#!/usr/bin/env python3
"""The table (mean ± std over seeds, per cell and target domain) and plot of recipes/tavt/run.sh.

    python recipes/tavt/report.py exp/tavt [--seeds "0 1 2"] [--cells "tavt no-maml"] [--targets night,pixel]
                                           [--audio-absent pixel]

Reads each adapted run's ``preds_test.scores.json`` (``EXP/CELL-seedS-adapt-TARGET``) and the
``train_summary.json`` of it and of its meta-trained run (``EXP/CELL-seedS``); writes ``EXP/RESULTS.md``,
``EXP/results.json`` and ``EXP/tavt.png``. A run without scores is listed as missing, never left out silently.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import metric_cells, read_json, report_parser, save_figure, stats  # noqa: E402

#: (key in the scores JSON, column title); METEOR is only there when `vxt score` ran with Java
METRICS = (("Bleu_4", "BLEU-4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("CIDEr", "CIDEr"))
LABELS = {"tavt": "TAVT", "no-maml": "w/o MAML (pooled sources)", "no-rec": "w/o L_rec", "no-dis": "w/o L_dis",
          "no-dep": "w/o L_dep", "no-wma": "w/o modality-aware weights", "k4": "K = 4 clusters",
          "k16": "K = 16 clusters", "k64": "K = 64 clusters"}


def collect(exp: Path, seeds: list[int], cells: list[str], targets: list[str]):
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
                meta = read_json(exp / f"{cell}-seed{s}" / "train_summary.json") or {}
                rows.append({"cell": cell, "target": t, "seed": s, "run": str(run), "n": scores.get("n_scored"),
                             "java": (scores.get("settings") or {}).get("java"),
                             "meta_steps": meta.get("steps"), "meta_seconds": meta.get("seconds"),
                             "adapt_steps": adapt.get("steps"), "adapt_seconds": adapt.get("seconds"), **vals})
    return rows, missing


def summarise(rows: list[dict], cells: list[str], targets: list[str], metrics: list[str]) -> list[dict]:
    out = []
    for c in cells:
        for t in targets:
            sub = [r for r in rows if r["cell"] == c and r["target"] == t]
            if sub:
                out.append({"cell": c, "target": t, "seeds": [r["seed"] for r in sub],
                            **{k: stats([r[k] for r in sub if k in r]) for k in metrics}})
    return out


def plot(summary: list[dict], cells: list[str], targets: list[str], metrics: list[str], audio_absent: set,
         path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    titles = dict(METRICS)
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(4.0, 0.55 * len(cells) + 1.5) * len(metrics), 3.6),
                             squeeze=False)
    width = 0.8 / max(1, len(targets))
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]
    for n, (ax, k) in enumerate(zip(axes[0], metrics)):
        for j, t in enumerate(targets):
            means, stds = [], []
            for c in cells:
                st = next((r[k] for r in summary if r["cell"] == c and r["target"] == t and r.get(k)), None)
                means.append(st["mean"] if st else 0.0)
                stds.append(st["std"] if st else 0.0)
            xs = [i + (j - (len(targets) - 1) / 2) * width for i in range(len(cells))]
            label = f"{t} (no audio: A_rec)" if t in audio_absent else t
            ax.bar(xs, means, width, yerr=stds, capsize=2, color=colours[j % len(colours)], label=label)
        ax.set_xticks(range(len(cells)), [LABELS.get(c, c).replace(" (", "\n(") for c in cells], fontsize=7,
                      rotation=30, ha="right")
        ax.set_title(titles.get(k, k), fontsize=9)
        ax.set_ylim(bottom=0)
        if n == 0:
            ax.legend(fontsize=7)
    save_figure(fig, path)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = report_parser(__doc__, "tavt no-maml")
    ap.add_argument("--targets", default="night,pixel")
    ap.add_argument("--audio-absent", default="pixel")
    args = ap.parse_args(argv)
    seeds, cells = [int(s) for s in args.seeds.split()], args.cells.split()
    targets = [t for t in args.targets.replace(",", " ").split() if t]
    absent = {t for t in args.audio_absent.replace(",", " ").split() if t}
    rows, missing = collect(args.exp, seeds, cells, targets)
    # METEOR only when every scored run has it (`vxt score --no-java` leaves it out)
    metrics = [k for k, _ in METRICS if rows and all(k in r for r in rows)]
    summary = summarise(rows, cells, targets, metrics)
    lines = ["# TAVT on synthetic visual domains", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{platform.processor() or platform.machine()}, CPU. Regenerate with `bash recipes/tavt/run.sh`.", "",
             "Meta-trained on the source domains, fine-tuned on each target's support set (its train split), "
             "captions of the target's test split. Metrics in % (pycocoevalcap's formulas"
             + (", pure-Python tokenizer: `vxt score --no-java`, not comparable to published numbers"
                if rows and not any(r.get("java") for r in rows) else "")
             + f"); mean ± std over seeds {', '.join(map(str, seeds))}.", ""]
    titles = dict(METRICS)
    for t in targets:
        head = f"## Target {t}" + (" (audio removed: the encoder is fed A_rec, the AVMM frozen)" if t in absent else "")
        lines += [head, "", "| cell | " + " | ".join(titles[k] for k in metrics) + " | seeds | meta s | adapt s |",
                  "|---|" + "---|" * (len(metrics) + 3)]
        for c in cells:
            sub = [r for r in rows if r["cell"] == c and r["target"] == t]
            if not sub:
                continue
            cols = metric_cells(sub, metrics, ("meta_seconds", "adapt_seconds"))
            lines.append(f"| {LABELS.get(c, c)} | " + " | ".join(cols) + " |")
        lines.append("")
    if rows and plot(summary, cells, targets, metrics, absent, args.exp / "tavt.png"):
        lines += ["![tavt](tavt.png)", ""]
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    bad = [r["run"] for r in rows if any(not math.isfinite(r[k]) for k in metrics if k in r)]
    if bad:
        lines += ["Not finite: " + ", ".join(bad), ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    write_json(args.exp / "results.json", {"cells": cells, "targets": targets, "audio_absent": sorted(absent),
                                           "seeds": seeds, "metrics": metrics, "runs": rows, "summary": summary,
                                           "missing": missing})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
