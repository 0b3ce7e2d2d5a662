"""The synthetic benchmark's specs: per-item random streams, the sampled attributes of clips and dense videos, their examples.

A spec is everything an item shows, plays and says (no pixels), a pure
function of ``(seed, split, index)``; the manifest examples are built from it.
"""

from __future__ import annotations

from typing import Any

from vxt.data.synth.text import QUESTION_TYPES, _caption_targets, _make_dialog, _make_qa, caption_paraphrases
from vxt.data.synth.vocab import (
    _FILLER_LINES,
    _KIND_CODE,
    _OWNER_LINES,
    _RGB,
    _SPLIT_CODE,
    CLIP_SECONDS,
    COLOURS,
    DENSE_SECONDS,
    MISSING_AUDIO_RATE,
    MOTIONS,
    NAMES,
    SHAPES,
    SIZE,
    SOUNDS,
)


# ---------------------------------------------------------------- specs (the annotations' source)


def item_seed(seed: int, split: str, index: int, kind: str = "clip"):
    """The ``SeedSequence`` of one item: a pure function of (seed, split, kind, index)."""
    import numpy as np

    return np.random.SeedSequence([int(seed), _SPLIT_CODE[split], _KIND_CODE[kind], int(index)])


def _rngs(seed: int, split: str, index: int, kind: str):
    """Independent streams of an item: attributes, annotation wording, pixels and samples, extra questions.

    (``SeedSequence.spawn`` children depend only on their index, so adding a
    stream leaves the first three, and every older file, unchanged.)
    """
    import numpy as np

    return tuple(np.random.default_rng(ss) for ss in item_seed(seed, split, index, kind).spawn(4))


def _stream(seed: int, split: str, index: int, kind: str, k: int):
    """Child stream ``k`` of an item seed (``_rngs`` gives children 0-3; 4: the new modes' audio, 5: styles)."""
    import numpy as np

    return np.random.default_rng(item_seed(seed, split, index, kind).spawn(k + 1)[k])


def domain_id(base_id: str, split: str, domain: str | None) -> str:
    """An item's id in a visual domain: ``photo`` (today's look) keeps the id, another inserts its name after the split.

    ``synth-train-00003`` in ``cartoon`` is ``synth-train-cartoon-00003``: the file name says how
    it was rendered, so a resumed run never keeps a clip of another domain.
    """
    if domain in (None, "photo"):
        return base_id
    head = f"synth-{split}-"
    return f"{head}{domain}-{base_id[len(head):]}"


def with_domain(spec: dict, domain: str | None) -> dict:
    """The spec rendered in ``domain``: the same scene (attributes, sounds, words), its own id; None: as today."""
    if domain is None:
        return spec
    return {**spec, "id": domain_id(spec["id"], spec["split"], domain), "domain": domain}


def _r3(x: float) -> float:
    return round(float(x), 3)


