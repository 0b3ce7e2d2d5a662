"""What ``vxt score`` does: read, check, score, render, write; kept out of the thin command module.

Checks turn bad input into one-line messages: errors raise
:class:`~vxt.errors.DataError` (the CLI prints them and exits 2), warnings go
through the ``warn`` callback (the CLI prints ``vxt: warning: ...``) and are
recorded in the scores file.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from vxt.errors import DataError, VxtError
from vxt.metrics.formats import Predictions, load_predictions, load_references
from vxt.metrics.paragraph import paragraph_inputs, score_paragraphs

FIRST = 5  # ids listed in a message
DURATION_TOLERANCE = 0.1  # seconds past the video end before a timestamp is flagged (annotations round to 0.01)

CAPTION_ORDER = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
DENSE_ORDER = (*CAPTION_ORDER, "Precision", "Recall", "F1")
SYNC_ORDER = ("accuracy_1", "accuracy_pm1", "accuracy_3class")
SOUND_ORDER = ("FID", "KID", "KID_std", "IS", "IS_std", "MKL", "onset_alignment", "onset_recall")
#: metrics printed as they are, not as percentages
PLAIN = frozenset({"FID", "KID", "KID_std", "IS", "IS_std", "MKL"})


@dataclass
class ScoreOptions:
    java: bool = True
    strict: bool = False
    sacrebleu: bool = False
    max_proposals: int = 100
    tious: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    seed: int = 0
    workers: int | None = None
    #: task name -> scorer (caption | qa | dense) for vxt preds.json files (None: the built-in mapping)
    task_scorers: dict | None = None
    #: scorer -> ``score(pred, refs, opts, warn) -> (metrics, extra)``, for tasks that score their predictions
    #: themselves (``sound``: Melception's features); filled by `vxt score` from the task registry
    file_scorers: dict | None = None
    #: ``--classifier DIR``: the trained classifier of a feature-based scorer (sound: a Melception)
    classifier: str | None = None
    paragraph: bool = False  # --paragraph: ActivityNet paragraphs, a video's captions in start order


@dataclass
class PairResult:
    pred_path: str
    ref_paths: list[str]
    pred: Predictions
    metrics: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _first(ids) -> str:
    ids = list(ids)
    more = "" if len(ids) <= FIRST else ", ..."
    return ", ".join(str(i) for i in ids[:FIRST]) + more


def pair_inputs(preds: Sequence[str], refs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Match prediction files with reference files.

    One predictions file: scored against every reference file given (the
    ActivityNet protocol takes the union of val_1 and val_2). Several: one
    ``--refs`` shared by all, or one per predictions file in order (a value
    may list several files separated by commas).
    """
    groups = [[p for p in r.split(",") if p] for r in refs]
    if not preds:
        raise VxtError("no predictions file given")
    if len(preds) == 1:
        return [(preds[0], [p for g in groups for p in g])]
    if not groups:
        return [(p, []) for p in preds]
    if len(groups) == 1:
        return [(p, list(groups[0])) for p in preds]
    if len(groups) == len(preds):
        return [(p, list(g)) for p, g in zip(preds, groups)]
    raise VxtError(
        f"{len(preds)} prediction files and {len(groups)} --refs: give one --refs for all, "
        "or one per predictions file in the same order"
    )


# ---------------------------------------------------------------- checks


class _Checker:
    def __init__(self, path: str, strict: bool, warn: Callable[[str], None]):
        self.path, self.strict, self._warn = path, strict, warn
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        self._warn(f"{self.path}: {msg}")

    def mismatch(self, pred_ids, ref_ids, *, missing_pred_note: str) -> None:
        only_pred = [i for i in pred_ids if i not in ref_ids]
        only_ref = [i for i in ref_ids if i not in pred_ids]
        msgs = []
        if only_pred:
            msgs.append(f"{len(only_pred)} of {len(pred_ids)} predictions have no reference and are not scored "
                        f"(first: {_first(only_pred)})")
        if only_ref:
            msgs.append(f"{len(only_ref)} of {len(ref_ids)} references have no prediction; {missing_pred_note} "
                        f"(first: {_first(only_ref)})")
        if not any(i in ref_ids for i in pred_ids):
            raise DataError(
                f"no prediction id matches a reference id (predictions: {_first(pred_ids)}; "
                f"references: {_first(ref_ids)})",
                path=self.path,
            )
        if msgs and self.strict:
            raise DataError("; ".join(msgs) + " (--strict)", path=self.path)
        for m in msgs:
            self.warn(m)


