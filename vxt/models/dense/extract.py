"""``python -m vxt.models.dense.extract --data DIR --model bmt``: a data dir's feature streams, ahead of training."""

from __future__ import annotations

from pathlib import Path

from vxt.data.loader import task_examples
from vxt.errors import VxtError
from vxt.modalities.feature_store import FeatureStore
from vxt.models.dense.build import feature_config
from vxt.models.dense.options import task_options
from vxt.registry import parse_overrides


def main(argv: list[str] | None = None) -> int:
    """``python -m vxt.models.dense.extract --data DIR --model bmt``: extract a data dir's streams ahead of training.

    Uses exactly the settings ``vxt train --task dense --model NAME`` would
    (the same ``--set`` options), so training finds every video in the cache.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m vxt.models.dense.extract", description=main.__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a data dir made by `vxt prepare`")
    ap.add_argument("--model", default="bmt", help="the dense model whose feature settings to use (bmt, bmt-tiny, ...)")
    ap.add_argument("--splits", default="train,val,test")
    ap.add_argument("--features", default=None, help="pre-extracted features to check instead of extracting")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value, as for vxt train")
    ap.add_argument("--video-weights", default=None)
    ap.add_argument("--audio-weights", default=None)
    # other `vxt train` options (a recipe passes the same extra arguments to both) do not concern features
    args, _ = ap.parse_known_args(argv)

    try:
        overrides = parse_overrides(args.sets)
        if args.features:
            overrides["features"] = args.features
        for key in ("video_weights", "audio_weights"):
            if getattr(args, key):
                overrides[key] = getattr(args, key)
        task, _ = task_options(args.model, overrides)
        store = FeatureStore.from_config(feature_config(task), args.data)
        examples = []
        for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
            if (Path(args.data) / f"{split}.jsonl").exists():
                examples += task_examples(args.data, split, "dense")
        store.prepare(examples)
        dv, da = store.dims(examples)
    except VxtError as e:
        print(f"vxt: error: {e.format()}", file=sys.stderr)
        return e.exit_code
    where = store.cache_dir or store.files_dir
    print(f"features of {len(examples)} dense videos ready in {where} (video {dv}-d, audio {da}-d)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