def _sample_object(rng, duration: float) -> dict:
    """Shape, colour, motion and their geometry for an object shown for ``duration`` seconds."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
    lo = 2.0
    geo: dict[str, Any] = {}
    if motion in ("grows", "shrinks"):
        small = float(rng.uniform(6, 9))
        big = float(rng.uniform(max(small * 2.5, 20), 28))
        r0, r1 = (small, big) if motion == "grows" else (big, small)
        margin = max(r0, r1) * 1.25 + lo
        geo.update(r0=r0, r1=r1, x0=float(rng.uniform(margin, SIZE - margin)), y0=float(rng.uniform(margin, SIZE - margin)))
    else:
        r = float(rng.uniform(9, 15))
        margin = r * 1.25 + lo
        geo.update(r0=r, r1=r)
        if motion.startswith("moves"):
            room = SIZE - 2 * margin
            speed = float(min(rng.uniform(16, 28), room / duration))
            travel = speed * duration
            along0 = float(rng.uniform(margin, max(margin, SIZE - margin - travel)))
            across = float(rng.uniform(margin, SIZE - margin))
            direction = motion.split()[1]
            if direction in ("left", "right"):
                x0 = along0 if direction == "right" else SIZE - along0
                geo.update(x0=x0, y0=across, vx=speed if direction == "right" else -speed, vy=0.0)
            else:
                y0 = along0 if direction == "down" else SIZE - along0
                geo.update(x0=across, y0=y0, vx=0.0, vy=speed if direction == "down" else -speed)
        else:
            geo.update(x0=float(rng.uniform(margin, SIZE - margin)), y0=float(rng.uniform(margin, SIZE - margin)))
        if motion == "blinks":
            geo.update(blink_hz=float(rng.uniform(1.5, 2.0)), blink_phase=float(rng.uniform(0, 1)))
    tint = [int(v) for v in rng.integers(-20, 21, size=3)]
    rgb = [int(min(255, max(0, c + t))) for c, t in zip(_RGB[colour], tint)]
    return {"shape": shape, "colour": colour, "motion": motion, "geo": geo, "rgb": rgb}


def _sample_sound(rng, duration: float, *, allow_silence: bool = True) -> dict:
    choices = SOUNDS if allow_silence else SOUNDS[:-1]
    sound = choices[int(rng.integers(len(choices)))]
    on = float(rng.uniform(0.0, min(0.4, duration * 0.1)))
    off = float(duration - rng.uniform(0.0, min(0.4, duration * 0.1)))
    return {"sound": sound, "gain": float(rng.uniform(0.25, 0.6)), "on": on, "off": off}


def _subtitle_lines(rng, owner: str, t0: float, t1: float) -> list[dict]:
    """The owner line (and sometimes a filler line before it) placed within [t0, t1]."""
    text = _OWNER_LINES[int(rng.integers(len(_OWNER_LINES)))].format(o=owner)
    span = t1 - t0
    subs = []
    if rng.random() < 0.3 and span > 3.0:
        f_start = t0 + rng.uniform(0.05, 0.3)
        f_end = f_start + rng.uniform(0.6, 1.0)
        subs.append({"start": _r3(f_start), "end": _r3(f_end), "text": _FILLER_LINES[int(rng.integers(len(_FILLER_LINES)))]})
        lo = f_end + 0.1
    else:
        lo = t0 + rng.uniform(0.1, 0.2 * span)
    dur = min(rng.uniform(1.0, 2.0), t1 - 0.05 - lo)
    start = lo + rng.uniform(0.0, max(0.0, t1 - 0.05 - lo - dur))
    subs.append({"start": _r3(start), "end": _r3(start + dur), "text": text})
    return subs


def clip_spec(seed: int, split: str, index: int) -> dict:
    """Everything a 4 s clip shows, plays and says (no pixels): a pure function of its arguments."""
    rng = _rngs(seed, split, index, "clip")[0]
    obj = _sample_object(rng, CLIP_SECONDS)
    snd = _sample_sound(rng, CLIP_SECONDS)
    owner = NAMES[int(rng.integers(len(NAMES)))]
    has_audio = bool(rng.random() >= MISSING_AUDIO_RATE)
    if not has_audio:  # no audio stream: the clip is silent as far as the text goes
        snd["sound"] = "silence"
    subs = _subtitle_lines(rng, owner, 0.0, CLIP_SECONDS)
    background = {"seed_tint": [int(v) for v in rng.integers(-25, 26, size=3)], "base": int(rng.integers(80, 170))}
    return {
        "id": f"synth-{split}-{index:05d}",
        "seed": seed,
        "split": split,
        "kind": "clip",
        "index": index,
        "duration": CLIP_SECONDS,
        "objects": [{**obj, "start": 0.0, "end": CLIP_SECONDS}],
        "sounds": [{**snd, "start": 0.0, "end": CLIP_SECONDS}],
        "owner": owner,
        "has_audio": has_audio,
        "subtitles": subs,
        "background": background,
    }


def _event_layout(rng, k: int, total: float) -> list[tuple[float, float]]:
    """k events inside [0, total], each 3-6 s, separated by random gaps (some zero: adjacent events)."""
    durs = rng.uniform(3.0, 6.0 if k <= 3 else 4.5, size=k)
    free = total - 0.5 - float(durs.sum())
    weights = rng.uniform(0.2, 1.0, size=k + 1)
    weights[1:k][rng.random(k - 1) < 0.3] = 0.0  # some events follow each other directly
    gaps = free * weights / weights.sum()
    spans, t = [], 0.25 + float(gaps[0])
    for i in range(k):
        s, e = t, t + float(durs[i])
        spans.append((_r3(s), _r3(e)))
        t = e + float(gaps[i + 1])
    return spans


def dense_spec(seed: int, split: str, index: int) -> dict:
    """A 20 s video with 2-4 timed events (shape, motion, sound and owner each)."""
    rng = _rngs(seed, split, index, "dense")[0]
    k = int(rng.integers(2, 5))
    spans = _event_layout(rng, k, DENSE_SECONDS)
    objects, sounds, subs, events = [], [], [], []
    for s, e in spans:
        obj = _sample_object(rng, e - s)
        snd = _sample_sound(rng, e - s)
        owner = NAMES[int(rng.integers(len(NAMES)))]
        objects.append({**obj, "start": s, "end": e})
        sounds.append({**snd, "start": s, "end": e})
        subs += _subtitle_lines(rng, owner, s, e)
        attrs = {"owner": owner, "colour": obj["colour"], "shape": obj["shape"], "motion": obj["motion"], "sound": snd["sound"]}
        events.append(
            {
                "start": s,
                "end": e,
                "sentence": caption_paraphrases(attrs)[0],
                "labels": {"video": [obj["motion"]], "audio": [snd["sound"]]},
            }
        )
    background = {"seed_tint": [int(v) for v in rng.integers(-25, 26, size=3)], "base": int(rng.integers(80, 170))}
    return {
        "id": f"synth-{split}-dense-{index:04d}",
        "seed": seed,
        "split": split,
        "kind": "dense",
        "index": index,
        "duration": DENSE_SECONDS,
        "objects": objects,
        "sounds": sounds,
        "has_audio": True,
        "subtitles": subs,
        "events": events,
        "background": background,
    }


def clip_examples(spec: dict, video_rel: str, qa_per_clip: int = 1) -> list[dict]:
    """The manifest examples of a 4 s clip: ``-caption``, ``-qa`` and ``-dialog``, sharing one video.

    ``qa_per_clip`` > 1 adds questions of other types about the same clip
    (``-qa-<type>``, up to one per question type), drawn from their own random
    stream: the ``-qa`` example and everything else stay as with 1.
    """
    # The wording stream is its own child of the item seed, so it never
    # depends on how many numbers the geometry drew.
    rng = _rngs(spec["seed"], spec["split"], spec["index"], spec["kind"])[1]
    obj, snd = spec["objects"][0], spec["sounds"][0]
    a = {"owner": spec["owner"], "colour": obj["colour"], "shape": obj["shape"], "motion": obj["motion"], "sound": snd["sound"]}
    common: dict[str, Any] = {
        "video": video_rel,
        "start": 0.0,
        "end": spec["duration"],
        "duration": spec["duration"],
        "subtitles": spec["subtitles"],
        "labels": {"video": [a["motion"]]} if not spec["has_audio"] else {"video": [a["motion"]], "audio": [a["sound"]]},
    }
    if not spec["has_audio"]:
        common["missing"] = ["audio"]
    if "domain" in spec:
        common["domain"] = spec["domain"]
    cid = spec["id"]
    caption = {"id": f"{cid}-caption", "task": "caption", **common, "targets": _caption_targets(a, rng)}

    def qa_example(example_id: str, f: dict) -> dict:
        return {"id": example_id, "task": "qa", **common, "question": f["question"], "candidates": f["candidates"],
                "answer": f["answer"], "targets": [f["candidates"][f["answer"]]], "question_type": f["question_type"]}

    qa = qa_example(f"{cid}-qa", _make_qa(a, rng))
    d = _make_dialog(a, rng)
    dialog = {
        "id": f"{cid}-dialog",
        "task": "dialog",
        **common,
        "history": d["history"],
        "question": d["question"],
        "targets": d["targets"],
        "question_type": d["question_type"],
    }
    extra = []
    if qa_per_clip > 1:
        qrng = _rngs(spec["seed"], spec["split"], spec["index"], spec["kind"])[3]
        others = [t for t in QUESTION_TYPES if t != qa["question_type"]]
        for j in qrng.permutation(len(others))[: qa_per_clip - 1]:
            qtype = others[int(j)]
            extra.append(qa_example(f"{cid}-qa-{qtype}", _make_qa(a, qrng, qtype)))
    return [caption, qa, *extra, dialog]


def dense_example(spec: dict, video_rel: str) -> dict:
    motions = sorted({ev["labels"]["video"][0] for ev in spec["events"]}, key=MOTIONS.index)
    sounds = sorted({ev["labels"]["audio"][0] for ev in spec["events"]}, key=SOUNDS.index)
    extra = {"domain": spec["domain"]} if "domain" in spec else {}
    return {
        "id": f"{spec['id']}-dense",
        "task": "dense",
        "video": video_rel,
        "start": 0.0,
        "end": spec["duration"],
        "duration": spec["duration"],
        "subtitles": spec["subtitles"],
        "events": spec["events"],
        "labels": {"video": motions, "audio": sounds},
        **extra,
    }
