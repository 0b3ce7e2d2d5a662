#!/usr/bin/env python3
"""The results table of recipes/msrvtt-domains/run.sh and recipes/msvd/run.sh: per target, their mean, the paper.

    python recipes/msrvtt-domains/report.py EXP --targets animation,music,animal,kids,beauty [--paper msrvtt]
    python recipes/msrvtt-domains/report.py exp/msvd-tavt --targets msvd --paper msvd --meta exp/msrvtt-domains/meta

Reads each target's ``EXP/adapt-TARGET/preds_test.scores.json`` (``vxt score``), ``train_summary.json`` and
``config.json``, and the meta-trained run's ``config.json``, ``run.json`` and ``train_summary.json`` (``EXP/meta``
unless ``--meta``); writes ``EXP/RESULTS.md`` and ``EXP/results.json``. A target without scores is listed as
missing, never left out silently, and the mean row says over how many targets it is taken (each target's scores
averaged with equal weight, as the paper's mean over its five targets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import read_json  # noqa: E402

#: (key in the scores JSON, column title); METEOR is there only when `vxt score` ran with Java
METRICS = (("Bleu_1", "B1"), ("Bleu_4", "B4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("CIDEr", "CIDEr"))
#: Lin et al. (ACL 2023), TAVT's own rows, in %
PAPER = {
    "msrvtt": ("TAVT (paper): mean over the five MSR-VTT targets",
               {"Bleu_1": 78.5, "Bleu_4": 42.1, "METEOR": 28.6, "ROUGE_L": 61.9, "CIDEr": 53.0}),
    "msvd": ("TAVT (paper): MSR-VTT -> MSVD, A_rec in place of audio",
             {"Bleu_1": 84.7, "Bleu_4": 53.9, "METEOR": 36.1, "ROUGE_L": 73.3, "CIDEr": 96.8}),
}
TITLES = {"msrvtt": "TAVT across MSR-VTT's domains: meta-trained on {sources}, adapted to each target",
          "msvd": "TAVT from MSR-VTT ({sources}) to MSVD, which has no audio: A_rec in its place"}


def collect(exp: Path, targets: list[str]) -> tuple[list[dict], list[str]]:
    rows, missing = [], []
    for t in targets:
        run = exp / f"adapt-{t}"
        scores = read_json(run / "preds_test.scores.json")
        if scores is None:
            missing.append(t)
            continue
        m = scores.get("metrics") or {}
        vals = {k: 100 * float(m[k]) for k, _ in METRICS if isinstance(m.get(k), (int, float))}  # fractions -> %
        cfg = read_json(run / "config.json") or {}
        summary = read_json(run / "train_summary.json") or {}
        settings = scores.get("settings") or {}
        rows.append({"target": t, "run": str(run), "n": scores.get("n_scored"),
                     "audio": "A_rec (AVMM frozen)" if cfg.get("freeze_avmm") else "real",
                     "java": settings.get("java"), "comparable": settings.get("comparable_to_published", True),
                     "adapt_steps": summary.get("steps"), "adapt_seconds": summary.get("seconds"), **vals})
    return rows, missing


def mean_row(rows: list[dict], metrics: list[str]) -> dict:
    return {k: sum(r[k] for r in rows) / len(rows) for k in metrics if all(k in r for r in rows)}


def meta_settings(meta: Path) -> dict:
    """What the meta-trained run was: its model config and the training options vxt recorded."""
    cfg = read_json(meta / "config.json") or {}
    run = read_json(meta / "run.json") or {}
    summary = read_json(meta / "train_summary.json") or {}
    feats = cfg.get("features") or {}
    overrides = run.get("overrides") or {}
    return {"run": str(meta), "found": bool(cfg), "model": cfg.get("name"), "d_model": cfg.get("d_model"),
            "heads": cfg.get("heads"),
            "blocks": {k: cfg.get(k) for k in ("enc_layers", "cross_layers", "dec_layers", "avmm_layers")},
            "n_clusters": cfg.get("n_clusters"), "lambda": cfg.get("lambda"), "mu": cfg.get("mu"),
            "tau": cfg.get("tau"),
            "source_domains": cfg.get("source_domains"),
            "video": feats.get("video_classifier"), "video_weights": feats.get("video_weights"),
            "audio": feats.get("audio_classifier"), "audio_weights": feats.get("audio_weights"),
            "inner_lr": overrides.get("inner_lr"), "outer_lr": overrides.get("outer_lr"),
            "batch_size": run.get("batch_size"), "steps": summary.get("steps", run.get("total_steps")),
            "seconds": summary.get("seconds")}


def _weights(path) -> str:
    return f"local weights {Path(path).name}" if path else "random init"


def _cell(v) -> str:
    return "" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("exp", type=Path)
    ap.add_argument("--targets", default="animation,music,animal,kids,beauty")
    ap.add_argument("--paper", choices=sorted(PAPER), default="msrvtt", help="which of the paper's rows to show")
    ap.add_argument("--meta", type=Path, default=None, help="the meta-trained run (default: EXP/meta)")
    args = ap.parse_args(argv)
    targets = [t for t in args.targets.replace(",", " ").split() if t]
    rows, missing = collect(args.exp, targets)
    metrics = [k for k, _ in METRICS if any(k in r for r in rows)]  # measured (METEOR only with Java)
    columns = [k for k, _ in METRICS]  # every column of the paper's table, empty where not measured
    titles = dict(METRICS)
    meta = meta_settings(args.meta or args.exp / "meta")
    paper_label, paper = PAPER[args.paper]
    mean = mean_row(rows, metrics) if rows else {}

    sources = ", ".join(meta["source_domains"]) if meta["source_domains"] else \
        "every domain" if meta["found"] else "unknown source domains"
    lines = [f"# {TITLES[args.paper].format(sources=sources)}", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'} "
             f"({platform.processor() or platform.machine()}). Metrics in % on each target's test split "
             "(pycocoevalcap: PTB tokenizer, BLEU, METEOR, ROUGE-L, CIDEr).", ""]
    if rows and not all(r["comparable"] for r in rows):
        lines += ["Scored without Java (`vxt score --no-java`: a pure-Python tokenizer, no METEOR): "
                  "not comparable to the paper's numbers.", ""]
    cols = [titles[k] for k in columns]
    lines += ["| target | " + " | ".join(cols) + " | test clips | audio | adapt steps | adapt s |",
              "|---|" + "---:|" * len(cols) + "---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['target']} | " + " | ".join(f"{r[k]:.2f}" if k in r else "" for k in columns)
                     + f" | {_cell(r['n'])} | {r['audio']} | {_cell(r['adapt_steps'])} | {_cell(r['adapt_seconds'])} |")
    if len(rows) > 1:
        over = f"{len(rows)} targets" if not missing else f"{len(rows)} of {len(targets)} targets"
        lines.append(f"| mean over {over} | " + " | ".join(f"{mean[k]:.2f}" if k in mean else "" for k in columns)
                     + f" | {sum(r['n'] or 0 for r in rows)} | | | |")
    lines.append(f"| {paper_label} | " + " | ".join(f"{paper[k]:.1f}" for k in columns) + " | | | | |")
    lines.append("")
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    bad = [r["target"] for r in rows if any(not math.isfinite(r[k]) for k in metrics if k in r)]
    if bad:
        lines += ["Not finite: " + ", ".join(bad), ""]
    if not meta["found"]:
        lines += [f"Meta-trained model: none found in `{meta['run']}` (give it with --meta DIR).", ""]
    else:
        lines += ["Meta-trained model (`" + meta["run"] + "`): "
                  f"{meta['model']}, {meta['d_model']} wide, {meta['heads']} heads, "
                  + ", ".join(f"{k} {v}" for k, v in meta["blocks"].items()) + f"; K = {meta['n_clusters']} audio "
                  f"clusters, lambda {meta['lambda']}, mu {meta['mu']}, tau {meta['tau']}; "
                  f"inner lr {meta['inner_lr']}, outer lr {meta['outer_lr']}, batch {meta['batch_size']} per domain, "
                  f"{meta['steps']} meta-steps ({_cell(meta['seconds'])} s) on {sources}; "
                  f"frames: {meta['video']} ({_weights(meta['video_weights'])}), audio: {meta['audio']} "
                  f"({_weights(meta['audio_weights'])}).", ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    write_json(args.exp / "results.json", {
        "targets": targets, "metrics": metrics, "runs": rows, "mean": mean if len(rows) > 1 else None,
        "mean_over": [r["target"] for r in rows], "missing": missing, "meta": meta,
        "paper": {"label": paper_label, **paper}})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
