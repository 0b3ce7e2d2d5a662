"""Narrated instructional videos (``--mode narrated``): speech in the audio that carries the transcript.

A 40-60 s video of 6-10 consecutive *steps* (4-6 s each) shows in each step one
shape of one colour making one motion (the default clips' grammar) while a
sound plays softly; an instructor's narration of the step is *spoken in the
audio track*, as HowTo100M's ASR sentences are, and its transcript is the
subtitle text (``subtitles``).

The narration is recognisable from the audio alone:

* ``--voice code`` (the default): a self-contained word code. Every word of
  :data:`VOCAB` is a distinct short harmonic pattern of 4 syllables; the first
  syllable is at the speaker's pitch, the other three at one of 6 pitch ratios
  to it (:data:`RATIOS`), so a word is 3 base-6 digits (:func:`word_code`).
  Each video draws its speaker (pitch 110-200 Hz, syllable length, pauses,
  timbre) and its noise. :func:`decode_word_code` reads the words back from a
  waveform with the codebook alone (no model);
* ``--voice espeak-ng``: real synthesised speech from the ``espeak-ng`` program
  (``apt-get install espeak-ng``), the speaker's pitch and rate drawn per video.

The narration mentions only part of what a step's caption says (the caption
describes the shape, colour and motion seen and the sound heard besides
speech; a narration names some of shape, colour and motion, or none); the
adapter reports the *speech coverage rate*, the share of caption words that
occur in the narration (YouCook2 about 49 %, MSR-VTT about 15 %).

Streams (children of the item seed, kind ``narrated``): 0 the steps, their
sounds, the narration and the speaker, 1 the captions' wording, 2 the pixels,
4 the samples (noise, pitch jitter), 5 the visual domain's style.
"""

from __future__ import annotations

import math
from typing import Any

from vxt.data.synth.specs import _r3, _rngs, _sample_object, _sample_sound, _stream
from vxt.data.synth.vocab import (
    _AUDIO_STREAM,
    _MOTION_ALT,
    _SOUND_HEARD,
    _SOUND_WHILE,
    _SOUND_WITH,
    COLOURS,
    FPS,
    MOTIONS,
    NARRATED_SECONDS,
    NARRATED_STEPS,
    SAMPLE_RATE,
    SHAPES,
    STEP_SECONDS,
)

# ---------------------------------------------------------------- narration text

_FIRST_INTROS = ("first", "okay first")
_INTROS = ("now", "next", "then", "okay", "and now")
_LAST_INTROS = ("finally", "and last")
_MOTION_VERB = {
    "moves left": "move it to the left",
    "moves right": "move it to the right",
    "moves up": "lift it up",
    "moves down": "bring it down",
    "grows": "make it bigger",
    "shrinks": "make it smaller",
    "blinks": "let it flash",
    "stays still": "hold it still",
}
#: narration bodies by what they mention (a subset of colour, shape, motion), with the chance of each subset
_BODIES = {
    ("colour", "shape", "motion"): ("take the {c} {s} and {mv}", "grab the {c} {s} and {mv}"),
    ("colour", "shape"): ("we need the {c} {s} here", "pick up the {c} {s}", "here is a {c} {s}"),
    ("shape", "motion"): ("take the {s} and {mv}",),
    ("colour", "motion"): ("use the {c} one and {mv}",),
    ("colour",): ("we need the {c} one here",),
    ("shape",): ("grab the {s}", "look at this {s}"),
    ("motion",): ("{mv} like this", "just {mv}"),
    (): ("watch this part carefully", "this is the easy part", "let me show you how"),
}
_MENTION_P = {("colour", "shape", "motion"): 0.3, ("colour", "shape"): 0.2, ("shape", "motion"): 0.1,
              ("colour", "motion"): 0.1, ("colour",): 0.07, ("shape",): 0.07, ("motion",): 0.08, (): 0.08}


def _vocab() -> tuple[str, ...]:
    words: set[str] = set()
    for intro in _FIRST_INTROS + _INTROS + _LAST_INTROS:
        words.update(intro.split())
    for templates in _BODIES.values():
        for t in templates:
            for c in COLOURS:
                for s in SHAPES:
                    for mv in _MOTION_VERB.values():
                        words.update(t.format(c=c, s=s, mv=mv).split())
    return tuple(sorted(words))


