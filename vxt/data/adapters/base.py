"""What every dataset adapter shares: its context, its result, and media checks.

An adapter is a function registered in :data:`vxt.registry.ADAPTERS`::

    @ADAPTERS.register("anet", default_config={"root": None})
    def anet(ctx: PrepareContext) -> AdapterResult: ...

It reads the benchmark's own files, checks that each media item exists and
what it holds (:func:`check_media`), and returns the manifest examples per
split plus one status line per media item (ok / degraded / skipped, with the
reason). Writing the files, building the cache and reporting are
:mod:`vxt.data.prepare`'s job, so adapters stay small.

Options: ``default_config`` lists every option the adapter takes (with its
default); ``vxt prepare`` refuses an option an adapter does not take.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from vxt.errors import DataError

#: file extensions treated as media when scanning a folder
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp", ".ogv")
AUDIO_EXTS = (".m4a", ".mp3", ".wav", ".flac", ".ogg", ".opus", ".aac")
MEDIA_EXTS = VIDEO_EXTS + AUDIO_EXTS
IMAGE_EXTS = (".jpg", ".jpeg", ".png")


@dataclass
class PrepareContext:
    """What an adapter gets: the output data dir, its options, and how to run."""

    out: Path
    options: dict[str, Any]
    workers: int = 1
    progress: bool = True

    def rel(self, path: str | os.PathLike) -> str:
        """A media path for a manifest: relative to the data dir when inside it, else absolute."""
        p = Path(path).resolve()
        try:
            return p.relative_to(self.out.resolve()).as_posix()
        except ValueError:
            return str(p)


@dataclass
class AdapterResult:
    """Examples per split, one status record per media item, label spaces, default decode settings.

    ``items``: ``{"id", "file", "status": "ok"|"degraded"|"skipped", "missing": [...],
    "reason": str, "examples": [ids]}`` (reason/missing only when not ok).
    ``decode``: default :class:`~vxt.data.cache.DecodeSettings` fields;
    ``decode_by_task``: per-task overrides of them (e.g. longer dense videos
    get more clips).
    """

    examples: dict[str, list[dict]]
    items: list[dict] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)
    decode_by_task: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: facts about the dataset, recorded in dataset.json (stable across reruns)
    info: dict[str, Any] = field(default_factory=dict)
    #: facts about this run (e.g. items made vs kept), recorded in prepare_report.json
    stats: dict[str, Any] = field(default_factory=dict)
    #: sync examples: example id -> the clip's name in a fixed offset list (SparseSync's ``path``; default: the
    #: media file's stem), also its re-encoded file's name (:mod:`vxt.data.syncprep`)
    list_keys: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- options and files


def require_root(ctx: PrepareContext, dataset: str) -> Path:
    """The ``--root`` option as an existing folder, or a one-line error."""
    root = ctx.options.get("root")
    if not root:
        raise DataError(f"dataset {dataset!r} needs --root (the folder holding its files)")
    p = Path(root).expanduser()
    if not p.exists():
        raise DataError("no such folder", path=str(p))
    if not p.is_dir():
        raise DataError("not a folder", path=str(p))
    return p


def split_of(name: str) -> str | None:
    """The vxt split a benchmark file belongs to, from its name (train / val(id) / test)."""
    n = name.lower()
    if "train" in n:
        return "train"
    if "test" in n:
        return "test"
    if "val" in n or "dev" in n:
        return "val"
    return None


def index_files(roots: Iterable[Path], exts: tuple[str, ...], max_depth: int = 4) -> dict[str, Path]:
    """Map file stem -> path for files with ``exts`` under ``roots`` (first found wins; sorted walk)."""
    found: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        base = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if len(Path(dirpath).parts) - base >= max_depth:
                dirnames[:] = []
            for fn in sorted(filenames):
                if fn.lower().endswith(exts) and not fn.startswith("."):
                    found.setdefault(Path(fn).stem, Path(dirpath) / fn)
    return found


def index_dirs(roots: Iterable[Path], wanted: set[str], max_depth: int = 3) -> dict[str, Path]:
    """Find folders named in ``wanted`` under ``roots`` (frame folders), not descending into frame folders."""
    found: dict[str, Path] = {}
    stack = [(r, 0) for r in roots if r.is_dir()]
    while stack:
        d, depth = stack.pop(0)
        try:
            subdirs = sorted((e for e in os.scandir(d) if e.is_dir()), key=lambda e: e.name)
        except OSError:
            continue
        for e in subdirs:
            if e.name in wanted:
                found.setdefault(e.name, Path(e.path))
            elif depth + 1 < max_depth:
                stack.append((Path(e.path), depth + 1))
    return found


def need(obj: dict, key: str, typ, *, path: Path, where: str):
    """``obj[key]`` checked for presence and type; a DataError names the file and the place otherwise."""
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing field {key!r}", path=str(path))
    v = obj[key]
    if not isinstance(v, typ) or isinstance(v, bool) and typ is not bool:
        raise DataError(f"{where}: field {key!r} has the wrong type ({type(v).__name__})", path=str(path))
    return v


# ---------------------------------------------------------------- media checks


def check_file(path: str) -> dict:
    """Probe one media file: status, missing modalities, reason, duration. Top-level for worker pools."""
    from vxt.data.media import probe
    from vxt.errors import VxtError

    p = Path(path)
    if not p.exists():
        return {"status": "skipped", "reason": "media file not found", "missing": [], "duration": None}
    try:
        info = probe(p)
    except VxtError as e:
        return {"status": "skipped", "reason": e.message, "missing": [], "duration": None}
    except Exception as e:  # noqa: BLE001 - a broken file is data, not a crash
        return {"status": "skipped", "reason": f"{type(e).__name__}: {e}", "missing": [], "duration": None}
    missing = [m for m, has in (("video", info.has_video), ("audio", info.has_audio)) if not has]
    if len(missing) == 2:
        return {"status": "skipped", "reason": "no video or audio stream", "missing": missing, "duration": None}
    out = {
        "status": "degraded" if missing else "ok",
        "missing": missing,
        "duration": None if info.duration is None else round(float(info.duration), 3),
    }
    if missing:
        out["reason"] = f"no {missing[0]} stream"
    if getattr(info, "truncated", False):
        out["note"] = "file is cut off; what is there is used"
    return out


def check_folder(path: str, fps: float) -> dict:
    """Check one frame folder: it exists and holds frames; its duration is frames / fps."""
    p = Path(path)
    if not p.is_dir():
        return {"status": "skipped", "reason": "frame folder not found", "missing": [], "duration": None}
    try:
        from vxt.data.media import frame_folder_files

        n = len(frame_folder_files(p))
    except Exception:  # noqa: BLE001
        n = sum(1 for f in os.scandir(p) if f.name.lower().endswith(IMAGE_EXTS))
    if n == 0:
        return {"status": "skipped", "reason": "frame folder has no frames", "missing": [], "duration": None}
    return {"status": "ok", "missing": [], "duration": round(n / fps, 3), "frames": n}


def _check_job(job: tuple) -> tuple:
    kind, path, fps = job
    return path, (check_file(path) if kind == "file" else check_folder(path, fps))


def check_media(ctx: PrepareContext, jobs: list[tuple[str, str, float | None]], label: str = "checking media") -> dict[str, dict]:
    """Check many media items (``("file", path, None)`` or ``("folder", path, fps)``), in parallel with ``ctx.workers``."""
    from vxt.utils import progress

    jobs = list(dict.fromkeys(jobs))
    out: dict[str, dict] = {}
    with progress() as bar:
        task = bar.add_task(label, total=len(jobs), visible=ctx.progress and bool(jobs))
        if ctx.workers > 1 and len(jobs) > 8:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(min(ctx.workers, len(jobs))) as pool:
                for path, res in pool.imap_unordered(_check_job, jobs, chunksize=4):
                    out[path] = res
                    bar.advance(task)
        else:
            for job in jobs:
                path, res = _check_job(job)
                out[path] = res
                bar.advance(task)
    return out


def sidecar_subtitles(video: Path) -> tuple[list[dict] | None, str | None]:
    """Subtitles from a sidecar .srt/.vtt beside ``video``: (cues or None, a note when unreadable)."""
    from vxt.data.media import find_sidecar_subtitles
    from vxt.data.subtitles import read_subtitles
    from vxt.errors import VxtError

    try:
        sub = find_sidecar_subtitles(video)
    except Exception:  # noqa: BLE001
        return None, None
    if sub is None:
        return None, None
    try:
        cues = read_subtitles(sub)
    except VxtError as e:
        return None, f"subtitles unreadable: {e.message}"
    return [{"start": round(float(c["start"]), 3), "end": round(float(c["end"]), 3), "text": c["text"]} for c in cues], None


def item_record(item_id: str, file: str, check: dict, example_ids: list[str]) -> dict:
    """One line of the report's item list."""
    rec: dict[str, Any] = {"id": item_id, "file": file, "status": check["status"]}
    if check.get("missing"):
        rec["missing"] = list(check["missing"])
    for k in ("reason", "note"):
        if check.get(k):
            rec[k] = check[k]
    rec["examples"] = example_ids if check["status"] != "skipped" else []
    return rec


def with_missing(example: dict, missing: list[str]) -> dict:
    """``example`` with ``missing`` merged in (absent when empty)."""
    m = sorted(set(example.get("missing", [])) | set(missing), key=["video", "audio", "subtitles"].index)
    if m:
        example["missing"] = m
    return example


def subs_in(subs: list[dict] | None, start: float | None, end: float | None) -> list[dict]:
    """The cues overlapping [start, end] (all when no range)."""
    if not subs:
        return []
    if start is None or end is None:
        return list(subs)
    return [c for c in subs if c["end"] > start and c["start"] < end]


AdapterFn = Callable[[PrepareContext], AdapterResult]