def _load_refs(pred: Predictions, ref_paths: list[str]) -> tuple[Any, list[str]]:
    """(references, where they came from) for one predictions file."""
    if not ref_paths:
        if pred.refs is None:
            raise DataError("holds no references; pass --refs FILE", path=pred.path)
        if pred.kind == "qa":
            return (pred.refs, pred.types), ["(inside the predictions file)"]
        return pred.refs, ["(inside the predictions file)"]
    if pred.kind == "dense":
        return [load_references(p, "dense") for p in ref_paths], list(ref_paths)
    if pred.kind == "qa":
        answers: dict[str, int] = {}
        types: dict[str, str] = {}
        for p in ref_paths:
            a, t = load_references(p, "qa")
            answers.update(a)
            types.update(t or {})
        return (answers, (pred.types or types) or None), list(ref_paths)
    if pred.kind == "sound":  # a manifest's clips replace (per id) what the rows say
        clips = dict(pred.refs or {})
        for p in ref_paths:
            clips.update(load_references(p, "sound"))
        return clips, list(ref_paths)
    if pred.kind == "sync":
        targets: dict[str, float] = {}
        for p in ref_paths:
            targets.update(load_references(p, "sync"))
        return targets, list(ref_paths)
    refs: dict[str, list[str]] = {}
    for p in ref_paths:
        for k, v in load_references(p, "caption").items():
            refs.setdefault(k, []).extend(v)
    return refs, list(ref_paths)


def _check_caption(chk: _Checker, preds: dict[str, str], refs: dict[str, list[str]]) -> None:
    if not preds:
        raise DataError("holds no predictions", path=chk.path)
    if not refs:
        raise DataError("the references hold no examples", path=chk.path)
    chk.mismatch(list(preds), list(refs), missing_pred_note="they are not scored")
    scored = [i for i in refs if i in preds]
    no_ref = [i for i in scored if not refs[i]]
    if no_ref:
        raise DataError(f"{len(no_ref)} examples have an empty reference list (first: {_first(no_ref)})", path=chk.path)
    empty = [i for i in scored if not preds[i].strip()]
    if empty:
        chk.warn(f"{len(empty)} of {len(scored)} predictions are empty strings (first: {_first(empty)}); they score 0")
    empty_refs = [i for i in scored if any(not r.strip() for r in refs[i])]
    if empty_refs:
        chk.warn(f"{len(empty_refs)} examples have an empty reference string (first: {_first(empty_refs)})")


def _check_dense(chk: _Checker, preds: dict[str, list], ref_files: list[dict], ref_names: list[str], max_proposals: int) -> None:
    if not preds:
        raise DataError("holds no predictions", path=chk.path)
    ref_ids: dict[str, None] = {}
    for name, refs in zip(ref_names, ref_files):
        if not refs:
            raise DataError("holds no videos", path=name)
        ref_ids.update(dict.fromkeys(refs))
        no_seg = [v for v, r in refs.items() if not r.get("timestamps")]
        if no_seg:
            raise DataError(f"{len(no_seg)} reference videos have no segments (first: {_first(no_seg)})", path=name)
        bad_len = [v for v, r in refs.items() if len(r["timestamps"]) != len(r["sentences"])]
        if bad_len:
            raise DataError(f"{len(bad_len)} videos have a different number of timestamps and sentences "
                            f"(first: {_first(bad_len)})", path=name)
        flagged = _flag_times(((v, ts, r.get("duration")) for v, r in refs.items() for ts in r["timestamps"]), name)
        for msg in flagged:
            chk.warn(f"references {name}: {msg}")
    chk.mismatch(list(preds), list(ref_ids), missing_pred_note="they score 0, as the protocol counts them")
    empty = [v for v in preds if v in ref_ids and not preds[v]]
    if empty:
        chk.warn(f"{len(empty)} videos have an empty list of predictions (first: {_first(empty)}); they score 0")
    empty_sent = [v for v in preds if v in ref_ids and any(not str(e.get("sentence", "")).strip() for e in preds[v][:max_proposals])]
    if empty_sent:
        chk.warn(f"{len(empty_sent)} videos have predictions with an empty sentence (first: {_first(empty_sent)})")
    over = [v for v in preds if len(preds[v]) > max_proposals]
    if over:
        chk.warn(f"{len(over)} videos have more than {max_proposals} predictions; only the first {max_proposals} count "
                 f"(--max-proposals; first: {_first(over)})")
    durations = {}
    for refs in ref_files:
        for v, r in refs.items():
            if r.get("duration") is not None:
                durations.setdefault(v, r["duration"])

    def pred_times():
        for v, evs in preds.items():
            if v not in ref_ids:
                continue
            for e in evs[:max_proposals]:
                if not isinstance(e, dict):
                    continue
                ts = e.get("timestamp", [e.get("start"), e.get("end")])
                if isinstance(ts, (list, tuple)) and len(ts) == 2:
                    yield v, ts, durations.get(v)

    for msg in _flag_times(pred_times(), chk.path):
        chk.warn(f"predictions: {msg}")


