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

#: options added with the modes; left out of dataset.json when not given, so that the default
#: output stays byte-identical to that of the releases before them
_MODE_OPTIONS = ("mode", "events", "domains", "voice", "seconds")


def parse_domains(value) -> list[str] | None:
    """``--domains``: a comma-separated string or a list of visual domains (None: the default, today's photo look)."""
    from vxt.data.synth import DOMAINS

    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for d in (str(x).strip() for x in items):
        if d and d not in out:
            out.append(d)
    if not out:
        raise DataError(f"--domains needs at least one of {', '.join(DOMAINS)}")
    bad = [d for d in out if d not in DOMAINS]
    if bad:
        raise DataError(f"unknown domain {', '.join(bad)} in --domains (known: {', '.join(DOMAINS)})")
    return out


def _mode_options(o: dict) -> tuple[str, str, str, list[str] | None, float | None]:
    """(mode, events, voice, domains, seconds) from the options, checked; records the resolved ones in ``o``
    (dataset.json)."""
    from vxt.data import synth
    from vxt.data.synth.narrated import ESPEAK_MISSING, espeak_available

    mode = o.get("mode") or "default"
    if mode not in synth.MODES:
        raise DataError(f"--mode must be one of {', '.join(synth.MODES)}, got {mode!r}")
    if o.get("events") is not None and mode != "foley":
        raise DataError("--events applies to --mode foley only")
    events = o.get("events") or "sparse"
    if events not in synth.FOLEY_EVENTS:
        raise DataError(f"--events must be sparse or dense, got {events!r}")
    seconds = o.get("seconds")
    if seconds is not None:
        from vxt.data.synth.foley import MIN_FOLEY_SECONDS

        if mode != "foley":
            raise DataError("--seconds applies to --mode foley only")
        seconds = float(seconds)
        if not MIN_FOLEY_SECONDS <= seconds <= 60:
            raise DataError(f"--seconds must be between {MIN_FOLEY_SECONDS:g} (a 5 s trim and +-2 s of offset) "
                            f"and 60, got {seconds:g}")
    if o.get("voice") is not None and mode != "narrated":
        raise DataError("--voice applies to --mode narrated only")
    voice = o.get("voice") or "code"
    if voice not in synth.VOICES:
        raise DataError(f"--voice must be code or espeak-ng, got {voice!r}")
    if voice == "espeak-ng" and not espeak_available():
        raise DataError(ESPEAK_MISSING)
    if mode != "default":
        given = [k for k in ("n_dense_train", "n_dense_val", "n_dense_test") if o.get(k) is not None]
        if given:
            raise DataError(f"--{given[0].replace('_', '-')} applies to --mode default only (the dense videos)")
    domains = parse_domains(o.get("domains"))
    # ctx.options is what dataset.json records: the new options only when they are used
    for key in _MODE_OPTIONS:
        o.pop(key, None)
    if mode != "default":
        o["mode"] = mode
    if mode == "foley":
        o["events"] = events
        if seconds is not None and seconds != synth.FOLEY_SECONDS:
            o["seconds"] = seconds
        else:
            seconds = None
    if mode == "narrated":
        o["voice"] = voice
    if domains is not None:
        o["domains"] = domains
    return mode, events, voice, domains, seconds


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
        # default | foley | narrated (None: default); foley: sparse | dense events (None: sparse);
        # visual domains, comma-separated (None: photo, as always); narrated: code | espeak-ng (None: code)
        "mode": None,
        "events": None,
        "domains": None,
        "voice": None,
        # foley: the clip length in seconds (None: 10)
        "seconds": None,
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
    mode, events, voice, domains, seconds = _mode_options(o)
    kinds = {"default": ("clip", "dense"), "foley": (f"foley-{events}",), "narrated": ("narrated",)}[mode]
    counts = {}
    for split in ("train", "val", "test"):
        n = int(o[f"n_{split}"])
        nd = o.get(f"n_dense_{split}")
        nd = n // 8 if nd is None else int(nd)
        if n < 0 or nd < 0:
            raise DataError(f"--n-{split} and --n-dense-{split} must be >= 0")
        counts[split] = (n, nd if mode == "default" else 0)
    media = ctx.out / "media"
    media.mkdir(parents=True, exist_ok=True)
    for stale in media.glob(".*.tmp"):  # left by a killed run: never a finished file
        stale.unlink(missing_ok=True)
    # every scene in every domain asked for (the same scene, and the same sound, in each look)
    doms: list[str | None] = list(domains) if domains else [None]

    def per_kind(split: str, n: int, nd: int) -> list[tuple[str, int]]:
        return [(kinds[0], n)] + ([(kinds[1], nd)] if len(kinds) > 1 else [])

    jobs = []
    for split, (n, nd) in counts.items():
        for d in doms:
            for kind, m in per_kind(split, n, nd):
                jobs += [(str(ctx.out), seed, split, kind, i, qa_per_clip, {"domain": d, "voice": voice, "seconds": seconds}) for i in range(m)]
    # dense videos first: they are the longest, so the pool ends evenly
    jobs.sort(key=lambda j: j[3] != "dense")
    results: dict[tuple, dict] = {}
    with progress() as bar:
        task = bar.add_task("generating synth clips", total=len(jobs), visible=ctx.progress and bool(jobs))
        if ctx.workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(min(ctx.workers, len(jobs))) as pool:
                for res in pool.imap_unordered(synth.generate_item, jobs, chunksize=1):
                    results[(res["split"], res["kind"], res["domain"], res["index"])] = res
                    bar.advance(task)
        else:
            for job in jobs:
                res = synth.generate_item(job)
                results[(res["split"], res["kind"], res["domain"], res["index"])] = res
                bar.advance(task)
    examples: dict[str, list[dict]] = {s: [] for s in counts}
    items = []
    for split, (n, nd) in counts.items():
        for d in doms:
            for kind, m in per_kind(split, n, nd):
                for i in range(m):
                    res = results[(split, kind, d, i)]
                    examples[split] += res["examples"]
                    rec = {"id": res["id"], "file": res["file"], "status": "degraded" if res["missing"] else "ok"}
                    if res["missing"]:
                        rec["missing"] = res["missing"]
                        rec["reason"] = "no audio stream (by design: a few percent of synth clips lack audio)"
                    rec["examples"] = [e["id"] for e in res["examples"]]
                    items.append(rec)
    made = sum(1 for r in results.values() if r["status"] == "made")
    stats = {"generated": made, "kept": len(results) - made}
    labels = {"video": list(synth.VIDEO_LABELS), "audio": list(synth.AUDIO_LABELS)}
    decode_by_task: dict[str, dict] = {}
    if mode == "default":
        info = {"counts": {s: {"clips": n, "dense": nd} for s, (n, nd) in counts.items()}, "clip_seconds": synth.CLIP_SECONDS,
                "dense_seconds": synth.DENSE_SECONDS, "fps": synth.FPS, "sample_rate": synth.SAMPLE_RATE, "size": synth.SIZE}
    elif mode == "foley":
        labels = {"video": list(synth.FOLEY_LABELS), "audio": list(synth.FOLEY_LABELS)}
        decode_by_task = {"sound": {"audio_sr": synth.FOLEY_SAMPLE_RATE}}  # SpecVQGAN's rate
        info = {"mode": mode, "events": events, "counts": {s: {"clips": n} for s, (n, _) in counts.items()},
                "clip_seconds": seconds or synth.FOLEY_SECONDS, "fps": synth.FPS, "sample_rate": synth.FOLEY_SAMPLE_RATE, "size": synth.SIZE,
                "sound_kinds": list(synth.FOLEY_KINDS)}
    else:
        from vxt.data.synth.narrated import speech_coverage

        coverage = {s: speech_coverage(exs) for s, exs in examples.items()}
        info = {"mode": mode, "voice": voice, "counts": {s: {"videos": n} for s, (n, _) in counts.items()},
                "seconds": list(synth.NARRATED_SECONDS), "steps": list(synth.NARRATED_STEPS), "fps": synth.FPS,
                "sample_rate": synth.SAMPLE_RATE, "size": synth.SIZE, "speech_coverage": coverage}
        stats["speech_coverage"] = coverage
    if domains is not None:
        info["domains"] = list(domains)
    return AdapterResult(
        examples=examples,
        items=items,
        labels=labels,
        decode=dict(SYNTH_DECODE),
        decode_by_task=decode_by_task,
        info=info,
        stats=stats,
    )
