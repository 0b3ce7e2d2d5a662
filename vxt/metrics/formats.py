"""Reading predictions and references in vxt's and the benchmarks' own formats.

Predictions (format found from the content):

* ``preds.json`` written by ``vxt decode`` (DESIGN.md): ``{"task", "predictions":
  [{"id", "prediction", "references"?, "choice"?, "answer"?, "events"?}]}``.
  For ``dense``, references may be inside as ``"reference_events"`` (or
  ``"references"`` holding event objects) plus ``"duration"``. ActivityNet
  rows also carry ``"paragraph"`` (caption rows with their ``"start"``), kept
  in :attr:`Predictions.paragraph` for ``vxt score --paragraph``.
* ActivityNet Captions submission: ``{"version", "results": {vid: [{"sentence",
  "timestamp": [s, e]}]}, "external_data"}``.
* TVC prediction JSONL: one ``{"clip_id", "vid_name", "ts", "descs": [{"desc"}]}``
  a line (the first desc counts; ids are clip ids, non-ASCII becomes spaces,
  as TVC's standalone_eval does).
* AVSD (DSTC7) result JSON: ``{"dialogs": [{"image_id", "dialog": [{"question",
  "answer"}]}]}``; the last turn's answer is the prediction (the DSTC7 test
  protocol), keyed by ``image_id``.
* COCO-style results ``[{"image_id", "caption"}]``; a plain ``{id: caption}``
  or, for QA, ``{id: choice}`` object.

References (``--refs``): ActivityNet Captions files ``{vid: {"duration",
"timestamps", "sentences"}}``; COCO caption annotations ``{"annotations":
[{"image_id", "caption"}]}`` (e.g. DSTC7's multi-reference file); MSR-VTT's
``videodatainfo.json``; AVSD dialog JSON (last turn, or its ``"answers"`` list);
TVC/TVQA JSONL (``descs`` / ``answer_idx``); vxt manifests (``targets``,
``answer``, ``events``); a plain ``{id: [refs]}`` or ``{id: answer}`` object.

Everything here raises :class:`~vxt.errors.DataError` naming the file (and
line for JSON/JSONL syntax errors) on malformed input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vxt.errors import DataError

KINDS = ("caption", "qa", "dense", "sync", "sound")
#: which scorer reads a vxt preds.json of each task; `vxt score` passes the task registry's own mapping
#: (each task names its scorer), this is the fallback for library use without the registry
_TASK_KIND = {"caption": "caption", "dialog": "caption", "qa": "qa", "dense": "dense", "sync": "sync", "sound": "sound"}


@dataclass
class Predictions:
    """What one predictions file holds, normalised."""

    path: str
    format: str
    kind: str  # caption | qa | dense | sync | sound
    preds: dict[str, Any]  # caption: id -> str; qa: id -> int; dense: vid -> [{"start","end","sentence"}]; sync: id -> s; sound: id -> [rows]
    refs: Any = None  # caption: id -> [str]; qa: id -> int; dense: [{vid: {...}}]; sync: id -> s; None when not inside
    types: dict[str, str] | None = None  # qa question types
    remove_nonascii: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    #: caption/dense rows of a vxt preds.json that carry ActivityNet paragraph info: id -> {"paragraph", "start"}
    #: (the row's fields as written; `vxt score --paragraph` checks and groups them, vxt.metrics.paragraph)
    paragraph: dict[str, dict] | None = None


# ---------------------------------------------------------------- reading files


def read_any(path: str | Path) -> tuple[Any, bool]:
    """(content, is_jsonl): a JSON document or the list of a JSONL file's objects."""
    from vxt.utils import read_json, read_jsonl

    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=str(path))
    if path.is_dir():
        raise DataError("is a folder, not a predictions/references file", path=str(path))
    if path.suffix == ".jsonl":
        return read_jsonl(path), True
    try:
        return read_json(path), False
    except DataError as e:
        # a JSONL file without the .jsonl suffix? only if its first line is a whole JSON object
        try:
            with open(path, encoding="utf-8") as fh:
                first = json.loads(fh.readline())
        except (ValueError, UnicodeDecodeError):
            raise e from None
        if not isinstance(first, dict):
            raise e from None
        return read_jsonl(path), True


