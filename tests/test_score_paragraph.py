"""``vxt score --paragraph``: ActivityNet Captions paragraphs (each video's captions in start order against
val_1's and val_2's paragraphs), from vxt preds.json rows, ActivityNet submissions and ``--refs`` files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vxt.metrics.formats import load_predictions
from vxt.metrics.paragraph import group_paragraphs, paragraph_inputs

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import make_test_video  # noqa: E402


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def _one_line_error(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("vxt: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _para(ann: dict) -> str:
    """A reference paragraph written out here (not with vxt's code): sentences sorted by start, joined by spaces."""
    order = sorted(range(len(ann["sentences"])), key=lambda k: min(ann["timestamps"][k]))
    return " ".join(ann["sentences"][k].strip() for k in order)


@pytest.fixture(scope="module")
def anet(shared_data):
    """Three videos of val_1 and val_2; the third is annotated out of start order in val_1."""
    v1 = json.loads((shared_data / "anet" / "val_1.json").read_text())
    v2 = json.loads((shared_data / "anet" / "val_2.json").read_text())
    both = sorted(set(v1) & set(v2))
    unsorted = next(v for v in both if [t[0] for t in v1[v]["timestamps"]] != sorted(t[0] for t in v1[v]["timestamps"]))
    vids = [v for v in both[:3] if v != unsorted][:2] + [unsorted]
    return {v: v1[v] for v in vids}, {v: v2[v] for v in vids}


def _rows(v1: dict, v2: dict, reverse_starts: bool = False) -> list[dict]:
    """Caption rows as `vxt decode` writes them for `vxt prepare anet` segments, predicting val_1's sentence."""
    rows = []
    for vid, ann in v1.items():
        starts = [float(min(ts)) for ts in ann["timestamps"]]
        if reverse_starts:  # the same captions, told in the opposite order of time
            starts = [max(starts) - s for s in starts]
        for k, (sent, start) in enumerate(zip(ann["sentences"], starts)):
            rows.append({"id": f"{vid}-seg{k}", "prediction": sent.strip(), "references": [sent.strip()], "start": start,
                         "paragraph": {"video_id": vid, "references": [_para(ann), _para(v2[vid])]}})
    return rows


def _preds(tmp_path: Path, rows: list[dict], name: str = "preds.json") -> Path:
    return _write(tmp_path / name, {"task": "caption", "checkpoint": "exp/x", "predictions": rows})


# ---------------------------------------------------------------- grouping


def test_rows_are_grouped_per_video_in_start_order(tmp_path, anet):
    assert group_paragraphs([("v", 2.0, "b"), ("w", 0.0, "x"), ("v", 1.0, "a "), ("v", 2.0, "c"), ("v", 0.5, "")]) == {
        "v": "a b c", "w": "x"}  # ties keep their order; empty captions add nothing
    v1, v2 = anet
    rows = _rows(v1, v2)
    rows = rows[::2] + rows[1::2]  # the file's row order does not matter, the start times do
    para = paragraph_inputs(load_predictions(_preds(tmp_path, rows)), [])
    assert list(para.pred.preds) == list(dict.fromkeys(r["paragraph"]["video_id"] for r in rows))
    assert para.pred.kind == "caption" and para.n_segments == len(rows)
    for vid, ann in v1.items():
        assert para.pred.preds[vid] == _para(ann)
        assert para.refs[vid] == [_para(ann), _para(v2[vid])]
    unsorted = list(v1)[2]
    assert para.pred.preds[unsorted] != " ".join(s.strip() for s in v1[unsorted]["sentences"])  # not annotation order
    assert para.ref_names == ["(inside the predictions file)"]


# ---------------------------------------------------------------- scores


def test_paragraphs_equal_to_the_references_score_100(run_cli, tmp_path, anet):
    preds = _preds(tmp_path, _rows(*anet))
    code, out, err = run_cli("score", preds, "--paragraph", "--no-java")
    assert code == 0, err
    assert "vxt score: paragraphs" in out and "3 videos (paragraphs of" in out
    doc = json.loads((tmp_path / "preds.scores.json").read_text())
    assert doc["metrics"]["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert doc["metrics"]["ROUGE_L"] == pytest.approx(1.0) and doc["metrics"]["CIDEr"] > 0
    assert "METEOR" not in doc["metrics"]  # --no-java
    assert doc["settings"]["paragraph"] is True and doc["settings"]["java"] is False
    assert doc["n_videos"] == 3 and doc["n_references"] == 6 and doc["n_segments"] == sum(
        len(a["sentences"]) for a in anet[0].values())
    # without --paragraph the same file is scored per segment
    code, out, err = run_cli("score", preds, "--no-java")
    assert code == 0, err
    assert "paragraph" not in json.loads((tmp_path / "preds.scores.json").read_text())["settings"]


def test_the_order_of_start_times_matters(run_cli, tmp_path, anet):
    code, _, err = run_cli("score", _preds(tmp_path, _rows(*anet), "ok.json"), "--paragraph", "--no-java")
    assert code == 0, err
    code, _, err = run_cli("score", _preds(tmp_path, _rows(*anet, reverse_starts=True), "rev.json"), "--paragraph", "--no-java")
    assert code == 0, err
    ok = json.loads((tmp_path / "ok.scores.json").read_text())["metrics"]
    rev = json.loads((tmp_path / "rev.scores.json").read_text())["metrics"]
    assert rev["Bleu_1"] == pytest.approx(ok["Bleu_1"])  # the same words ...
    assert rev["Bleu_4"] < ok["Bleu_4"] - 0.05 and rev["CIDEr"] < ok["CIDEr"]  # ... in another order


def test_submission_against_anet_reference_files(run_cli, tmp_path, anet):
    v1, v2 = anet
    r1, r2 = _write(tmp_path / "val_1.json", v1), _write(tmp_path / "val_2.json", v2)
    # listed backwards: the paragraph follows the timestamps
    sub = {"results": {v: [{"sentence": s, "timestamp": t} for s, t in zip(a["sentences"], a["timestamps"])][::-1]
                       for v, a in v1.items()}}
    code, out, err = run_cli("score", _write(tmp_path / "sub.json", sub), "--paragraph", "--no-java", "--refs", r1, "--refs", r2)
    assert code == 0, err
    doc = json.loads((tmp_path / "sub.scores.json").read_text())
    assert doc["format"] == "activitynet-submission" and doc["references"] == [str(r1), str(r2)]
    assert doc["metrics"]["Bleu_4"] == pytest.approx(1.0, abs=1e-6) and doc["n_videos"] == 3 and doc["n_references"] == 6
    # a reference video without a prediction scores as an empty paragraph (PDVC's protocol), said in a warning
    missing = list(v1)[0]
    part = _write(tmp_path / "part.json", {"results": {v: e for v, e in sub["results"].items() if v != missing}})
    code, _, err = run_cli("score", part, "--paragraph", "--no-java", "--refs", r1, "--refs", r2)
    assert code == 0, err
    assert "1 of 3 references have no prediction; they score 0 (an empty paragraph)" in err
    doc = json.loads((tmp_path / "part.scores.json").read_text())
    assert doc["n_videos"] == 3 and doc["n_videos_with_predictions"] == 2 and doc["metrics"]["Bleu_4"] < 0.99
    code, _, err = run_cli("score", part, "--paragraph", "--no-java", "--refs", r1, "--refs", r2, "--strict")
    assert code == 2 and "--strict" in _one_line_error(err)


def test_from_prepare_anet_to_paragraph_scores(run_cli, tmp_path, anet):
    """The adapter's paragraph field, carried by the caption task's preds.json rows, scores as the protocol does."""
    from vxt.data.manifest import load_split
    from vxt.data.prepare import prepare
    from vxt.tasks import get_task_entry

    v1, v2 = anet
    root = tmp_path / "anet"
    (root / "videos").mkdir(parents=True)
    vids = list(v1)[1:]  # two videos, one annotated out of start order
    _write(root / "val_1.json", {v: v1[v] for v in vids})
    _write(root / "val_2.json", {v: v2[v] for v in vids})
    for v in vids:
        make_test_video(root / "videos" / f"{v}.mp4", seconds=1.0, size=(32, 24))
    out = tmp_path / "data"
    prepare("anet", out, options={"root": str(root)}, workers=1, cache=False, progress=False)
    task = get_task_entry("caption")
    for split, first, other in (("val", v1, v2), ("test", v2, v1)):
        rows = [task.prediction_row({"id": ex["id"], "prediction": ex["targets"][0]}, ex)
                for ex in load_split(out, split) if ex["task"] == "caption"]
        assert {r["paragraph"]["video_id"] for r in rows} == set(vids)
        preds = _preds(tmp_path, rows, f"{split}.json")
        code, _, err = run_cli("score", preds, "--paragraph", "--no-java")
        assert code == 0, err
        doc = json.loads((tmp_path / f"{split}.scores.json").read_text())
        assert doc["metrics"]["Bleu_4"] == pytest.approx(1.0, abs=1e-6) and doc["n_videos"] == 2
        para = paragraph_inputs(load_predictions(preds), [])
        assert para.pred.preds == {v: _para(first[v]) for v in vids}
        assert para.refs == {v: [_para(v1[v]), _para(v2[v])] for v in vids}  # val_1's, then val_2's


# ---------------------------------------------------------------- what --paragraph needs


def test_what_paragraph_needs_is_said_in_one_line(run_cli, tmp_path, anet):
    plain = _preds(tmp_path, [{"id": "a", "prediction": "x", "references": ["x"]}], "plain.json")
    code, _, err = run_cli("score", plain, "--paragraph", "--no-java")
    assert code == 2
    line = _one_line_error(err)
    assert str(plain) in line and "--paragraph needs" in line and "'paragraph' and 'start'" in line
    r1 = _write(tmp_path / "val_1.json", anet[0])
    code, _, err = run_cli("score", plain, "--paragraph", "--no-java", "--refs", r1)
    assert code == 2 and "--paragraph needs" in _one_line_error(err)

    sub = _write(tmp_path / "sub.json", {"results": {"v": [{"sentence": "x", "timestamp": [0, 1]}]}})
    code, _, err = run_cli("score", sub, "--paragraph", "--no-java")
    assert code == 2 and "--refs val_1.json --refs val_2.json" in _one_line_error(err)

    qa = _write(tmp_path / "qa.json", {"task": "qa", "predictions": [{"id": "q", "prediction": "x", "choice": 0, "answer": 0}]})
    code, _, err = run_cli("score", qa, "--paragraph", "--no-java")
    assert code == 2 and "holds qa predictions" in _one_line_error(err)

    rows = _rows(*anet)
    rows[1]["start"] = "soon"
    code, _, err = run_cli("score", _preds(tmp_path, rows, "bad.json"), "--paragraph", "--no-java")
    assert code == 2 and f"example {rows[1]['id']}: 'start' must be" in _one_line_error(err)
