"""Dense captioning: the ActivityNet Captions protocol, hand-worked cases and the official structure."""

from __future__ import annotations

import importlib.util
import json
import string
import sys

import pytest

from vxt.metrics import java_available, score_dense
from vxt.metrics.dense import _build, garbage_references, tiou

java = pytest.mark.java
skip_no_java = pytest.mark.skipif(
    not java_available(), reason="Java is not installed (apt-get install default-jre-headless); PTB and METEOR need it"
)


def ev(s, e, sentence="a man rides a horse"):
    return {"start": s, "end": e, "sentence": sentence}


def ref(*segments, duration=100.0):
    return {"duration": duration, "timestamps": [[s, e] for s, e, _ in segments], "sentences": [t for _, _, t in segments]}


@pytest.fixture(scope="module")
def reference_impl(shared_data):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "densevid_reference.py"
    spec = importlib.util.spec_from_file_location("densevid_reference", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["densevid_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- tIoU


def test_tiou_hand_worked():
    assert tiou([0, 10], [5, 15]) == 5 / (15 + 1e-8)  # overlap 5, union 15
    assert tiou([2, 4], [0, 10]) == 2 / (10 + 1e-8)  # contained
    assert tiou([0, 1], [2, 3]) == 0.0  # disjoint: union = 1 + 1, intersection 0
    assert tiou([0, 10], [0, 10]) < 1.0  # the official + 1e-8
    assert tiou([0, 10], [0, 10]) == pytest.approx(1.0)
    # union = min(span, len(a) + len(b)): for touching segments both are 20
    assert tiou([0, 10], [10, 20]) == 0.0


def test_exactly_half_overlap_does_not_reach_threshold_0_5():
    """tIoU 5/10 is 0.4999999995 with the official + 1e-8, so it pairs nothing at 0.5 (but does at 0.3)."""
    groups, _ = _build({"v": [(0.0, 5.0, "a man rides")]}, [{"v": ref((0.0, 10.0, "a man rides a horse"))}], ["v"],
                       [0.3, 0.5], {("v", 0): "garbagegarbage"})
    assert groups[0][0] == [("a man rides", "a man rides a horse")]
    assert groups[1][0] == [("a man rides", "garbagegarbage")]


# ---------------------------------------------------------------- pairing rule


def test_pairing_rule_items():
    refs_1 = {"v": ref((0, 10, "first caf\u00e9 ref"), (5, 15, "second ref")), "w": ref((0, 5, "w ref"))}
    refs_2 = {"v": ref((0, 9, "other file ref"))}
    preds = {"v": [(0.0, 10.0, "pred one"), (50.0, 60.0, "pred two")], "x": [(0.0, 1.0, "not a reference video")]}
    vids = ["v", "w"]
    garbage = garbage_references(preds, vids, seed=3)
    groups, _ = _build(preds, [refs_1, refs_2], vids, [0.3], garbage)
    items_v, items_w = groups[0]
    # pred one overlaps both segments of file 1 (tIoU 1.0 and 5/15) and the file-2 segment (0.9): three items
    assert items_v[:3] == [("pred one", "first caf  ref"), ("pred one", "second ref"), ("pred one", "other file ref")]
    # pred two matches nothing: one item with its random reference
    assert items_v[3][0] == "pred two"
    g = items_v[3][1]
    assert g == garbage[("v", 1)] and 10 <= len(g) <= 20 and set(g) <= set(string.ascii_lowercase)
    assert items_w == []  # no predictions: no items (scores 0)
    # seeded: the same seed gives the same strings, another seed others
    assert garbage_references(preds, vids, seed=3) == garbage
    assert garbage_references(preds, vids, seed=4) != garbage


# ---------------------------------------------------------------- precision / recall


def test_precision_recall_hand_worked():
    refs = {"a": ref((0, 10, "s1"), (10, 20, "s2")), "b": ref((0, 10, "s3"))}
    preds = {"a": [ev(0, 9), ev(50, 60)]}  # tIoU(0-9, 0-10) = 0.9 - eps; second matches nothing
    out = score_dense(preds, [refs], java=False)
    # video a at 0.5: 1 of 2 references covered, 1 of 2 predictions valid; video b has no prediction: 0 and 0
    assert out["per_tiou"]["0.5"]["Recall"] == pytest.approx((0.5 + 0) / 2)
    assert out["per_tiou"]["0.5"]["Precision"] == pytest.approx((0.5 + 0) / 2)
    # at 0.9 nothing is strictly above the threshold (0.9 - eps)
    assert out["per_tiou"]["0.9"]["Recall"] == 0.0 and out["per_tiou"]["0.9"]["Precision"] == 0.0
    assert out["Recall"] == pytest.approx((0.25 + 0.25 + 0.25 + 0) / 4)
    assert out["F1"] == pytest.approx(2 * out["Precision"] * out["Recall"] / (out["Precision"] + out["Recall"]))


def test_precision_recall_best_over_reference_files():
    refs_1 = {"a": ref((0, 10, "s1"), (20, 30, "s2"))}
    refs_2 = {"a": ref((0, 10, "s1"))}
    out = score_dense({"a": [ev(0, 10)]}, [refs_1, refs_2], java=False, tious=[0.5])
    assert out["Recall"] == pytest.approx(1.0)  # file 2: its one segment is covered
    assert out["Precision"] == pytest.approx(1.0)


def test_max_proposals_keeps_the_first_n():
    refs = {"a": ref((0, 10, "a man rides a horse"))}
    preds = {"a": [ev(50, 60, "wrong"), ev(0, 10)]}
    assert score_dense(preds, [refs], java=False, max_proposals=1)["Recall"] == 0.0
    assert score_dense(preds, [refs], java=False, max_proposals=2)["Recall"] == pytest.approx(1.0)


# ---------------------------------------------------------------- mean over videos


def test_video_without_prediction_counts_zero_in_the_mean():
    refs = {"a": ref((0, 10, "a man rides a horse on the beach"), (10, 20, "he falls off"))}
    preds = {"a": [ev(0, 10, "a man rides a horse"), ev(12, 20, "he falls")]}
    alone = score_dense(preds, [refs], java=False)
    with_b = score_dense(preds, [{**refs, "b": ref((0, 5, "something else"))}], java=False)
    for m in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr", "Precision", "Recall"):
        assert with_b[m] == pytest.approx(alone[m] / 2, abs=1e-15), m
    assert with_b["n_videos"] == 2 and with_b["n_videos_with_predictions"] == 1


def test_cider_document_frequency_is_per_video():
    """Adding another video changes nothing in a video's own CIDEr: the mean is over independent per-video scores."""
    r1 = {"a": ref((0, 10, "a man rides a horse"))}
    p1 = {"a": [ev(0, 10, "a man rides a horse")]}
    r2 = {"b": ref((0, 10, "a man rides a horse in a field"))}
    p2 = {"b": [ev(0, 10, "a man rides")]}
    both = score_dense({**p1, **p2}, [{**r1, **r2}], java=False, tious=[0.5])
    a = score_dense(p1, [r1], java=False, tious=[0.5])
    b = score_dense(p2, [r2], java=False, tious=[0.5])
    assert both["CIDEr"] == pytest.approx((a["CIDEr"] + b["CIDEr"]) / 2)


# ---------------------------------------------------------------- against the official structure


def _subset(shared_data, n=8):
    v1 = json.loads((shared_data / "anet" / "val_1.json").read_text())
    v2 = json.loads((shared_data / "anet" / "val_2.json").read_text())
    vids = sorted(set(v1) & set(v2))[:n]
    refs_1 = {v: v1[v] for v in vids}
    refs_2 = {v: v2[v] for v in vids[: n // 2]}
    # predictions: val_2 segments shifted a little, one video without predictions, one prediction matching nothing
    sub = {v: [{"sentence": s, "timestamp": [t[0] + 1.5, t[1]]} for s, t in zip(v2[v]["sentences"], v2[v]["timestamps"])]
           for v in vids[1:]}
    sub[vids[2]].append({"sentence": "a caf\u00e9 scene that matches nothing", "timestamp": [10000.0, 10001.0]})
    return sub, refs_1, refs_2


@java
@skip_no_java
def test_identical_to_reference_implementation(shared_data, reference_impl, coco_meteor):
    """Every number (per threshold and averaged) equals the per-threshold pycocoevalcap implementation's."""
    from vxt.metrics.meteor import shared_meteor

    sub, refs_1, refs_2 = _subset(shared_data)
    events = {v: [{"start": e["timestamp"][0], "end": e["timestamp"][1], "sentence": e["sentence"]} for e in evs]
              for v, evs in sub.items()}
    ours = score_dense(events, [refs_1, refs_2], max_proposals=100, seed=7, meteor=shared_meteor())
    ref_eval = reference_impl.ReferenceDenseEval([refs_1, refs_2], sub, max_proposals=100, seed=7, meteor=coco_meteor)
    theirs = ref_eval.evaluate()
    for k, v in theirs.items():
        assert ours[k] == v, k
    for i, t in enumerate(ref_eval.tious):
        for k in ref_eval.scores:
            assert ours["per_tiou"][f"{t:g}"][k] == ref_eval.scores[k][i], (t, k)
    assert 0 < ours["METEOR"] < 1


@java
@skip_no_java
def test_same_input_scored_twice_gives_the_same_numbers(shared_data):
    from vxt.metrics.meteor import shared_meteor

    sub, refs_1, _ = _subset(shared_data)
    events = {v: [{"timestamp": e["timestamp"], "sentence": e["sentence"]} for e in evs] for v, evs in sub.items()}
    a = score_dense(events, [refs_1], meteor=shared_meteor(), workers=1)
    b = score_dense(events, [refs_1], meteor=shared_meteor(), workers=1)
    strip = lambda d: {k: v for k, v in d.items() if k != "timings_s"}  # noqa: E731
    assert strip(a) == strip(b)


def test_process_pool_gives_the_same_numbers(shared_data, monkeypatch):
    """The pool path (used above 4000 items) and the in-process path agree exactly."""
    import vxt.metrics.dense as dense

    sub, refs_1, _ = _subset(shared_data, n=6)
    events = {v: [{"timestamp": e["timestamp"], "sentence": e["sentence"]} for e in evs] for v, evs in sub.items()}
    one = score_dense(events, [refs_1], java=False, workers=1)
    monkeypatch.setattr(dense, "POOL_MIN_ITEMS", 0)
    two = score_dense(events, [refs_1], java=False, workers=2)
    for k in ("Bleu_4", "ROUGE_L", "CIDEr", "per_tiou"):
        assert one[k] == two[k]


def test_bad_inputs_raise_data_errors():
    from vxt.errors import DataError

    with pytest.raises(DataError, match="no reference segments"):
        score_dense({"a": [ev(0, 1)]}, [{"a": {"duration": 5, "timestamps": [], "sentences": []}}], java=False)
    with pytest.raises(DataError, match="start/end must be numbers"):
        score_dense({"a": [ev("x", 1)]}, [{"a": ref((0, 1, "s"))}], java=False)
    with pytest.raises(DataError, match="no reference files"):
        score_dense({"a": [ev(0, 1)]}, [], java=False)


def test_reference_timestamps_must_be_numbers():
    from vxt.errors import DataError

    bad = {"a": {"duration": 5, "timestamps": [[0, "x"]], "sentences": ["s"]}}
    with pytest.raises(DataError, match="not a \\[start, end\\] pair of numbers"):
        score_dense({"a": [ev(0, 1)]}, [bad], java=False)