def _sid(v: Any) -> str:
    return str(v)


def _need(cond: bool, msg: str, path: str) -> None:
    if not cond:
        raise DataError(msg, path=path)


# ---------------------------------------------------------------- predictions


def load_predictions(path: str | Path, task_scorers: dict[str, str] | None = None) -> Predictions:
    """Read a predictions file in any supported format (see the module docstring)."""
    p = str(path)
    data, is_jsonl = read_any(path)
    if is_jsonl:
        return _tvc_predictions(p, data)
    if isinstance(data, dict) and "predictions" in data:
        return _vxt_predictions(p, data, task_scorers or _TASK_KIND)
    if isinstance(data, dict) and "results" in data:
        return _anet_predictions(p, data)
    if isinstance(data, dict) and "dialogs" in data:
        return _avsd_predictions(p, data)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "caption" in data[0]:
        rows = {}
        for i, r in enumerate(data):
            _need(isinstance(r, dict) and "image_id" in r and "caption" in r, f"result {i}: needs 'image_id' and 'caption'", p)
            rows.setdefault(_sid(r["image_id"]), r["caption"])
        return Predictions(p, "coco-results", "caption", rows)
    if isinstance(data, dict) and data:
        values = list(data.values())
        if all(isinstance(v, str) for v in values):
            return Predictions(p, "id-to-caption", "caption", {_sid(k): v for k, v in data.items()})
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return Predictions(p, "id-to-choice", "qa", {_sid(k): v for k, v in data.items()})
    if isinstance(data, (dict, list)) and not data:
        raise DataError("holds no predictions (empty)", path=p)
    raise DataError(
        "not a predictions file vxt reads (expected vxt preds.json, an ActivityNet submission, TVC JSONL, "
        "AVSD results, COCO results or an {id: caption} object)",
        path=p,
    )


def _vxt_predictions(p: str, data: dict, task_kind: dict[str, str]) -> Predictions:
    rows = data["predictions"]
    _need(isinstance(rows, list), "'predictions' must be a list", p)
    task = data.get("task")
    if task is None:
        task = "dense" if rows and isinstance(rows[0], dict) and "events" in rows[0] else "caption"
    _need(task in task_kind, f"task {task!r} cannot be scored ({', '.join(task_kind)})", p)
    kind = task_kind[task]
    meta = {k: data[k] for k in ("task", "checkpoint", "created") if k in data}
    preds: dict[str, Any] = {}
    refs: dict[str, Any] = {}
    types: dict[str, str] = {}
    dense_refs: dict[str, dict] = {}
    para: dict[str, dict] = {}
    for i, r in enumerate(rows):
        _need(isinstance(r, dict) and "id" in r, f"prediction {i} has no 'id'", p)
        rid = _sid(r["id"])
        if kind == "sound":  # rows, several per clip with --samples N; the real clip and its sound events
            _need(isinstance(r.get("audio"), str), f"prediction {i} ({rid}): 'audio' must be the path of a wav", p)
            preds.setdefault(rid, []).append(r)
            if r.get("reference_audio") or r.get("sound_events"):
                refs[rid] = {"audio": r.get("reference_audio"), "start": r.get("reference_start", 0.0),
                             "events": r.get("sound_events")}
            continue
        if rid in preds:
            raise DataError(f"prediction {i}: id {rid!r} appears twice", path=p)
        if "paragraph" in r and kind in ("caption", "dense"):
            para[rid] = {"paragraph": r["paragraph"], "start": r.get("start")}
        if kind == "caption":
            _need(isinstance(r.get("prediction"), str), f"prediction {i} ({rid}): 'prediction' must be a string", p)
            preds[rid] = r["prediction"]
            if "references" in r:
                refs[rid] = _ref_list(r["references"], p, rid)
        elif kind == "qa":
            choice = r.get("choice")
            _need(isinstance(choice, int) and not isinstance(choice, bool), f"prediction {i} ({rid}): 'choice' must be an integer", p)
            preds[rid] = choice
            if "answer" in r:
                _need(isinstance(r["answer"], int), f"prediction {i} ({rid}): 'answer' must be an integer", p)
                refs[rid] = r["answer"]
            qtype = r.get("question_type", r.get("type"))
            if qtype is not None:
                types[rid] = str(qtype)
        elif kind == "sync":
            preds[rid] = _seconds(r.get("offset"), f"prediction {i} ({rid}): 'offset'", p)
            if r.get("target") is not None:
                refs[rid] = _seconds(r["target"], f"prediction {i} ({rid}): 'target'", p)
            if isinstance(r.get("probs"), list) and "n_classes" not in meta:
                meta["n_classes"] = len(r["probs"])
        else:
            events = r.get("events")
            _need(isinstance(events, list), f"prediction {i} ({rid}): 'events' must be a list", p)
            preds[rid] = events
            ref_events = r.get("reference_events")
            if ref_events is None and isinstance(r.get("references"), list) and all(
                isinstance(e, dict) for e in r["references"]
            ):
                ref_events = r["references"]
            if ref_events:  # a row without reference events is a video without references (reported later)
                dense_refs[rid] = _events_to_anet(ref_events, r.get("duration"), p, rid)
    if kind == "sync" and isinstance(data.get("offset_grid"), list):
        meta["offset_grid"] = [float(x) for x in data["offset_grid"]]
    out_refs: Any = None
    if kind == "dense":
        if dense_refs:
            out_refs = [dense_refs]
    elif refs:
        out_refs = refs
    return Predictions(p, "vxt-preds", kind, preds, out_refs, types or None, meta=meta, paragraph=para or None)


