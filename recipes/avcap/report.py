#!/usr/bin/env python3
"""The tables (mean ± std over seeds, per cell), the CIDEr plot and the loss curves of recipes/avcap/run.sh.

    python recipes/avcap/report.py exp/avcap [--seeds "0 1 2"] [--cells "none gblend mbp mbp-nopnc no-pretrain"]

Reads each fine-tuned run's ``preds_test.scores.json`` and ``train_summary.json``
(``EXP/finetune-CELL-seedS``) and each pre-training run's ``metrics.jsonl``
(``EXP/pretrain-KEY-seedS``: L, L_a, L_v as ``loss_av``, ``loss_a``, ``loss_v``;
L's PCC and PNC parts as ``loss_pcc``, ``loss_pnc``; ``w_a``, ``w_v``); writes
``EXP/RESULTS.md``, ``EXP/results.json``, ``EXP/cider.png`` (CIDEr per cell) and
``EXP/losses.png`` (L, L_a, L_v during pre-training with and without MBP, and
without PNC dashed: the paper's Fig. 4). A run without scores is listed as
missing, never left out silently.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import statistics
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import metric_cells, read_json, report_parser, save_figure, stats  # noqa: E402

#: (key in the scores JSON, column title); METEOR is only there when `vxt score` ran with Java
METRICS = (("Bleu_4", "BLEU-4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("CIDEr", "CIDEr"))
#: the logged pre-training losses and weights (metrics.jsonl keys) and their names in the paper
LOSSES = (("loss_av", "L"), ("loss_a", "L_a"), ("loss_v", "L_v"))
WEIGHTS = (("w_a", "w_a"), ("w_v", "w_v"))
#: L's two tasks (a pre-training without PNC logs no loss_pnc)
TASK_LOSSES = (("loss_pcc", "L_PCC"), ("loss_pnc", "L_PNC"))
BALANCERS = ("none", "gblend", "mbp")
#: the pre-trainings of Table 2: each balancer with PCC + PNC (the name) and with PCC alone (NAME-nopnc)
OBJECTIVES = (*BALANCERS, *(f"{b}-nopnc" for b in BALANCERS))
FUSIONS = ("merged", "cross", "global", "local_global_merged", "local_global_cross")
INPUTS = {"A": "A", "V": "V", "VA": "V+A", "VT": "V+T", "VAT": "V+A+T"}
#: (heading, the paper's table, its cells)
GROUPS = (
    ("Pre-training objectives", "Table 2", (*OBJECTIVES, "no-pretrain")),
    ("Fusion (MBP pre-training, then fine-tuning)", "Table 3", tuple(f"fusion-{f}" for f in FUSIONS)),
    ("Inputs (MBP pre-training, then fine-tuning)", "Table 4", tuple(f"inputs-{k}" for k in INPUTS)),
)
BALANCER_NAMES = {"none": "no balancing", "gblend": "G-Blend", "mbp": "MBP"}
LABELS = {**{b: f"PCC + PNC, {n}" for b, n in BALANCER_NAMES.items()},
          **{f"{b}-nopnc": f"PCC (no PNC), {n}" for b, n in BALANCER_NAMES.items()},
          "no-pretrain": "no pre-training",
          **{f"fusion-{f}": f for f in FUSIONS}, **{f"inputs-{k}": v for k, v in INPUTS.items()},
          "inputs-VAT": "V+A+T (mixed fusion)"}
#: cells that are another cell's runs (the default fusion and inputs are the mbp cell)
SAME_AS = {"fusion-local_global_merged": "mbp", "inputs-VA": "mbp"}
#: the loss curves of Fig. 4 (pre-training key: label, colour, line style); without PNC dashed
CURVES = {"none": ("without MBP (none)", "#c44e52", "-"), "mbp": ("with MBP", "#4c72b0", "-"),
          "gblend": ("G-Blend", "#55a868", "-"),
          "none-nopnc": ("none, no PNC", "#c44e52", "--"), "mbp-nopnc": ("MBP, no PNC", "#4c72b0", "--"),
          "gblend-nopnc": ("G-Blend, no PNC", "#55a868", "--")}


def finetune_dir(exp: Path, cell: str, seed: int) -> Path:
    return exp / f"finetune-{SAME_AS.get(cell, cell)}-seed{seed}"


def pretrain_key(cell: str) -> str | None:
    """The pre-training a cell's fine-tuning starts from (``EXP/pretrain-KEY-seedS``); None: from scratch."""
    cell = SAME_AS.get(cell, cell)
    if cell == "no-pretrain":
        return None
    return cell if cell in OBJECTIVES else f"mbp-{cell}"


