"""``vxt score --coverage DATA_DIR``: the speech coverage rate (caption words found in the transcript), on a
hand-made data dir whose rates are worked out below, and agreeing with what `--mode narrated` records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vxt.metrics.coverage import STOP_WORDS, words


def _one_line_error(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("vxt: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _manifest(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _sub(text: str) -> dict:
    return {"start": 0.0, "end": 1.0, "text": text}


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    _manifest(d / "train.jsonl", [
        # transcript words {look, a, red, ball}
        # "a red ball rolls": a red ball covered, 3 of 4; without stop words (a): red ball, 2 of 3
        # "the ball is big and round": ball, 1 of 6; without the/is/and: 1 of 3
        {"id": "a", "task": "caption", "subtitles": [_sub("Look, a RED"), _sub("ball!")],
         "targets": ["A red ball rolls.", "the ball is big and round"]},
        # transcript {it, s, a, dog}; "the dog's barking" -> the dog s barking: dog s, 2 of 4; without the/s: 1 of 2
        {"id": "b", "task": "caption", "subtitles": [_sub("it's a dog")], "targets": ["The dog's barking"]},
        {"id": "c", "task": "caption", "targets": ["a cat sleeps"]},  # no transcript: counted, not scored
        {"id": "d", "task": "dense", "subtitles": [_sub("a cat")], "events": [{"start": 0, "end": 1, "sentence": "a cat"}]},
        {"id": "e", "task": "qa", "subtitles": [_sub("a cat")], "question": "what?", "candidates": ["a cat"], "answer": 0},
    ])
    # "a woman sings" against "the man speaks": 0 of 3; without a: 0 of 2
    _manifest(d / "val.jsonl", [{"id": "f", "task": "caption", "subtitles": [_sub("the man speaks")],
                                 "targets": ["a woman sings"]}])
    return d


def test_words_are_lowercase_runs_of_letters_and_digits():
    assert words("It's a drum-roll, 2 TIMES!") == ["it", "s", "a", "drum", "roll", "2", "times"]
    assert words("Café  über_alles") == ["café", "über", "alles"]
    assert {"a", "the", "is", "and", "s"} <= STOP_WORDS and not {"red", "dog", "ball"} & STOP_WORDS


def test_coverage_of_a_hand_made_data_dir(run_cli, data_dir):
    code, out, err = run_cli("score", "--coverage", data_dir)
    assert code == 0, err
    doc = json.loads((data_dir / "coverage.json").read_text())
    train, val, pooled = doc["splits"]["train"], doc["splits"]["val"], doc["all"]
    assert (train["n_examples"], train["n_captioned"], train["n_with_transcript"], train["n_without_transcript"]) == (5, 3, 2, 1)
    assert train["without_transcript_ids"] == ["c"] and train["n_captions"] == 3
    assert (train["n_tokens"], train["n_covered"]) == (14, 6) and train["coverage"] == pytest.approx(6 / 14)
    assert (train["n_content_tokens"], train["n_content_covered"]) == (8, 4) and train["coverage_content"] == pytest.approx(0.5)
    assert train["mean_caption_coverage"] == pytest.approx((3 / 4 + 1 / 6 + 2 / 4) / 3)
    assert (val["n_tokens"], val["coverage"], val["coverage_content"], val["mean_caption_coverage"]) == (3, 0.0, 0.0, 0.0)
    assert pooled["coverage"] == pytest.approx(6 / 17) and pooled["coverage_content"] == pytest.approx(4 / 10)
    assert pooled["mean_caption_coverage"] == pytest.approx((3 / 4 + 1 / 6 + 2 / 4 + 0) / 4)
    assert doc["stop_words"] == sorted(STOP_WORDS) and "lowercase" in doc["tokenizer"]
    # the table: percentages of the rates above, and the example without a transcript said
    for cell in ("42.86", "50.00", "47.22", "35.29", "40.00", "35.42"):
        assert cell in out, out
    assert "train: 1 of 3 caption examples have no transcript and are not scored (first: c)" in out
    assert f"wrote {data_dir / 'coverage.json'}" in out


def test_one_split_and_another_output(run_cli, data_dir, tmp_path):
    out_file = tmp_path / "cov" / "val.json"
    out_file.parent.mkdir()
    code, out, err = run_cli("score", "--coverage", data_dir, "--split", "val", "--out", out_file)
    assert code == 0, err
    doc = json.loads(out_file.read_text())
    assert list(doc["splits"]) == ["val"] and "all" not in doc and doc["splits"]["val"]["n_with_transcript"] == 1
    assert not (data_dir / "coverage.json").exists()


def test_bad_coverage_inputs_are_one_line(run_cli, data_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    _manifest(bare / "train.jsonl", [{"id": "a", "task": "caption", "targets": ["a red ball"]},
                                     {"id": "b", "task": "caption", "targets": ["a dog"], "subtitles": [_sub("  ")]}])
    code, _, err = run_cli("score", "--coverage", bare)
    assert code == 2
    line = _one_line_error(err)
    assert str(bare) in line and "has a transcript (manifest 'subtitles')" in line
    assert not (bare / "coverage.json").exists()

    code, _, err = run_cli("score", "--coverage", tmp_path / "nowhere")
    assert code == 2 and "no such data dir" in _one_line_error(err)
    code, _, err = run_cli("score", "--coverage", data_dir, "--split", "test")
    assert code == 2 and "no test.jsonl here" in _one_line_error(err)
    code, _, err = run_cli("score", "--coverage", data_dir, "--split", "dev")
    assert code == 2 and "unknown split 'dev'" in _one_line_error(err)
    code, _, err = run_cli("score", tmp_path / "preds.json", "--coverage", data_dir)
    assert code == 2 and "give no predictions" in _one_line_error(err)
    code, _, err = run_cli("score")
    assert code == 2 and "no predictions file given" in _one_line_error(err)
    code, _, err = run_cli("score", tmp_path / "preds.json", "--split", "val")
    assert code == 2 and "--split applies to --coverage" in _one_line_error(err)


def test_agrees_with_the_rate_narrated_synth_records(run_cli, tmp_path):
    from vxt.data.prepare import prepare

    d = tmp_path / "narrated"
    prepare("synth", d, options={"n_train": 1, "n_val": 1, "n_test": 0, "mode": "narrated"}, workers=1, cache=False,
            progress=False)
    recorded = json.loads((d / "dataset.json").read_text())["info"]["speech_coverage"]
    code, _, err = run_cli("score", "--coverage", d, "--split", "train", "--split", "val")
    assert code == 0, err
    doc = json.loads((d / "coverage.json").read_text())
    for split in ("train", "val"):
        assert 0 < recorded[split] < 1 and round(doc["splits"][split]["coverage"], 4) == recorded[split]
        # the pre-training examples' targets are the narration itself: no subtitles, counted and not scored
        assert doc["splits"][split]["n_without_transcript"] == doc["splits"][split]["n_with_transcript"]
