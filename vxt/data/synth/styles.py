"""The visual domains: one scene grammar rendered as ``photo``, ``cartoon``, ``sketch``, ``night`` or ``pixel``.

A scene is drawn from *primitives*, per frame a list of

* ``("shape", shape, x, y, r, rgb)``: a filled circle, square or triangle (as
  :func:`vxt.data.synth.scene._draw`), and
* ``("rect", x0, y0, x1, y1, rgb)``: a filled axis-aligned rectangle (walls, boxes, lids),

in drawing order. The styles:

* ``photo`` (today's look): the textured background of
  :func:`~vxt.data.synth.scene._background`, filled primitives, Gaussian grain;
* ``cartoon``: flat colours with dark outlines on a flat two-tone background, no grain;
* ``sketch``: outlines only, each in its object's colour, on white paper;
* ``night``: the photo rendering made dark, bluish and low in contrast, with sensor noise;
* ``pixel``: the photo rendering sampled at 32 x 32 and shown in 4 x 4 pixel blocks, 12 levels per channel.

Colours stay recognisable in every style (the object's own colour fills or
outlines it). The styles never draw from the streams that make the sound, so
the audio of a scene is identical in every domain.
"""

from __future__ import annotations

import math

from vxt.data.synth.scene import _background, _draw, _object_state
from vxt.data.synth.vocab import FPS, SIZE

#: outline width in pixels (cartoon, sketch)
_LINE = 2.0
_INK = (25, 25, 30)
_PAPER = 246.0


def clip_prims(spec: dict, i: int) -> list[tuple]:
    """The primitives of frame ``i`` of a default-mode item (clip or dense video): its objects, as ``render_video`` fills them."""
    prims = []
    for obj in spec["objects"]:
        first = int(math.ceil(obj["start"] * FPS - 1e-9))
        last = int(math.ceil(obj["end"] * FPS - 1e-9))
        if first <= i < last:
            x, y, r, visible = _object_state(obj, i / FPS - obj["start"])
            if visible:
                prims.append(("shape", obj["shape"], x, y, r, tuple(obj["rgb"])))
    return prims


def _rect(frame, x0, y0, x1, y1, rgb) -> None:
    a, b = max(int(round(x0)), 0), min(int(round(x1)), SIZE)
    c, d = max(int(round(y0)), 0), min(int(round(y1)), SIZE)
    if a < b and c < d:
        frame[c:d, a:b] = rgb


def _grow(shape: str, r: float, w: float) -> float:
    """The size parameter whose shape's edges lie ``w`` pixels outside those of size ``r`` (same centre)."""
    # edge distance from the centre per unit r: circle 1, square 0.886, triangle (inradius) 0.775
    return r + w / {"circle": 1.0, "square": 0.886}.get(shape, 0.775)


def draw_prims(frame, prims, *, style: str = "fill") -> None:
    """Draw ``prims`` into ``frame`` (float32 [H, W, 3]) in place: ``fill``, ``cartoon`` (outlined) or ``sketch`` (outline only)."""
    import numpy as np

    for p in prims:
        rgb = np.asarray(p[-1], dtype=np.float32)
        if p[0] == "shape":
            _, shape, x, y, r, _ = p
            if style == "cartoon":
                _draw(frame, shape, x, y, _grow(shape, r, _LINE), _INK)
                _draw(frame, shape, x, y, r, rgb)
            elif style == "sketch":
                _draw(frame, shape, x, y, _grow(shape, r, _LINE / 2), rgb)
                _draw(frame, shape, x, y, _grow(shape, r, -_LINE / 2), (_PAPER,) * 3)
            else:
                _draw(frame, shape, x, y, r, rgb)
        else:
            _, x0, y0, x1, y1, _ = p
            if style == "cartoon":
                _rect(frame, x0 - _LINE, y0 - _LINE, x1 + _LINE, y1 + _LINE, _INK)
                _rect(frame, x0, y0, x1, y1, rgb)
            elif style == "sketch":
                _rect(frame, x0 - 1, y0 - 1, x1 + 1, y1 + 1, rgb)
                if x1 - x0 > 2 and y1 - y0 > 2:
                    _rect(frame, x0 + 1, y0 + 1, x1 - 1, y1 - 1, (_PAPER,) * 3)
            else:
                _rect(frame, x0, y0, x1, y1, rgb)


def _flat_background(spec: dict):
    """Cartoon: the scene's background tint as a light flat colour, a slightly darker ground band below."""
    import numpy as np

    bg = spec["background"]
    base = np.clip(np.float32(bg["base"]) + np.asarray(bg["seed_tint"], dtype=np.float32), 0, 255)
    sky = 0.45 * base + 0.55 * 225.0
    out = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    out[:] = sky
    out[int(SIZE * 0.72):] = 0.8 * sky
    return out


