"""Dense video captioning: the ActivityNet Captions protocol, as the official evaluator computes it.

The official evaluator is densevid_eval (commit 9d4045a), ported to Python 3
in BMT (``evaluation/evaluate.py``). Its rules, reproduced here:

* ``tIoU(a, b) = intersection / (union + 1e-8)`` with
  ``union = min(max(ends) - min(starts), len(a) + len(b))``.
* Only the first ``max_proposals`` predictions of a video count (official
  default 1000; BMT and most papers use 100, the default here).
* The videos scored are the union of the videos of all reference files. For
  each threshold and each prediction of a video, every reference segment (of
  every reference file holding the video) with ``tIoU >= threshold`` gives an
  item (prediction sentence, that reference sentence) with one reference; a
  prediction matching nothing is paired with a random string of 10-20
  lowercase letters (seeded here, one per prediction, so results are
  reproducible; see :func:`garbage_references`). Non-ASCII characters become
  spaces first.
* All items are PTB-tokenized; each metric is computed per video on that
  video's items only (so CIDEr's document frequencies come from that video's
  items), a video without items scores 0, and the threshold's score is the
  mean over all reference videos. The reported number is the mean over
  thresholds.
* Precision/recall use ``tIoU > threshold`` (strictly): per video and
  reference file, recall = covered reference segments / segments and
  precision = predictions covering some segment / predictions counted; the
  best over reference files is kept, a video without predictions has 0 for
  both, and both are averaged over videos. F1 is the harmonic mean of the
  averaged precision and recall.

What is done differently is only how the work is organised (results are
identical, see bench/score.py and tests/test_metrics_dense.py): tIoUs are
computed once per video; the eight documents the official code tokenizes
per threshold (it tokenizes the same two again for each scorer) go through
one PTB Java process; METEOR runs in one Java process, computes the
statistics of each distinct (prediction, reference) pair once for all
thresholds and scores each distinct per-video set once; BLEU, ROUGE-L and
CIDEr use the exact per-set restatements of :mod:`vxt.metrics.coco`,
computed while METEOR's Java works (in the main process on 2 cores, in a
process pool when there are cores to spare).
"""

from __future__ import annotations

import math
import os
import random
import string
import sys
from typing import Any, Mapping, Sequence

import numpy as np

from vxt.errors import DataError

TIOUS = (0.3, 0.5, 0.7, 0.9)
CAPTION_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
DEFAULT_SEED = 0
POOL_MIN_ITEMS = 4000  # below this, starting worker processes costs more than it saves

Item = tuple[str, tuple[str, ...]]


def tiou(a: Sequence[float], b: Sequence[float]) -> float:
    """Temporal IoU exactly as densevid_eval computes it (including its ``+ 1e-8``)."""
    start_i, end_i = a[0], a[1]
    start, end = b[0], b[1]
    intersection = max(0, min(end, end_i) - max(start, start_i))
    union = min(max(end, end_i) - min(start, start_i), end - start + end_i - start_i)
    return float(intersection) / (union + 1e-8)


def remove_nonascii(text: str) -> str:
    """Every character above 127 becomes a space (as the official evaluator does)."""
    if text.isascii():
        return text
    return "".join(c if ord(c) < 128 else " " for c in text)


def random_string(rng: random.Random) -> str:
    """A random string of 10-20 lowercase letters, drawn as the official evaluator draws it."""
    n = rng.randint(10, 20)
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def garbage_references(preds: Mapping[str, Sequence], vids: Sequence[str], seed: int) -> dict[tuple[str, int], str]:
    """The random reference of each prediction, used at every threshold where it matches nothing.

    The official evaluator draws a fresh unseeded string per threshold; its
    value only has to match nothing, so any seeded draw gives the official
    numbers. Drawing one per prediction (videos in sorted order, predictions
    in order) makes runs reproducible and lets the same (prediction, garbage)
    pair be scored once for all thresholds.
    """
    rng = random.Random(seed)
    return {(vid, i): random_string(rng) for vid in vids if vid in preds for i in range(len(preds[vid]))}


# ---------------------------------------------------------------- inputs


def _events(vid: str, events: Sequence[Mapping[str, Any]], max_proposals: int) -> list[tuple[float, float, str]]:
    out = []
    for i, ev in enumerate(list(events)[:max_proposals]):
        if not isinstance(ev, Mapping):
            raise DataError(f"event {i} is not an object", example_id=vid)
        if "timestamp" in ev:
            ts = ev["timestamp"]
            if not isinstance(ts, (list, tuple)) or len(ts) != 2:
                raise DataError(f"event {i}: 'timestamp' must be [start, end]", example_id=vid)
            start, end = ts
        else:
            start, end = ev.get("start"), ev.get("end")
        sentence = ev.get("sentence")
        if not isinstance(sentence, str):
            raise DataError(f"event {i} has no 'sentence' string", example_id=vid)
        try:
            start, end = float(start), float(end)
            if not (math.isfinite(start) and math.isfinite(end)):
                raise ValueError
        except (TypeError, ValueError):
            raise DataError(f"event {i}: start/end must be numbers, got {start!r}, {end!r}", example_id=vid) from None
        out.append((start, end, sentence))
    return out


