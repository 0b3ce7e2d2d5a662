"""The synthetic benchmark generator: what each modality carries, and that the text needs it."""

from __future__ import annotations

import numpy as np
import pytest

from vxt.data import synth


def _clips(n=60, split="train", seed=0):
    return [synth.clip_spec(seed, split, i) for i in range(n)]


def test_specs_are_a_pure_function_of_seed_split_index():
    a = synth.clip_spec(0, "train", 5)
    assert synth.clip_spec(0, "train", 5) == a
    assert synth.clip_examples(a, "m.mp4") == synth.clip_examples(synth.clip_spec(0, "train", 5), "m.mp4")
    others = [synth.clip_spec(1, "train", 5), synth.clip_spec(0, "val", 5), synth.clip_spec(0, "train", 6)]
    assert all(o["subtitles"] != a["subtitles"] or o["objects"] != a["objects"] for o in others)


def test_attributes_cover_the_vocabularies():
    specs = _clips(200)
    assert {s["objects"][0]["shape"] for s in specs} == set(synth.SHAPES)
    assert {s["objects"][0]["colour"] for s in specs} == set(synth.COLOURS)
    assert {s["objects"][0]["motion"] for s in specs} == set(synth.MOTIONS)
    assert {s["sounds"][0]["sound"] for s in specs} == set(synth.SOUNDS)
    assert 8 <= len({s["owner"] for s in specs}) <= 12
    missing = sum(not s["has_audio"] for s in specs)
    assert 1 <= missing <= 20  # a few percent
    assert all(s["sounds"][0]["sound"] == "silence" for s in specs if not s["has_audio"])


def test_owner_name_is_only_in_the_subtitles():
    for spec in _clips(40):
        caption, qa, dialog = synth.clip_examples(spec, "media/x.mp4")
        name = spec["owner"]
        assert any(name in s["text"] for s in spec["subtitles"])
        assert name not in str(caption["labels"])
        assert all(name in t for t in caption["targets"])  # the caption needs the speech


def test_example_structure():
    qtypes, answers = set(), set()
    for spec in _clips(120):
        caption, qa, dialog = synth.clip_examples(spec, "media/x.mp4")
        assert [e["id"] for e in (caption, qa, dialog)] == [f"{spec['id']}-{t}" for t in ("caption", "qa", "dialog")]
        assert {e["task"] for e in (caption, qa, dialog)} == {"caption", "qa", "dialog"}
        assert len(set(caption["targets"])) >= 2
        assert len(qa["candidates"]) == 5 and len(set(qa["candidates"])) == 5
        assert qa["targets"] == [qa["candidates"][qa["answer"]]]
        qtypes.add(qa["question_type"])
        answers.add(qa["answer"])
        obj = spec["objects"][0]
        truth = {"colour": obj["colour"], "shape": f"a {obj['shape']}", "motion": obj["motion"], "owner": spec["owner"],
                 "sound": synth._SOUND_NOUN[spec["sounds"][0]["sound"]]}[qa["question_type"]]
        assert qa["candidates"][qa["answer"]] == truth
        # distractors are of the same type as the answer
        pool = {"colour": set(synth.COLOURS) | set(synth.EXTRA_COLOURS),
                "shape": {f"a {s}" for s in synth.SHAPES + synth.EXTRA_SHAPES},
                "motion": set(synth.MOTIONS), "owner": set(synth.NAMES),
                "sound": {synth._SOUND_NOUN[s] for s in synth.SOUNDS}}[qa["question_type"]]
        assert set(qa["candidates"]) <= pool
        assert len(dialog["history"]) == 3 and all(len(t) == 2 for t in dialog["history"])
        assert len(dialog["targets"]) >= 2 and dialog["question"].endswith("?")
        assert all(e["start"] == 0.0 and e["end"] == 4.0 and e["duration"] == 4.0 for e in (caption, qa, dialog))
        assert caption["labels"]["video"] == [obj["motion"]]
    assert qtypes == set(synth.QUESTION_TYPES)
    assert answers == set(range(5))


