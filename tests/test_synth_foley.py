"""Foley clips (``--mode foley``): every listed sound starts on its event's sample and the picture changes on its frame.

Checked in the written mp4s, decoded back through :mod:`vxt.data.media`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vxt.data import synth
from vxt.data.synth import foley

SR = synth.FOLEY_SAMPLE_RATE
FPS = synth.FPS


def _pick(events: str, causes: tuple[str, ...], per_cause: int, split: str = "val") -> list[int]:
    """Item indices whose clips cover ``causes`` (``per_cause`` each)."""
    got: dict[str, list[int]] = {c: [] for c in causes}
    for i in range(200):
        c = synth.foley_spec(0, split, i, events)["cause"]
        if c in got and len(got[c]) < per_cause:
            got[c].append(i)
        if all(len(v) == per_cause for v in got.values()):
            break
    return sorted(i for v in got.values() for i in v)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[tuple[dict, Path]]:
    """Sparse clips of every cause (2 each) and dense clips of each of theirs, written as ``vxt prepare`` does."""
    out = tmp_path_factory.mktemp("foley")
    items = [("sparse", i) for i in _pick("sparse", ("wall", "collide", "lid", "blink"), 2)]
    items += [("dense", i) for i in _pick("dense", ("wall", "lid", "blink"), 1)]
    made = []
    for events, i in items:
        res = synth.generate_item((str(out), 0, "val", f"foley-{events}", i, 1, {}))
        made.append((synth.foley_spec(0, "val", i, events), out / res["file"]))
    return made


def _onset(x, t: float) -> float:
    """Seconds from ``t`` to the first sample above the local threshold: 6 x the level of the 40 ms before
    (ending 20 ms before ``t``) or a tenth of the peak of [t - 20 ms, t + 50 ms], whichever is higher."""
    a = int(round(t * SR))
    b0, b1 = max(0, a - int(0.06 * SR)), a - int(0.02 * SR)
    base = float(np.sqrt(np.mean(x[b0:b1] ** 2)))
    seg = x[b1 : a + int(0.05 * SR)]
    thr = max(6 * base, 0.1 * float(np.abs(seg).max()))
    return (int(np.argmax(np.abs(seg) > thr)) + b1 - a) / SR


def test_spec_and_manifest_fields():
    labels, causes = set(), set()
    for events in synth.FOLEY_EVENTS:
        for i in range(60):
            spec = synth.foley_spec(0, "train", i, events)
            assert spec == synth.foley_spec(0, "train", i, events)  # a pure function
            ev = spec["sound_events"]
            times = [e["time"] for e in ev]
            assert times == sorted(times) and all(1.0 - 1e-9 <= t <= 9.0 + 1e-9 or events == "dense" for t in times)
            assert all(abs(t * FPS - round(t * FPS)) < 1e-6 for t in times)  # on the frame grid
            assert all(e["kind"] == synth.FOLEY_KINDS[synth.FOLEY_LABELS.index(spec["label"])] for e in ev)
            if events == "sparse":
                assert 1 <= len(ev) <= 3
                assert 1 <= len(spec["offscreen"]) <= 2
                assert all(abs(o["time"] - t) >= 0.5 for o in spec["offscreen"] for t in times)
                assert max(o["gain"] for o in spec["offscreen"]) <= min(e["gain"] for e in ev) / 3
                assert any(b.get("silent") for b in spec["bodies"])  # a distractor that moves without a sound
            else:
                assert len(ev) >= 8 and not spec["offscreen"]
                gaps = np.diff(times)
                assert 0.39 <= gaps.min() and gaps.max() <= 1.01  # busy: every 0.4-1 s
                assert gaps.min() >= spec["period"] / FPS - 1e-9
                assert len(set(np.round(gaps, 3))) >= 3  # and irregular: no single period aliases the offsets
            labels.add(spec["label"])
            causes.add(spec["cause"])
            sync, sound = synth.foley_examples(spec, "media/x.mp4")
            assert (sync["task"], sound["task"]) == ("sync", "sound")
            assert sync["label"] == spec["label"] and sync["sound_events"] == [{"time": e["time"], "kind": e["kind"]} for e in ev]
            assert "offset" not in sync  # train: random offsets at training time
    assert labels == set(synth.FOLEY_LABELS) and causes == {"wall", "collide", "lid", "blink"}
    # val/test carry a fixed offset and video start whose windows lie in the clip
    for i in range(20):
        spec = synth.foley_spec(0, "test", i, "sparse")
        sync = synth.foley_examples(spec, "m.mp4")[0]
        assert sync["offset"] in foley.SYNC_OFFSETS
        assert 0 <= sync["vstart"] and sync["vstart"] + 5 <= 10 + 1e-9
        # the audio trim starts at vstart - offset (vxt's sign: offset = audio lag), as the sync model reads it
        assert 0 <= sync["vstart"] - sync["offset"] and sync["vstart"] - sync["offset"] + 5 <= 10 + 1e-9
        from vxt.models.sync.config import sync_config
        from vxt.models.sync.inputs import eval_trim
        trim = eval_trim(sync, 10.0, None, sync_config("sparsesync-tiny"))
        assert trim.offset == sync["offset"]


def test_the_sound_is_set_by_what_is_seen():
    """Material from the shape, pitch from the size (bigger is lower), loudness from the speed."""
    walls = [s for s in (synth.foley_spec(0, "train", i, "sparse") for i in range(150)) if s["cause"] == "wall"]
    assert walls
    for s in walls:
        body = s["bodies"][-1]
        assert all(e["kind"] == foley.HIT_KIND[synth.MATERIALS[body["shape"]]] for e in s["sound_events"])
    by_kind: dict[str, list[tuple[float, float]]] = {}
    speeds, gains = [], []
    for s in walls:
        body = s["bodies"][-1]
        for e in s["sound_events"]:
            by_kind.setdefault(e["kind"], []).append((body["r"], e["f0"]))
            speeds.append(e["speed"])
            gains.append(e["gain"])
    for pairs in by_kind.values():
        r, f0 = np.array(pairs).T
        assert np.corrcoef(r, f0)[0, 1] < -0.9
    assert np.corrcoef(speeds, gains)[0, 1] > 0.9


def test_mp4_format(clips):
    from vxt.data.media import probe

    spec, path = clips[0]
    info = probe(path)
    assert (info.video_codec, info.width, info.height, info.fps, info.num_frames) == ("h264", 128, 128, 25.0, 250)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", SR, 1)
    assert abs(info.duration - 10.0) < 0.1


def test_every_sound_starts_within_10_ms_of_its_event(clips):
    """In the decoded mp4 (read_audio compensates the AAC encoder delay). Measured: most onsets within 0.1 ms;
    the worst about 6.7 ms early, lid thuds whose AAC pre-echo (one short transform block) crosses the threshold."""
    from vxt.data.media import read_audio

    errors = []
    for spec, path in clips:
        x = read_audio(path, sr=SR)
        errors += [_onset(x, e["time"]) for e in spec["sound_events"]]
    errors = np.abs(errors)
    assert len(errors) >= 30
    assert errors.max() <= 0.010, errors.max()


def _frames(path):
    from vxt.data.media import read_clips

    return read_clips(path, 1, 250, 128, fps=None, threads=1)[0].astype(np.float32)


def _track(frames, rgb, rows, cols=(0, 128), tol=45.0):
    """Centroid (x, y) and area of the pixels near ``rgb`` inside ``rows`` x ``cols``, per frame."""
    sub = frames[:, int(rows[0]) : int(rows[1]), int(cols[0]) : int(cols[1])]
    mask = np.linalg.norm(sub - np.asarray(rgb, dtype=np.float32), axis=-1) < tol
    ys, xs = np.mgrid[0 : sub.shape[1], 0 : sub.shape[2]]
    area = mask.sum(axis=(1, 2)).astype(float)
    cx = (mask * xs).sum(axis=(1, 2)) / np.maximum(area, 1)
    cy = (mask * ys).sum(axis=(1, 2)) / np.maximum(area, 1)
    return cx, cy, area


def test_the_picture_changes_on_the_frame_of_each_event(clips):
    """Wall: the shape reverses on the frame (touching the wall); collide: the moving shape stops and the
    struck one starts; lid: it lands (moves up to the frame, rests after); blink: the lamp is lit from the frame."""
    checked = 0
    for spec, path in clips:
        f = _frames(path)
        lane = spec["lane"]
        for e in spec["sound_events"]:
            k = int(round(e["time"] * FPS))
            if k + 1 >= len(f):
                continue
            if spec["cause"] == "wall":
                body = spec["bodies"][-1]
                cx, _, area = _track(f, body["rgb"], lane)
                assert area[k] > 50
                before, after = cx[k] - cx[k - 1], cx[k + 1] - cx[k]
                assert before * after < 0 and min(abs(before), abs(after)) > 0.5, (spec["id"], k, before, after)
            elif spec["cause"] == "collide":
                a, b = spec["bodies"][-2], spec["bodies"][-1]
                ax, _, _ = _track(f, a["rgb"], lane)
                bx, _, _ = _track(f, b["rgb"], lane)
                assert abs(ax[k] - ax[k - 1]) > 0.8 and abs(ax[k + 1] - ax[k]) < 0.3, (spec["id"], ax[k - 1 : k + 2])
                assert abs(bx[k] - bx[k - 1]) < 0.3 and abs(bx[k + 1] - bx[k]) > 0.8, (spec["id"], bx[k - 1 : k + 2])
            elif spec["cause"] == "lid":
                lid, box = spec["bodies"][-1], spec["rects"][0]
                cols = (lid["track"][0][2] - lid["w"] / 2, lid["track"][0][2] + lid["w"] / 2)
                _, cy, _ = _track(f, lid["rgb"], (lane[0], box[1]), cols, tol=35.0)
                assert cy[k] - cy[k - 1] > 1.0 and abs(cy[k + 1] - cy[k]) < 0.3, (spec["id"], cy[k - 1 : k + 2])
            else:
                lamp = spec["lamp"]
                y0, x0, r = int(lamp["y"]), int(lamp["x"]), int(lamp["r"] * 0.6)
                level = f[:, y0 - r : y0 + r, x0 - r : x0 + r].mean(axis=(1, 2, 3))
                assert level[k] - level[k - 1] > 25, (spec["id"], level[k - 1 : k + 1])
            checked += 1
    assert checked >= 30


def _onset_envelope(x, hop: int):
    """Rises of the 10 ms amplitude envelope, one value per ``hop`` samples."""
    n = len(x) // hop
    amp = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    amp = np.convolve(amp, np.ones(2) / 2, mode="same")
    return np.maximum(0.0, np.diff(amp, prepend=amp[0]))


def _detect_offset(x, times, max_lag: float = 2.0, hop: int = 105) -> float:
    """The audio offset (later than the video is positive) that best lines the sound's onsets up with the event times."""
    step = hop / SR  # 105 samples: 4.76 ms, a 210th of a second
    env = _onset_envelope(x, hop)
    lags = np.arange(-max_lag, max_lag + step / 2, step)
    scores = []
    for lag in lags:
        idx = np.round((np.asarray(times) + lag) / step).astype(int)
        ok = (idx >= 1) & (idx < len(env) - 1)
        scores.append(sum(env[i - 1 : i + 2].max() for i in idx[ok]))
    return float(lags[int(np.argmax(scores))])


