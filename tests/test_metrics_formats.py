"""Reading predictions and references in vxt's and the benchmarks' formats; QA accuracy."""

from __future__ import annotations

import json

import pytest

from vxt.errors import DataError
from vxt.metrics import qa_accuracy
from vxt.metrics.formats import load_predictions, load_references


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_tvc_sample_prediction_file_parses(shared_data):
    path = shared_data / "tvc" / "sample_val_predictions.sample.jsonl"
    p = load_predictions(path)
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    assert p.format == "tvc-jsonl" and p.kind == "caption"
    assert p.remove_nonascii  # TVC's evaluation replaces non-ASCII characters
    assert len(p.preds) == len({r["clip_id"] for r in lines}) == 100
    first = lines[0]
    assert p.preds[str(first["clip_id"])] == first["descs"][0]["desc"]


def test_activitynet_submission_and_references(shared_data, tmp_path):
    v1 = json.loads((shared_data / "anet" / "val_1.json").read_text())
    vids = sorted(v1)[:3]
    sub = {"version": "VERSION 1.0", "external_data": {"used": False},
           "results": {v: [{"sentence": s, "timestamp": t} for s, t in zip(v1[v]["sentences"], v1[v]["timestamps"])]
                       for v in vids}}
    p = load_predictions(_write(tmp_path / "sub.json", sub))
    assert (p.format, p.kind, p.refs) == ("activitynet-submission", "dense", None)
    assert list(p.preds) == vids
    refs = load_references(shared_data / "anet" / "val_1.json", "dense")
    assert len(refs) == 4917


def test_vxt_preds_json_caption_qa_dense(tmp_path):
    cap = load_predictions(_write(tmp_path / "c.json", {"task": "caption", "predictions": [
        {"id": "x", "prediction": "a cat", "references": ["a cat sits", "a kitten"]}]}))
    assert cap.preds == {"x": "a cat"} and cap.refs == {"x": ["a cat sits", "a kitten"]}
    dia = load_predictions(_write(tmp_path / "d.json", {"task": "dialog", "predictions": [
        {"id": "x", "prediction": "yes", "references": ["yes it is"] * 6}]}))
    assert dia.kind == "caption" and len(dia.refs["x"]) == 6
    qa = load_predictions(_write(tmp_path / "q.json", {"task": "qa", "predictions": [
        {"id": "q1", "prediction": "a drum", "choice": 2, "answer": 2, "question_type": "what"},
        {"id": "q2", "prediction": "red", "choice": 0, "answer": 1, "question_type": "what"}]}))
    assert qa.preds == {"q1": 2, "q2": 0} and qa.refs == {"q1": 2, "q2": 1} and qa.types == {"q1": "what", "q2": "what"}
    dense = load_predictions(_write(tmp_path / "e.json", {"task": "dense", "predictions": [
        {"id": "v", "prediction": "", "events": [{"start": 0, "end": 1, "sentence": "s", "score": 0.9}],
         "reference_events": [{"start": 0, "end": 1.5, "sentence": "r"}], "duration": 4.0}]}))
    assert dense.refs == [{"v": {"timestamps": [[0, 1.5]], "sentences": ["r"], "duration": 4.0}}]


def test_avsd_results_and_references(tmp_path):
    res = load_predictions(_write(tmp_path / "r.json", {"dialogs": [
        {"image_id": "ABC12", "dialog": [{"question": "q1", "answer": "a1"}, {"question": "q2", "answer": "last answer"}]}]}))
    assert res.format == "avsd-results" and res.preds == {"ABC12": "last answer"}
    refs = load_references(_write(tmp_path / "ref.json", {"dialogs": [
        {"image_id": "ABC12", "dialog": [{"question": "q1", "answer": "a1"},
                                          {"question": "q2", "answer": "x", "answers": [f"r{i}" for i in range(6)]}]}]}), "caption")
    assert refs == {"ABC12": [f"r{i}" for i in range(6)]}


def test_caption_reference_formats(tmp_path):
    coco = load_references(_write(tmp_path / "coco.json", {"images": [], "annotations": [
        {"image_id": 7, "caption": "one"}, {"image_id": 7, "caption": "two"}]}), "caption")
    assert coco == {"7": ["one", "two"]}
    msrvtt = load_references(_write(tmp_path / "videodatainfo.json", {"videos": [], "sentences": [
        {"video_id": "video1", "caption": "a"}, {"video_id": "video1", "caption": "b"}]}), "caption")
    assert msrvtt == {"video1": ["a", "b"]}
    tvc = tmp_path / "tvc_val.jsonl"
    tvc.write_text(json.dumps({"clip_id": 5, "descs": [{"desc": "d1"}, {"desc": "d2"}]}) + "\n")
    assert load_references(tvc, "caption") == {"5": ["d1", "d2"]}
    manifest = tmp_path / "val.jsonl"
    manifest.write_text(json.dumps({"id": "c1", "task": "caption", "targets": ["t1"]}) + "\n")
    assert load_references(manifest, "caption") == {"c1": ["t1"]}


def test_qa_references_tvqa_jsonl(tmp_path):
    path = tmp_path / "tvqa_val.jsonl"
    path.write_text("\n".join(json.dumps({"qid": i, "answer_idx": i % 5, "q": "?"}) for i in range(4)) + "\n")
    answers, types = load_references(path, "qa")
    assert answers == {"0": 0, "1": 1, "2": 2, "3": 3} and types is None


def test_malformed_files_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"task": "caption",\n "predictions": [\n  {"id": "a", "prediction": "x"},,\n]}\n')
    with pytest.raises(DataError, match=r"bad\.json: malformed JSON at line 3"):
        load_predictions(bad)
    badl = tmp_path / "bad.jsonl"
    badl.write_text('{"clip_id": 1, "descs": [{"desc": "a"}]}\n{"clip_id": 2, "descs": [\n')
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: malformed JSON"):
        load_predictions(badl)
    with pytest.raises(DataError, match="no such file"):
        load_predictions(tmp_path / "missing.json")
    with pytest.raises(DataError, match="not a predictions file"):
        load_predictions(_write(tmp_path / "odd.json", {"hello": [1, 2]}))


def test_qa_accuracy_overall_and_per_type():
    preds = {"a": 1, "b": 2, "c": 0, "d": 3}
    answers = {"a": 1, "b": 0, "c": 0, "d": 3, "e": 1}
    out = qa_accuracy(preds, answers, {"a": "what", "b": "what", "c": "why", "d": "why"})
    assert out["accuracy"] == 3 / 4 and out["n"] == 4 and out["n_correct"] == 3
    assert out["per_type"] == {"what": {"accuracy": 0.5, "n": 2, "n_correct": 1},
                               "why": {"accuracy": 1.0, "n": 2, "n_correct": 2}}
    assert "per_type" not in qa_accuracy(preds, answers)
    with pytest.raises(DataError, match="no prediction id matches"):
        qa_accuracy({"x": 1}, {"y": 1})
