"""The random-segments baseline of dense captioning, written as a ``preds.json`` for ``vxt score``.

Each video of the split gets ``--n`` seeded uniform random segments (a sorted
pair of uniform draws in [0, duration]), each captioned with the training
set's most common event sentence (``--caption most-common``) or a random
training sentence (``--caption random``); see
:func:`vxt.decoding.events.random_segments_baseline`. A trained dense
captioner has to score clearly above it::

    python bench/dense_baseline.py --data data/synth-dense --split test --out exp/baseline/preds_test.json
    vxt score exp/baseline/preds_test.json

Run by hand (not by the test suite).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a data dir made by `vxt prepare`")
    ap.add_argument("--split", default="test")
    ap.add_argument("--n", type=int, default=100, help="random segments per video (default 100, the proposals' budget)")
    ap.add_argument("--caption", default="most-common", choices=("most-common", "random"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="where to write the preds.json")
    args = ap.parse_args(argv)

    from vxt.data.loader import task_examples
    from vxt.decoding.events import random_segments_baseline
    from vxt.utils import write_json

    examples = task_examples(args.data, args.split, "dense")
    train = task_examples(args.data, "train", "dense")
    preds = random_segments_baseline(examples, train, n=args.n, seed=args.seed, caption=args.caption)
    by_id = {ex["id"]: ex for ex in examples}
    rows = []
    for p in preds:
        ex = by_id[p["id"]]
        rows.append({**p, "reference_events": ex.get("events") or [], "duration": ex.get("duration")})
    out = {
        "task": "dense",
        "checkpoint": f"random-segments-baseline(n={args.n}, caption={args.caption}, seed={args.seed})",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "decoding": {"split": args.split},
        "predictions": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, out)
    print(f"wrote {args.out} ({len(rows)} videos, {args.n} segments each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