def collect(exp: Path, seeds: list[int], cells: list[str]):
    rows, missing = [], []
    for cell in cells:
        for s in seeds:
            run = finetune_dir(exp, cell, s)
            scores = read_json(run / "preds_test.scores.json")
            if scores is None:
                if str(run) not in missing:  # cells that share runs list them once
                    missing.append(str(run))
                continue
            m = scores.get("metrics") or {}
            vals = {k: 100 * float(m[k]) for k, _ in METRICS if k in m}  # vxt score writes the fractions
            ft = read_json(run / "train_summary.json") or {}
            key = pretrain_key(cell)
            pt = (read_json(exp / f"pretrain-{key}-seed{s}" / "train_summary.json") or {}) if key else {}
            rows.append({"cell": cell, "seed": s, "run": str(run), "pretrain": key, "n": scores.get("n_scored"),
                         "java": (scores.get("settings") or {}).get("java"),
                         "pretrain_steps": pt.get("steps"), "pretrain_seconds": pt.get("seconds"),
                         "finetune_steps": ft.get("steps"), "finetune_seconds": ft.get("seconds"), **vals})
    return rows, missing


def loss_curves(exp: Path, seeds: list[int], keys: list[str]) -> dict:
    """{key: {seed: [training rows of metrics.jsonl with the logged losses]}} of the pre-training runs found."""
    out: dict = {}
    for k in keys:
        for s in seeds:
            path = exp / f"pretrain-{k}-seed{s}" / "metrics.jsonl"
            if not path.is_file():
                continue
            rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            rows = [r for r in rows if "split" not in r and all(n in r for n, _ in LOSSES)]
            if rows:
                out.setdefault(k, {})[s] = rows
    return out


def summarise(rows: list[dict], cells: list[str], metrics: list[str]) -> list[dict]:
    out = []
    for c in cells:
        sub = [r for r in rows if r["cell"] == c]
        if sub:
            out.append({"cell": c, "seeds": [r["seed"] for r in sub],
                        **{k: stats([r[k] for r in sub if k in r]) for k in metrics}})
    return out


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig, plt, path: Path) -> None:
    save_figure(fig, path)


def plot_cider(summary: list[dict], cells: list[str], path: Path) -> bool:
    plt = _plt()
    if plt is None:
        return False
    colours = {"Table 2": "#4c72b0", "Table 3": "#dd8452", "Table 4": "#55a868"}
    group_of = {c: table for _, table, cs in GROUPS for c in cs}
    means, stds, cols = [], [], []
    for c in cells:
        st = next((r.get("CIDEr") for r in summary if r["cell"] == c), None)
        means.append(st["mean"] if st else 0.0)
        stds.append(st["std"] if st else 0.0)
        cols.append(colours.get(group_of.get(c, ""), "#8172b3"))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(cells) + 1.5), 3.6))
    ax.bar(range(len(cells)), means, yerr=stds, capsize=3, color=cols)
    ax.set_xticks(range(len(cells)), [LABELS.get(c, c).replace(", ", ",\n") for c in cells], fontsize=7,
                  rotation=30, ha="right")
    ax.set_ylabel("CIDEr (%)")
    ax.set_title("fine-tuned, test split (mean ± std over seeds)", fontsize=9)
    ax.set_ylim(bottom=0)
    _save(fig, plt, path)
    return True


def _mean_curve(per_seed: dict, key: str) -> tuple[list[int], list[float], list[float]]:
    by_step: dict[int, list[float]] = {}
    for rows in per_seed.values():
        for r in rows:
            if key in r:
                by_step.setdefault(int(r["step"]), []).append(float(r[key]))
    steps = sorted(by_step)
    return (steps, [statistics.mean(by_step[s]) for s in steps],
            [statistics.stdev(by_step[s]) if len(by_step[s]) > 1 else 0.0 for s in steps])