def _shift(x, offset: float):
    s = int(round(offset * SR))
    return np.concatenate([np.zeros(s, np.float32), x[: len(x) - s]]) if s >= 0 else np.concatenate([x[-s:], np.zeros(-s, np.float32)])


def test_a_known_audio_offset_is_recovered_to_one_frame(clips):
    """Shift the decoded audio, cross-correlate its onsets with the event times: the offset comes back within 40 ms.

    Sparse clips over the whole offset grid (-2..2 s, where the events' sounds stay in the clip); dense clips over offsets
    within half their shortest gap (``period``), where onsets alone cannot be confused with the neighbouring events.
    """
    from vxt.data.media import read_audio

    worst, n = 0.0, 0
    rng = np.random.default_rng(0)
    for spec, path in clips:
        x = read_audio(path, sr=SR)
        times = [e["time"] for e in spec["sound_events"]]
        if spec["events"] == "sparse":
            offsets = [-2.0, -1.0, -0.6, 0.0, 0.4, 1.0, 1.8] + [float(v) for v in rng.choice(foley.SYNC_OFFSETS, 4)]
        else:
            half = spec["period"] / FPS / 2
            offsets = [-0.8 * half, 0.0, 0.5 * half]
        # offsets that keep every event's sound in the clip (one pushed out leaves the others to be
        # matched with a distractor as well as with their own sounds)
        offsets = [d for d in offsets if all(0.2 <= t + d <= 9.8 for t in times)]
        assert offsets
        for d in offsets:
            err = abs(_detect_offset(_shift(x, d), times) - d)
            worst, n = max(worst, err), n + 1
            assert err <= 1 / FPS + 1e-9, (spec["id"], d, err)
    assert n >= 40 and worst <= 1 / FPS  # measured: at most 6 ms


