"""Visual domains (``--domains``): the styles really differ, colours and shapes stay recognisable, the sound never changes."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from vxt.data import synth
from vxt.data.synth.vocab import _RGB

DOMAINS = synth.DOMAINS


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict]:
    """Six default clips, each in every domain, written as ``vxt prepare`` does: {(index, domain): result}."""
    out = tmp_path_factory.mktemp("domains")
    res = {}
    for i in range(6):
        for d in DOMAINS:
            res[(i, d)] = synth.generate_item((str(out), 0, "train", "clip", i, 1, {"domain": d}))
    return out, res


def _stats(frames) -> np.ndarray:
    """Simple frame statistics: brightness, contrast, saturation, near-white share, gradient, flatness, blockiness."""
    x = frames.astype(np.float32)
    lum = x.mean(axis=-1)
    sat = x.max(axis=-1) - x.min(axis=-1)
    dx = np.abs(np.diff(lum, axis=2))
    inner = dx[:, :, [j for j in range(dx.shape[2]) if j % 4 != 3]]
    edge = dx[:, :, 3::4]
    return np.array([lum.mean(), lum.std(), sat.mean(), (lum > 225).mean(), dx.mean(), (dx < 1.5).mean(),
                     edge.mean() / (inner.mean() + 1e-3)])


def test_a_nearest_centroid_classifier_tells_the_domains_apart(written):
    from vxt.data.media import read_clips

    out, res = written
    feats = {k: _stats(read_clips(out / r["file"], 2, 4, 128, fps=None, threads=1).reshape(-1, 128, 128, 3))
             for k, r in res.items()}
    train = [k for k in feats if k[0] < 3]
    test = [k for k in feats if k[0] >= 3]
    mu = np.mean([feats[k] for k in train], axis=0)
    sd = np.std([feats[k] for k in train], axis=0) + 1e-6
    cent = {d: np.mean([(feats[k] - mu) / sd for k in train if k[1] == d], axis=0) for d in DOMAINS}
    pred = {k: min(DOMAINS, key=lambda d: np.linalg.norm((feats[k] - mu) / sd - cent[d])) for k in test}
    assert all(pred[k] == k[1] for k in test), pred


def test_the_same_scene_sounds_identical_in_every_domain(written, tmp_path):
    from vxt.data.media import read_audio

    out, res = written
    for i in range(6):
        rs = [res[(i, d)] for d in DOMAINS]
        assert rs[0]["id"] == f"synth-train-{i:05d}" and rs[1]["id"] == f"synth-train-cartoon-{i:05d}"
        # the annotations are those of the scene, with the domain recorded
        strip = [[{k: v for k, v in e.items() if k not in ("id", "video", "domain")} for e in r["examples"]] for r in rs]
        assert all(s == strip[0] for s in strip)
        assert [r["examples"][0]["domain"] for r in rs] == list(DOMAINS)
        if rs[0]["missing"]:
            continue
        audio = [read_audio(out / r["file"]) for r in rs]
        assert all(np.array_equal(a, audio[0]) for a in audio[1:])
    # the photo clip is today's clip, byte for byte
    plain = synth.generate_item((str(tmp_path), 0, "train", "clip", 1, 1))
    assert (tmp_path / plain["file"]).read_bytes() == (out / res[(1, "photo")]["file"]).read_bytes()
    assert "domain" not in plain["examples"][0] and plain["examples"][0]["id"] == "synth-train-00001-caption"


def test_foley_and_narrated_sound_the_same_in_every_domain(tmp_path):
    from vxt.data.media import read_audio

    audio = []
    for d in ("photo", "sketch", "night"):
        r = synth.generate_item((str(tmp_path), 0, "val", "foley-sparse", 2, 1, {"domain": d}))
        audio.append(read_audio(tmp_path / r["file"], sr=synth.FOLEY_SAMPLE_RATE))
        assert r["examples"][0]["domain"] == d
    assert all(np.array_equal(a, audio[0]) for a in audio[1:])
    spec = synth.narrated_spec(0, "val", 2)
    waves = [synth.render_narrated_audio(synth.with_domain(spec, d)) for d in DOMAINS]
    assert all(np.array_equal(w, waves[0]) for w in waves[1:])


def _frame(spec: dict, domain: str, i: int = 50):
    """Frame ``i`` of a default clip in ``domain`` (the photo rendering made whole, as the writer does, then styled)."""
    photo = synth.render_video(spec, synth._rngs(spec["seed"], spec["split"], spec["index"], "clip")[2])[i : i + 1]
    style = synth._stream(spec["seed"], spec["split"], spec["index"], "clip", 5)
    out = photo if domain == "photo" else synth.restyle(photo, spec, lambda j: synth.clip_prims(spec, i), domain, style)
    return out[0].astype(np.float32)


def _chroma(rgb) -> np.ndarray:
    v = np.asarray(rgb, dtype=np.float32)
    return v / (v.sum() + 1e-6)


#: the share of its bounding box a shape fills
_FILL = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}


def _shape_of(fill: float, domain: str) -> str:
    if domain == "pixel":  # in 4 x 4 blocks a small circle fills up to 0.94 of its box, a square all of it
        return "triangle" if fill < 0.67 else "circle" if fill < 0.985 else "square"
    return min(_FILL, key=lambda s: abs(_FILL[s] - fill))


def test_colours_and_shapes_stay_recognisable():
    """The object's pixels (where the frame differs from the same scene without it) have its colour's hue in every
    domain, and, where the style fills shapes, the share of its bounding box it fills tells the shape."""
    seen = 0
    for i in range(30):
        spec = synth.clip_spec(1, "train", i)
        obj = spec["objects"][0]
        if obj["motion"] in ("blinks", "grows", "shrinks"):
            continue
        empty = copy.deepcopy(spec)
        empty["objects"] = []
        for domain in DOMAINS:
            frame = _frame(spec, domain)
            mask = np.abs(frame - _frame(empty, domain)).max(axis=-1) > (12 if domain == "night" else 25)
            assert mask.sum() > 30, (domain, i)
            mean = frame[mask].mean(axis=0)
            nearest = min(synth.COLOURS, key=lambda c: np.linalg.norm(_chroma(mean) - _chroma(_RGB[c])))
            assert nearest == obj["colour"], (domain, i, mean, obj["colour"])
            if domain != "sketch":  # outlines only: no fill to measure
                ys, xs = np.nonzero(mask)
                fill = mask.sum() / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
                assert _shape_of(fill, domain) == obj["shape"], (domain, i, fill, obj["shape"])
        seen += 1
    assert seen >= 12
