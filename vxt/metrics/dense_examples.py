"""Dense predictions scored against manifest examples (validation during training, ``vxt decode`` of a split).

* :func:`references_of`: ActivityNet-style references of dense examples;
* :func:`detection_scores`: proposal precision / recall / F1 (no captions);
* :func:`score_dense_predictions`: the ActivityNet Captions protocol
  (:func:`vxt.metrics.score_dense`) on predictions aligned with examples;
  predictions whose events carry no sentence (proposal-only validation) get
  the detection metrics alone.
"""

from __future__ import annotations

from typing import Sequence

Segment = tuple[float, float]


def references_of(examples: Sequence[dict]) -> dict[str, dict]:
    """ActivityNet-style references ``{id: {"duration", "timestamps", "sentences"}}`` of dense examples."""
    refs = {}
    for ex in examples:
        evs = ex.get("events") or []
        if not evs:
            continue
        refs[str(ex["id"])] = {
            "duration": ex.get("duration"),
            "timestamps": [[float(e["start"]), float(e["end"])] for e in evs],
            "sentences": [str(e.get("sentence", "")) for e in evs],
        }
    return refs


def detection_scores(pred_segments: dict[str, Sequence[Segment]], ref_files: Sequence[dict],
                     tious: Sequence[float] = (0.3, 0.5, 0.7, 0.9), max_proposals: int = 100) -> dict:
    """Proposal precision / recall / F1 of the ActivityNet protocol (no captions needed).

    Uses the official rule of :mod:`vxt.metrics.dense` (``tIoU > t``, best
    reference file per video, averaged over videos, then over thresholds;
    F1 from the averaged precision and recall).
    """
    from vxt.metrics.dense import _detection, _f1, tiou

    vids = sorted(set().union(*[set(r) for r in ref_files]))
    preds = {v: [(float(s), float(e), "") for s, e in list(segs)[:max_proposals]] for v, segs in pred_segments.items()}
    ious = {}
    for v in vids:
        if v not in preds:
            continue
        ious[v] = [[[tiou((s, e), ts) for ts in refs[v]["timestamps"]] if v in refs else None for refs in ref_files]
                   for s, e, _ in preds[v]]
    per_tiou, ps, rs = {}, [], []
    for t in tious:
        p, r = _detection(preds, ref_files, vids, ious, float(t))
        per_tiou[f"{t:g}"] = {"Precision": p, "Recall": r, "F1": _f1(p, r)}
        ps.append(p)
        rs.append(r)
    p, r = sum(ps) / len(ps), sum(rs) / len(rs)
    return {"Precision": p, "Recall": r, "F1": _f1(p, r), "per_tiou": per_tiou, "n_videos": len(vids)}


def score_dense_predictions(examples: Sequence[dict], preds: Sequence[dict], *, java: bool | None = None,
                            max_proposals: int = 100) -> dict:
    """Metrics of dense predictions (``{"id", "events"}``) against the examples' events (fractions).

    When no predicted event has a ``sentence`` field (proposal-only
    validation), only Precision, Recall and F1 are computed.
    """
    from vxt.metrics import java_available, score_dense
    from vxt.metrics.meteor import shared_meteor

    refs = references_of(examples)
    if not refs:
        return {}
    pred_events = {str(p["id"]): list(p.get("events") or []) for p in preds if str(p["id"]) in refs}
    captioned = any("sentence" in e for evs in pred_events.values() for e in evs)
    if not captioned:
        segs = {v: [(e["start"], e["end"]) for e in evs] for v, evs in pred_events.items()}
        res = detection_scores(segs, [refs], max_proposals=max_proposals)
        return {k: float(v) for k, v in res.items() if isinstance(v, float)}
    use_java = java_available() if java is None else java
    res = score_dense(pred_events, [refs], java=use_java, max_proposals=max_proposals, workers=1,
                      meteor=shared_meteor() if use_java else None)
    keep = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "Precision", "Recall", "F1")
    return {k: float(res[k]) for k in keep if k in res}
