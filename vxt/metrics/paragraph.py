"""ActivityNet Captions paragraphs (``vxt score --paragraph``): a video's captions as one paragraph.

The paragraph protocol of Park et al. (2019), used by Shen et al. (2023) and
PDVC's paragraph evaluation: each video's predicted captions, in order of
start time, are joined into one paragraph, which is scored with the
captioning metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr:
:func:`vxt.metrics.caption.score_captions`) against *all* of that video's
reference paragraphs (val_1's and val_2's). A reference video without a
prediction scores as an empty paragraph, as PDVC counts it.

Paragraphs are made with :func:`vxt.data.adapters.anet.paragraph_text` on
both sides (sentences sorted by start time, ties in the order given, joined by
spaces), so the predictions are joined exactly as the references are.

Where the predictions come from:

* a vxt ``preds.json`` of the ``caption`` task decoded on a data dir from
  ``vxt prepare anet``: each row carries ``"paragraph": {"video_id",
  "references"}`` and the segment's ``"start"`` (``vxt.tasks.base``); rows are
  grouped by ``paragraph.video_id`` and ordered by ``start``;
* a vxt ``preds.json`` of the ``dense`` task (rows with ``events`` and
  ``paragraph``): each row's events, in order of ``start``;
* an ActivityNet dense submission ``{"results": {vid: [{"sentence",
  "timestamp"}]}}``: each video's sentences in order of ``timestamp[0]``.

References: inside the rows (``paragraph.references``), or ActivityNet
Captions files given with ``--refs`` (``val_1.json``, ``val_2.json``: one
paragraph per file that annotates the video, built as ``vxt prepare anet``
builds the manifest's). Malformed input is a :class:`~vxt.errors.DataError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from vxt.errors import DataError
from vxt.metrics.formats import Predictions, load_references

NEEDS = ("--paragraph needs caption predictions decoded on a data dir from `vxt prepare anet` (rows with "
         "'paragraph' and 'start'), or an ActivityNet submission {results: ...}")
NEEDS_REFS = "pass the ActivityNet references: --refs val_1.json --refs val_2.json"


@dataclass
class ParagraphInputs:
    """One predictions file turned into paragraphs: what ``vxt score`` scores as captions, one per video."""

    pred: Predictions  # kind "caption": video id -> predicted paragraph
    refs: dict[str, list[str]]  # video id -> reference paragraphs
    ref_names: list[str]
    n_segments: int  # captions / events joined into the predicted paragraphs
    warnings: list[str] = field(default_factory=list)


def _first(ids: Iterable[str], n: int = 5) -> str:
    ids = list(ids)
    return ", ".join(ids[:n]) + (", ..." if len(ids) > n else "")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def group_paragraphs(segments: Iterable[tuple[str, float, str]]) -> dict[str, str]:
    """``{video_id: paragraph}`` from ``(video_id, start, caption)`` rows: each video's captions in order of
    ``start`` (ties in the order given), joined by spaces; videos in the order they first appear."""
    from vxt.data.adapters.anet import paragraph_text

    events: dict[str, list[dict]] = {}
    for vid, start, text in segments:
        events.setdefault(str(vid), []).append({"start": float(start), "sentence": str(text).strip()})
    return {vid: paragraph_text(evs) for vid, evs in events.items()}


def reference_paragraphs(paths: Iterable[str]) -> dict[str, list[str]]:
    """``{video_id: [paragraph of each file that annotates the video]}`` from ActivityNet Captions files, in the
    order of ``paths`` (``val_1.json`` then ``val_2.json``); built as ``vxt prepare anet`` builds them."""
    from vxt.data.adapters.anet import annotation_paragraph

    out: dict[str, list[str]] = {}
    for p in paths:
        data = load_references(p, "dense")  # checks the ActivityNet format, one line on error
        for vid, ann in data.items():
            text = annotation_paragraph(str(vid), ann, p)
            if text:
                out.setdefault(str(vid), []).append(text)
    return out


def _row_segments(pred: Predictions) -> tuple[list[tuple[str, float, str]], dict[str, list[str]], list[str], list[str]]:
    """(segments, references inside the rows, warnings, videos) of a vxt preds.json whose rows carry ``paragraph``."""
    p = pred.path
    info = pred.paragraph or {}
    if not info:
        raise DataError(f"no row has 'paragraph' (the video it belongs to); {NEEDS}", path=p)
    segments: list[tuple[str, float, str]] = []
    refs: dict[str, list[str]] = {}
    vids: dict[str, None] = {}
    for rid, value in pred.preds.items():
        if rid not in info:
            continue
        para, start = info[rid]["paragraph"], info[rid]["start"]
        if not isinstance(para, dict) or not isinstance(para.get("video_id"), (str, int)):
            raise DataError("'paragraph' must be {\"video_id\", \"references\"}", path=p, example_id=rid)
        vid = str(para["video_id"])
        vids[vid] = None
        r = para.get("references")
        if r is not None:
            if not isinstance(r, list) or not all(isinstance(x, str) for x in r):
                raise DataError("'paragraph.references' must be a list of strings", path=p, example_id=rid)
            if vid in refs and refs[vid] != r:
                raise DataError(f"rows of video {vid} carry different reference paragraphs (files merged?)",
                                path=p, example_id=rid)
            refs.setdefault(vid, list(r))
        if pred.kind == "caption":
            if not _number(start):
                raise DataError("'start' must be the segment's start in seconds (as `vxt decode` writes it)",
                                path=p, example_id=rid)
            segments.append((vid, float(start), value))
        else:  # dense: the row's events
            segments.extend(_event_segments(vid, value, p))
    left = [i for i in pred.preds if i not in info]
    warnings = []
    if left:
        warnings.append(f"{len(left)} of {len(pred.preds)} rows have no 'paragraph' and are left out (first: {_first(left)})")
    return segments, refs, warnings, list(vids)


def _event_segments(vid: str, events: Any, p: str) -> list[tuple[str, float, str]]:
    out = []
    for j, e in enumerate(events if isinstance(events, list) else []):
        if not isinstance(e, dict) or not isinstance(e.get("sentence", ""), str):
            raise DataError(f"event {j}: needs a 'sentence' string", path=p, example_id=vid)
        ts = e.get("timestamp")
        start = ts[0] if isinstance(ts, (list, tuple)) and len(ts) == 2 else e.get("start")
        if not _number(start):
            raise DataError(f"event {j}: its start (timestamp[0] or 'start') must be a number", path=p, example_id=vid)
        out.append((vid, float(start), e.get("sentence", "")))
    return out


def paragraph_inputs(pred: Predictions, ref_paths: list[str]) -> ParagraphInputs:
    """The paragraphs of one predictions file and their references (see the module docstring)."""
    p = pred.path
    if pred.kind not in ("caption", "dense"):
        raise DataError(f"--paragraph scores caption or dense predictions (ActivityNet Captions); this file holds "
                        f"{pred.kind} predictions", path=p)
    if not pred.preds:
        raise DataError("holds no predictions", path=p)
    if pred.paragraph:
        segments, inside, warnings, vids = _row_segments(pred)
    elif pred.kind == "dense":  # an ActivityNet submission (or dense rows without paragraph info): video id -> events
        segments, inside, warnings, vids = [], {}, [], list(pred.preds)
        for vid, evs in pred.preds.items():
            segments.extend(_event_segments(vid, evs, p))
    else:
        raise DataError(f"the rows carry no 'paragraph' (the video each caption belongs to) and no 'start'; {NEEDS}",
                        path=p)
    grouped = group_paragraphs(segments)
    preds = {vid: grouped.get(vid, "") for vid in vids}  # a video with an empty list of events: an empty paragraph
    if ref_paths:
        refs, names = reference_paragraphs(ref_paths), list(ref_paths)
    elif inside:
        refs, names = inside, ["(inside the predictions file)"]
    else:
        raise DataError(f"holds no reference paragraphs; {NEEDS_REFS}", path=p)
    out = Predictions(p, pred.format, "caption", preds, refs, meta=dict(pred.meta))
    return ParagraphInputs(out, refs, names, len(segments), warnings)


def score_paragraphs(para: ParagraphInputs, chk: Any, opts: Any, meteor: Any = None) -> tuple[dict[str, float], dict]:
    """(metrics, extra) of ``vxt score --paragraph``: every reference video is scored, one without a prediction
    as an empty paragraph (as PDVC counts it). ``chk``: the caller's checker (``warn``, ``mismatch``, which
    honours ``--strict``); ``opts``: ``java`` and ``sacrebleu``; ``meteor``: an open METEOR scorer or None."""
    from vxt.metrics.caption import sacrebleu_corpus, score_captions

    preds, refs = para.pred.preds, para.refs
    for m in para.warnings:
        chk.warn(m)
    if not refs:
        raise DataError("the references hold no paragraphs", path=para.pred.path)
    chk.mismatch(list(preds), list(refs),
                 missing_pred_note="they score 0 (an empty paragraph), as the paragraph protocol counts them")
    scored = {v: preds.get(v, "") for v in refs}
    empty = [v for v in refs if v in preds and not preds[v].strip()]
    if empty:
        chk.warn(f"{len(empty)} of {len(scored)} videos have an empty predicted paragraph (first: {_first(empty)}); "
                 "they score 0")
    metrics = score_captions(scored, refs, java=opts.java, meteor=meteor)
    extra: dict[str, Any] = {"n_videos": len(scored), "n_videos_with_predictions": sum(v in preds for v in refs),
                             "n_segments": para.n_segments, "n_references": sum(len(r) for r in refs.values()),
                             "settings": {"paragraph": True}}
    if opts.sacrebleu:
        extra["sacrebleu"] = sacrebleu_corpus(scored, refs)
    return metrics, extra
