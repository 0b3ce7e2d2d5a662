"""Foley clips (``--mode foley``): every sound is caused by a visible event at an exact time.

A 10 s clip (25 fps, 128 px; audio at 22,050 Hz) shows one *actor* whose events
sound, in one horizontal lane of the frame:

* ``wall``: a shape slides between two walls and knocks against them;
* ``collide``: a shape slides into a resting one of the same kind, which moves on
  (a Newton's cradle);
* ``lid``: a lid falls onto a box;
* ``blink``: a lamp lights up.

What an event sounds like is set by what is seen: the material by the shape
(square: wood, a ``knock``; circle: metal, a ``clang``; triangle: glass, a
``clink``), a lid's ``thud``, a lamp's ``beep``; the pitch by the size (bigger is
lower); the loudness by the speed at impact (a lamp's by chance). Every event
lies on a frame (its time is ``frame / 25``), so the picture changes on that
frame (contact, a reversal, a landing, the light going on) and the sound starts
on the very sample (22,050 / 25 = 882 samples per frame).

``--events sparse`` (VGGSound-Sparse's case): 1 to 3 sounding events, with
distractors that carry no synchronisation cue: one or two shapes that drift in
the other lane without a sound, and one or two quiet off-screen sounds with
nothing in the picture (at least 0.5 s from any event, at most a third of the
quietest event's loudness). ``--events dense`` (the easy pre-training case, as
LRS3 is for SparseSync): a busy irregular rhythm (each gap drawn anew, 0.4-1 s),
no distractors; a clip's ``period`` is its shortest gap (frames).

The clip's sound class is its ``label`` (``FOLEY_LABELS``); the manifest lists
the events as ``sound_events: [{"time", "kind"}]`` (off-screen sounds are not
events: nothing visible causes them).

Streams (children of the item seed, kind ``foley-sparse`` / ``foley-dense``): 0 the
scene and its events, 2 the pixels, 3 the fixed sync offsets of val/test, 4 the
samples, 5 the visual domain's style. The picture and the sound never share a
stream, so a scene sounds the same in every visual domain.
"""

from __future__ import annotations

import math
from typing import Any

from vxt.data.synth.specs import _r3, _rngs, _stream
from vxt.data.synth.vocab import (
    _AUDIO_STREAM,
    _RGB,
    COLOURS,
    FOLEY_LABEL_OF_KIND,
    FOLEY_LABELS,
    FOLEY_SAMPLE_RATE,
    FOLEY_SECONDS,
    FPS,
    HIT_KIND,
    MATERIALS,
    SHAPES,
    SIZE,
    SYNC_OFFSETS,
    SYNC_WINDOW,
)

#: events fall on frames in [FIRST, LAST] (1 s to 9 s of a 10 s clip; to 1 s before the end of a longer one)
FIRST_EVENT_FRAME, LAST_EVENT_FRAME = 25, 225
#: the shortest clip ``--seconds`` allows: a 5 s trim with +-2 s of offset room
MIN_FOLEY_SECONDS = SYNC_WINDOW + 4.0
_WALL_RGB = (118, 96, 74)
_HOUSING_RGB = (58, 58, 62)
#: half-width of a shape of size r (the contact distance to a vertical wall)
_EXT = {"circle": 1.0, "square": 0.886, "triangle": 1.342}
_MATERIAL_SHAPE = {m: s for s, m in MATERIALS.items()}
_KIND_OF_LABEL = {lab: k for k, lab in FOLEY_LABEL_OF_KIND.items()}
_V_MIN, _V_MAX = 35.0, 90.0  # sliding speeds (px/s) of the sparse clips


def _rgb(rng, colour: str) -> list[int]:
    tint = rng.integers(-20, 21, size=3)
    return [int(min(255, max(0, c + int(t)))) for c, t in zip(_RGB[colour], tint)]


def _seg(t0, t1, x0, y0, x1, y1, ease="lin") -> list:
    return [_r3(t0), _r3(t1), float(x0), float(y0), float(x1), float(y1), ease]