def test_longer_clips_for_the_input_length_ablation(tmp_path):
    """``seconds``: events up to 1 s before the end, fixed starts with room for a 7 s trim in an 11 s clip; the
    default length is the 10 s clip as before; too short a clip is refused."""
    from vxt.models.sync.config import sync_config
    from vxt.models.sync.inputs import eval_trim

    assert synth.foley_spec(0, "test", 3, "sparse", 10.0) == synth.foley_spec(0, "test", 3, "sparse")
    late = 0.0
    for i in range(30):
        spec = synth.foley_spec(0, "test", i, "sparse", 11.0)
        assert spec["duration"] == 11.0
        times = [e["time"] for e in spec["sound_events"]]
        assert all(1.0 - 1e-9 <= t <= 10.0 + 1e-9 for t in times)
        late = max(late, max(times))
        sync = synth.foley_examples(spec, "m.mp4")[0]
        for n in (3, 5, 7):  # one test set for every input length: each trim fits at the same start
            trim = eval_trim(sync, 11.0, None, {**sync_config("sparsesync-tiny"), "clip_seconds": float(n)})
            assert (trim.offset, trim.vstart) == (sync["offset"], sync["vstart"])
    assert late > 9.0  # the extra second holds events too
    dense = synth.foley_spec(0, "train", 0, "dense", 12.0)
    assert max(e["time"] for e in dense["sound_events"]) > 9.5
    with pytest.raises(ValueError, match="at least 9"):
        synth.foley_spec(0, "train", 0, "sparse", 8.0)
    res = synth.generate_item((str(tmp_path), 0, "val", "foley-sparse", 0, 1, {"seconds": 11.0}))
    from vxt.data.media import probe

    assert abs(float(probe(tmp_path / res["file"]).duration) - 11.0) < 0.05