class Styler:
    """What a domain fixes per scene (paper grain, a sensor's fixed pattern) and how it turns frames into its look."""

    def __init__(self, spec: dict, domain: str, style_rng):
        import numpy as np

        if domain not in ("photo", "cartoon", "sketch", "night", "pixel"):
            raise ValueError(f"unknown domain {domain!r}")
        self.spec, self.domain, self.rng = spec, domain, style_rng
        self.base = None
        if domain == "cartoon":
            self.base = _flat_background(spec)
        elif domain == "sketch":
            self.base = np.full((SIZE, SIZE, 3), _PAPER, dtype=np.float32)
            self.base += style_rng.normal(0.0, 1.5, size=(SIZE, SIZE, 1)).astype(np.float32)
        elif domain == "night":
            self.pattern = style_rng.normal(0.0, 2.0, size=(SIZE, SIZE, 1)).astype(np.float32)

    @property
    def needs_photo(self) -> bool:
        """True when the look is made from the photo rendering (photo, night, pixel)."""
        return self.domain in ("photo", "night", "pixel")

    def from_photo(self, photo):
        """This domain's frames from the same frames in photo (uint8 in, uint8 out)."""
        import numpy as np

        if self.domain == "photo":
            return photo
        x = photo.astype(np.float32)
        if self.domain == "night":
            x = 10.0 + 0.3 * x * np.asarray([0.85, 0.95, 1.2], dtype=np.float32)
            x += self.pattern + self.rng.standard_normal(x.shape, dtype=np.float32) * 6.0
        else:  # pixel: 4 x 4 blocks (32 x 32 effective), each the colour at its centre, 12 levels per channel
            block, step = 4, 255.0 / 11
            x = x[:, block // 2 :: block, block // 2 :: block]
            x = np.round(x / step) * step
            x = np.repeat(np.repeat(x, block, axis=1), block, axis=2)
        np.clip(x, 0, 255, out=x)
        return x.astype(np.uint8)

    def drawn(self, frame_ids, prims_at):
        """Frames ``frame_ids`` drawn anew from their primitives (cartoon, sketch), uint8 [n, H, W, 3]."""
        import numpy as np

        out = np.empty((len(frame_ids), SIZE, SIZE, 3), dtype=np.uint8)
        for j, i in enumerate(frame_ids):
            f = self.base.copy()
            draw_prims(f, prims_at(i), style=self.domain)
            np.clip(f, 0, 255, out=f)
            out[j] = f.astype(np.uint8)
        return out


def restyle(photo, spec: dict, prims_at, domain: str, style_rng):
    """A whole item's frames in ``domain`` given its photo frames (uint8): the default mode's way (photo is rendered as today)."""
    styler = Styler(spec, domain, style_rng)
    if styler.needs_photo:
        return styler.from_photo(photo)
    return styler.drawn(list(range(len(photo))), prims_at)


class PhotoRenderer:
    """Photo frames of a scene drawn from primitives, made in chunks (long videos never hold float32 frames whole).

    The random draws are those of :func:`~vxt.data.synth.scene.render_video`
    (texture, grain level, then per-frame grain), in frame order.
    """

    def __init__(self, spec: dict, prims_at, rng):
        self.spec, self.prims_at, self.rng = spec, prims_at, rng
        self.tex = _background(spec, rng)
        self.noise_std = float(rng.uniform(3.0, 7.0))

    def frames(self, i0: int, i1: int):
        import numpy as np

        out = np.empty((i1 - i0, SIZE, SIZE, 3), dtype=np.float32)
        out[:] = self.tex
        for j, i in enumerate(range(i0, i1)):
            draw_prims(out[j], self.prims_at(i))
        out += self.rng.standard_normal(out.shape, dtype=np.float32) * self.noise_std
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)


def render_styled(spec: dict, n: int, prims_at, domain: str, pic_rng, style_rng, chunk: int = 250):
    """All ``n`` frames of a scene (uint8 [n, 128, 128, 3]) in ``domain``, rendered ``chunk`` frames at a time.

    ``photo``, ``night`` and ``pixel`` start from the photo rendering (``pic_rng``);
    ``cartoon`` and ``sketch`` draw the primitives anew.
    """
    import numpy as np

    styler = Styler(spec, domain, style_rng)
    out = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    photo = PhotoRenderer(spec, prims_at, pic_rng) if styler.needs_photo else None
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        out[i0:i1] = styler.from_photo(photo.frames(i0, i1)) if photo else styler.drawn(list(range(i0, i1)), prims_at)
    return out
