"""``vxt prepare synth``: the generated audio-visual benchmark (see :mod:`vxt.data.synth`)."""

from __future__ import annotations

from vxt.data.adapters.base import AdapterResult, PrepareContext
from vxt.errors import DataError
from vxt.registry import ADAPTERS

#: decode settings that make the motions classifiable by a tiny 3-D CNN: 4 clips
#: of 8 frames at 6 fps (1.33 s each) cover the whole 4 s clip; a blink at
#: 1.5-2 Hz shows 2-2.7 on/off cycles per clip (well below the 3 Hz Nyquist
#: limit, where 4 fps would alias it); a shape moving 16-28 px/s (capped so it
#: stays in the 128 px frame) moves 10-18 px per clip at 128 px, 5-9 px at the
#: cached 64 px; a growing/shrinking shape changes its radius by 2-3 px per clip
#: at 64 px. (Measured: a 4-layer 3-D CNN, one random clip per example in
#: training, reaches 96-99 % test accuracy on the 8 motions after ~20 epochs
#: of the default 800 clips.) The 20 s dense videos are cached with the same settings (so the
#: training loop, which reads ``decode``, finds every example cached); the dense
#: captioners extract their own feature streams (vxt.data.feature_store).
SYNTH_DECODE = {"num_clips": 4, "frames": 8, "size": 64, "fps": 6.0, "audio_sr": 16000}


@ADAPTERS.register(
    "synth",
    default_config={
        "n_train": 800,
        "n_val": 100,
        "n_test": 100,
        "n_dense_train": None,
        "n_dense_val": None,
        "n_dense_test": None,
        "seed": 0,
        # questions per clip, each of another type (colour, shape, motion, sound, owner): a tiny
        # text model learns to ground its answers from 800 clips with all 5, not with 1
        "qa_per_clip": 5,
    },
    description="the generated audio-visual benchmark (no download)",
)
def synth_adapter(ctx: PrepareContext) -> AdapterResult:
    """Generate (or keep, when a previous run made them) the clips and their annotations."""
    from vxt.data import synth
    from vxt.utils import progress

    o = ctx.options
    seed = int(o["seed"])
    qa_per_clip = int(o.get("qa_per_clip") or 1)
    if not 1 <= qa_per_clip <= len(synth.QUESTION_TYPES):
        raise DataError(f"--qa-per-clip must be between 1 and {len(synth.QUESTION_TYPES)}, got {qa_per_clip}")
    counts = {}
    for split in ("train", "val", "test"):
        n = int(o[f"n_{split}"])
        nd = o.get(f"n_dense_{split}")
        nd = n // 8 if nd is None else int(nd)
        if n < 0 or nd < 0:
            raise DataError(f"--n-{split} and --n-dense-{split} must be >= 0")
        counts[split] = (n, nd)
    media = ctx.out / "media"
    media.mkdir(parents=True, exist_ok=True)
    for stale in media.glob(".*.tmp"):  # left by a killed run: never a finished file
        stale.unlink(missing_ok=True)
    jobs = []
    for split, (n, nd) in counts.items():
        jobs += [(str(ctx.out), seed, split, "clip", i, qa_per_clip) for i in range(n)]
        jobs += [(str(ctx.out), seed, split, "dense", i, qa_per_clip) for i in range(nd)]
    # dense videos first: they are the longest, so the pool ends evenly
    jobs.sort(key=lambda j: j[3] != "dense")
    results: dict[tuple, dict] = {}
    with progress() as bar:
        task = bar.add_task("generating synth clips", total=len(jobs), visible=ctx.progress and bool(jobs))
        if ctx.workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(min(ctx.workers, len(jobs))) as pool:
                for res in pool.imap_unordered(synth.generate_item, jobs, chunksize=1):
                    results[(res["split"], res["kind"], res["index"])] = res
                    bar.advance(task)
        else:
            for job in jobs:
                res = synth.generate_item(job)
                results[(res["split"], res["kind"], res["index"])] = res
                bar.advance(task)
    examples: dict[str, list[dict]] = {s: [] for s in counts}
    items = []
    for split, (n, nd) in counts.items():
        for kind, m in (("clip", n), ("dense", nd)):
            for i in range(m):
                res = results[(split, kind, i)]
                examples[split] += res["examples"]
                rec = {"id": res["id"], "file": res["file"], "status": "degraded" if res["missing"] else "ok"}
                if res["missing"]:
                    rec["missing"] = res["missing"]
                    rec["reason"] = "no audio stream (by design: a few percent of synth clips lack audio)"
                rec["examples"] = [e["id"] for e in res["examples"]]
                items.append(rec)
    made = sum(1 for r in results.values() if r["status"] == "made")
    return AdapterResult(
        examples=examples,
        items=items,
        labels={"video": list(synth.VIDEO_LABELS), "audio": list(synth.AUDIO_LABELS)},
        decode=dict(SYNTH_DECODE),
        info={"counts": {s: {"clips": n, "dense": nd} for s, (n, nd) in counts.items()}, "clip_seconds": synth.CLIP_SECONDS,
              "dense_seconds": synth.DENSE_SECONDS, "fps": synth.FPS, "sample_rate": synth.SAMPLE_RATE, "size": synth.SIZE},
        stats={"generated": made, "kept": len(results) - made},
    )