def _check_refs(ref_files: Sequence[Mapping[str, Any]]) -> None:
    for fi, refs in enumerate(ref_files):
        for vid, r in refs.items():
            if not isinstance(r, Mapping) or "timestamps" not in r or "sentences" not in r:
                raise DataError(f"reference file {fi + 1}: needs 'timestamps' and 'sentences'", example_id=vid)
            if len(r["timestamps"]) != len(r["sentences"]):
                raise DataError(
                    f"reference file {fi + 1}: {len(r['timestamps'])} timestamps but {len(r['sentences'])} sentences",
                    example_id=vid,
                )
            if not r["timestamps"]:
                raise DataError(f"reference file {fi + 1}: the video has no reference segments", example_id=vid)
            for ts in r["timestamps"]:
                ok = isinstance(ts, (list, tuple)) and len(ts) == 2
                ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in ts)
                if not ok:
                    raise DataError(f"reference file {fi + 1}: timestamp {ts!r} is not a [start, end] pair of numbers",
                                    example_id=vid)


# ---------------------------------------------------------------- the protocol


def _build(preds, ref_files, vids, tious, garbage):
    """Items of every (threshold, video) set, in the official order, plus the iou tables."""
    ious: dict[str, list[list[list[float]]]] = {}  # vid -> pred -> file -> segment
    for vid in vids:
        if vid not in preds:
            continue
        rows = []
        for s, e, _ in preds[vid]:
            rows.append([[tiou((s, e), ts) for ts in refs[vid]["timestamps"]] if vid in refs else None for refs in ref_files])
        ious[vid] = rows
    groups: list[list[list[tuple[str, str]]]] = []  # threshold -> video -> [(hyp_raw, ref_raw)]
    for t in tious:
        per_vid = []
        for vid in vids:
            items: list[tuple[str, str]] = []
            if vid in preds:
                for pi, ((_, _, sentence), row) in enumerate(zip(preds[vid], ious[vid])):
                    hyp = remove_nonascii(sentence)
                    added = False
                    for refs, file_ious in zip(ref_files, row):
                        if file_ious is None:
                            continue
                        sents = refs[vid]["sentences"]
                        for j, v in enumerate(file_ious):
                            if v >= t:
                                items.append((hyp, remove_nonascii(sents[j])))
                                added = True
                    if not added:
                        items.append((hyp, garbage[(vid, pi)]))
            per_vid.append(items)
        groups.append(per_vid)
    return groups, ious


def _detection(preds, ref_files, vids, ious, tiou_t: float) -> tuple[float, float]:
    """(precision, recall) at one threshold, averaged over videos, as evaluate_detection computes them."""
    recall = [0] * len(vids)
    precision = [0] * len(vids)
    for vid_i, vid in enumerate(vids):
        best_recall = 0
        best_precision = 0
        for fi, refs in enumerate(ref_files):
            if vid not in refs:
                continue
            n_ref = len(refs[vid]["timestamps"])
            ref_cov: set[int] = set()
            pred_cov: set[int] = set()
            if preds.get(vid):
                for pi, row in enumerate(ious[vid]):
                    for ri, v in enumerate(row[fi]):
                        if v > tiou_t:
                            ref_cov.add(ri)
                            pred_cov.add(pi)
                best_precision = max(best_precision, float(len(pred_cov)) / len(preds[vid]))
            best_recall = max(best_recall, float(len(ref_cov)) / n_ref)
        recall[vid_i] = best_recall
        precision[vid_i] = best_precision
    return sum(precision) / len(precision), sum(recall) / len(recall)


def _score_sets(sets: list[list[Item]], scorers=None) -> list[tuple[list[float], float, float]]:
    """(BLEU-1..4, ROUGE-L, CIDEr) of each non-empty set.

    In a pool worker the caches live for the worker's life (one evaluation);
    in-process, pass ``scorers`` so they live for one call only.
    """
    global _WORKER_SCORERS
    sc = scorers
    if sc is None:
        from vxt.metrics.coco import CocoScorers

        if _WORKER_SCORERS is None:
            _WORKER_SCORERS = CocoScorers()
        sc = _WORKER_SCORERS
    memo: dict[tuple, tuple[list[float], float, float]] = {}
    out = []
    for s in sets:
        key = tuple(s)  # a video's set is often the same at several thresholds
        got = memo.get(key)
        if got is None:
            got = memo[key] = (sc.bleu(s), float(sc.rouge(s)), float(sc.cider(s)))
        out.append(got)
    return out


