"""The synthetic benchmark's text: caption paraphrases, multiple-choice questions and dialogs from a clip's attributes."""

from __future__ import annotations

from vxt.data.synth.vocab import (
    _MOTION_ALT,
    _MOTION_BASE,
    _SOUND_HEARD,
    _SOUND_NOUN,
    _SOUND_WHILE,
    _SOUND_WITH,
    COLOURS,
    EXTRA_COLOURS,
    EXTRA_SHAPES,
    MOTIONS,
    NAMES,
    SHAPES,
    SOUNDS,
)

# ---------------------------------------------------------------- captions, questions, dialogs


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
