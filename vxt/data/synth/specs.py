"""The synthetic audio-visual benchmark: generated clips in which every modality matters.

Each 4 s clip shows one shape (circle, square, triangle) of one colour (red,
green, blue, yellow) doing one motion (moves left/right/up/down, grows,
shrinks, blinks, stays still) over a random textured, noisy background; its
audio track carries one sound (a low hum, a high beep, a rising whistle, a
drum, rain, or silence) over background noise; its sidecar subtitle names the
shape's owner (a name that is in no other modality). Captions, multiple-choice
questions and dialog answers are built from those attributes, so a model must
use video, audio and speech to get them right, and the ground truth is known.

Dense-captioning videos are 20 s long with 2-4 timed events, each its own
shape, motion, sound and owner; the sound and the subtitle of an event play
during the event only.

Everything an example says is a pure function of ``(seed, split, index)``:
each item draws from its own ``numpy.random.Generator`` seeded by a
``SeedSequence`` of those numbers, so the annotations are byte-identical
whatever the number of workers or the order items are produced in, and a
resumed run can rebuild the annotations of an item whose mp4 it keeps without
re-rendering it. The attributes come from one child stream and the pixels and
samples from another, so the annotations never depend on rendering.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------- constants

FPS = 25
SAMPLE_RATE = 16000
SIZE = 128
CLIP_SECONDS = 4.0
DENSE_SECONDS = 20.0
#: fraction of 4 s clips written without an audio stream (``missing: ["audio"]``)
MISSING_AUDIO_RATE = 0.03

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
MOTIONS = ("moves left", "moves right", "moves up", "moves down", "grows", "shrinks", "blinks", "stays still")
SOUNDS = ("low hum", "high beep", "rising whistle", "drum", "rain", "silence")
NAMES = ("anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "iris", "jack")

#: values that never occur, used only as multiple-choice distractors where the
#: real value set is smaller than the 4 distractors a question needs
EXTRA_COLOURS = ("purple", "orange", "white", "pink")
EXTRA_SHAPES = ("star", "heart", "diamond")

#: the label spaces of the modality classifiers (as Kinetics and AudioSet are for the paper)
VIDEO_LABELS = MOTIONS
AUDIO_LABELS = SOUNDS

_RGB = {
    "red": (215, 35, 35),
    "green": (35, 190, 55),
    "blue": (40, 70, 225),
    "yellow": (230, 215, 35),
}
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
_KIND_CODE = {"clip": 0, "dense": 1}

# ---------------------------------------------------------------- phrasing

_MOTION_ALT = {
    "moves left": "goes to the left",
    "moves right": "goes to the right",
    "moves up": "goes up",
    "moves down": "goes down",
    "grows": "gets bigger",
    "shrinks": "gets smaller",
    "blinks": "flashes on and off",
    "stays still": "does not move",
}
_MOTION_BASE = {
    "moves left": "move left",
    "moves right": "move right",
    "moves up": "move up",
    "moves down": "move down",
    "grows": "grow",
    "shrinks": "shrink",
    "blinks": "blink",
    "stays still": "stay still",
}
_SOUND_NOUN = {
    "low hum": "a low hum",
    "high beep": "a high beep",
    "rising whistle": "a rising whistle",
    "drum": "a drum",
    "rain": "rain",
    "silence": "silence",
}
_SOUND_WHILE = {
    "low hum": "while a low hum plays",
    "high beep": "while a high beep sounds",
    "rising whistle": "while a whistle rises",
    "drum": "while a drum plays",
    "rain": "while rain falls",
    "silence": "in silence",
}
_SOUND_WITH = {
    "low hum": "with a low hum",
    "high beep": "with a high beep",
    "rising whistle": "with a rising whistle",
    "drum": "with a drum playing",
    "rain": "with the sound of rain",
    "silence": "without any sound",
}
_SOUND_HEARD = {
    "low hum": "a low hum can be heard",
    "high beep": "a high beep can be heard",
    "rising whistle": "a rising whistle can be heard",
    "drum": "a drum can be heard",
    "rain": "rain can be heard",
    "silence": "nothing can be heard",
}

_OWNER_LINES = (
    "look, this is {o}'s",
    "this one belongs to {o}",
    "it's {o}'s, i think",
    "{o} owns this one",
    "that is {o}'s toy",
    "hey, this one is {o}'s",
)
_FILLER_LINES = ("what is that?", "watch this", "hmm, let me see", "ok, here it comes", "wait for it")


def caption_paraphrases(a: dict) -> list[str]:
    """All caption templates for the attributes ``a`` (owner, colour, shape, motion, sound); first is canonical."""
    o, c, s, m, snd = a["owner"], a["colour"], a["shape"], a["motion"], a["sound"]
    return [
        f"{o}'s {c} {s} {m} {_SOUND_WHILE[snd]}",
        f"a {c} {s} that belongs to {o} {m} {_SOUND_WITH[snd]}",
        f"the {c} {s} of {o} {_MOTION_ALT[m]} and {_SOUND_HEARD[snd]}",
        f"{o} owns a {c} {s} which {_MOTION_ALT[m]} {_SOUND_WHILE[snd]}",
    ]


def _caption_targets(a: dict, rng) -> list[str]:
    """The canonical caption plus two other paraphrases, in a per-clip random order."""
    para = caption_paraphrases(a)
    others = [para[i] for i in rng.permutation(len(para) - 1) + 1]
    return [para[0]] + others[:2]


_QUESTIONS = {
    "colour": ("what colour is the {s}?", "which colour does {o}'s {s} have?"),
    "shape": ("what shape is the {c} object?", "what shape does {o} own?"),
    "motion": ("what does the {c} {s} do?", "how does {o}'s {s} move?"),
    "sound": ("what sound is heard?", "what can you hear while the {s} is shown?"),
    "owner": ("whose {s} is it?", "who owns the {c} {s}?"),
}
QUESTION_TYPES = tuple(_QUESTIONS)


def _candidate(qtype: str, value: str) -> str:
    if qtype == "shape":
        return f"a {value}"
    if qtype == "sound":
        return _SOUND_NOUN[value]
    return value


def _make_qa(a: dict, rng, qtype: str | None = None) -> dict:
    if qtype is None:
        qtype = QUESTION_TYPES[int(rng.integers(len(QUESTION_TYPES)))]
    truth = a[qtype]  # the question types are the attribute names
    real = {"colour": COLOURS, "shape": SHAPES, "motion": MOTIONS, "sound": SOUNDS, "owner": NAMES}[qtype]
    extra = {"colour": EXTRA_COLOURS, "shape": EXTRA_SHAPES}.get(qtype, ())
    others = [v for v in real if v != truth]
    rng.shuffle(others)
    distractors = others[:4]
    if len(distractors) < 4:  # colour, shape: fill with values that never occur
        pool = list(extra)
        rng.shuffle(pool)
        distractors += pool[: 4 - len(distractors)]
    answer = int(rng.integers(5))
    values = list(distractors)
    rng.shuffle(values)
    values.insert(answer, truth)
    templates = _QUESTIONS[qtype]
    question = templates[int(rng.integers(len(templates)))].format(o=a["owner"], c=a["colour"], s=a["shape"])
    candidates = [_candidate(qtype, v) for v in values]
    return {"question": question, "candidates": candidates, "answer": answer, "question_type": qtype}


def _history_turn(attr: str, a: dict, rng) -> list[str]:
    """One open question-answer turn about a single attribute (mentions no other attribute)."""
    c, s, m, snd, o = a["colour"], a["shape"], a["motion"], a["sound"], a["owner"]
    options = {
        "shape": [("what shape is it?", f"it is a {s}"), ("what object do you see?", f"a {s}")],
        "colour": [("what colour is it?", f"it is {c}"), ("which colour does it have?", f"it is {c}")],
        "motion": [("what does it do?", f"it {m}"), ("how does it move?", f"it {m}")],
        "sound": [
            ("is there any sound?", "no, it is silent" if snd == "silence" else f"yes, {_SOUND_NOUN[snd]}"),
            ("what do you hear?", "nothing, it is silent" if snd == "silence" else _SOUND_NOUN[snd]),
        ],
        "owner": [("who does it belong to?", f"it belongs to {o}"), ("whose is it?", f"it is {o}'s")],
    }[attr]
    q, ans = options[int(rng.integers(len(options)))]
    return [q, ans]


def _final_turn(attr: str, a: dict, rng) -> tuple[str, list[str]]:
    """A yes/no question about ``attr``; the answer (>= 2 paraphrases) states the true value."""
    truth = a[attr]
    real = {"colour": COLOURS, "shape": SHAPES, "motion": MOTIONS, "sound": SOUNDS, "owner": NAMES}[attr]
    if rng.random() < 0.5:
        asked = truth
    else:
        others = [v for v in real if v != truth]
        asked = others[int(rng.integers(len(others)))]
    yes = asked == truth
    if attr == "colour":
        q = f"is it {asked}?"
        refs = (
            [f"yes, it is {truth}", f"yes, it's {truth}", f"yes, the object is {truth}"]
            if yes
            else [f"no, it is {truth}", f"no, it's {truth}", f"no, it is not {asked}, it is {truth}"]
        )
    elif attr == "shape":
        q = f"is it a {asked}?"
        refs = (
            [f"yes, it is a {truth}", f"yes, it's a {truth}"]
            if yes
            else [f"no, it is a {truth}", f"no, it's a {truth}", f"no, it is not a {asked}, it is a {truth}"]
        )
    elif attr == "motion":
        q = f"does it {_MOTION_BASE[asked]}?"
        refs = (
            [f"yes, it {truth}", f"yes, it does, it {truth}"]
            if yes
            else [f"no, it {truth}", f"no, it does not, it {truth}"]
        )
    elif attr == "sound":
        q = "is it silent?" if asked == "silence" else f"can you hear {_SOUND_NOUN[asked]}?"
        if truth == "silence":
            refs = ["yes, it is silent", "yes, there is no sound"] if yes else ["no, it is silent", "no, there is no sound"]
        elif yes:
            refs = [f"yes, you can hear {_SOUND_NOUN[truth]}", f"yes, {_SOUND_HEARD[truth]}"]
        else:
            refs = [f"no, you can hear {_SOUND_NOUN[truth]}", f"no, {_SOUND_HEARD[truth]}"]
    else:  # owner
        q = f"is it {asked}'s?"
        refs = (
            [f"yes, it is {truth}'s", f"yes, it belongs to {truth}"]
            if yes
            else [f"no, it is {truth}'s", f"no, it belongs to {truth}"]
        )
    return q, refs


def _make_dialog(a: dict, rng) -> dict:
    attrs = ["colour", "shape", "motion", "sound", "owner"]
    final = attrs[int(rng.integers(len(attrs)))]
    rest = [x for x in attrs if x != final]
    order = [rest[i] for i in rng.permutation(len(rest))][:3]
    history = [_history_turn(x, a, rng) for x in order]
    question, refs = _final_turn(final, a, rng)
    return {"history": history, "question": question, "targets": refs, "question_type": final}


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
    }


# ---------------------------------------------------------------- rendering


def _upsample(grid, size: int):
    """Bilinear upsampling of a [g, g, C] grid to [size, size, C] (separable, numpy only)."""
    import numpy as np

    g = grid.shape[0]
    pos = np.linspace(0, g - 1, size, dtype=np.float32)
    i0 = np.clip(np.floor(pos).astype(int), 0, g - 2)
    f = (pos - i0)[:, None, None]
    rows = grid[i0] * (1 - f) + grid[i0 + 1] * f  # [size, g, C]
    f2 = (pos - i0)[None, :, None]
    return rows[:, i0] * (1 - f2) + rows[:, i0 + 1] * f2


def _background(spec: dict, rng):
    """A per-clip random texture: muted coarse blobs, finer detail and static grain, [H, W, 3] float32."""
    import numpy as np

    bg = spec["background"]
    low = _upsample(rng.uniform(-1, 1, size=(5, 5, 3)).astype(np.float32), SIZE)
    low = 0.7 * low + 0.3 * low.mean(axis=2, keepdims=True)
    mid = _upsample(rng.uniform(-1, 1, size=(17, 17, 1)).astype(np.float32), SIZE)
    fine = rng.uniform(-1, 1, size=(SIZE, SIZE, 1)).astype(np.float32)
    tint = np.asarray(bg["seed_tint"], dtype=np.float32)
    tex = bg["base"] + tint + 30.0 * low + 14.0 * mid + 6.0 * fine
    return np.clip(tex, 0, 255).astype(np.float32)


def _object_state(obj: dict, t: float) -> tuple[float, float, float, bool]:
    """Centre x, y, radius and visibility of an object ``t`` seconds after it appears."""
    g = obj["geo"]
    d = max(obj["end"] - obj["start"], 1e-6)
    r = g["r0"] + (g["r1"] - g["r0"]) * min(max(t / d, 0.0), 1.0)
    x = g["x0"] + g.get("vx", 0.0) * t
    y = g["y0"] + g.get("vy", 0.0) * t
    visible = True
    if obj["motion"] == "blinks":
        visible = ((t * g["blink_hz"] + g["blink_phase"]) % 1.0) < 0.5
    return x, y, r, visible


def _draw(frame, shape: str, x: float, y: float, r: float, rgb) -> None:
    """Fill ``shape`` (centre x, y, size r: equal areas across shapes) into ``frame`` in place."""
    import numpy as np

    ext = r * 1.6 + 1
    x0, x1 = max(int(x - ext), 0), min(int(x + ext) + 2, SIZE)
    y0, y1 = max(int(y - ext), 0), min(int(y + ext) + 2, SIZE)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    yy += 0.5
    xx += 0.5
    if shape == "circle":
        mask = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    elif shape == "square":
        h = r * 0.886
        mask = (np.abs(xx - x) <= h) & (np.abs(yy - y) <= h)
    else:  # equilateral triangle pointing up, circumradius 1.55 r
        big = 1.55 * r
        top = y - big
        mask = (yy <= y + big / 2) & (np.abs(xx - x) <= (yy - top) / math.sqrt(3))
    frame[y0:y1, x0:x1][mask] = rgb


def render_video(spec: dict, rng):
    """The frames of an item, uint8 [T, 128, 128, 3] at 25 fps."""
    import numpy as np

    n = int(round(spec["duration"] * FPS))
    tex = _background(spec, rng)
    frames = np.empty((n, SIZE, SIZE, 3), dtype=np.float32)
    frames[:] = tex
    for obj in spec["objects"]:
        rgb = np.asarray(obj["rgb"], dtype=np.float32)
        first = int(math.ceil(obj["start"] * FPS - 1e-9))
        last = min(int(math.ceil(obj["end"] * FPS - 1e-9)), n)
        for i in range(first, last):
            x, y, r, visible = _object_state(obj, i / FPS - obj["start"])
            if visible:
                _draw(frames[i], obj["shape"], x, y, r, rgb)
    noise_std = float(rng.uniform(3.0, 7.0))
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * noise_std
    np.clip(frames, 0, 255, out=frames)
    return frames.astype(np.uint8)


def _sound_wave(sound: str, n: int, rng):
    """One sound, ``n`` samples at 16 kHz, peak-normalised (zeros for silence)."""
    import numpy as np

    sr = SAMPLE_RATE
    t = np.arange(n, dtype=np.float64) / sr
    if sound == "silence" or n <= 0:
        return np.zeros(n, dtype=np.float32)
    if sound == "low hum":
        f0 = rng.uniform(70, 140)
        w = sum((0.6**h) * np.sin(2 * np.pi * (h + 1) * f0 * t + rng.uniform(0, 2 * np.pi)) for h in range(4))
        w *= 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * t)
    elif sound == "high beep":
        f = rng.uniform(1800, 3000)
        period, duty = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.55)
        ph = (t + rng.uniform(0, period)) % period
        gate = np.clip(np.minimum(ph, period * duty - ph) / 0.005, 0, 1)
        w = np.sin(2 * np.pi * f * t) * gate
    elif sound == "rising whistle":
        f0, f1 = rng.uniform(500, 900), rng.uniform(2000, 3500)
        sweeps = int(rng.integers(1, 3))
        ts = n / sr / sweeps
        tau = t % ts
        freq = f0 * (f1 / f0) ** (tau / ts) * (1 + 0.01 * np.sin(2 * np.pi * 6 * t))
        w = np.sin(np.cumsum(2 * np.pi * freq / sr))
    elif sound == "drum":
        interval = rng.uniform(0.3, 0.55)
        k = np.arange(int(0.4 * sr)) / sr
        f = rng.uniform(60, 110)
        hit = np.sin(2 * np.pi * f * k * (1 - 0.3 * k)) * np.exp(-k / 0.12)
        hit += 0.5 * rng.standard_normal(len(k)) * np.exp(-k / 0.02)
        w = np.zeros(n + len(k))
        for s in np.arange(rng.uniform(0, interval / 2), n / sr, interval):
            i = int(s * sr)
            w[i : i + len(k)] += hit * rng.uniform(0.8, 1.0)
        w = w[:n]
    else:  # rain: high-passed noise with slow swells and droplet crackles
        noise = rng.standard_normal(n + 1)
        w = np.diff(noise) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t))
        drops = (rng.random(n) < 40 / sr) * rng.uniform(1.5, 3.0, n)
        kern = np.exp(-np.arange(int(0.004 * sr)) / (0.001 * sr)) * np.sin(2 * np.pi * 3500 * np.arange(int(0.004 * sr)) / sr)
        w += np.convolve(drops, kern)[:n]
    w = w / (np.abs(w).max() + 1e-9)
    fade = min(int(0.02 * sr), n // 2)
    if fade:
        ramp = np.linspace(0, 1, fade)
        w[:fade] *= ramp
        w[n - fade :] *= ramp[::-1]
    return w.astype(np.float32)


def render_audio(spec: dict, rng):
    """The audio track of an item, float32 mono 16 kHz: its sounds at their times plus background noise."""
    import numpy as np

    n = int(round(spec["duration"] * SAMPLE_RATE))
    wave = (rng.standard_normal(n) * rng.uniform(0.004, 0.015)).astype(np.float32)
    for snd in spec["sounds"]:
        a = int(round((snd["start"] + snd["on"]) * SAMPLE_RATE))
        b = min(int(round((snd["start"] + snd["off"]) * SAMPLE_RATE)), n)
        wave[a:b] += snd["gain"] * _sound_wave(snd["sound"], b - a, rng)
    return np.clip(wave, -1, 1)


# ---------------------------------------------------------------- writing


def srt_text(subs: list[dict]) -> str:
    """Subtitles as SubRip text."""

    def ts(x: float) -> str:
        ms = int(round(x * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i}\n{ts(s['start'])} --> {ts(s['end'])}\n{s['text']}\n\n" for i, s in enumerate(subs, 1))


def write_mp4(path: str | os.PathLike, frames, wave=None, *, fps: int = FPS, sample_rate: int = SAMPLE_RATE) -> None:
    """Write H.264 (yuv420p) video and, if ``wave`` is given, AAC mono audio to ``path``, atomically."""
    import av
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with av.open(str(tmp), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": "20", "preset": "veryfast"}
            vs.codec_context.thread_count = 1
            aus = None
            if wave is not None:
                aus = out.add_stream("aac", rate=sample_rate, layout="mono")
            for f in frames:
                for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(pkt)
            for pkt in vs.encode():
                out.mux(pkt)
            if aus is not None:
                fs = aus.codec_context.frame_size or 1024
                wave = np.asarray(wave, dtype=np.float32)
                for pts in range(0, len(wave), fs):
                    chunk = wave[pts : pts + fs]
                    if len(chunk) < fs:
                        chunk = np.pad(chunk, (0, fs - len(chunk)))
                    af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    af.sample_rate = sample_rate
                    af.pts = pts
                    for pkt in aus.encode(af):
                        out.mux(pkt)
                for pkt in aus.encode():
                    out.mux(pkt)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _existing_ok(mp4: Path, srt: Path, spec: dict, srt_expected: str) -> bool:
    """True when a previous run finished this item: its srt is as expected and its mp4 probes right."""
    if not (mp4.exists() and srt.exists()):
        return False
    try:
        if srt.read_text(encoding="utf-8") != srt_expected:
            return False
        from vxt.data.media import probe

        info = probe(mp4)
    except Exception:  # noqa: BLE001 - anything unreadable is simply regenerated
        return False
    return (
        bool(info.has_video)
        and bool(info.has_audio) == bool(spec["has_audio"])
        and info.duration is not None
        and abs(float(info.duration) - spec["duration"]) < 0.15
    )


def generate_item(job: tuple) -> dict:
    """Make (or keep) one item's mp4 and srt and return its manifest examples.

    ``job`` is ``(out_dir, seed, split, kind, index, qa_per_clip)``; a
    top-level function so that spawned worker processes can run it.
    """
    out_dir, seed, split, kind, index, qa_per_clip = job
    out_dir = Path(out_dir)
    spec = clip_spec(seed, split, index) if kind == "clip" else dense_spec(seed, split, index)
    rel = f"media/{spec['id']}.mp4"
    mp4 = out_dir / rel
    srt = mp4.with_suffix(".srt")
    srt_expected = srt_text(spec["subtitles"])
    if _existing_ok(mp4, srt, spec, srt_expected):
        status = "kept"
    else:
        render_rng = _rngs(seed, split, index, kind)[2]
        frames = render_video(spec, render_rng)
        wave = render_audio(spec, render_rng) if spec["has_audio"] else None
        from vxt.utils import atomic_write_text

        atomic_write_text(srt, srt_expected)
        write_mp4(mp4, frames, wave)
        status = "made"
    examples = clip_examples(spec, rel, qa_per_clip) if kind == "clip" else [dense_example(spec, rel)]
    return {
        "id": spec["id"],
        "split": split,
        "kind": kind,
        "index": index,
        "file": rel,
        "status": status,
        "missing": [] if spec["has_audio"] else ["audio"],
        "examples": examples,
    }
