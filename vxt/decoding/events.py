"""Dense captioning at decode time: proposals -> timed, captioned events, scoring, and a random baseline.

* :func:`select_proposals`: the top ``top_k`` proposals of a video by
  confidence (100, as BMT), after an optional NMS.
* :func:`proposals_to_events`: every selected proposal of every video is
  captioned in one call of a caption function (batched greedy decoding in the
  captioner), then put back per video in proposal order (best first: the
  ActivityNet protocol keeps the first ``max_proposals`` of a video).
* :func:`score_dense_predictions`: the ActivityNet Captions protocol
  (:func:`vxt.metrics.score_dense`) on predictions aligned with manifest
  examples; predictions whose events carry no sentence (proposal-only
  validation) get the detection metrics alone (precision, recall, F1).
* :func:`random_segments_baseline`: seeded uniform random segments with the
  training set's most common sentence (or a random training caption): the
  floor a trained dense captioner has to clear.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Callable, Sequence

Segment = tuple[float, float]


def select_proposals(proposals: Sequence[dict], top_k: int = 100, nms: float | None = None) -> list[dict]:
    """The ``top_k`` best proposals (``{"start", "end", "score"}``) by score, after greedy NMS at tIoU ``nms``."""
    props = sorted(proposals, key=lambda p: -float(p.get("score", 0.0)))
    if nms is not None and len(props) > 1:
        import numpy as np

        from vxt.models.proposals import nms_segments

        segs = np.asarray([[float(p["start"]), float(p["end"])] for p in props], dtype=np.float64)
        scores = np.asarray([float(p.get("score", 0.0)) for p in props], dtype=np.float64)
        keep = nms_segments(segs, scores, float(nms), int(top_k))
        return [props[i] for i in keep]
    return props[: int(top_k)]


def proposals_to_events(proposals: Sequence[Sequence[dict]],
                        caption_fn: Callable[[list[tuple[int, float, float]]], list[str]],
                        top_k: int = 100, nms: float | None = None, batch_size: int | None = None) -> list[list[dict]]:
    """Caption the selected proposals of each video.

    ``proposals[b]``: video b's proposals; ``caption_fn(requests)`` takes
    ``(video index, start, end)`` triples and returns one sentence each (it is
    called once with every request, or in chunks of ``batch_size``). Returns
    per video ``[{"start", "end", "sentence", "score"}]``, best first.
    """
    selected = [select_proposals(p, top_k, nms) for p in proposals]
    requests = [(b, float(p["start"]), float(p["end"])) for b, props in enumerate(selected) for p in props]
    sentences: list[str] = []
    step = len(requests) if not batch_size else int(batch_size)
    for i in range(0, len(requests), max(step, 1)):
        chunk = requests[i: i + step]
        out = caption_fn(chunk)
        if len(out) != len(chunk):
            raise RuntimeError(f"the caption function returned {len(out)} sentences for {len(chunk)} segments")
        sentences += list(out)
    events: list[list[dict]] = [[] for _ in proposals]
    for (b, s, e), sent in zip(requests, sentences):
        events[b].append({"start": round(s, 3), "end": round(e, 3), "sentence": sent})
    for b, props in enumerate(selected):
        for ev, p in zip(events[b], props):
            ev["score"] = round(float(p.get("score", 1.0)), 6)
    return events


def timeline_text(events: Sequence[dict], n: int = 5) -> str:
    """A one-line summary of the ``n`` best events in time order: ``[1.9-5.6] a man ...; [8.4-13.9] ...``."""
    best = sorted(list(events)[:n], key=lambda e: (float(e["start"]), float(e["end"])))
    return "; ".join(f"[{float(e['start']):.1f}-{float(e['end']):.1f}] {e.get('sentence', '')}".rstrip() for e in best)


# ---------------------------------------------------------------- scoring


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


# ---------------------------------------------------------------- the random baseline


def random_segments_baseline(examples: Sequence[dict], train_examples: Sequence[dict], *, n: int = 100,
                             seed: int = 0, caption: str = "most-common") -> list[dict]:
    """Predictions that place ``n`` uniform random segments per video (seeded per video id).

    Each segment is a sorted pair of uniform draws in [0, duration].
    ``caption``: ``"most-common"`` (every segment gets the training set's most
    frequent event sentence) or ``"random"`` (a random training sentence per
    segment). Returns ``[{"id", "events": [{"start", "end", "sentence", "score"}]}]``.
    """
    if caption not in ("most-common", "random"):
        raise ValueError(f"caption must be 'most-common' or 'random', got {caption!r}")
    sentences = [str(e["sentence"]) for ex in train_examples for e in ex.get("events") or [] if e.get("sentence")]
    if not sentences:
        raise ValueError("the training examples hold no event sentences")
    common = sorted(Counter(sentences).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    from vxt.data.feature_store import example_duration

    out = []
    for ex in examples:
        dur = example_duration(ex)
        rng = random.Random(f"{seed}-{ex['id']}")
        events = []
        for i in range(int(n)):
            a, b = sorted((rng.uniform(0.0, dur), rng.uniform(0.0, dur)))
            sent = common if caption == "most-common" else rng.choice(sentences)
            events.append({"start": round(a, 3), "end": round(b, 3), "sentence": sent, "score": round(1.0 - i / max(n, 1), 6)})
        out.append({"id": ex["id"], "prediction": timeline_text(events), "events": events})
    return out