def test_dialog_final_answer_is_not_given_away_by_the_history():
    vocab = {"colour": synth.COLOURS, "shape": synth.SHAPES, "owner": synth.NAMES}
    for spec in _clips(120):
        dialog = synth.clip_examples(spec, "m.mp4")[2]
        qt = dialog["question_type"]
        if qt in vocab:
            hist = " ".join(" ".join(t) for t in dialog["history"])
            assert not any(v in hist.split() or f"{v}'s" in hist for v in vocab[qt]), (hist, qt)
        truth = {"colour": spec["objects"][0]["colour"], "shape": spec["objects"][0]["shape"], "owner": spec["owner"]}.get(qt)
        if truth:
            assert all(truth in t for t in dialog["targets"])


def test_silence_is_phrased_sensibly():
    spec = next(s for s in _clips(200) if s["sounds"][0]["sound"] == "silence")
    caption = synth.clip_examples(spec, "m.mp4")[0]
    assert caption["targets"][0].endswith("in silence")
    assert not any("silence plays" in t for t in caption["targets"])


def _shape_pixels(frames, rgb):
    diff = np.abs(frames.astype(np.int16) - np.asarray(rgb, dtype=np.int16)).sum(-1)
    return diff < 60


def _by_motion(motion, shape=None):
    for i in range(2000):
        s = synth.clip_spec(3, "train", i)
        o = s["objects"][0]
        if o["motion"] == motion and (shape is None or o["shape"] == shape):
            return s
    raise AssertionError(motion)


@pytest.mark.parametrize("motion", ["moves left", "moves right", "moves up", "moves down", "grows", "shrinks", "blinks", "stays still"])
def test_rendered_motion_is_visible(motion):
    spec = _by_motion(motion)
    rng = synth._rngs(spec["seed"], spec["split"], spec["index"], "clip")[2]
    frames = synth.render_video(spec, rng)
    assert frames.shape == (100, 128, 128, 3) and frames.dtype == np.uint8
    mask = _shape_pixels(frames, spec["objects"][0]["rgb"])
    area = mask.sum(axis=(1, 2)).astype(float)
    visible = area > 20
    ys, xs = np.mgrid[0:128, 0:128]
    cx = [(xs * m).sum() / max(m.sum(), 1) for m in mask]
    cy = [(ys * m).sum() / max(m.sum(), 1) for m in mask]
    if motion == "blinks":
        assert 0.3 < visible.mean() < 0.7
        # at the cache's 6 fps the shape is seen both on and off within every 8-frame clip
        for c in range(4):
            idx = [min(99, round((c * 0.89 + k / 6) * 25)) for k in range(8)]
            assert 0 < visible[idx].sum() < 8
        return
    assert visible.all()
    first, last = slice(0, 10), slice(90, 100)
    dx, dy = np.mean(cx[last]) - np.mean(cx[first]), np.mean(cy[last]) - np.mean(cy[first])
    grow = area[last].mean() / area[first].mean()
    expect = {
        "moves left": dx < -40, "moves right": dx > 40, "moves up": dy < -40, "moves down": dy > 40,
        "grows": grow > 4, "shrinks": grow < 0.25, "stays still": abs(dx) < 2 and abs(dy) < 2 and 0.8 < grow < 1.25,
    }[motion]
    assert expect, (motion, dx, dy, grow)


def _spectrum_peak(wave, sr=16000):
    spec = np.abs(np.fft.rfft(wave))
    freqs = np.fft.rfftfreq(len(wave), 1 / sr)
    return freqs[np.argmax(spec)]


def _by_sound(sound):
    return next(s for s in (synth.clip_spec(4, "train", i) for i in range(500)) if s["sounds"][0]["sound"] == sound and s["has_audio"])