def _seconds(v: Any, what: str, p: str) -> float:
    _need(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v, f"{what} must be a number of seconds", p)
    return float(v)


def _ref_list(v: Any, p: str, rid: str) -> list[str]:
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DataError("'references' must be a list of strings", path=p, example_id=rid)
    return list(v)


def _events_to_anet(events: Any, duration: Any, p: str, rid: str) -> dict:
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise DataError("reference events must be a list of {start, end, sentence}", path=p, example_id=rid)
    ts, sents = [], []
    for e in events:
        if "timestamp" in e:
            ts.append(list(e["timestamp"]))
        else:
            ts.append([e.get("start"), e.get("end")])
        sents.append(e.get("sentence", ""))
    out: dict[str, Any] = {"timestamps": ts, "sentences": sents}
    if duration is not None:
        out["duration"] = duration
    return out


def _anet_predictions(p: str, data: dict) -> Predictions:
    results = data["results"]
    _need(isinstance(results, dict), "'results' must map video ids to lists of {sentence, timestamp}", p)
    preds: dict[str, list] = {}
    for vid, evs in results.items():
        if not isinstance(evs, list):
            raise DataError("results: expected a list of {sentence, timestamp}", path=p, example_id=vid)
        for j, e in enumerate(evs):
            if not isinstance(e, dict) or "sentence" not in e or "timestamp" not in e:
                raise DataError(f"result {j}: needs 'sentence' and 'timestamp'", path=p, example_id=vid)
        preds[_sid(vid)] = evs
    meta = {k: data[k] for k in ("version", "external_data") if k in data}
    return Predictions(p, "activitynet-submission", "dense", preds, meta=meta)


def _tvc_predictions(p: str, rows: list) -> Predictions:
    preds: dict[str, str] = {}
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or "clip_id" not in r or "descs" not in r:
            raise DataError(f"line {i}: a TVC prediction needs 'clip_id' and 'descs'", path=p)
        descs = r["descs"]
        if not isinstance(descs, list) or not descs or not isinstance(descs[0], dict) or "desc" not in descs[0]:
            raise DataError(f"line {i}: 'descs' must be a non-empty list of {{'desc': str}}", path=p)
        preds.setdefault(_sid(r["clip_id"]), descs[0]["desc"])
    return Predictions(p, "tvc-jsonl", "caption", preds, remove_nonascii=True)


def _avsd_predictions(p: str, data: dict) -> Predictions:
    preds: dict[str, str] = {}
    for i, d in enumerate(data["dialogs"]):
        if not isinstance(d, dict) or "image_id" not in d or not d.get("dialog"):
            raise DataError(f"dialog {i}: needs 'image_id' and a non-empty 'dialog'", path=p)
        last = d["dialog"][-1]
        if not isinstance(last, dict) or not isinstance(last.get("answer"), str):
            raise DataError(f"dialog {i}: the last turn has no 'answer' string", path=p, example_id=str(d["image_id"]))
        preds[_sid(d["image_id"])] = last["answer"]
    return Predictions(p, "avsd-results", "caption", preds)


