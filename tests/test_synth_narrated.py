"""Narrated videos (``--mode narrated``): the narration is spoken in the audio, the captions describe the picture.

The property the Modality Balanced Pre-training setting relies on, checked on
the generator's own ground truth (no model): a step's caption can be
predicted from the video stream alone only in its visual words (the frames are
made from the shapes alone), and the narration's words are in the audio alone
(the sound track is made from the narration and the sounds alone, and the
word code reads the transcript back from the decoded mp4).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from vxt.data import synth
from vxt.data.synth import narrated

FPS = synth.FPS


def test_specs_steps_and_narration():
    for i in range(40):
        spec = synth.narrated_spec(0, "train", i)
        assert spec == synth.narrated_spec(0, "train", i)  # a pure function
        steps = spec["steps"]
        assert 40 - 1e-6 <= spec["duration"] <= 60 + 1e-6 and 6 <= len(steps) <= 10
        assert steps[0]["start"] == 0.0 and steps[-1]["end"] == spec["duration"]
        for a, b in zip(steps, steps[1:]):
            assert a["end"] == b["start"]  # consecutive
        for step, line in zip(steps, spec["narration"]):
            assert 4 - 1e-6 <= step["end"] - step["start"] <= 6 + 1e-6
            assert step["start"] < line["start"] < line["end"] <= step["end"] - 0.1  # spoken within its step
            assert " ".join(w[0] for w in line["words"]) == line["text"]
            assert all(w in synth.VOCAB for w in line["text"].split())
        assert [s["text"] for s in spec["subtitles"]] == [n["text"] for n in spec["narration"]]  # the transcript


def test_every_word_has_its_own_code():
    codes = [narrated.word_code(w) for w in synth.VOCAB]
    assert len(set(codes)) == len(codes) == len(synth.VOCAB)


def test_examples_for_pretraining_and_finetuning():
    spec = synth.narrated_spec(0, "val", 1)
    exs = synth.narrated_examples(spec, "media/v.mp4")
    pre = [e for e in exs if "next_targets" in e]
    cap = [e for e in exs if e["task"] == "caption" and "next_targets" not in e]
    assert all(e["task"] == "caption" and e["id"].endswith("-pretrain") for e in pre)
    (dense,) = [e for e in exs if e["task"] == "dense"]
    n = len(spec["steps"])
    assert len(pre) == len(cap) == n == len(dense["events"])
    for k, (p, c, step, line, obj) in enumerate(zip(pre, cap, spec["steps"], spec["narration"], spec["objects"])):
        assert (p["start"], p["end"]) == (c["start"], c["end"]) == (step["start"], step["end"])
        assert p["targets"] == [line["text"]]  # Predict Current Caption
        # Predict Next Caption (the last step has none)
        assert p["next_targets"] == ([spec["narration"][k + 1]["text"]] if k + 1 < n else [])
        assert "subtitles" not in p  # the transcript is the target: not also an input
        assert c["subtitles"] == [{"start": line["start"], "end": line["end"], "text": line["text"]}]
        assert len(c["targets"]) == 3 and c["targets"][0] == narrated.caption_paraphrases_narrated(
            {"colour": obj["colour"], "shape": obj["shape"], "motion": obj["motion"], "sound": spec["sounds"][k]["sound"]})[0]
        assert c["labels"] == {"video": [obj["motion"]], "audio": [spec["sounds"][k]["sound"]]}


def test_speech_coverage_is_partial():
    """The narration mentions only part of the captions: between MSR-VTT's 15 % and YouCook2's 49 % (measured: about 24 %)."""
    exs = [e for i in range(60) for e in synth.narrated_examples(synth.narrated_spec(0, "train", i), "m.mp4")]
    cov = synth.speech_coverage(exs)
    assert 0.15 < cov < 0.49, cov


def _visual_words(obj: dict) -> set[str]:
    return {obj["colour"], obj["shape"], *obj["motion"].split(), *synth._MOTION_ALT[obj["motion"]].split()}


def _short(spec: dict, steps: int = 2) -> dict:
    """The spec cut to its first steps (rendering checks on fewer frames)."""
    s = copy.deepcopy(spec)
    s["duration"] = s["steps"][steps - 1]["end"]
    for key in ("steps", "objects", "sounds", "narration", "subtitles"):
        s[key] = s[key][:steps]
    return s


def _frames(spec: dict):
    n = int(round(spec["duration"] * FPS))
    return synth.render_styled(spec, n, lambda i: synth.clip_prims(spec, i), "photo",
                               synth._rngs(spec["seed"], spec["split"], spec["index"], "narrated")[2],
                               synth._stream(spec["seed"], spec["split"], spec["index"], "narrated", 5))


def test_the_video_carries_only_the_visual_words_and_the_audio_only_the_narration_and_sounds():
    spec = _short(synth.narrated_spec(0, "train", 3))
    frames, audio = _frames(spec), synth.render_narrated_audio(spec)
    # other narration, speaker and sounds: the same frames (the video says nothing of them)
    talk = copy.deepcopy(spec)
    other = "okay grab the triangle"
    talk["narration"][0] = {**talk["narration"][0], "text": other,
                            "words": narrated._word_times(other.split(), talk["narration"][0]["start"], talk["speaker"])}
    talk["sounds"][0]["sound"] = "rain" if spec["sounds"][0]["sound"] != "rain" else "drum"
    talk["speaker"]["f0"] += 20
    assert np.array_equal(_frames(talk), frames)
    assert not np.array_equal(synth.render_narrated_audio(talk), audio)
    # other shapes, colours and motions: the same sound track (the audio says nothing of them but what is spoken)
    seen = copy.deepcopy(spec)
    for obj in seen["objects"]:
        obj["colour"] = "green" if obj["colour"] != "green" else "red"
        obj["rgb"] = [255 - c for c in obj["rgb"]]
        obj["shape"] = "circle" if obj["shape"] != "circle" else "square"
    assert np.array_equal(synth.render_narrated_audio(seen), audio)
    changed = np.abs(_frames(seen).astype(int) - frames.astype(int)).max(axis=(1, 2, 3))
    assert (changed > 0).all()  # every frame shows its step's shape
    # the caption's words: template words, the visual words of the step's shape, the sound's words
    exs = synth.narrated_examples(spec, "m.mp4")
    for k, cap in enumerate(e for e in exs if e["id"].endswith("-caption")):
        obj, snd = spec["objects"][k], spec["sounds"][k]["sound"]
        template = set(" ".join(narrated.caption_paraphrases_narrated(
            {"colour": "COLOUR", "shape": "SHAPE", "motion": "stays still", "sound": snd})).split()) - {"COLOUR", "SHAPE"}
        for t in cap["targets"]:
            words = set(t.split())
            visual = words & (set(synth.COLOURS) | set(synth.SHAPES) | {w for m in synth.MOTIONS for w in m.split()}
                              | {w for m in synth.MOTIONS for w in synth._MOTION_ALT[m].split()})
            assert visual <= _visual_words(obj) | template
            assert {obj["colour"], obj["shape"]} <= words
        # what the narration says of the step is a part of what is seen
        spoken = set(spec["narration"][k]["text"].split())
        assert spoken & (set(synth.COLOURS) | set(synth.SHAPES)) <= {obj["colour"], obj["shape"]}


def test_the_narration_is_read_back_from_the_audio_of_the_mp4_alone(tmp_path):
    from vxt.data.media import read_audio

    for i in range(2):
        res = synth.generate_item((str(tmp_path), 0, "test", "narrated", i, 1, {}))
        spec = synth.narrated_spec(0, "test", i)
        x = read_audio(tmp_path / res["file"], sr=16000)
        got = synth.decode_word_code(x)
        truth = [(w[1], w[0]) for line in spec["narration"] for w in line["words"]]
        assert [w for _, w in got] == [w for _, w in truth]
        assert max(abs(a - b) for (a, _), (b, _) in zip(got, truth)) < 0.01  # word onsets within 10 ms
        assert (tmp_path / res["file"]).with_suffix(".srt").read_text(encoding="utf-8") == synth.srt_text(spec["subtitles"])


def test_espeak_missing_is_a_one_line_error(monkeypatch, tmp_path, run_cli):
    from vxt.data.prepare import prepare
    from vxt.errors import VxtError

    monkeypatch.setattr(narrated, "espeak_available", lambda: False)
    with pytest.raises(VxtError) as e:
        prepare("synth", tmp_path / "d", options={"mode": "narrated", "voice": "espeak-ng", "n_train": 1}, progress=False)
    msg = str(e.value)
    assert "apt-get install espeak-ng" in msg and "\n" not in msg
    code, out, err = run_cli("prepare", "synth", "--out", tmp_path / "e", "--mode", "narrated", "--voice", "espeak-ng")
    assert code != 0 and "apt-get install espeak-ng" in out + err
    assert not list((tmp_path / "e").glob("media/*.mp4")) if (tmp_path / "e").exists() else True


@pytest.mark.skipif(not narrated.espeak_available(), reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_espeak_voice_speaks_each_line_within_its_step(tmp_path):
    from vxt.data.media import read_audio

    res = synth.generate_item((str(tmp_path), 0, "val", "narrated", 0, 1, {"voice": "espeak-ng"}))
    assert "-espeak-" in res["id"]
    caps = [e for e in res["examples"] if e["id"].endswith("-caption")]
    x = read_audio(tmp_path / res["file"], sr=16000)
    spec, waves = narrated.espeak_narration(synth.narrated_spec(0, "val", 0, "espeak-ng"))
    # the decoded track less the same track without speech: the speech (plus the codec's error)
    speech = x[: int(spec["duration"] * 16000)] - synth.render_narrated_audio(spec, [w * 0 for w in waves])
    inside = np.zeros(len(speech), bool)
    for cap, step in zip(caps, spec["steps"]):
        (line,) = cap["subtitles"]
        assert step["start"] < line["start"] < line["end"] <= step["end"]
        inside[int(line["start"] * 16000) : int(line["end"] * 16000)] = True
        assert np.sqrt(np.mean(speech[inside] ** 2)) > 0.03
    assert np.sqrt(np.mean(speech[inside] ** 2)) > 10 * np.sqrt(np.mean(speech[~inside] ** 2))