_WORKER_SCORERS = None


def _chunks(n: int, parts: int) -> list[range]:
    size = max(1, math.ceil(n / parts))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def score_dense(
    pred_events: Mapping[str, Sequence[Mapping[str, Any]]],
    ref_files: Sequence[Mapping[str, Mapping[str, Any]]],
    *,
    tious: Sequence[float] = TIOUS,
    max_proposals: int = 100,
    seed: int = DEFAULT_SEED,
    java: bool = True,
    workers: int | None = None,
    meteor=None,
) -> dict[str, Any]:
    """Score dense captions with the ActivityNet Captions protocol (see the module docstring).

    ``pred_events``: ``{video: [{"start", "end", "sentence"}, ...]}`` (a
    ``"timestamp": [start, end]`` pair is accepted too), in the order to
    keep when truncating to ``max_proposals``. ``ref_files``: one or more
    ``{video: {"duration", "timestamps", "sentences"}}`` dicts (val_1, val_2).
    ``java=False`` uses the pure-Python tokenizer and leaves METEOR out (not
    comparable to published numbers). ``workers``: processes for BLEU,
    ROUGE-L and CIDEr beside METEOR's Java (default: CPU cores - 1, at most
    4; 1 computes them in the calling process, still beside METEOR).
    ``meteor``: an open :class:`~vxt.metrics.meteor.MeteorScorer` to reuse
    (e.g. ``shared_meteor()`` in a training loop that scores every epoch:
    starting METEOR costs seconds); by default one is started and closed.

    Returns fractions (not percentages): every caption metric and
    ``Precision``, ``Recall``, ``F1`` averaged over thresholds, the same per
    threshold under ``per_tiou``, and the settings used.
    """
    from vxt.metrics.ptb import tokenize_documents

    if not ref_files:
        raise DataError("no reference files given")
    tious = [float(t) for t in tious]
    if not tious:
        raise DataError("no tIoU thresholds given")
    if max_proposals < 1:
        raise DataError(f"max_proposals must be at least 1, got {max_proposals}")
    _check_refs(ref_files)
    preds = {str(v): _events(str(v), evs, max_proposals) for v, evs in pred_events.items()}
    vids = sorted(set().union(*[set(r) for r in ref_files]))
    if not vids:
        raise DataError("the reference files hold no videos")

    import time

    clock = time.perf_counter
    timings: dict[str, float] = {}
    t0 = clock()
    own_meteor = None
    if java and meteor is None:
        from vxt.metrics.meteor import MeteorScorer

        meteor = own_meteor = MeteorScorer()  # starts loading its paraphrase table now
    try:
        groups, ious = _build(preds, ref_files, vids, tious, garbage_references(preds, vids, seed))
        timings["build_items"] = clock() - t0
        t1 = clock()
        # per threshold, the two documents the official evaluator tokenizes (all predictions, all references,
        # in item order); every document in one Java process
        docs = []
        for per_vid in groups:
            docs.append([h for items in per_vid for h, _ in items])
            docs.append([r for items in per_vid for _, r in items])
        toks = tokenize_documents(docs, java=java)
        sets = []
        for ti, per_vid in enumerate(groups):
            res_tok, gts_tok = toks[2 * ti], toks[2 * ti + 1]
            pos = 0
            row = []
            for items in per_vid:
                row.append([(res_tok[pos + j], (gts_tok[pos + j],)) for j in range(len(items))])
                pos += len(items)
            sets.append(row)
        timings["tokenize"] = clock() - t1

        n_t, n_v = len(tious), len(vids)
        flat_sets = [(vi, ti) for vi in range(n_v) for ti in range(n_t) if sets[ti][vi]]
        n_items = sum(len(sets[ti][vi]) for vi, ti in flat_sets)
        if workers is None:
            # METEOR's Java takes one core; the Python scorers run beside it, in worker processes only when
            # there are cores to spare (on 2 cores the main thread is the second worker)
            workers = max(1, min(4, (os.cpu_count() or 1) - 1))

        results: dict[tuple[int, int], tuple[list[float], float, float]] = {}
        meteor_scores: dict[tuple[int, int], float] = {}
        meteor_job = None
        stats_pool = None
        pool = None
        try:
            t1 = clock()
            futures = []
            if workers > 1 and n_items >= POOL_MIN_ITEMS:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # fork (Linux) needs no re-import of the caller's main module (spawn would need a __main__
                # guard); the workers are forked at the first submit, before the METEOR threads below exist
                method = "fork" if sys.platform.startswith("linux") else "spawn"
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
                # one unit of work = a run of videos with all their thresholds, so a worker's caches see
                # every repeat of a pair; several units per worker for balance
                for r in _chunks(n_v, workers * 8):
                    keys = [(vi, ti) for vi, ti in flat_sets if vi in r]
                    if keys:
                        futures.append((keys, pool.submit(_score_sets, [sets[ti][vi] for vi, ti in keys])))
            if meteor is not None:
                # METEOR statistics of every distinct pair, computed by Java while Python scores the rest
                from concurrent.futures import ThreadPoolExecutor

                all_items = list(dict.fromkeys(it for vi, ti in flat_sets for it in sets[ti][vi]))
                stats_pool = ThreadPoolExecutor(max_workers=1)
                t_meteor = clock()
                meteor_job = stats_pool.submit(meteor.stats, all_items)
            if pool is None:
                from vxt.metrics.coco import CocoScorers

                results = dict(zip(flat_sets, _score_sets([sets[ti][vi] for vi, ti in flat_sets], CocoScorers())))
            else:
                for keys, fut in futures:
                    results.update(zip(keys, fut.result()))
            timings["bleu_rouge_cider"] = clock() - t1
            if meteor_job is not None:
                stats = dict(zip(all_items, meteor_job.result()))
                timings["meteor_stats"] = clock() - t_meteor
                t1 = clock()
                # identical sets (same video, several thresholds) are scored once
                distinct_sets = list(dict.fromkeys(tuple(sets[ti][vi]) for vi, ti in flat_sets))
                by_set = dict(zip(distinct_sets, meteor.set_scores([[stats[it] for it in st] for st in distinct_sets])))
                meteor_scores = {(vi, ti): by_set[tuple(sets[ti][vi])] for vi, ti in flat_sets}
                timings["meteor_sets"] = clock() - t1
        except BaseException:
            # interrupted or failed: do not wait for METEOR's batch (closing our METEOR below ends it)
            if stats_pool is not None:
                stats_pool.shutdown(wait=False, cancel_futures=True)
                stats_pool = None
            raise
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            if stats_pool is not None:
                stats_pool.shutdown(wait=True)
    finally:
        if own_meteor is not None:
            own_meteor.close()

    metrics = [m for m in CAPTION_METRICS if java or m != "METEOR"]
    per_tiou: dict[str, dict[str, float]] = {}
    for ti, t in enumerate(tious):
        bleu_rows, met, rouge, cider = [], [], [], []
        for vi in range(n_v):
            key = (vi, ti)
            if key in results:
                b, r, c = results[key]
                bleu_rows.append(b)
                rouge.append(r)
                cider.append(c)
                met.append(meteor_scores.get(key, 0))
            else:
                bleu_rows.append([0] * 4)
                rouge.append(0)
                cider.append(0)
                met.append(0)
        b = np.mean(bleu_rows, axis=0)
        row = {f"Bleu_{k + 1}": float(b[k]) for k in range(4)}
        if java:
            row["METEOR"] = float(np.mean(met))
        row["ROUGE_L"] = float(np.mean(rouge))
        row["CIDEr"] = float(np.mean(cider))
        precision, recall = _detection(preds, ref_files, vids, ious, t)
        row["Precision"], row["Recall"] = precision, recall
        row["F1"] = _f1(precision, recall)
        per_tiou[f"{t:g}"] = row

    out: dict[str, Any] = {}
    for m in [*metrics, "Precision", "Recall"]:
        vals = [per_tiou[f"{t:g}"][m] for t in tious]
        out[m] = sum(vals) / float(len(vals))
    out["F1"] = _f1(out["Precision"], out["Recall"])
    out["per_tiou"] = per_tiou
    out["n_videos"] = n_v
    out["n_videos_with_predictions"] = sum(1 for v in vids if preds.get(v))
    out["n_predictions"] = sum(len(preds[v]) for v in vids if v in preds)
    timings["total"] = clock() - t0
    out["n_items"] = n_items
    out["n_distinct_pairs"] = len({it for vi, ti in flat_sets for it in sets[ti][vi]})
    out["n_distinct_sets"] = len({tuple(sets[ti][vi]) for vi, ti in flat_sets})
    out["n_sets"] = len(flat_sets)
    out["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    out["settings"] = {
        "protocol": "activitynet-captions (densevid_eval 9d4045a, BMT port)",
        "tious": tious,
        "max_proposals": max_proposals,
        "seed": seed,
        "n_reference_files": len(ref_files),
        "tokenizer": "ptb" if java else "pure-python (not comparable)",
        "meteor": bool(java),
    }
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