def track_at(track: list, t: float) -> tuple[float, float]:
    """The position on a piecewise track at ``t``: before it its start, between and after segments the last end."""
    if not track or t <= track[0][0]:
        return (track[0][2], track[0][3]) if track else (0.0, 0.0)
    cur = track[0]
    for seg in track:
        if seg[0] <= t:
            cur = seg
    t0, t1, x0, y0, x1, y1, ease = cur
    if t >= t1 or t1 <= t0:
        return x1, y1
    u = (t - t0) / (t1 - t0)
    u = u * u if ease == "in" else 1 - (1 - u) ** 2 if ease == "out" else u
    return x0 + (x1 - x0) * u, y0 + (y1 - y0) * u


def _gain_from_speed(v: float, lo: float, hi: float) -> float:
    return round(0.3 + 0.7 * min(max((v - lo) / (hi - lo), 0.0), 1.0), 4)


def _f0(kind: str, size: float) -> float:
    """Pitch from size: bigger is lower (``size``: a shape's r, a box's width / 4, a lamp's r)."""
    base = {"knock": 620.0, "clang": 900.0, "clink": 2300.0, "thud": 110.0, "beep": 1400.0}[kind]
    return round(base * 10.0 / size, 2)


def sync_window(seconds: float) -> float:
    """The trim the fixed val/test starts of a ``seconds`` clip leave room for: 5 s up to 10 s clips, else the longest
    one with +-2 s of offset (``seconds - 4``): one test set for every input length (shorter trims, same start)."""
    return SYNC_WINDOW if seconds <= FOLEY_SECONDS else seconds - 4.0


def _dense_frames(rng, shortest: int, first: int, last: int = LAST_EVENT_FRAME) -> list[int]:
    """Dense event frames from ``first`` to the last event frame, each gap drawn anew from ``shortest`` to 25 frames
    (1 s): a busy rhythm that never repeats exactly, so no offset looks like another shifted by one period (a
    strictly periodic rhythm would make offsets a period apart indistinguishable to any synchroniser)."""
    frames = [first]
    while True:
        nxt = frames[-1] + int(rng.integers(shortest, 26))
        if nxt > last:
            return frames
        frames.append(nxt)


def _event_frames_sparse(rng, k: int, gaps_s: list[float], first_min_s: float,
                         last: int = LAST_EVENT_FRAME) -> list[int] | None:
    """k event frames: the first at or after ``first_min_s``, then the given gaps (seconds), all in [1 s, ``last``]."""
    gaps = [max(1, int(round(g * FPS))) for g in gaps_s[: k - 1]]
    lo = max(FIRST_EVENT_FRAME, int(math.ceil(first_min_s * FPS)))
    hi = last - sum(gaps)
    if hi < lo:
        return None
    f = int(rng.integers(lo, hi + 1))
    frames = [f]
    for g in gaps:
        frames.append(frames[-1] + g)
    return frames


# ---------------------------------------------------------------- scenarios