def plot_losses(curves: dict, path: Path) -> bool:
    """L, L_a, L_v (and w_a, w_v) against the step, one line per balancer: the paper's Fig. 4."""
    plt = _plt()
    if plt is None:
        return False
    panels = [*LOSSES, ("w_a", "w_a (audio weight)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        for k, (label, colour, style) in CURVES.items():
            if k not in curves or (k.startswith("none") and key == "w_a"):  # none logs no weights (0)
                continue
            steps, mean, std = _mean_curve(curves[k], key)
            if not steps:
                continue
            ax.plot(steps, mean, marker="o" if len(steps) < 3 else None, ms=3, color=colour, ls=style, label=label)
            ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=colour, alpha=0.15, lw=0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    _save(fig, plt, path)
    return True


def final_losses(curves: dict) -> list[dict]:
    """Per pre-training key: the last logged L, L_a, L_v, w_a, w_v of each seed, and their mean ± std."""
    out = []
    for k, per_seed in curves.items():
        last = {s: rows[-1] for s, rows in per_seed.items()}
        entry = {"pretrain": k, "seeds": sorted(last), "step": max(int(r["step"]) for r in last.values())}
        for key, _ in (*LOSSES, *TASK_LOSSES, *WEIGHTS):
            entry[key] = stats([float(r[key]) for r in last.values() if key in r])
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = report_parser(__doc__, " ".join((*OBJECTIVES, "no-pretrain")))
    args = ap.parse_args(argv)
    seeds, cells = [int(s) for s in args.seeds.split()], args.cells.split()
    rows, missing = collect(args.exp, seeds, cells)
    # METEOR only when every scored run has it (`vxt score --no-java` leaves it out)
    metrics = [k for k, _ in METRICS if rows and all(k in r for r in rows)]
    summary = summarise(rows, cells, metrics)
    titles = dict(METRICS)
    lines = ["# avcap (Shen et al., 2023) on narrated synthetic videos", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{platform.processor() or platform.machine()}, CPU. Regenerate with `bash recipes/avcap/run.sh`.", "",
             "Pre-trained on the narration (Predict Current + Predict Next Caption; the no-PNC cells the current "
             "caption alone), fine-tuned on the describing captions, test split decoded. Metrics in % "
             "(pycocoevalcap's formulas"
             + (", pure-Python tokenizer: `vxt score --no-java`, not comparable to published numbers"
                if rows and not any(r.get("java") for r in rows) else "")
             + f"); mean ± std over seeds {', '.join(map(str, seeds))}.", ""]
    grouped = {c for _, _, cs in GROUPS for c in cs}
    groups = [*GROUPS, ("Other cells", "", tuple(c for c in cells if c not in grouped))]
    for heading, table, group_cells in groups:
        shown = [c for c in group_cells if c in cells]
        if not shown:
            continue
        lines += [f"## {heading}" + (f" (the paper's {table})" if table else ""), "",
                  "| cell | " + " | ".join(titles[k] for k in metrics) + " | seeds | pre-train s | fine-tune s |",
                  "|---|" + "---|" * (len(metrics) + 3)]
        for c in shown:
            sub = [r for r in rows if r["cell"] == c]
            if not sub:
                lines.append(f"| {LABELS.get(c, c)} | " + " | ".join("" for _ in metrics) + " | 0 |  |  |")
                continue
            cols = metric_cells(sub, metrics, ("pretrain_seconds", "finetune_seconds"))
            lines.append(f"| {LABELS.get(c, c)} | " + " | ".join(cols) + " |")
        if table == "Table 2" and any(c.endswith("-nopnc") for c in shown):
            lines += ["", "PCC (no PNC): pre-trained with `--set pnc=false`, on the current caption alone (no "
                      "`<next>` rows); the other pre-trainings add Predict Next Caption."]
        if table == "Table 4" and "inputs-VAT" in shown:
            lines += ["", "V+A+T: `--set fusion=mixed` (video and audio through local-global cross fusion, video "
                      "and subtitles through merged fusion, the two memories concatenated)."]
        lines.append("")
    if rows and plot_cider(summary, cells, args.exp / "cider.png"):
        lines += ["![CIDEr per cell](cider.png)", ""]
    keys = list(dict.fromkeys(k for k in (pretrain_key(c) for c in cells) if k))
    curves = loss_curves(args.exp, seeds, keys)
    finals = final_losses(curves)
    if finals:
        lines += ["## Pre-training losses (the paper's Fig. 4)", "",
                  "The last logged value of each run (mean ± std over seeds): L with both modalities (PCC + PNC, "
                  "or PCC alone without PNC), its parts L_PCC and L_PNC, L_a with the video set to zeros, L_v with "
                  "the audio set to zeros, and the balancer's weights.", "",
                  "| pre-training | step | L | L_PCC | L_PNC | L_a | L_v | w_a | w_v |",
                  "|---|---|---|---|---|---|---|---|---|"]
        shown_keys = (LOSSES[0], *TASK_LOSSES, *LOSSES[1:], *WEIGHTS)
        for f in finals:
            cols = ["" if f[k] is None else (f"{f[k]['mean']:.3f} ± {f[k]['std']:.3f}" if f[k]["n"] > 1
                                              else f"{f[k]['mean']:.3f}") for k, _ in shown_keys]
            lines.append(f"| {f['pretrain']} | {f['step']} | " + " | ".join(cols) + " |")
        lines.append("")
        if any(k in curves for k in CURVES) and plot_losses(curves, args.exp / "losses.png"):
            lines += ["![L, L_a, L_v with and without MBP](losses.png)", ""]
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    bad = [r["run"] for r in rows if any(not math.isfinite(r[k]) for k in metrics if k in r)]
    if bad:
        lines += ["Not finite: " + ", ".join(bad), ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    write_json(args.exp / "results.json", {"cells": cells, "seeds": seeds, "metrics": metrics, "runs": rows,
                                           "summary": summary, "pretraining": finals, "missing": missing})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
