"""Decoding with a trained model: from a data dir split or straight from media files.

``vxt decode`` is a thin layer over :func:`decode`; everything here is usable
from Python::

    from vxt.inference import decode
    result = decode(["clip.mp4"], task="caption", ckpt="exp/synth-caption-vx2text-tiny-seed0")
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from vxt.errors import MediaError, VxtError
from vxt.utils import err_console



@dataclass
class DecodeRequest:
    inputs: list[str]
    task: str
    ckpt: str | None = None
    split: str = "test"
    question: str | None = None
    candidates: list[str] | None = None
    history: list[str] = field(default_factory=list)  # "question|answer" pairs
    subtitles: str | None = None
    beam: int = 5
    greedy: bool = False
    batch_size: int = 16
    limit: int | None = None
    exp_root: str = "exp"
    features: str | None = None  # dense: a folder of pre-extracted features (BMT's layout)
    overrides: dict = field(default_factory=dict)  # dense: decode options (--set top_k=.., captioner=..)
    fix: bool = False  # sync: also write the input with its audio moved onto the picture (the task's after_decode)


def find_checkpoint(task: str, ckpt: str | None, exp_root: str = "exp") -> Path:
    from vxt.train.checkpoint import latest_experiment, resolve_checkpoint

    if ckpt:
        return resolve_checkpoint(ckpt)
    latest = latest_experiment(task, exp_root)
    if latest is None:
        raise VxtError(f"no trained {task} model under {exp_root}/: train one (`vxt train --task {task}`) or pass --ckpt")
    return resolve_checkpoint(latest)


def load_for_task(task: str, ckpt: str | None, exp_root: str = "exp"):
    from vxt.train.checkpoint import load_checkpoint
    from vxt.utils import read_json

    path = find_checkpoint(task, ckpt, exp_root)
    cfg_task = read_json(path / "config.json").get("task")
    if cfg_task and cfg_task != task:
        raise VxtError(f"this checkpoint was trained for --task {cfg_task}, not --task {task}", path=str(path))
    return load_checkpoint(path), path


def _is_data_dir(p: Path) -> bool:
    return p.is_dir() and any((p / f"{s}.jsonl").exists() for s in ("train", "val", "test"))


def media_example(path: Path, task: str, req: DecodeRequest) -> dict:
    """A manifest example for one media file given on the command line."""
    from vxt.data.media import find_sidecar_subtitles, probe
    from vxt.data.subtitles import read_subtitles

    if not path.exists():
        raise MediaError("no such file", path=str(path))
    info = probe(path)
    if not info.has_video and not info.has_audio:
        raise MediaError("no video or audio stream", path=str(path))
    ex: dict = {"id": path.stem, "task": task, "video": str(path.resolve()), "start": 0.0}
    if info.duration:
        ex["end"] = float(info.duration)
        ex["duration"] = float(info.duration)
    missing = [m for m, ok in (("video", info.has_video), ("audio", info.has_audio)) if not ok]
    if missing:
        ex["missing"] = missing
        err_console().print(f"[yellow]vxt:[/] {path}: no {' or '.join(missing)} stream; decoding without it")
    sub_path = Path(req.subtitles) if req.subtitles else find_sidecar_subtitles(path)
    if sub_path is not None:
        # only the cues of the clip's time range: a long transcript beside a short clip costs its parse, no more
        ex["subtitles"] = read_subtitles(sub_path, start=0.0, end=ex.get("end"))
    if req.question:
        ex["question"] = req.question
    if req.candidates:
        ex["candidates"] = list(req.candidates)
    if req.history:
        turns = []
        for h in req.history:
            q, sep, a = h.partition("|")
            if not sep:
                raise VxtError(f"--history takes 'question|answer' pairs, got {h!r}")
            turns.append([q.strip(), a.strip()])
        ex["history"] = turns
    return ex


def decode(req: DecodeRequest) -> dict:
    """Predictions for ``req``: the ``preds.json`` object plus ``failed`` (path -> reason) and ``explain`` rows."""
    from vxt.data.cache import DecodeSettings, MediaCache, load_media
    from vxt.tasks import get_task_entry
    from vxt.train.evaluate import predict_examples

    if not req.inputs:
        raise VxtError("nothing to decode: give media files or a data dir")
    from vxt.registry import check_values, whole

    # the CLI declares the same bounds (--help shows them); this is for library callers
    check_values({"beam": req.beam, "batch-size": req.batch_size, "limit": req.limit},
                 {"beam": whole(1), "batch-size": whole(1), "limit": whole(1, null=True)}, prefix="--")
    task = get_task_entry(req.task)
    if not _is_data_dir(Path(req.inputs[0])):
        task.check_media_inputs(req)
    model, ckpt = load_for_task(req.task, req.ckpt, req.exp_root)
    try:
        settings = DecodeSettings.from_dict(model.config.get("decode"))
    except VxtError as e:
        raise VxtError(e.message, path=str(ckpt / "config.json")) from None
    beam = 1 if req.greedy else req.beam
    failed: dict[str, str] = {}
    first = Path(req.inputs[0])
    from_dir = len(req.inputs) == 1 and _is_data_dir(first)
    overrides, domains = dict(req.overrides or {}), None
    if "domain" in overrides:  # any model: --set domain=NAME[,NAME] decodes those visual domains only
        domains = {d.strip() for d in str(overrides.pop("domain")).split(",") if d.strip()}
    if hasattr(model, "configure_decode"):  # dense models: data dir, pre-extracted features, decode options
        model.configure_decode(data_dir=first if from_dir else None, features=req.features, overrides=overrides)
    else:
        if req.features or overrides:
            raise VxtError("--features and --set apply to --task dense models only (any model: --set domain=NAME)")
    needs_media = getattr(model, "needs_media", True)  # dense models read their own feature streams
    if from_dir:
        examples = task.examples(first, req.split)
        if hasattr(model, "select_examples"):  # e.g. TAVT: --set domain=sketch decodes that domain only
            examples = model.select_examples(examples)
        if domains is not None:
            examples = [ex for ex in examples if ex.get("domain") in domains]
        if req.limit:
            examples = examples[: req.limit]
        if not examples:
            raise VxtError(f"no {req.task} examples in the {req.split} split", path=str(first))
        cache = MediaCache(first, settings) if needs_media else None
        if cache is not None:  # unreadable media: skipped and counted; none readable: one line naming the data dir
            cache.build(examples, progress=True)
            examples = cache.usable(examples, req.split)
        preds = predict_examples(model, examples, cache, beam=beam, batch_size=req.batch_size,
                                 progress_desc=f"decode {req.split}")
    else:
        examples, media = [], {}
        for raw in req.inputs:
            p = Path(raw)
            try:
                ex = media_example(p, req.task, req)
                if ex["id"] in media:  # two inputs with the same file name
                    ex["id"] = f"{ex['id']}-{len(examples)}"
                media[ex["id"]] = load_media(ex, settings) if needs_media else {"video": None, "audio": None}
            except VxtError as e:
                if len(req.inputs) == 1:
                    raise
                failed[raw] = e.message
                err_console().print(f"[red]vxt:[/] skipped {e.format()}")
                continue
            examples.append(ex)
        if not examples:
            raise VxtError("no input could be decoded: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        preds = predict_examples(model, examples, None, beam=beam, batch_size=req.batch_size,
                                 media_fn=lambda chunk: [{"example": e, "media": media[e["id"]]} for e in chunk])
    by_id = {ex["id"]: ex for ex in examples}
    rows, explain = [], []
    for p in preds:
        ex = by_id.get(p["id"], {})
        rows.append(task.prediction_row(p, ex))
        if "explain" in p:
            explain.append({"id": p["id"], **p["explain"], "prediction": p["prediction"]})
    return {
        "preds": {
            "task": req.task,
            "checkpoint": str(ckpt),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "decoding": {"beam": beam, "split": req.split if _is_data_dir(first) else None},
            "predictions": rows,
        },
        "failed": failed,
        "explain": explain,
    }