def _flag_times(rows, path: str) -> list[str]:
    """One message per kind of bad timestamp: start > end, negative start, end past the video."""
    reversed_, before, after, not_num = [], [], [], []
    for vid, ts, duration in rows:
        try:
            s, e = float(ts[0]), float(ts[1])
        except (TypeError, ValueError, IndexError):
            not_num.append(vid)
            continue
        if s > e:
            reversed_.append(f"{vid} [{s:g}, {e:g}]")
        if s < 0:
            before.append(f"{vid} [{s:g}, {e:g}]")
        try:
            dur = float(duration) if duration is not None else None
        except (TypeError, ValueError):
            dur = None
        if dur is not None and max(s, e) > dur + DURATION_TOLERANCE:
            after.append(f"{vid} [{s:g}, {e:g}] > {dur:g} s")
    out = []
    if not_num:
        raise DataError(f"{len(not_num)} timestamps are not numbers (first: {_first(not_num)})", path=path)
    if reversed_:
        out.append(f"{len(reversed_)} segments have start > end (first: {_first(reversed_)})")
    if before:
        out.append(f"{len(before)} segments start before 0 (first: {_first(before)})")
    if after:
        out.append(f"{len(after)} segments end after the video (first: {_first(after)})")
    return out


# ---------------------------------------------------------------- scoring


def score_files(
    pairs: list[tuple[str, list[str]]],
    opts: ScoreOptions,
    warn: Callable[[str], None] = lambda m: None,
) -> list[PairResult]:
    """Score each (predictions file, reference files) pair; one METEOR process serves them all."""
    loaded = []
    for pred_path, ref_paths in pairs:
        pred = load_predictions(pred_path, opts.task_scorers)
        para = paragraph_inputs(pred, ref_paths) if opts.paragraph else None  # a video's captions: one paragraph
        refs, ref_names = _load_refs(pred, ref_paths) if para is None else (para.refs, para.ref_names)
        loaded.append((pred if para is None else para.pred, refs, ref_names, para))
    kinds = {p.kind for p, _, _, _ in loaded}
    if len(kinds) > 1:
        raise VxtError(f"the prediction files hold different tasks ({', '.join(sorted(kinds))}); score them separately")
    if opts.sacrebleu and kinds != {"caption"}:
        warn("--sacrebleu applies to captioning and dialog predictions only; ignored")
    if opts.classifier and kinds != {"sound"}:
        warn("--classifier applies to sound predictions only; ignored")

    results: list[PairResult] = []
    for pred, refs, ref_names, para in loaded:
        try:
            results.append(_score_one(pred, refs, ref_names, opts, warn, para))
        except DataError as e:
            if e.path is None:  # name the file the problem came from
                raise DataError(e.message, path=pred.path, example_id=e.example_id) from None
            raise
    return results


def _meteor(opts: ScoreOptions):
    """The process-wide METEOR scorer (one Java process for every pair; closed at exit)."""
    if not opts.java:
        return None
    from vxt.metrics.meteor import shared_meteor

    return shared_meteor()