#: every word a narration can say (the word code's vocabulary)
VOCAB = _vocab()
#: the pitch ratios of syllables 2-4 to syllable 1 (minor thirds around 1)
RATIOS = tuple(2.0 ** ((k - 2) * 0.25) for k in range(6))
_SYLLABLES = 4


def word_code(word: str) -> tuple[int, int, int]:
    """The 3 base-6 digits of a word: the ratio indices of its syllables 2-4 (distinct for every word of VOCAB)."""
    i = VOCAB.index(word)
    c = (i * 97 + 13) % 216
    return (c // 36, c // 6 % 6, c % 6)


_CODEBOOK = {word_code(w): w for w in VOCAB}


def _narration_text(rng, obj: dict, k: int, n: int) -> tuple[str, list[str]]:
    intros = _FIRST_INTROS if k == 0 else _LAST_INTROS if k == n - 1 else _INTROS
    intro = intros[int(rng.integers(len(intros)))]
    keys = list(_MENTION_P)
    p = [_MENTION_P[x] for x in keys]
    mention = keys[int(rng.choice(len(keys), p=[v / sum(p) for v in p]))]
    templates = _BODIES[mention]
    body = templates[int(rng.integers(len(templates)))].format(c=obj["colour"], s=obj["shape"], mv=_MOTION_VERB[obj["motion"]])
    return f"{intro} {body}", list(mention)


def caption_paraphrases_narrated(a: dict) -> list[str]:
    """What a step shows and what is heard besides speech (colour, shape, motion, sound); the first is canonical."""
    c, s, m, snd = a["colour"], a["shape"], a["motion"], a["sound"]
    return [
        f"a {c} {s} {m} {_SOUND_WHILE[snd]}",
        f"the {c} {s} {_MOTION_ALT[m]} {_SOUND_WITH[snd]}",
        f"a {s} that is {c} {m} and {_SOUND_HEARD[snd]}",
    ]


# ---------------------------------------------------------------- specs


def _step_durations(rng) -> list[float]:
    """6-10 step lengths of 4-6 s, on the frame grid, summing to 40-60 s."""
    total = float(rng.uniform(*NARRATED_SECONDS))
    k_lo = max(NARRATED_STEPS[0], math.ceil(total / STEP_SECONDS[1]))
    k_hi = min(NARRATED_STEPS[1], math.floor(total / STEP_SECONDS[0]))
    k = int(rng.integers(k_lo, k_hi + 1))
    mean = total / k
    p = rng.uniform(-1, 1, size=k)
    p -= p.mean()
    room = [(STEP_SECONDS[1] - mean) / v if v > 0 else (mean - STEP_SECONDS[0]) / -v for v in p if abs(v) > 1e-12]
    scale = min([1.0] + room)
    frames = [int(round((mean + scale * float(v)) * FPS)) for v in p]
    return [f / FPS for f in frames]


def _voice(rng) -> dict:
    return {
        "f0": round(float(rng.uniform(110, 200)), 2),
        "syllable": round(float(rng.uniform(0.045, 0.055)), 4),
        "gap": round(float(rng.uniform(0.06, 0.08)), 4),
        "timbre": [round(a * float(rng.uniform(0.8, 1.2)), 3) for a in (1.0, 0.55, 0.35, 0.22, 0.12)],
        "espeak_pitch": int(rng.integers(25, 75)),
        "espeak_speed": int(rng.integers(165, 186)),
    }


def _word_times(words: list[str], t0: float, voice: dict) -> list[list]:
    out, t = [], t0
    dur = _SYLLABLES * voice["syllable"]
    for w in words:
        out.append([w, _r3(t), _r3(t + dur)])
        t += dur + voice["gap"]
    return out


def narrated_spec(seed: int, split: str, index: int, voice: str = "code") -> dict:
    """Everything a narrated video shows, plays and says (no pixels, no samples): a pure function of its arguments.

    With ``voice="espeak-ng"`` the narration's times are those of the code voice
    until :func:`espeak_narration` replaces them with the synthesised speech's.
    """
    rng = _rngs(seed, split, index, "narrated")[0]
    durs = _step_durations(rng)
    spk = _voice(rng)
    steps, objects, sounds, narration = [], [], [], []
    t = 0.0
    for k, d in enumerate(durs):
        s, e = _r3(t), _r3(t + d)
        obj = _sample_object(rng, e - s)
        snd = _sample_sound(rng, e - s, allow_silence=False)
        text, mention = _narration_text(rng, obj, k, len(durs))
        words = text.split()
        speech = len(words) * (_SYLLABLES * spk["syllable"] + spk["gap"]) - spk["gap"]
        lead = float(rng.uniform(0.2, max(0.2, min(0.6, (e - s) - speech - 0.2))))
        wt = _word_times(words, s + lead, spk)
        objects.append({**obj, "start": s, "end": e})
        sounds.append({**snd, "start": s, "end": e})
        narration.append({"start": wt[0][1], "end": wt[-1][2], "text": text, "words": wt})
        steps.append({"start": s, "end": e, "mention": mention})
        t = e
    background = {"seed_tint": [int(v) for v in rng.integers(-25, 26, size=3)], "base": int(rng.integers(80, 170))}
    tag = "" if voice == "code" else "espeak-"
    return {
        "id": f"synth-{split}-narrated-{tag}{index:04d}",
        "seed": seed,
        "split": split,
        "kind": "narrated",
        "index": index,
        "voice": voice,
        "duration": _r3(t),
        "steps": steps,
        "objects": objects,
        "sounds": sounds,
        "speaker": spk,
        "narration": narration,
        "subtitles": [{"start": n["start"], "end": n["end"], "text": n["text"]} for n in narration],
        "has_audio": True,
        "background": background,
    }


# ---------------------------------------------------------------- speech


def code_word_wave(word: str, voice: dict, rng, sr: int = SAMPLE_RATE):
    """One word in the word code: 4 phase-continuous harmonic syllables, peak 1 (pitch jitter from ``rng``)."""
    import numpy as np

    ratios = (1.0,) + tuple(RATIOS[d] for d in word_code(word))
    ns = int(round(voice["syllable"] * sr))
    freq = np.concatenate([np.full(ns, voice["f0"] * r * (1 + float(rng.uniform(-0.01, 0.01)))) for r in ratios])
    phase = np.cumsum(2 * np.pi * freq / sr)
    w = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(voice["timbre"]))
    ramp = int(0.008 * sr)
    env = np.ones(len(w))
    env[:ramp] = np.linspace(0, 1, ramp)
    env[-ramp:] = np.linspace(1, 0, ramp)
    w = w * env
    return (w / (np.abs(w).max() + 1e-9)).astype(np.float32)