def test_rendered_sounds_differ():
    waves = {}
    for sound in synth.SOUNDS:
        spec = _by_sound(sound)
        rng = synth._rngs(spec["seed"], spec["split"], spec["index"], "clip")[2]
        waves[sound] = synth.render_audio(spec, rng)
        assert waves[sound].shape == (64000,) and waves[sound].dtype == np.float32
    rms = {k: float(np.sqrt(np.mean(w**2))) for k, w in waves.items()}
    assert rms["silence"] < 0.02 and all(rms[k] > 3 * rms["silence"] for k in synth.SOUNDS[:-1])
    assert _spectrum_peak(waves["low hum"]) < 300
    assert _spectrum_peak(waves["high beep"]) > 1500
    # the whistle rises: the dominant frequency of its last half second is above that of its first
    w = waves["rising whistle"]
    assert _spectrum_peak(w[-8000:]) > _spectrum_peak(w[8000:16000]) or _spectrum_peak(w[24000:32000]) > _spectrum_peak(w[8000:16000])
    # the drum is made of hits: its 50 ms energy envelope swings far more than rain's
    def swing(x):
        env = np.sqrt((x[: len(x) // 800 * 800].reshape(-1, 800) ** 2).mean(1))[4:-4]
        return env.max() / (np.median(env) + 1e-9)
    assert swing(waves["drum"]) > 2 * swing(waves["rain"])


def test_dense_events_and_their_audio():
    for i in range(30):
        spec = synth.dense_spec(0, "train", i)
        ex = synth.dense_example(spec, "m.mp4")
        evs = ex["events"]
        assert 2 <= len(evs) <= 4 and ex["duration"] == 20.0
        assert all(0 <= e["start"] < e["end"] <= 20 for e in evs)
        assert all(a["end"] <= b["start"] for a, b in zip(evs, evs[1:]))
        assert all(e["labels"]["video"][0] in synth.MOTIONS and e["sentence"] for e in evs)
        assert set(ex["labels"]["video"]) == {e["labels"]["video"][0] for e in evs}
    # the sound of an event plays during the event only
    spec = next(s for s in (synth.dense_spec(0, "train", i) for i in range(50))
                if all(e["labels"]["audio"][0] != "silence" for e in s["events"])
                and s["events"][0]["start"] > 1.0)
    rng = synth._rngs(spec["seed"], spec["split"], spec["index"], "dense")[2]
    wave = synth.render_audio(spec, rng)
    ev = spec["events"][0]
    before = wave[: int((ev["start"] - 0.05) * 16000)]
    inside = wave[int((ev["start"] + 0.5) * 16000): int((ev["end"] - 0.5) * 16000)]
    assert np.sqrt(np.mean(inside**2)) > 4 * np.sqrt(np.mean(before**2))


def test_mp4_roundtrip(tmp_path):
    from vxt.data.media import probe, read_audio

    spec = synth.clip_spec(0, "train", 0)
    rng = synth._rngs(0, "train", 0, "clip")[2]
    synth.write_mp4(tmp_path / "a.mp4", synth.render_video(spec, rng), synth.render_audio(spec, rng))
    info = probe(tmp_path / "a.mp4")
    assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == ("h264", "yuv420p", 128, 128, 25.0)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 16000, 1)
    assert abs(info.duration - 4.0) < 0.1
    assert abs(len(read_audio(tmp_path / "a.mp4")) / 16000 - 4.0) < 0.1
    synth.write_mp4(tmp_path / "b.mp4", synth.render_video(spec, rng), None)
    assert not probe(tmp_path / "b.mp4").has_audio
    assert not list(tmp_path.glob(".*tmp"))  # nothing left behind by the atomic write


def test_srt_text_parses_back(tmp_path):
    from vxt.data.subtitles import read_subtitles

    spec = synth.clip_spec(0, "val", 3)
    (tmp_path / "x.srt").write_text(synth.srt_text(spec["subtitles"]), encoding="utf-8")
    assert read_subtitles(tmp_path / "x.srt") == spec["subtitles"]


def test_more_questions_per_clip_add_one_of_each_other_type_and_change_nothing_else():
    for spec in _clips(20):
        one = synth.clip_examples(spec, "m.mp4")
        five = synth.clip_examples(spec, "m.mp4", qa_per_clip=5)
        # the -qa example and the caption/dialog are the same as with one question per clip
        assert [e for e in five if not e["id"].split("-qa-")[-1] in synth.QUESTION_TYPES or "-qa-" not in e["id"]] == one
        qa = [e for e in five if e["task"] == "qa"]
        assert sorted(e["question_type"] for e in qa) == sorted(synth.QUESTION_TYPES)
        assert len({e["id"] for e in five}) == len(five)
        a = {"colour": spec["objects"][0]["colour"], "shape": "a " + spec["objects"][0]["shape"],
             "motion": spec["objects"][0]["motion"], "sound": synth._SOUND_NOUN[spec["sounds"][0]["sound"]],
             "owner": spec["owner"]}
        for e in qa:
            assert e["candidates"][e["answer"]] == a[e["question_type"]] and e["targets"] == [a[e["question_type"]]]
        three = synth.clip_examples(spec, "m.mp4", qa_per_clip=3)
        assert [e["id"] for e in three if e["task"] == "qa"] == [e["id"] for e in qa][:3]