def _score_one(pred: Predictions, refs: Any, ref_names: list[str], opts: ScoreOptions,
               warn: Callable[[str], None], para: Any = None) -> PairResult:
    """Check and score one (predictions, references) pair (``para``: its ParagraphInputs with --paragraph)."""
    chk = _Checker(pred.path, opts.strict, warn)
    if para is not None:  # --paragraph: each video's paragraph scored as a caption (vxt.metrics.paragraph)
        return PairResult(pred.path, ref_names, pred, *score_paragraphs(para, chk, opts, _meteor(opts)), chk.warnings)
    own = (opts.file_scorers or {}).get(pred.kind)
    if own is not None:  # a task that scores its predictions itself (sound: Melception's features)
        metrics, extra = own(pred, refs, opts, chk.warn)
        return PairResult(pred.path, ref_names, pred, metrics, extra, chk.warnings)
    if pred.kind == "caption":
        _check_caption(chk, pred.preds, refs)
        meteor = _meteor(opts)
        from vxt.metrics.caption import sacrebleu_corpus, score_captions

        scored = {i: pred.preds[i] for i in refs if i in pred.preds}
        metrics = score_captions(scored, {i: refs[i] for i in scored}, java=opts.java, meteor=meteor,
                                 nonascii_to_space=pred.remove_nonascii)
        extra: dict[str, Any] = {"n_scored": len(scored),
                                 "n_references": sum(len(refs[i]) for i in scored)}
        if opts.sacrebleu:
            extra["sacrebleu"] = sacrebleu_corpus(scored, {i: refs[i] for i in scored})
    elif pred.kind == "qa":
        from vxt.metrics.qa import qa_accuracy

        answers, types = refs
        if not pred.preds:
            raise DataError("holds no predictions", path=pred.path)
        if not answers:
            raise DataError("the references hold no answers", path=pred.path)
        chk.mismatch(list(pred.preds), list(answers), missing_pred_note="they are not scored")
        acc = qa_accuracy(pred.preds, answers, types)
        metrics = {"accuracy": acc["accuracy"]}
        extra = {"n_scored": acc["n"], "n_correct": acc["n_correct"]}
        if "per_type" in acc:
            extra["per_type"] = acc["per_type"]
    elif pred.kind == "sync":
        from vxt.metrics.sync import score_sync_file

        if not pred.preds:
            raise DataError("holds no predictions", path=pred.path)
        if not refs:
            raise DataError("the references hold no target offsets", path=pred.path)
        chk.mismatch(list(pred.preds), list(refs), missing_pred_note="they are not scored")
        metrics, extra = score_sync_file(pred.path, pred.preds, refs, pred.meta, warn)
    else:
        _check_dense(chk, pred.preds, refs, ref_names, opts.max_proposals)
        meteor = _meteor(opts)
        from vxt.metrics.dense import score_dense

        r = score_dense(pred.preds, refs, tious=opts.tious, max_proposals=opts.max_proposals,
                        seed=opts.seed, java=opts.java, workers=opts.workers, meteor=meteor)
        metrics = {k: r[k] for k in DENSE_ORDER if k in r}
        extra = {k: r[k] for k in ("per_tiou", "n_videos", "n_videos_with_predictions", "n_predictions",
                                   "n_items", "n_distinct_pairs", "timings_s", "settings")}
    return PairResult(pred.path, ref_names, pred, metrics, extra, chk.warnings)