def _resample(x, sr_in: int, sr_out: int):
    """Band-limited resampling by FFT (numpy only)."""
    import numpy as np

    if sr_in == sr_out or len(x) == 0:
        return np.asarray(x, dtype=np.float32)
    n_out = int(round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    keep = min(len(spec), n_out // 2 + 1)
    out = np.fft.irfft(spec[:keep], n_out) * (n_out / len(x))
    return out.astype(np.float32)


def espeak_available() -> bool:
    import shutil

    return shutil.which("espeak-ng") is not None


ESPEAK_MISSING = "--voice espeak-ng needs the espeak-ng program, which is not installed: apt-get install espeak-ng (or use the default --voice code)"


def espeak_wave(text: str, pitch: int, speed: int, sr: int = SAMPLE_RATE):
    """``text`` spoken by espeak-ng (American English) as float32 mono at ``sr``."""
    import os
    import subprocess
    import tempfile
    import wave

    import numpy as np

    from vxt.errors import DataError

    if not espeak_available():
        raise DataError(ESPEAK_MISSING)
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        subprocess.run(["espeak-ng", "-v", "en-us", "-p", str(pitch), "-s", str(speed), "-w", tmp, text],
                       check=True, capture_output=True, timeout=60)
        with wave.open(tmp, "rb") as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
    finally:
        os.unlink(tmp)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    # espeak pads a sentence with silence: keep what is spoken (plus 20 ms)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    if len(loud):
        a, b = max(0, loud[0] - int(0.02 * rate)), min(len(x), loud[-1] + int(0.02 * rate))
        x = x[a:b]
    return _resample(x, rate, sr)


def espeak_narration(spec: dict, sr: int = SAMPLE_RATE) -> tuple[dict, list]:
    """The spec with the narration's times of espeak-ng's speech, and each line's waveform.

    A line too long for its step is spoken faster (up to 1.6 times the rate),
    and cut with a fade if it still does not fit.
    """
    spk = spec["speaker"]
    narration, waves = [], []
    for step, line in zip(spec["steps"], spec["narration"]):
        start = line["start"]
        room = step["end"] - 0.15 - start
        speed = spk["espeak_speed"]
        w = espeak_wave(line["text"], spk["espeak_pitch"], speed, sr)
        while len(w) / sr > room and speed < spk["espeak_speed"] * 1.6:
            speed = int(speed * 1.15)
            w = espeak_wave(line["text"], spk["espeak_pitch"], speed, sr)
        if len(w) / sr > room:
            import numpy as np

            w = w[: int(room * sr)].copy()
            fade = min(len(w), int(0.02 * sr))
            w[len(w) - fade :] *= np.linspace(1, 0, fade)
        waves.append(w)
        narration.append({"start": start, "end": _r3(start + len(w) / sr), "text": line["text"], "speed": speed})
    subs = [{"start": n["start"], "end": n["end"], "text": n["text"]} for n in narration]
    return {**spec, "narration": narration, "subtitles": subs}, waves


def render_narrated_audio(spec: dict, espeak_waves=None, sr: int = SAMPLE_RATE):
    """The sound track (float32 mono 16 kHz): the video's noise, each step's sound (softly), the narration.

    Drawn from the item's own audio stream, never the picture's; it reads the
    steps' sounds and the narration only (never the shapes, colours or motions).
    """
    import numpy as np

    from vxt.data.synth.sounds import _sound_wave

    rng = _stream(spec["seed"], spec["split"], spec["index"], "narrated", _AUDIO_STREAM)
    n = int(round(spec["duration"] * sr))
    wave = (rng.standard_normal(n) * rng.uniform(0.003, 0.01)).astype(np.float32)
    for snd in spec["sounds"]:
        a = int(round((snd["start"] + snd["on"]) * sr))
        b = min(int(round((snd["start"] + snd["off"]) * sr)), n)
        wave[a:b] += 0.15 * snd["gain"] * _sound_wave(snd["sound"], b - a, rng)
    if espeak_waves is None:
        for line in spec["narration"]:
            for word, t0, _ in line["words"]:
                w = code_word_wave(word, spec["speaker"], rng, sr)
                a = int(round(t0 * sr))
                b = min(n, a + len(w))
                wave[a:b] += 0.6 * w[: b - a]
    else:
        for line, w in zip(spec["narration"], espeak_waves):
            a = int(round(line["start"] * sr))
            b = min(n, a + len(w))
            wave[a:b] += 0.6 * w[: b - a] / (np.abs(w).max() + 1e-9)
    return np.clip(wave, -1, 1)


def _pitch(seg, sr: int, lo: float = 60.0, hi: float = 420.0) -> float:
    """The fundamental of a harmonic segment by harmonic summation (odd half-harmonics penalised against octave errors)."""
    import numpy as np

    x = seg * np.hanning(len(seg))
    nfft = 16384
    mag = np.abs(np.fft.rfft(x, nfft))
    df = sr / nfft
    cand = np.arange(lo, hi, 0.5)

    def at(f):
        return mag[np.clip(np.round(f / df).astype(int), 0, len(mag) - 1)]

    score = sum(at(h * cand) for h in range(1, 6)) - 0.7 * sum(at((h - 0.5) * cand) for h in range(1, 6))
    return float(cand[int(np.argmax(score))])


def decode_word_code(wave, sr: int = SAMPLE_RATE) -> list[tuple[float, str]]:
    """The words of the word code in ``wave``, as (start seconds, word), read with the codebook alone.

    Words are the stretches where the level is above a third of the speech's
    (the 95th percentile), at least 100 ms long; each is cut in 4 equal
    syllables, the pitch of each is measured in its middle, and the 3 pitch
    ratios to the first syllable, rounded to :data:`RATIOS`, name the word
    (``"<unk>"`` when no word has that code).
    """
    import numpy as np

    x = np.asarray(wave, dtype=np.float32)
    hop, win = int(0.002 * sr), int(0.004 * sr)
    nfr = max(0, (len(x) - win) // hop)
    if nfr == 0:
        return []
    idx = np.arange(nfr)[:, None] * hop + np.arange(win)[None, :]
    env = np.sqrt((x[idx] ** 2).mean(axis=1))
    on = env > env[np.argsort(env)[int(0.95 * (nfr - 1))]] / 3
    # close gaps shorter than 20 ms (within a word), then take the runs
    runs, start = [], None
    gap = 0
    for i, v in enumerate(on):
        if v:
            if start is None:
                start = i
            gap = 0
        elif start is not None:
            gap += 1
            if gap * hop > 0.02 * sr:
                runs.append((start, i - gap + 1))
                start, gap = None, 0
    if start is not None:
        runs.append((start, nfr - gap))
    log_r = np.log(np.asarray(RATIOS))
    out = []
    for a, b in runs:
        s0, s1 = a * hop, b * hop + win
        if (s1 - s0) < 0.1 * sr:
            continue
        L = (s1 - s0) / _SYLLABLES
        f = []
        for j in range(_SYLLABLES):
            lo, hi = int(s0 + (j + 0.2) * L), int(s0 + (j + 0.8) * L)
            f.append(_pitch(x[lo:hi], sr))
        code = tuple(int(np.argmin(np.abs(log_r - math.log(fj / f[0])))) for fj in f[1:])
        out.append((round(s0 / sr, 3), _CODEBOOK.get(code, "<unk>")))
    return out


# ---------------------------------------------------------------- examples


def _words(text: str) -> list[str]:
    """Lowercase runs of letters and digits: the tokenisation of ``vxt.metrics.coverage.words`` (``vxt score
    --coverage``), so the rate recorded here and the one measured on the data dir agree."""
    import re

    return re.findall(r"[^\W_]+", text.lower())


def narrated_examples(spec: dict, video_rel: str) -> list[dict]:
    """Per step ``-stepNN-pretrain`` and ``-stepNN-caption``, and one ``-dense`` example of the whole video.

    ``-pretrain`` (task ``caption``, as ``avcap --stage pretrain`` reads them): targets the step's narration
    (Predict Current Caption), ``next_targets`` the next step's (Predict Next Caption; empty for the last
    step): only pre-training examples have the field. No subtitles: the transcript is the target.
    ``-caption``: what is seen and heard besides speech, with the step's transcript as ``subtitles``
    (for fine-tuning and test).
    """
    rng = _rngs(spec["seed"], spec["split"], spec["index"], "narrated")[1]
    vid = spec["id"]
    base: dict[str, Any] = {"video": video_rel}
    dom = {"domain": spec["domain"]} if "domain" in spec else {}
    out, events = [], []
    n = len(spec["steps"])
    for k, (step, obj, snd, line) in enumerate(zip(spec["steps"], spec["objects"], spec["sounds"], spec["narration"])):
        a = {"colour": obj["colour"], "shape": obj["shape"], "motion": obj["motion"], "sound": snd["sound"]}
        para = caption_paraphrases_narrated(a)
        targets = [para[0]] + [para[i + 1] for i in rng.permutation(len(para) - 1)]
        labels = {"video": [obj["motion"]], "audio": [snd["sound"]]}
        span = {"start": step["start"], "end": step["end"], "duration": spec["duration"]}
        sid = f"{vid}-step{k + 1:02d}"
        # the last step has no next one: its next_targets is empty (the field marks a pre-training example)
        nxt = [spec["narration"][k + 1]["text"]] if k + 1 < n else []
        pre = {"id": f"{sid}-pretrain", "task": "caption", **base, **span, "targets": [line["text"]], "next_targets": nxt,
               "labels": labels, **dom}
        sub = [{"start": line["start"], "end": line["end"], "text": line["text"]}]
        cap = {"id": f"{sid}-caption", "task": "caption", **base, **span, "subtitles": sub, "targets": targets, "labels": labels, **dom}
        out += [pre, cap]
        events.append({"start": step["start"], "end": step["end"], "sentence": para[0], "labels": labels})
    motions = sorted({e["labels"]["video"][0] for e in events}, key=MOTIONS.index)
    sounds = sorted({e["labels"]["audio"][0] for e in events})
    out.append({"id": f"{vid}-dense", "task": "dense", **base, "start": 0.0, "end": spec["duration"], "duration": spec["duration"],
                "subtitles": spec["subtitles"], "events": events, "labels": {"video": motions, "audio": sounds}, **dom})
    return out


def speech_coverage(examples: list[dict]) -> float | None:
    """The share of caption words (all references of the describing ``caption`` examples) that occur in their transcript."""
    hit = total = 0
    for ex in examples:
        if ex.get("task") != "caption" or "next_targets" in ex or not ex.get("subtitles"):
            continue
        spoken = {w for s in ex["subtitles"] for w in _words(s["text"])}
        for t in ex["targets"]:
            ws = _words(t)
            total += len(ws)
            hit += sum(w in spoken for w in ws)
    return None if total == 0 else round(hit / total, 4)
