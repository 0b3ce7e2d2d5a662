"""The synthetic benchmark's pictures: textured background, object shapes and motion, :func:`render_video`."""

from __future__ import annotations

import math

from vxt.data.synth.vocab import FPS, SIZE


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
