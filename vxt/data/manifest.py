"""The manifest format (DESIGN.md, "Files between stages") and the data dir layout.

A data dir holds::

    DATA/
      train.jsonl val.jsonl test.jsonl   one example per line (see below)
      media/                             media files the manifests point at
      labels/video.txt labels/audio.txt  label spaces of the modality classifiers (one name a line)
      cache/<key>/                       decoded clips and log-mel spectrograms (vxt.data.cache)
      dataset.json                       what made it: adapter, options, seed, label files
      prepare_report.json                counts, degraded and skipped items with reasons

Manifest line (absent fields are omitted, never null)::

    {"id": "clip-000042", "task": "qa",
     "video": "media/clip-000042.mp4", "start": 0.0, "end": 4.0,
     "subtitles": [{"start": 0.5, "end": 2.0, "text": "look, it's anna"}],
     "question": "...", "candidates": ["..."], "answer": 2,
     "history": [["is it red?", "yes it is red"]],
     "targets": ["..."],
     "events": [{"start": 1.0, "end": 3.5, "sentence": "..."}],
     "duration": 4.0, "missing": ["audio"]}

vxt adds two optional fields: ``fps`` (for a ``video`` that is a folder of
frames) and ``labels`` (``{"video": [names], "audio": [names]}``: the
classifier label-space names that hold for the example, used by
``vxt train --task classify``). ``--task sync`` reads ``offset`` and
``vstart`` (seconds: a fixed evaluation input, the audio lagging the video by
``offset``, the video trim starting ``vstart`` after the clip's ``start``).
``paragraph`` (``{"video_id", "references": [paragraphs]}``, ActivityNet's
val/test examples) groups segment captions per video for ``vxt score
--paragraph``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.errors import DataError
from vxt.utils import iter_jsonl, write_jsonl

SPLITS = ("train", "val", "test")
TASKS = ("caption", "qa", "dialog", "dense", "classify", "sync", "sound")
CONTINUOUS_MODALITIES = ("video", "audio")
TEXT_MODALITIES = ("subtitles", "history", "question", "candidates")

_TYPES: dict[str, Any] = {
    "id": str,
    "task": str,
    "video": str,
    "audio": str,
    "start": (int, float),
    "end": (int, float),
    "fps": (int, float),
    "subtitles": list,
    "question": str,
    "candidates": list,
    "answer": int,
    "history": list,
    "targets": list,
    "events": list,
    "duration": (int, float),
    "missing": list,
    "labels": dict,
    "question_type": str,
    "caption": str,
    "summary": str,
    "source": str,
    "offset": (int, float),
    "vstart": (int, float),
    "domain": str,
    "label": str,
    "sound_events": list,
    "next_targets": list,
    "paragraph": dict,
}


def validate_example(ex: Any, *, path: str | Path | None = None, lineno: int | None = None) -> dict:
    """Check one manifest example; raise a DataError naming the file, line and id."""
    where = f"line {lineno}: " if lineno is not None else ""
    if not isinstance(ex, dict):
        raise DataError(f"{where}an example must be a JSON object", path=path)
    ex_id = ex.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise DataError(f"{where}example without an 'id'", path=path)
    for key, typ in _TYPES.items():
        if key in ex:
            if ex[key] is None:
                raise DataError(f"{where}field {key!r} is null (absent fields are omitted)", path=path, example_id=ex_id)
            if not isinstance(ex[key], typ) or (typ is int and isinstance(ex[key], bool)):
                raise DataError(f"{where}field {key!r} has the wrong type", path=path, example_id=ex_id)
    if "task" in ex and ex["task"] not in TASKS:
        raise DataError(f"{where}unknown task {ex['task']!r}", path=path, example_id=ex_id)
    if "start" in ex and "end" in ex and ex["end"] < ex["start"]:
        raise DataError(f"{where}end {ex['end']} is before start {ex['start']}", path=path, example_id=ex_id)
    if "candidates" in ex and "answer" in ex and not 0 <= ex["answer"] < len(ex["candidates"]):
        raise DataError(f"{where}answer {ex['answer']} is not a candidate index", path=path, example_id=ex_id)
    for sub in ex.get("subtitles", []):
        if not isinstance(sub, dict) or "text" not in sub:
            raise DataError(f"{where}subtitle entries need start, end and text", path=path, example_id=ex_id)
    for ev in ex.get("events", []):
        if not isinstance(ev, dict) or "start" not in ev or "end" not in ev:
            raise DataError(f"{where}events need start and end", path=path, example_id=ex_id)
    return ex


def load_manifest(path: str | Path) -> list[dict]:
    """Read and validate a manifest JSONL."""
    out = []
    seen: set[str] = set()
    for lineno, ex in enumerate(iter_jsonl(path), 1):
        validate_example(ex, path=path, lineno=lineno)
        if ex["id"] in seen:
            raise DataError(f"duplicate id at line {lineno}", path=path, example_id=ex["id"])
        seen.add(ex["id"])
        out.append(ex)
    return out


def write_manifest(path: str | Path, examples: list[dict]) -> None:
    """Validate and write a manifest atomically; None-valued fields are dropped."""
    clean = []
    for ex in examples:
        ex = {k: v for k, v in ex.items() if v is not None}
        validate_example(ex, path=path)
        clean.append(ex)
    write_jsonl(path, clean)


def split_path(data_dir: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} (one of {', '.join(SPLITS)})", path=data_dir)
    return Path(data_dir) / f"{split}.jsonl"


def load_split(data_dir: str | Path, split: str) -> list[dict]:
    p = split_path(data_dir, split)
    if not p.exists():
        raise DataError(f"no {split}.jsonl here: is this a data dir made by `vxt prepare`?", path=data_dir)
    return load_manifest(p)


def read_label_space(data_dir: str | Path, modality: str) -> list[str] | None:
    """The label names of a modality classifier for this data dir, or None."""
    p = Path(data_dir) / "labels" / f"{modality}.txt"
    if not p.exists():
        return None
    names = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return names


def resolve_media(data_dir: str | Path, rel: str) -> Path:
    """A manifest's media path resolved against its data dir (absolute paths pass through)."""
    p = Path(rel)
    return p if p.is_absolute() else Path(data_dir) / p