# ---------------------------------------------------------------- references


def load_references(path: str | Path, kind: str) -> Any:
    """Reference file -> caption: {id: [refs]}; qa: ({id: answer}, {id: type} or None); dense: {vid: {...}}."""
    p = str(path)
    data, is_jsonl = read_any(path)
    if not data:
        raise DataError("holds no references (empty)", path=p)
    if kind == "dense":
        return _dense_refs(p, data, is_jsonl)
    if kind == "qa":
        return _qa_refs(p, data, is_jsonl)
    if kind == "sync":
        return _sync_refs(p, data, is_jsonl)
    if kind == "sound":
        return _sound_refs(p, data, is_jsonl)
    return _caption_refs(p, data, is_jsonl)


def _sound_refs(p: str, data: Any, is_jsonl: bool) -> dict[str, dict]:
    """The real clips of sound predictions: a vxt manifest (``id``, ``video``/``audio`` relative to the manifest's
    folder, ``start``, ``sound_events``) -> ``{id: {"audio", "start", "events"}}``."""
    _need(is_jsonl, "sound references are a vxt manifest (a data dir's <split>.jsonl)", p)
    root = Path(p).resolve().parent
    out = {}
    for i, r in enumerate(data):
        _need(isinstance(r, dict) and "id" in r, f"line {i + 1} has no 'id'", p)
        media = r.get("audio") or r.get("video")
        if media and "audio" not in (r.get("missing") or []):
            out[_sid(r["id"])] = {"audio": str(root / media), "start": r.get("start") or 0.0,
                                  "events": r.get("sound_events")}
    return out


def _sync_refs(p: str, data: Any, is_jsonl: bool) -> dict[str, float]:
    """Target offsets (s): a vxt manifest (``id``, ``offset``), a sync preds.json (``target``) or ``{id: s}``."""
    out: dict[str, float] = {}
    if is_jsonl:
        for i, r in enumerate(data, 1):
            if isinstance(r, dict) and "id" in r and r.get("offset") is not None:
                out[_sid(r["id"])] = _seconds(r["offset"], f"line {i}: 'offset'", p)
    elif isinstance(data, dict) and isinstance(data.get("predictions"), list):
        for r in data["predictions"]:
            if isinstance(r, dict) and "id" in r and r.get("target") is not None:
                out[_sid(r["id"])] = _seconds(r["target"], f"{r['id']}: 'target'", p)
    elif isinstance(data, dict):
        out = {_sid(k): _seconds(v, f"{k}", p) for k, v in data.items()}
    if not out:
        raise DataError("holds no target offsets (a manifest with 'offset', or {id: seconds})", path=p)
    return out


def _dense_refs(p: str, data: Any, is_jsonl: bool) -> dict:
    if is_jsonl:  # vxt manifest with events
        out = {}
        for i, r in enumerate(data, 1):
            if not isinstance(r, dict) or "id" not in r or "events" not in r:
                raise DataError(f"line {i}: a dense reference line needs 'id' and 'events'", path=p)
            out[_sid(r["id"])] = _events_to_anet(r["events"], r.get("duration"), p, _sid(r["id"]))
        return out
    if not isinstance(data, dict):
        raise DataError("ActivityNet Captions references must be {video: {duration, timestamps, sentences}}", path=p)
    if "results" in data:
        raise DataError("this is a predictions (submission) file, not references", path=p)
    for vid, r in data.items():
        if not isinstance(r, dict) or "timestamps" not in r or "sentences" not in r:
            raise DataError("needs 'timestamps' and 'sentences' (ActivityNet Captions format)", path=p, example_id=vid)
    return data


