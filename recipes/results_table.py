#!/usr/bin/env python3
"""Collect ``*.scores.json`` files (written by ``vxt score``) into one Markdown table.

    python recipes/results_table.py --title T --out exp/synth/RESULTS.md caption=exp/synth/caption/preds_test.scores.json ...

Metrics are printed as percentages, as papers print them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path

from vxt.utils import atomic_write_text

ORDER = ["accuracy", "Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "precision", "recall", "F1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("rows", nargs="+", help="name=path/to/x.scores.json")
    ap.add_argument("--title", default="results")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = []
    for spec in args.rows:
        name, _, path = spec.partition("=")
        doc = json.loads(Path(path).read_text())
        metrics = {k: v for k, v in doc["metrics"].items() if isinstance(v, (int, float)) and not k.startswith("n")}
        rows.append((name, metrics, doc))
    cols = [c for c in ORDER if any(c in m for _, m, _ in rows)]
    lines = [f"# {args.title}", "",
             f"{dt.date.today().isoformat()}, {platform.node() or 'this machine'} ({os.cpu_count()} CPU cores); "
             "metrics in %.", "",
             "| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, m, _ in rows:
        lines.append(f"| {name} | " + " | ".join(f"{100 * m[c]:.2f}" if c in m else "" for c in cols) + " |")
    comparable = all(d.get("settings", {}).get("comparable_to_published", True) for _, _, d in rows)
    if not comparable:
        lines += ["", "Scored without Java (`--no-java`): not comparable to published numbers."]
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