def _wall(rng, events: str, lane: tuple[float, float], colour: str, material: str, last: int = LAST_EVENT_FRAME) -> dict:
    shape = _MATERIAL_SHAPE[material]
    r = float(rng.uniform(7, 12))
    ext = _EXT[shape] * r
    y = (lane[0] + lane[1]) / 2 + float(rng.uniform(-3, 3))
    if events == "dense":
        period = int(rng.integers(10, 16))  # the shortest gap between hits (frames)
        v = float(rng.uniform(60, 160))
        d = min(v * period / FPS, SIZE - 2 * (5 + 4) - 2 * ext - 6)
        cl, cr = SIZE / 2 - d / 2, SIZE / 2 + d / 2
        frames = _dense_frames(rng, period, int(rng.integers(period // 2, period + 1)), last)
        speeds = [d * FPS / period] + [d * FPS / (b - a) for a, b in zip(frames, frames[1:])]
        approach = speeds[0] * frames[0] / FPS
    else:
        wl, wr = float(rng.uniform(3, 12)), float(rng.uniform(116, 125))
        cl, cr = wl + 5 + ext, wr - 5 - ext
        d = cr - cl
        k = int(rng.integers(1, 4))
        speeds = [float(rng.uniform(_V_MIN, _V_MAX)) for _ in range(k)]
        approach = float(rng.uniform(0.3, 0.9)) * d
        gaps = [d / v for v in speeds[1:]]
        frames = None
        while frames is None:  # fewer hits when they do not fit in 1-9 s
            frames = _event_frames_sparse(rng, len(speeds), gaps, approach / speeds[0] + 0.2, last)
            if frames is None:
                speeds, gaps = speeds[:-1], gaps[:-1]
        speeds = [speeds[0]] + [d * FPS / (b - a) for a, b in zip(frames, frames[1:])]
    walls = [[cl - ext - 5, lane[0], cl - ext, lane[1], list(_WALL_RGB)], [cr + ext, lane[0], cr + ext + 5, lane[1], list(_WALL_RGB)]]
    side = int(rng.integers(2))  # which wall is hit first
    contact = (cl, cr)
    track = []
    t1 = frames[0] / FPS
    xa = contact[side]
    x_start = xa + approach if side == 0 else xa - approach
    t_start = t1 - approach / speeds[0]
    track.append(_seg(t_start, t1, x_start, y, xa, y))
    for j in range(1, len(frames)):
        side = 1 - side
        xb = contact[side]
        track.append(_seg(frames[j - 1] / FPS, frames[j] / FPS, xa, y, xb, y))
        xa = xb
    d_out = float(rng.uniform(0.3, 0.8)) * d
    v_last = speeds[-1]
    x_end = xa + d_out if side == 0 else xa - d_out
    track.append(_seg(frames[-1] / FPS, frames[-1] / FPS + 2 * d_out / v_last, xa, y, x_end, y, "out"))
    kind = HIT_KIND[material]
    evs = [{"frame": f, "kind": kind, "speed": round(v, 2), "gain": _gain_from_speed(v, _V_MIN, 160.0 if events == "dense" else _V_MAX),
            "f0": _f0(kind, r), "cause": "wall"} for f, v in zip(frames, speeds)]
    body = {"shape": shape, "colour": colour, "rgb": _rgb(rng, colour), "r": r, "track": track}
    return {"cause": "wall", "rects": walls, "bodies": [body], "events": evs, "period": None if events == "sparse" else period}


def _collide(rng, lane, colour: str, material: str, last: int = LAST_EVENT_FRAME) -> dict:
    shape = _MATERIAL_SHAPE[material]
    other = [c for c in COLOURS if c != colour][int(rng.integers(len(COLOURS) - 1))]
    ra, rb = float(rng.uniform(7, 11)), float(rng.uniform(7, 11))
    ea, eb = _EXT[shape] * ra, _EXT[shape] * rb
    y = (lane[0] + lane[1]) / 2 + float(rng.uniform(-3, 3))
    v = float(rng.uniform(_V_MIN, _V_MAX))
    xa0 = ea + float(rng.uniform(3, 10))
    d0 = float(rng.uniform(15, 40))
    xa1 = xa0 + d0
    xb = xa1 + ea + eb
    room = SIZE - 3 - eb - xb
    d1 = float(rng.uniform(0.4, 0.9)) * room
    frame = _event_frames_sparse(rng, 1, [], d0 / v + 0.2, last)[0]
    t1 = frame / FPS
    flip = bool(rng.integers(2))  # right to left instead

    def fx(x):
        return SIZE - x if flip else x

    a = {"shape": shape, "colour": colour, "rgb": _rgb(rng, colour), "r": ra,
         "track": [_seg(t1 - d0 / v, t1, fx(xa0), y, fx(xa1), y)]}
    b = {"shape": shape, "colour": other, "rgb": _rgb(rng, other), "r": rb,
         "track": [_seg(t1, t1 + 2 * d1 / v, fx(xb), y, fx(xb + d1), y, "out")]}
    kind = HIT_KIND[material]
    ev = {"frame": frame, "kind": kind, "speed": round(v, 2), "gain": _gain_from_speed(v, _V_MIN, _V_MAX),
          "f0": _f0(kind, (ra + rb) / 2), "cause": "collide"}
    return {"cause": "collide", "rects": [], "bodies": [a, b], "events": [ev], "period": None}


def _lid(rng, events: str, lane, colour: str, last: int = LAST_EVENT_FRAME) -> dict:
    bw, bh = float(rng.uniform(30, 50)), float(rng.uniform(16, 24))
    bx = float(rng.uniform(bw / 2 + 10, SIZE - bw / 2 - 10))
    bottom = lane[1] - 2
    top = bottom - bh
    h = float(rng.uniform(12, min(22, top - lane[0] - 6)))
    rgb = _rgb(rng, colour)
    lid_y = top - 2  # the lid's centre when closed (4 px thick)
    if events == "dense":
        period = int(rng.integers(15, 21))  # the shortest gap between landings (frames): one fall-rest-lift cycle
        ps = period / FPS
        t_fall, t_rest, t_up = 0.3 * ps, 0.15 * ps, 0.35 * ps
        frames = _dense_frames(rng, period, int(rng.integers(period // 2 + 4, period + 5)), last)
    else:
        period = None
        t_fall, t_rest, t_up = float(rng.uniform(0.18, 0.35)), float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.4, 0.9))
        k = int(rng.integers(1, 4))
        cycle = t_fall + t_rest + t_up + 0.1
        gaps = [cycle + float(rng.uniform(0.2, 1.5)) for _ in range(k - 1)]
        frames = None
        while frames is None:
            frames = _event_frames_sparse(rng, k, gaps, t_fall + 0.2, last)
            k -= 1
    track = []
    for j, f in enumerate(frames):
        t = f / FPS
        track.append(_seg(t - t_fall, t, bx, lid_y - h, bx, lid_y, "in"))
        if j + 1 < len(frames):
            track.append(_seg(t + t_rest, t + t_rest + t_up, bx, lid_y, bx, lid_y - h, "out"))
    v = 2 * h / t_fall
    evs = [{"frame": f, "kind": "thud", "speed": round(v, 2), "gain": _gain_from_speed(v, 60.0, 240.0), "f0": _f0("thud", bw / 4),
            "cause": "lid"} for f in frames]
    box = [bx - bw / 2, top, bx + bw / 2, bottom, rgb]
    dark = [int(c * 0.7) for c in rgb]
    lid = {"shape": "rect", "colour": colour, "rgb": dark, "w": bw + 6, "h": 4.0, "track": track}
    return {"cause": "lid", "rects": [box], "bodies": [lid], "events": evs, "period": period}


def _blink(rng, events: str, lane, colour: str, last: int = LAST_EVENT_FRAME) -> dict:
    r = float(rng.uniform(7, 14))
    x = float(rng.uniform(r + 10, SIZE - r - 10))
    y = (lane[0] + lane[1]) / 2 + float(rng.uniform(-4, 4))
    if events == "dense":
        period = int(rng.integers(10, 16))  # the shortest gap between flashes (frames)
        on = max(2, period // 2)
        frames = _dense_frames(rng, period, int(rng.integers(period // 2, period + 1)), last)
        spans = [[f, f + on] for f in frames]
    else:
        period = None
        k = int(rng.integers(1, 4))
        ons = [int(rng.integers(5, 13)) for _ in range(k)]  # 0.2-0.5 s lit
        gaps = [o / FPS + float(rng.uniform(0.8, 2.5)) for o in ons[:-1]]
        frames = None
        while frames is None:
            frames = _event_frames_sparse(rng, k, gaps, 0.0, last)
            k -= 1
        spans = [[f, f + o] for f, o in zip(frames, ons)]
    lamp = {"x": x, "y": y, "r": r, "colour": colour, "rgb": _rgb(rng, colour), "on": spans}
    evs = [{"frame": f, "kind": "beep", "gain": round(float(rng.uniform(0.4, 0.9)), 4), "f0": _f0("beep", r),
            "length": round((b - a) / FPS, 3), "cause": "blink"} for f, (a, b) in zip(frames, spans)]
    housing = [x - r - 3, y - r - 3, x + r + 3, y + r + 3, list(_HOUSING_RGB)]
    return {"cause": "blink", "rects": [housing], "bodies": [], "lamp": lamp, "events": evs, "period": period}


def _movers(rng, lane, avoid: set[str], seconds: float = FOLEY_SECONDS) -> list[dict]:
    """Shapes drifting slowly in the other lane, touching nothing: motion without sound."""
    n = int(rng.integers(1, 3))
    colours = [c for c in COLOURS if c not in avoid]
    out = []
    for j in range(n):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        colour = colours[int(rng.integers(len(colours)))]
        r = float(rng.uniform(6, 10))
        m = 1.6 * r + 2
        x_lo, x_hi = (m, SIZE - m) if n == 1 else ((m, SIZE / 2 - m) if j == 0 else (SIZE / 2 + m, SIZE - m))
        y_lo, y_hi = lane[0] + m, lane[1] - m
        x0, x1 = (float(v) for v in rng.uniform(x_lo, x_hi, size=2))
        y0, y1 = (float(v) for v in rng.uniform(y_lo, max(y_lo, y_hi), size=2))
        t0 = float(rng.uniform(0, 3))
        t1 = float(rng.uniform(seconds - 3, seconds))
        out.append({"shape": shape, "colour": colour, "rgb": _rgb(rng, colour), "r": r,
                    "track": [_seg(t0, t1, x0, y0, x1, y1)], "silent": True})
    return out


def _offscreen(rng, event_times: list[float], min_gain: float, seconds: float = FOLEY_SECONDS) -> list[dict]:
    """Quiet sounds with nothing in the picture, at least 0.5 s from every event and from each other."""
    out: list[dict] = []
    want = int(rng.integers(1, 3))
    for _ in range(50):
        if len(out) == want:
            break
        t = round(int(rng.integers(8, int(round(seconds * FPS)) - 8)) / FPS, 3)
        if all(abs(t - u) >= 0.5 for u in event_times + [o["time"] for o in out]):
            kind = ("knock", "clang", "clink", "thud", "beep")[int(rng.integers(5))]
            size = float(rng.uniform(7, 13))
            o = {"time": t, "kind": kind, "gain": round(float(rng.uniform(0.15, 0.33)) * min_gain, 4), "f0": _f0(kind, size)}
            if kind == "beep":
                o["length"] = 0.2
            out.append(o)
    return sorted(out, key=lambda o: o["time"])


def foley_spec(seed: int, split: str, index: int, events: str = "sparse", seconds: float = FOLEY_SECONDS) -> dict:
    """Everything a foley clip shows and plays (no pixels): a pure function of its arguments; ``seconds`` long (at
    least ``MIN_FOLEY_SECONDS``), with events from 1 s to 1 s before the end (a 10 s clip is as it always was)."""
    if seconds < MIN_FOLEY_SECONDS:
        raise ValueError(f"foley clips need at least {MIN_FOLEY_SECONDS:g} s (a 5 s trim and +-2 s of offset), got {seconds:g}")
    last = int(round(seconds * FPS)) - FIRST_EVENT_FRAME
    kind = f"foley-{events}"
    rng = _rngs(seed, split, index, kind)[0]
    label = FOLEY_LABELS[int(rng.integers(len(FOLEY_LABELS)))]
    sound_kind = _KIND_OF_LABEL[label]
    top = bool(rng.integers(2))
    lane = (6.0, 62.0) if top else (66.0, 122.0)
    other_lane = (66.0, 122.0) if top else (6.0, 62.0)
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    if sound_kind in ("knock", "clang", "clink"):
        material = {v: k for k, v in HIT_KIND.items()}[sound_kind]
        if events == "sparse" and rng.random() < 0.35:
            scene = _collide(rng, lane, colour, material, last)
        else:
            scene = _wall(rng, events, lane, colour, material, last)
    elif sound_kind == "thud":
        scene = _lid(rng, events, lane, colour, last)
    else:
        scene = _blink(rng, events, lane, colour, last)
    bodies = list(scene["bodies"])
    offscreen: list[dict] = []
    if events == "sparse":
        bodies = _movers(rng, other_lane, {b["colour"] for b in bodies} | {colour}, seconds) + bodies
        offscreen = _offscreen(rng, [e["frame"] / FPS for e in scene["events"]], min(e["gain"] for e in scene["events"]),
                               seconds)
    sound_events = [{"time": _r3(e.pop("frame") / FPS), **e} for e in scene["events"]]
    background = {"seed_tint": [int(v) for v in rng.integers(-25, 26, size=3)], "base": int(rng.integers(80, 170))}
    spec: dict[str, Any] = {
        "id": f"synth-{split}-foley-{events}-{index:05d}",
        "seed": seed,
        "split": split,
        "kind": kind,
        "index": index,
        "events": events,
        "duration": float(seconds),
        "label": label,
        "cause": scene["cause"],
        "lane": list(lane),
        "rects": scene["rects"],
        "bodies": bodies,
        "sound_events": sound_events,
        "offscreen": offscreen,
        "has_audio": True,
        "subtitles": [],
        "background": background,
    }
    if scene.get("lamp"):
        spec["lamp"] = scene["lamp"]
    if scene.get("period"):
        spec["period"] = scene["period"]
    return spec


# ---------------------------------------------------------------- rendering


def foley_prims(spec: dict, i: int) -> list[tuple]:
    """The primitives of frame ``i``: walls and boxes, the shapes and the lid where their tracks put them, the lamp."""
    t = i / FPS
    prims: list[tuple] = [("rect", *r[:4], tuple(r[4])) for r in spec["rects"]]
    for b in spec["bodies"]:
        x, y = track_at(b["track"], t)
        if b["shape"] == "rect":
            prims.append(("rect", x - b["w"] / 2, y - b["h"] / 2, x + b["w"] / 2, y + b["h"] / 2, tuple(b["rgb"])))
        else:
            prims.append(("shape", b["shape"], x, y, b["r"], tuple(b["rgb"])))
    lamp = spec.get("lamp")
    if lamp:
        lit = any(a <= i < b for a, b in lamp["on"])
        rgb = tuple(lamp["rgb"]) if lit else tuple(int(c * 0.28) for c in lamp["rgb"])
        prims.append(("shape", "circle", lamp["x"], lamp["y"], lamp["r"], rgb))
    return prims


def _partials(kind: str, f0: float, rng, sr: int, period_s: float | None):
    """(frequencies, amplitudes, decay seconds, noise-burst amplitude, burst decay) of one event's sound."""
    if kind == "knock":
        return (f0, f0 * 2.31, f0 * 3.93), (1.0, 0.5, 0.25), float(rng.uniform(0.03, 0.06)), 0.8, 0.002
    if kind == "clang":
        tau = float(rng.uniform(0.25, 0.45))
        return (f0, f0 * 2.76, f0 * 5.40, f0 * 8.93), (1.0, 0.6, 0.4, 0.25), tau if period_s is None else min(tau, period_s / 4), 0.3, 0.001
    if kind == "clink":
        tau = float(rng.uniform(0.1, 0.2))
        return (f0, f0 * 2.32, f0 * 4.25), (1.0, 0.5, 0.3), tau if period_s is None else min(tau, period_s / 4), 0.2, 0.0008
    if kind == "thud":
        return (f0, f0 * 1.6), (1.0, 0.4), float(rng.uniform(0.06, 0.1)), 1.0, 0.012
    return (f0,), (1.0,), None, 0.0, 0.0  # beep: a steady tone


def event_wave(ev: dict, rng, sr: int = FOLEY_SAMPLE_RATE, period_s: float | None = None):
    """One event's sound, peak 1, starting at its first sample (a sharp attack)."""
    import numpy as np

    freqs, amps, tau, burst, burst_tau = _partials(ev["kind"], ev["f0"], rng, sr, period_s)
    if ev["kind"] == "beep":
        n = int(round(ev.get("length", 0.2) * sr))
        t = np.arange(n) / sr
        w = np.sin(2 * np.pi * freqs[0] * t) + 0.2 * np.sin(2 * np.pi * 2 * freqs[0] * t)
        rel = min(int(0.005 * sr), n // 2)
        if rel:
            w[n - rel :] *= np.linspace(1, 0, rel)
    else:
        n = int(round(min(5 * tau, 1.5) * sr))
        t = np.arange(n) / sr
        w = np.zeros(n)
        for f, a in zip(freqs, amps):
            if f < 0.45 * sr:
                w += a * np.sin(2 * np.pi * f * t + float(rng.uniform(0, 0.3))) * np.exp(-t / tau)
        if burst:
            w += burst * rng.standard_normal(n) * np.exp(-t / burst_tau)
    return (w / (np.abs(w).max() + 1e-9)).astype(np.float32)


def render_foley_audio(spec: dict, sr: int = FOLEY_SAMPLE_RATE):
    """The sound track (float32 mono at ``sr``): faint room noise, each event from its frame's sample, the off-screen sounds.

    Drawn from the item's own audio stream (never the picture's).
    """
    import numpy as np

    rng = _stream(spec["seed"], spec["split"], spec["index"], spec["kind"], _AUDIO_STREAM)
    n = int(round(spec["duration"] * sr))
    wave = (rng.standard_normal(n) * rng.uniform(0.002, 0.005)).astype(np.float32)
    period_s = spec["period"] / FPS if spec.get("period") else None
    for ev in list(spec["sound_events"]) + list(spec["offscreen"]):
        w = event_wave(ev, rng, sr, period_s)
        a = int(round(ev["time"] * sr))
        b = min(n, a + len(w))
        wave[a:b] += ev["gain"] * w[: b - a]
    return np.clip(wave, -1, 1)


# ---------------------------------------------------------------- examples


def _sync_fixed(spec: dict) -> dict:
    """A fixed evaluation offset and video start (val/test), as SparseSync's lists: the window holds an event when it can."""
    rng = _rngs(spec["seed"], spec["split"], spec["index"], spec["kind"])[3]
    offset = SYNC_OFFSETS[int(rng.integers(len(SYNC_OFFSETS)))]
    # vxt's sign (vxt.data.offsets): the audio trim starts at vstart - offset, and both trims stay in the clip
    window = sync_window(spec["duration"])
    lo, hi = max(0.0, offset), spec["duration"] - window + min(0.0, offset)
    starts = [round(lo + 0.04 * i, 2) for i in range(int(round((hi - lo) / 0.04)) + 1)]
    times = [e["time"] for e in spec["sound_events"]]
    good = [s for s in starts if any(s + 0.2 <= t <= s + SYNC_WINDOW - 0.2 for t in times)] or starts
    return {"offset": offset, "vstart": good[int(rng.integers(len(good)))]}


def foley_examples(spec: dict, video_rel: str) -> list[dict]:
    """The examples of a foley clip: ``-sync`` (with a fixed ``offset``/``vstart`` in val and test) and ``-sound``."""
    common: dict[str, Any] = {
        "video": video_rel,
        "start": 0.0,
        "end": spec["duration"],
        "duration": spec["duration"],
        "label": spec["label"],
        "sound_events": [{"time": e["time"], "kind": e["kind"]} for e in spec["sound_events"]],
        "labels": {"video": [spec["label"]], "audio": [spec["label"]]},
    }
    if "domain" in spec:
        common["domain"] = spec["domain"]
    cid = spec["id"]
    sync = {"id": f"{cid}-sync", "task": "sync", **common}
    if spec["split"] != "train":
        sync.update(_sync_fixed(spec))
    return [sync, {"id": f"{cid}-sound", "task": "sound", **common}]
