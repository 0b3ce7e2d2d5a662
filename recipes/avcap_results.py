#!/usr/bin/env python3
"""RESULTS.md and results.json of an avcap fine-tuning recipe: its run's scores beside Shen et al.'s (2023).

    python recipes/avcap_results.py youcook2 --exp exp/youcook2-avcap \\
        --scores exp/youcook2-avcap/preds_val.scores.json --data data/youcook2 --split val --ckpt last --beam 5

The first argument is the recipe (its folder under recipes/), which picks the paper's rows (:data:`PAPER`). The
run's row says what it was: the model, its inputs and fusion (the fine-tuned ``config.json``) and its
pre-training (the objectives and balancing of the run ``init`` names); the speech coverage rate comes from
``DATA/coverage.json`` where stage 2 wrote one. Numbers are percentages (CIDEr too), as the paper prints them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recipes/: report_lib
from report_lib import read_json  # noqa: E402

from vxt.utils import atomic_write_text, write_json  # noqa: E402

METRICS = (("Bleu_4", "BLEU-4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("CIDEr", "CIDEr"))
#: the paper's setting of its main rows: V+A, local-global merged fusion, pre-trained with PCC + PNC and MBP
MAIN = {"inputs": "V+A", "fusion": "local_global_merged", "pretraining": "PCC + PNC, MBP"}
#: per recipe: the benchmark, what is scored, and Shen et al.'s rows (name, setting, numbers in %)
PAPER: dict[str, dict] = {
    "youcook2": {
        "benchmark": "YouCook2",
        "protocol": "the val segments, as YouCook2's test annotations are withheld",
        "rows": [("Shen et al. 2023", MAIN, {"Bleu_4": 20.6, "METEOR": 24.2, "ROUGE_L": 49.6, "CIDEr": 217.0}),
                 ("Shen et al. 2023, without MBP", {**MAIN, "pretraining": "PCC + PNC, no balancing"},
                  {"CIDEr": 184.2}),
                 ("Shen et al. 2023, without PNC", {**MAIN, "pretraining": "PCC, MBP"}, {"CIDEr": 192.4})]},
    "msrvtt-avcap": {
        "benchmark": "MSR-VTT",
        "protocol": "each clip against all its reference sentences",
        "rows": [("Shen et al. 2023", MAIN, {"Bleu_4": 46.0, "METEOR": 30.6, "ROUGE_L": 64.0, "CIDEr": 57.0})]},
    "vatex": {
        "benchmark": "VATEX (English captions)",
        "protocol": "the clips of the decoded split, against their English captions",
        "rows": [("Shen et al. 2023", MAIN, {"Bleu_4": 38.8, "METEOR": 25.9, "ROUGE_L": 52.9, "CIDEr": 73.5})]},
    "anet-paragraphs": {
        "benchmark": "ActivityNet Captions paragraphs",
        "protocol": "val_1's segments captioned, each video's captions in start order as one paragraph against "
                    "val_1's and val_2's",
        "rows": [("Shen et al. 2023", MAIN, {"Bleu_4": 11.73, "METEOR": 16.14, "ROUGE_L": 30.68, "CIDEr": 26.11})]},
}
LETTERS = {"video": "V", "audio": "A", "subtitles": "T"}
BALANCING = {"mbp": "MBP", "gblend": "G-Blend", None: "no balancing", "none": "no balancing"}


def pretraining(cfg: dict) -> str:
    """What the run started from, in the paper's terms: ``PCC + PNC, MBP``, ``PCC, MBP`` (no Predict Next
    Caption), ``PCC + PNC, no balancing``, ... or ``none``."""
    init = cfg.get("init")
    if not init:
        return "none"
    from vxt.models.avcap.config import effective_balance  # torch comes with it: only when there is a pre-training

    pre = read_json(Path(init) / "config.json")
    if pre is None:
        return f"{init} (no config.json there any more)"
    objectives = "PCC + PNC" if pre.get("pnc", True) else "PCC"
    return f"{objectives}, {BALANCING[effective_balance(pre)]}"


def run_row(cfg: dict, scores: dict) -> tuple[dict, dict]:
    """The run's setting (inputs, fusion, pre-training) and its metrics in %."""
    setting = {"inputs": "+".join(LETTERS[m] for m in cfg["modalities"]), "fusion": cfg["fusion"],
               "pretraining": pretraining(cfg)}
    metrics = {k: round(100 * float(scores["metrics"][k]), 2) for k, _ in METRICS if k in scores["metrics"]}
    return setting, metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", choices=sorted(PAPER))
    ap.add_argument("--exp", type=Path, required=True, help="the fine-tuned experiment dir")
    ap.add_argument("--scores", type=Path, required=True, help="its `vxt score` JSON")
    ap.add_argument("--data", type=Path, required=True, help="the data dir (for coverage.json)")
    ap.add_argument("--split", required=True)
    ap.add_argument("--ckpt", default="best")
    ap.add_argument("--beam", type=int, default=5)
    args = ap.parse_args(argv)
    paper = PAPER[args.recipe]
    cfg = read_json(args.exp / "config.json")
    scores = read_json(args.scores)
    if cfg is None or scores is None:
        ap.error(f"no {args.exp / 'config.json' if cfg is None else args.scores}: run the recipe's stages 3-5 first")
    summary = read_json(args.exp / "train_summary.json") or {}
    setting, metrics = run_row(cfg, scores)
    coverage = read_json(args.data / "coverage.json")
    scored = (f"videos scored: {scores['n_videos']}" if scores.get("settings", {}).get("paragraph")
              else f"examples scored: {scores.get('n_scored')}")
    notes = []
    if not scores.get("settings", {}).get("comparable_to_published", True):
        notes.append("Scored without Java (`--no-java`: no METEOR, a pure-Python tokenizer): not comparable to "
                     "published numbers.")
    if cfg.get("name") != "avcap-base":
        notes.append(f"Model {cfg.get('name')}, not the paper's avcap-base: not comparable to published numbers.")

    cols = [label for _, label in METRICS]
    lines = [f"# {paper['benchmark']}: avcap beside Shen et al. (2023)", "",
             f"{dt.date.today().isoformat()}, {platform.node() or 'this machine'} ({os.cpu_count()} CPU cores); "
             "metrics in %.", "",
             f"This run: `{args.exp}` ({cfg.get('name')}, {summary.get('steps', '?')} optimizer steps, the "
             f"{args.ckpt} checkpoint, beam {args.beam}). Scored: {paper['protocol']}; split {args.split}, {scored}.",
             "", "## Scores", "",
             "| run | inputs | fusion | pre-training | " + " | ".join(cols) + " |",
             "|---|---|---|---|" + "---:|" * len(cols)]

    def row(name: str, s: dict, m: dict) -> str:
        cells = [f"{m[k]:.2f}" if k in m else "" for k, _ in METRICS]
        return f"| {name} | {s['inputs']} | {s['fusion']} | {s['pretraining']} | " + " | ".join(cells) + " |"

    lines.append(row("vxt, this run", setting, metrics))
    lines += [row(name, s, m) for name, s, m in paper["rows"]]
    lines += ["", "## Speech coverage rate", ""]
    if coverage is None:
        lines.append("No transcripts (`subtitles`) in the data dir: no speech coverage rate.")
    else:
        parts = {**coverage["splits"], **({"all splits": coverage["all"]} if "all" in coverage else {})}
        lines.append("`vxt score --coverage` (share of caption words found in the example's transcript): " + ", ".join(
            f"{name} {100 * r['coverage']:.2f} %" for name, r in parts.items() if r.get("coverage") is not None) + ".")
    for note in notes:
        lines += ["", note]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines) + "\n")
    write_json(args.exp / "results.json", {
        "recipe": args.recipe, "benchmark": paper["benchmark"], "split": args.split, "exp": str(args.exp),
        "run": {"setting": setting, "metrics": metrics, "model": cfg.get("name"), "steps": summary.get("steps"),
                "ckpt": args.ckpt, "beam": args.beam, "scores": str(args.scores)},
        "paper": [{"name": name, "setting": s, "metrics": m} for name, s, m in paper["rows"]],
        "coverage": None if coverage is None else {k: v.get("coverage") for k, v in coverage["splits"].items()},
        "comparable_to_published": not notes,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
