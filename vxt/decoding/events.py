"""Dense captioning at decode time: proposals -> timed, captioned events, scoring, and a random baseline.

* :func:`select_proposals`: the top ``top_k`` proposals of a video by
  confidence (100, as BMT), after an optional NMS.
* :func:`proposals_to_events`: every selected proposal of every video is
  captioned in one call of a caption function (batched greedy decoding in the
  captioner), then put back per video in proposal order (best first: the
  ActivityNet protocol keeps the first ``max_proposals`` of a video).
* :func:`segment_tiou`, :func:`nms_segments`: tIoU of segment sets and greedy NMS;
* :func:`random_segments_baseline`: seeded uniform random segments with the
  training set's most common sentence (or a random training caption): the
  floor a trained dense captioner has to clear.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from vxt.data.features import example_duration

Segment = tuple[float, float]


def select_proposals(proposals: Sequence[dict], top_k: int = 100, nms: float | None = None) -> list[dict]:
    """The ``top_k`` best proposals (``{"start", "end", "score"}``) by score, after greedy NMS at tIoU ``nms``."""
    props = sorted(proposals, key=lambda p: -float(p.get("score", 0.0)))
    if nms is not None and len(props) > 1:
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


def segment_tiou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tIoU between segments a [N, 2] and b [M, 2] (start, end) -> [N, M]."""
    inter = np.clip(np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    union = (a[:, None, 1] - a[:, None, 0]) + (b[None, :, 1] - b[None, :, 0]) - inter
    return inter / np.maximum(union, 1e-8)


def nms_segments(segments: np.ndarray, scores: np.ndarray, threshold: float, top_k: int) -> np.ndarray:
    """Greedy NMS: indices (into ``segments``, by descending score) kept, at most ``top_k``.

    A segment is dropped when its tIoU with a kept, higher-scoring one is >= ``threshold``.
    """
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    seg = segments[order]
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(int(order[i]))
        if len(kept) >= top_k:
            break
        if i + 1 < len(order):
            ious = segment_tiou(seg[i: i + 1], seg[i + 1:])[0]
            suppressed[i + 1:] |= ious >= threshold
    return np.asarray(kept, dtype=np.int64)



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

