"""``vxt score`` end to end: outputs, bad inputs (one line, exit code), the missing-Java path."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from vxt.metrics import java_available

java = pytest.mark.java
skip_no_java = pytest.mark.skipif(
    not java_available(), reason="Java is not installed (apt-get install default-jre-headless); PTB and METEOR need it"
)


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def _one_line_error(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("vxt: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def anet_small(shared_data):
    v1 = json.loads((shared_data / "anet" / "val_1.json").read_text())
    return {v: v1[v] for v in sorted(v1)[:4]}


def _perfect_submission(refs):
    return {"version": "VERSION 1.0", "external_data": {"used": False},
            "results": {v: [{"sentence": s, "timestamp": t} for s, t in zip(r["sentences"], r["timestamps"])]
                        for v, r in refs.items()}}


def _caption_preds(tmp_path, rows, name="preds.json"):
    return _write(tmp_path / name, {"task": "caption", "checkpoint": "exp/x", "predictions": rows})


# ---------------------------------------------------------------- results


@java
@skip_no_java
def test_anet_submission_perfect_predictions(run_cli, tmp_path, anet_small):
    """Reference segments and sentences as predictions: precision and recall 1.0 at every tIoU."""
    refs = _write(tmp_path / "val_1_small.json", anet_small)
    sub = _write(tmp_path / "submission.json", _perfect_submission(anet_small))
    code, out, err = run_cli("score", sub, "--refs", refs)
    assert code == 0, err
    assert "Precision" in out and "max_proposals=100" in out
    doc = json.loads((tmp_path / "submission.scores.json").read_text())
    for t in ("0.3", "0.5", "0.7", "0.9"):
        assert doc["per_tiou"][t]["Precision"] == 1.0 and doc["per_tiou"][t]["Recall"] == 1.0
    assert doc["metrics"]["METEOR"] > 0.8 and doc["settings"]["max_proposals"] == 100
    assert doc["tools"]["pycocoevalcap"] == "1.2" and doc["tools"]["java"] and doc["tools"]["vxt"]
    assert doc["settings"]["comparable_to_published"] is True
    # deterministic: the same file scored twice gives the same numbers
    code, _, err = run_cli("score", sub, "--refs", refs)
    assert code == 0, err
    again = json.loads((tmp_path / "submission.scores.json").read_text())
    assert again["metrics"] == doc["metrics"] and again["per_tiou"] == doc["per_tiou"]


@java
@skip_no_java
def test_tvc_prediction_file_scores(run_cli, tmp_path, shared_data):
    src = shared_data / "tvc" / "sample_val_predictions.sample.jsonl"
    preds = tmp_path / "tvc_preds.jsonl"
    shutil.copy(src, preds)
    rows = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    # references in TVC's format: the prediction itself plus another clip's caption
    refs = tmp_path / "tvc_refs.jsonl"
    refs.write_text("".join(json.dumps({"clip_id": r["clip_id"], "descs": [r["descs"][0], rows[i - 1]["descs"][0]]}) + "\n"
                            for i, r in enumerate(rows)))
    code, out, err = run_cli("score", preds, "--refs", refs, "--sacrebleu")
    assert code == 0, err
    doc = json.loads((tmp_path / "tvc_preds.scores.json").read_text())
    assert doc["format"] == "tvc-jsonl" and doc["n_scored"] == 100
    assert doc["metrics"]["Bleu_4"] > 0.99 and doc["metrics"]["CIDEr"] > 1.0
    assert "sacreBLEU" in out and doc["sacrebleu"]["signature"].startswith("nrefs:2|")


def test_qa_preds_json(run_cli, tmp_path):
    preds = _write(tmp_path / "qa.json", {"task": "qa", "predictions": [
        {"id": "q1", "prediction": "a drum", "choice": 2, "answer": 2, "type": "what"},
        {"id": "q2", "prediction": "red", "choice": 0, "answer": 1, "type": "which"},
        {"id": "q3", "prediction": "red", "choice": 1, "answer": 1, "type": "which"}]})
    code, out, err = run_cli("score", preds, "--no-java")
    assert code == 0, err
    doc = json.loads((tmp_path / "qa.scores.json").read_text())
    assert doc["metrics"]["accuracy"] == pytest.approx(2 / 3)
    assert doc["per_type"]["which"] == {"accuracy": 0.5, "n": 2, "n_correct": 1}
    assert "66.67" in out


def test_several_pairs_print_their_mean(run_cli, tmp_path, anet_small):
    vids = sorted(anet_small)
    r1 = _write(tmp_path / "r1.json", {v: anet_small[v] for v in vids[:2]})
    r2 = _write(tmp_path / "r2.json", {v: anet_small[v] for v in vids[2:]})
    p1 = _write(tmp_path / "p1.json", _perfect_submission({v: anet_small[v] for v in vids[:2]}))
    half = {v: {**anet_small[v], "timestamps": anet_small[v]["timestamps"][:1], "sentences": anet_small[v]["sentences"][:1]}
            for v in vids[2:]}
    p2 = _write(tmp_path / "p2.json", _perfect_submission(half))
    code, out, err = run_cli("score", p1, p2, "--refs", r1, "--refs", r2, "--no-java")
    assert code == 0, err
    d1 = json.loads((tmp_path / "p1.scores.json").read_text())
    d2 = json.loads((tmp_path / "p2.scores.json").read_text())
    mean = d1["mean_over_pairs"]["metrics"]
    assert mean["Recall"] == pytest.approx((d1["metrics"]["Recall"] + d2["metrics"]["Recall"]) / 2)
    assert mean == d2["mean_over_pairs"]["metrics"]
    assert "mean" in out and "NOT COMPARABLE" in out


# ---------------------------------------------------------------- bad input


def test_malformed_json_names_file_and_line(run_cli, tmp_path):
    bad = tmp_path / "preds.json"
    bad.write_text('{"task": "caption",\n "predictions": [\n  {"id": "a" "prediction": "x"}\n]}\n')
    code, _, err = run_cli("score", bad, "--no-java")
    assert code == 2
    line = _one_line_error(err)
    assert str(bad) in line and "line 3" in line


def test_ids_missing_on_either_side_are_counted_and_listed(run_cli, tmp_path):
    preds = _caption_preds(tmp_path, [{"id": f"p{i}", "prediction": "a man rides"} for i in range(8)])
    refs = _write(tmp_path / "refs.json", {**{f"p{i}": ["a man rides a horse"] for i in range(2)},
                                            **{f"r{i}": ["something"] for i in range(3)}})
    code, out, err = run_cli("score", preds, "--refs", refs, "--no-java")
    assert code == 0, err
    warnings = [x for x in err.splitlines() if x.startswith("vxt: warning:")]
    assert any("6 of 8 predictions have no reference" in w and "p2, p3, p4, p5, p6, ..." in w for w in warnings), err
    assert any("3 of 5 references have no prediction" in w and "r0, r1, r2" in w for w in warnings), err
    doc = json.loads((tmp_path / "preds.scores.json").read_text())
    assert doc["n_scored"] == 2 and len(doc["warnings"]) == 2
    code, _, err = run_cli("score", preds, "--refs", refs, "--no-java", "--strict")
    assert code == 2
    assert "--strict" in _one_line_error(err)


def test_no_overlapping_ids_is_an_error(run_cli, tmp_path):
    preds = _caption_preds(tmp_path, [{"id": "a", "prediction": "x"}])
    refs = _write(tmp_path / "refs.json", {"b": ["y"]})
    code, _, err = run_cli("score", preds, "--refs", refs, "--no-java")
    assert code == 2 and "no prediction id matches a reference id" in _one_line_error(err)


def test_empty_predictions_and_references_are_reported(run_cli, tmp_path):
    empty = _caption_preds(tmp_path, [], name="empty.json")
    code, _, err = run_cli("score", empty, "--refs", _write(tmp_path / "refs.json", {"a": ["x"]}), "--no-java")
    assert code == 2 and "holds no predictions" in _one_line_error(err)

    preds = _caption_preds(tmp_path, [{"id": "a", "prediction": "x"}, {"id": "b", "prediction": "y"}])
    none = _write(tmp_path / "none.json", {})
    code, _, err = run_cli("score", preds, "--refs", none, "--no-java")
    assert code == 2 and f"{none}: holds no references (empty)" in _one_line_error(err)

    no_refs = _write(tmp_path / "norefs.json", {"a": [], "b": ["y"]})
    code, _, err = run_cli("score", preds, "--refs", no_refs, "--no-java")
    assert code == 2 and "1 examples have an empty reference list (first: a)" in _one_line_error(err)

    blank = _caption_preds(tmp_path, [{"id": "a", "prediction": "  "}, {"id": "b", "prediction": "y"}], name="blank.json")
    code, _, err = run_cli("score", blank, "--refs", _write(tmp_path / "ok.json", {"a": ["x"], "b": ["y"]}), "--no-java")
    assert code == 0 and "1 of 2 predictions are empty strings (first: a)" in err

    inside = _caption_preds(tmp_path, [{"id": "a", "prediction": "x"}], name="inside.json")
    code, _, err = run_cli("score", inside, "--no-java")
    assert code == 2 and "holds no references; pass --refs FILE" in _one_line_error(err)


def test_bad_timestamps_are_flagged(run_cli, tmp_path):
    refs = _write(tmp_path / "refs.json", {
        "v1": {"duration": 10.0, "timestamps": [[0, 5], [6, 4]], "sentences": ["a", "b"]},
        "v2": {"duration": 20.0, "timestamps": [[0, 20.01]], "sentences": ["c"]}})  # 0.01 past the end: rounding, fine
    sub = _write(tmp_path / "sub.json", {"results": {
        "v1": [{"sentence": "a", "timestamp": [3, 1]}, {"sentence": "b", "timestamp": [2, 30]}],
        "v2": [{"sentence": "c", "timestamp": [-2, 5]}]}})
    code, _, err = run_cli("score", sub, "--refs", refs, "--no-java")
    assert code == 0, err
    assert f"{refs}: 1 segments have start > end (first: v1 [6, 4])" in err
    assert "predictions: 1 segments have start > end (first: v1 [3, 1])" in err
    assert "predictions: 1 segments start before 0 (first: v2 [-2, 5])" in err
    assert "predictions: 1 segments end after the video (first: v1 [2, 30] > 10 s)" in err
    assert "v2 [0, 20.01]" not in err
    bad = _write(tmp_path / "bad.json", {"results": {"v1": [{"sentence": "a", "timestamp": ["x", 1]}]}})
    code, _, err = run_cli("score", bad, "--refs", refs, "--no-java")
    assert code == 2 and "not numbers" in _one_line_error(err)


def test_bad_options(run_cli, tmp_path, anet_small):
    sub = _write(tmp_path / "sub.json", _perfect_submission(anet_small))
    refs = _write(tmp_path / "refs.json", anet_small)
    code, _, err = run_cli("score", sub, "--refs", refs, "--no-java", "--tious", "0.3,abc")
    assert code == 2 and "--tious" in _one_line_error(err)
    code, _, err = run_cli("score", sub, sub, sub, "--refs", refs, "--refs", refs, "--no-java")
    assert code == 2 and "3 prediction files and 2 --refs" in _one_line_error(err)


# ---------------------------------------------------------------- Java


def test_missing_java_says_how_to_install(run_cli, tmp_path, monkeypatch):
    preds = _caption_preds(tmp_path, [{"id": "a", "prediction": "x", "references": ["x"]}])
    monkeypatch.setenv("VXT_JAVA", str(tmp_path / "no" / "java"))
    code, out, err = run_cli("score", preds)
    assert code == 3
    line = _one_line_error(err)
    assert "Java was not found" in line and "apt-get install default-jre-headless" in line and "--no-java" in line
    assert not (tmp_path / "preds.scores.json").exists()  # checked before anything else


def test_java_stripped_from_path(run_cli, tmp_path, monkeypatch):
    monkeypatch.delenv("VXT_JAVA", raising=False)
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not os.path.exists(os.path.join(d, "java"))]
    monkeypatch.setenv("PATH", os.pathsep.join(path) or str(tmp_path))
    if shutil.which("java"):
        pytest.skip("java is still on PATH after stripping its folder")
    preds = _caption_preds(tmp_path, [{"id": "a", "prediction": "a man rides", "references": ["a man rides a horse"]}])
    code, _, err = run_cli("score", preds)
    assert code == 3 and "apt-get install default-jre-headless" in _one_line_error(err)
    # --no-java still scores, labelled as not comparable
    code, out, err = run_cli("score", preds, "--no-java")
    assert code == 0, err
    assert "NOT COMPARABLE" in out
    doc = json.loads((tmp_path / "preds.scores.json").read_text())
    assert "METEOR" not in doc["metrics"] and doc["settings"]["comparable_to_published"] is False
    assert doc["tools"]["java"] is None
