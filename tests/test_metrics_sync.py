"""The sync metrics on known values, and ``vxt score`` of a sync preds.json."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_the_grid_and_its_classes():
    from vxt.metrics.sync import class_to_offset, offset_grid, offset_to_class

    g = offset_grid()
    assert len(g) == 21 and g[0] == -2.0 and g[10] == 0.0 and g[-1] == 2.0
    assert np.allclose(np.diff(g), 0.2)
    assert list(offset_grid(3, 1.0)) == [-1.0, 0.0, 1.0]
    assert offset_to_class(0.0) == 10 and offset_to_class(-2.0) == 0 and offset_to_class(0.4) == 12
    assert offset_to_class(0.44) == 12 and offset_to_class(-0.05) == 10 and offset_to_class(9.0) == 20
    assert list(offset_to_class([0.2, -0.2])) == [11, 9]
    assert class_to_offset(12) == pytest.approx(0.4)
    assert all(offset_to_class(class_to_offset(k)) == k for k in range(21))
    with pytest.raises(ValueError):
        offset_grid(4)
    with pytest.raises(ValueError):
        class_to_offset(21)


def test_sparsesync_lists_have_the_other_sign():
    from vxt.metrics.sync import from_sparsesync_offset

    assert from_sparsesync_offset(1.4) == -1.4 and from_sparsesync_offset(-0.2) == 0.2


def test_accuracies_on_known_values():
    from vxt.metrics.sync import accuracy, accuracy_within, chance_within, score_offsets, three_class

    assert accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    assert accuracy_within([10, 11, 13, 0], [10, 10, 10, 20]) == 0.5
    assert chance_within(21) == pytest.approx(61 / 441) and round(100 * chance_within(21), 1) == 13.8
    assert chance_within(3) == pytest.approx(7 / 9)
    assert list(three_class([-2.0, -0.6, -0.4, 0.0, 0.4, 0.6, 1.0])) == [0, 0, 1, 1, 1, 2, 2]
    r = score_offsets([0.0, 0.2, -1.0, 2.0], [0.0, 0.0, 1.0, 1.6])
    assert r["accuracy_1"] == 0.25
    assert r["accuracy_pm1"] == 0.5
    assert r["accuracy_3class"] == 0.75  # -1.0 vs 1.0 is the one sign error
    assert r["n"] == 4 and r["n_classes"] == 21
    cm = np.array(r["confusion"])
    assert cm.sum() == 4 and cm[10, 10] == 1 and cm[10, 11] == 1 and cm[15, 5] == 1 and cm[18, 20] == 1


def test_the_confusion_matrix_rows_are_targets():
    from vxt.metrics.sync import confusion_matrix

    cm = confusion_matrix([0, 1, 1, 2], [0, 0, 1, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError):
        confusion_matrix([3], [0], 3)


def test_the_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from vxt.metrics.sync import confusion_matrix, offset_grid, plot_confusion

    cm = confusion_matrix([0, 1, 20], [0, 2, 20], 21)
    out = plot_confusion(cm, offset_grid(), tmp_path / "cm.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _preds(tmp_path, rows, **top):
    p = tmp_path / "preds.json"
    p.write_text(json.dumps({"task": "sync", "checkpoint": "exp/x", "predictions": rows, **top}))
    return p


def test_vxt_score_of_a_sync_preds_file(tmp_path, run_cli):
    pytest.importorskip("matplotlib")
    rows = [{"id": f"c{i}", "prediction": f"{o:+.1f} s", "offset": o, "probs": [1 / 21] * 21, "target": t}
            for i, (o, t) in enumerate([(0.0, 0.0), (0.2, 0.0), (-1.0, 1.0), (2.0, 1.6)])]
    p = _preds(tmp_path, rows)
    code, out, err = run_cli("score", str(p), "--no-java")
    assert code == 0, err
    assert "accuracy_1" in out and "25.00" in out and "50.00" in out and "75.00" in out
    assert "NOT COMPARABLE" not in out
    doc = json.loads((tmp_path / "preds.scores.json").read_text())
    assert doc["task"] == "sync" and doc["metrics"] == {"accuracy_1": 0.25, "accuracy_pm1": 0.5, "accuracy_3class": 0.75}
    assert doc["n_scored"] == 4 and len(doc["confusion"]) == 21
    assert (tmp_path / "preds.confusion.png").exists() and doc["confusion_png"].endswith("preds.confusion.png")


def test_vxt_score_with_manifest_refs_and_a_3_class_grid(tmp_path, run_cli):
    rows = [{"id": "a", "prediction": "+1.0 s", "offset": 1.0, "probs": [0.1, 0.2, 0.7]},
            {"id": "b", "prediction": "+0.0 s", "offset": 0.0, "probs": [0.1, 0.8, 0.1]}]
    p = _preds(tmp_path, rows, offset_grid=[-1.0, 0.0, 1.0])
    refs = tmp_path / "test.jsonl"
    refs.write_text("\n".join(json.dumps(r) for r in [{"id": "a", "offset": 1.0}, {"id": "b", "offset": -1.0},
                                                      {"id": "c", "offset": 0.0}]))
    code, out, err = run_cli("score", str(p), "--refs", str(refs), "--no-java")
    assert code == 0, err
    doc = json.loads((tmp_path / "preds.scores.json").read_text())
    assert doc["metrics"]["accuracy_1"] == 0.5 and doc["n_classes"] == 3
    assert "c" in err  # a reference without a prediction is reported


def test_vxt_score_errors_on_a_bad_sync_file(tmp_path, run_cli):
    p = _preds(tmp_path, [{"id": "a", "prediction": "x", "offset": "late"}])
    code, _, err = run_cli("score", str(p), "--no-java")
    assert code == 2 and "'offset' must be a number of seconds" in err
    p = _preds(tmp_path, [{"id": "a", "prediction": "+0.0 s", "offset": 0.0}])
    code, _, err = run_cli("score", str(p), "--no-java")
    assert code == 2 and "references" in err