def _caption_refs(p: str, data: Any, is_jsonl: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if is_jsonl:
        for i, r in enumerate(data, 1):
            if not isinstance(r, dict):
                raise DataError(f"line {i}: not an object", path=p)
            if "descs" in r and "clip_id" in r:  # TVC
                out[_sid(r["clip_id"])] = [d.get("desc", "") for d in r["descs"] if isinstance(d, dict)]
            elif "id" in r and "targets" in r:  # vxt manifest
                out[_sid(r["id"])] = _ref_list(r["targets"], p, _sid(r["id"]))
            else:
                raise DataError(f"line {i}: expected TVC ('clip_id', 'descs') or manifest ('id', 'targets') fields", path=p)
        return out
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):  # COCO
        for a in data["annotations"]:
            if not isinstance(a, dict) or "image_id" not in a or "caption" not in a:
                raise DataError("COCO annotations need 'image_id' and 'caption'", path=p)
            out.setdefault(_sid(a["image_id"]), []).append(a["caption"])
        return out
    if isinstance(data, dict) and isinstance(data.get("sentences"), list):  # MSR-VTT videodatainfo
        for s in data["sentences"]:
            if not isinstance(s, dict) or "video_id" not in s or "caption" not in s:
                raise DataError("MSR-VTT sentences need 'video_id' and 'caption'", path=p)
            out.setdefault(_sid(s["video_id"]), []).append(s["caption"])
        return out
    if isinstance(data, dict) and isinstance(data.get("dialogs"), list):  # AVSD
        for i, d in enumerate(data["dialogs"]):
            if not isinstance(d, dict) or "image_id" not in d or not d.get("dialog"):
                raise DataError(f"dialog {i}: needs 'image_id' and a non-empty 'dialog'", path=p)
            last = d["dialog"][-1]
            answers = last.get("answers", last.get("references"))
            if answers is None:
                answers = [last.get("answer", "")]
            out[_sid(d["image_id"])] = _ref_list(answers, p, _sid(d["image_id"]))
        return out
    if isinstance(data, dict) and isinstance(data.get("predictions"), list):  # a vxt preds.json: its references
        for r in data["predictions"]:
            if isinstance(r, dict) and "id" in r and "references" in r:
                out[_sid(r["id"])] = _ref_list(r["references"], p, _sid(r["id"]))
        if not out:
            raise DataError("is a predictions file without references", path=p)
        return out
    if isinstance(data, dict) and "results" in data:
        raise DataError("is an ActivityNet submission (predictions), not references", path=p)
    if isinstance(data, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in data.values()
    ):
        return {_sid(k): _ref_list(v, p, _sid(k)) for k, v in data.items()}
    raise DataError(
        "not a caption reference file vxt reads (COCO annotations, MSR-VTT videodatainfo, AVSD dialogs, "
        "TVC JSONL, a vxt manifest or an {id: [references]} object)",
        path=p,
    )


def _qa_refs(p: str, data: Any, is_jsonl: bool) -> tuple[dict[str, int], dict[str, str] | None]:
    answers: dict[str, int] = {}
    types: dict[str, str] = {}
    if is_jsonl:
        for i, r in enumerate(data, 1):
            if not isinstance(r, dict):
                raise DataError(f"line {i}: not an object", path=p)
            if "qid" in r and "answer_idx" in r:  # TVQA
                rid, ans = _sid(r["qid"]), r["answer_idx"]
            elif "id" in r and "answer" in r:  # vxt manifest
                rid, ans = _sid(r["id"]), r["answer"]
            elif "qid" in r or "id" in r:
                continue  # no answer on this line (e.g. a public test split)
            else:
                raise DataError(f"line {i}: expected 'qid'/'answer_idx' (TVQA) or 'id'/'answer' (manifest)", path=p)
            if not isinstance(ans, int) or isinstance(ans, bool):
                raise DataError(f"line {i}: the answer must be an integer index", path=p)
            answers[rid] = ans
            qtype = r.get("question_type", r.get("type"))
            if qtype is not None:
                types[rid] = str(qtype)
        if not answers:
            raise DataError("holds no answers (a public test split without 'answer_idx'?)", path=p)
        return answers, types or None
    if isinstance(data, dict) and data and all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
        return {_sid(k): v for k, v in data.items()}, None
    raise DataError("not a QA answer file vxt reads (TVQA JSONL, a vxt manifest or an {id: answer} object)", path=p)