def mean_over_pairs(results: list[PairResult]) -> dict[str, float] | None:
    """The mean of each metric over the pairs (papers average val_1 and val_2 this way); None for one pair."""
    if len(results) < 2:
        return None
    keys = [k for k in results[0].metrics if all(k in r.metrics for r in results)]
    out = {k: sum(r.metrics[k] for r in results) / len(results) for k in keys if k != "F1"}
    if "Precision" in out and "Recall" in out:
        p, r = out["Precision"], out["Recall"]
        out["F1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


# ---------------------------------------------------------------- output


def settings_dict(opts: ScoreOptions, kind: str) -> dict[str, Any]:
    s: dict[str, Any] = {"java": opts.java, "strict": opts.strict}
    if kind == "dense":
        s.update({"max_proposals": opts.max_proposals, "tious": list(opts.tious), "seed": opts.seed})
    if kind == "caption":
        s["sacrebleu"] = opts.sacrebleu
    # sound: FID/MKL are only as comparable as the Melception behind them (vxt trains its own on the data)
    s["comparable_to_published"] = kind != "sound" and (opts.java or kind in ("qa", "sync"))
    return s


def scores_document(res: PairResult, opts: ScoreOptions, mean: dict | None, all_results: list[PairResult]) -> dict:
    from vxt.metrics.java import tool_versions

    doc: dict[str, Any] = {
        "predictions": res.pred_path,
        "format": res.pred.format,
        "task": res.pred.kind,
        "references": res.ref_paths,
        "metrics": res.metrics,
        **{k: v for k, v in res.extra.items() if k != "settings"},
        "settings": {**settings_dict(opts, res.pred.kind), **res.extra.get("settings", {})},
        "warnings": res.warnings,
        "tools": tool_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if res.pred.meta:
        doc["source"] = res.pred.meta
    if mean is not None:
        doc["mean_over_pairs"] = {
            "metrics": mean,
            "pairs": [{"predictions": r.pred_path, "references": r.ref_paths, "metrics": r.metrics} for r in all_results],
        }
    return doc


def default_out_path(pred_path: str) -> Path:
    """``<preds>.scores.json`` beside the input (``preds.json`` -> ``preds.scores.json``)."""
    p = Path(pred_path)
    stem = p.name[: -len(p.suffix)] if p.suffix in (".json", ".jsonl") else p.name
    return p.with_name(f"{stem}.scores.json")


def _pct(v: float, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{100 * v:.{digits}f}"


def render(results: list[PairResult], mean: dict | None, opts: ScoreOptions, digits: int = 2):
    """A rich table: metrics as percentages (as papers print them), one column per pair (+ mean) or per tIoU."""
    from rich.table import Table

    kind = results[0].pred.kind
    order = {"caption": CAPTION_ORDER, "dense": DENSE_ORDER, "sync": SYNC_ORDER,
             "sound": SOUND_ORDER}.get(kind, ("accuracy",))
    names = [m for m in order if m in results[0].metrics]
    table = Table()
    table.add_column("metric (%)" if not PLAIN.intersection(names) else "metric (% where marked)")
    single_dense = kind == "dense" and len(results) == 1
    if single_dense:
        table.add_column("mean", justify="right", style="bold")
        tious = [f"{t:g}" for t in opts.tious]
        for t in tious:
            table.add_column(f"tIoU {t}", justify="right")
        per = results[0].extra["per_tiou"]
        for m in names:
            table.add_row(m, _pct(results[0].metrics[m], digits), *[_pct(per[t].get(m), digits) for t in tious])
    else:
        for r in results:
            table.add_column(Path(r.pred_path).name, justify="right")
        if mean is not None:
            table.add_column("mean", justify="right", style="bold")
        for m in names:
            fmt = (lambda v: "-" if v is None else f"{v:.4g}") if m in PLAIN else (lambda v: _pct(v, digits))
            cells = [fmt(r.metrics.get(m)) for r in results]
            if mean is not None:
                cells.append(fmt(mean.get(m)))
            table.add_row(m if m in PLAIN or not PLAIN.intersection(names) else f"{m} (%)", *cells)
    if kind == "qa" and len(results) == 1 and "per_type" in results[0].extra:
        for t, row in results[0].extra["per_type"].items():
            table.add_row(f"  type {t} (n={row['n']})", _pct(row["accuracy"], digits))
    return table


TITLES = {"caption": "captioning / dialog (pycocoevalcap)", "qa": "multiple-choice QA",
          "dense": "dense captioning (ActivityNet Captions protocol)",
          "sync": "audio-visual synchronisation (offset classes; pm1: within one class)",
          "sound": "generated sound (Melception FID, KID, IS, MKL; onsets within 50 ms of a sound event)",
          "paragraph": "paragraphs (each video's captions in start order against its reference paragraphs; pycocoevalcap)"}


def title_line(results: list[PairResult]) -> str:
    return f"vxt score: {TITLES['paragraph' if 'n_segments' in results[0].extra else results[0].pred.kind]}"


def summary_lines(results: list[PairResult], opts: ScoreOptions) -> list[str]:
    """The settings and counts printed with the table."""
    lines = []
    kind = results[0].pred.kind
    for r in results:
        n = r.extra.get("n_scored", r.extra.get("n_videos"))
        what = "videos" if kind == "dense" else "examples"
        if "n_segments" in r.extra:  # --paragraph
            what = f"videos (paragraphs of {r.extra['n_segments']} captions, {r.extra['n_references']} references)"
        lines.append(f"{r.pred_path} ({r.pred.format}): {n} {what} scored against {', '.join(r.ref_paths)}")
    if kind == "dense":
        lines.append(f"settings: max_proposals={opts.max_proposals}, tIoUs={', '.join(f'{t:g}' for t in opts.tious)}, "
                     f"seed={opts.seed}")
    if kind == "sync":
        for r in results:
            if r.extra.get("confusion_png"):
                lines.append(f"confusion matrix: {r.extra['confusion_png']}")
    if kind not in ("qa", "sync", "sound") and not opts.java:
        lines.append("NOT COMPARABLE to published numbers: --no-java uses a pure-Python tokenizer and leaves out METEOR")
    for r in results:
        sb = r.extra.get("sacrebleu")
        if sb:
            lines.append(f"sacreBLEU {sb['score']:.2f} ({sb['signature']})")
    return lines
