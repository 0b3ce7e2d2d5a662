"""The media cache: decoded clips and log-mel spectrograms, decoded once, read many times.

Training reads every example's media once per epoch; decoding an mp4 each time
would dominate a CPU run. The cache keeps, per *media key* (a media path and a
time range: the examples of one clip share one entry), the uint8 clip tensor
``[num_clips, frames, size, size, 3]`` and the float32 log-mel ``[frames, 64]``
of that range, for one :class:`DecodeSettings`.

Layout (``DATA/cache/<settings.key()>/``)::

    index.json                 {"format", "settings", "entries": {key: {...}}, "failed": {key: reason}}
    shard-<id>.safetensors     up to ``shard_size`` entries: tensors "<key>.video", "<key>.audio"

A shard is written whole (temp file + rename) before the index that points at
it, and the index is rewritten (temp + rename) under a file lock after every
shard, so a killed run loses at most the entries of the shard it was filling,
and several processes (DataLoader workers, DDP ranks) can fill one cache.
Reads memory-map a shard with ``safetensors.safe_open`` and keep the last few
handles open (an LRU), so random access during training costs a page-in, not a
decode. Changing any decode setting changes the key, hence the folder: the
cache is rebuilt, never mixed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import uuid
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from vxt.files import check_positive, json_object, safe_name
from vxt.utils import write_json

#: bump when the stored content changes meaning (it is part of every key)
CACHE_FORMAT = 1


@dataclass(frozen=True)
class DecodeSettings:
    """How media are decoded for training: clips, frames per clip, frame size, sampling rate.

    ``fps`` is the rate frames are sampled at inside a clip (``None``: the
    media's own rate); clips are spread uniformly over the example's range.
    """

    num_clips: int = 4
    frames: int = 8
    size: int = 64
    fps: float | None = 8.0
    audio_sr: int = 16000

    def __post_init__(self):  # the values come from files (dataset.json, config.json): numbers, or one line
        for name in ("num_clips", "frames", "size", "audio_sr", "fps"):
            check_positive(getattr(self, name), f"decode settings: {name}", whole=name != "fps", none=name == "fps")

    def key(self) -> str:
        """A short stable name of these settings, e.g. ``c4-f8-s64-fps8-sr16000-1a2b3c4d`` (a safe folder name)."""
        fps = "native" if self.fps is None else f"{float(self.fps):g}"
        blob = json.dumps([CACHE_FORMAT, asdict(self)], sort_keys=True)
        digest = hashlib.sha1(blob.encode()).hexdigest()[:8]
        return safe_name(f"c{self.num_clips}-f{self.frames}-s{self.size}-fps{fps}-sr{self.audio_sr}-{digest}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "DecodeSettings":
        """Settings from a dict (e.g. ``dataset.json["decode"]``); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in json_object(d, "decode settings").items() if k in names}
        if isinstance(kw.get("fps"), (int, float)) and not isinstance(kw["fps"], bool):
            kw["fps"] = float(kw["fps"])
        return cls(**kw)


def settings_for(data_dir: str | os.PathLike, task: str | None = None) -> DecodeSettings:
    """The decode settings ``vxt prepare`` cached for ``task`` in a data dir.

    ``dataset.json`` holds ``decode`` (every example) and ``decode_by_task``
    (overrides, e.g. synth's 20 s dense videos get 10 clips instead of 4); a
    data dir without ``dataset.json`` gets the defaults.
    """
    p = Path(data_dir) / "dataset.json"
    meta = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    by_task = meta.get("decode_by_task") or {}
    return DecodeSettings.from_dict(by_task.get(task) or meta.get("decode"))


def media_path(example: dict) -> str | None:
    """The manifest path of an example's media (its ``video``, else its ``audio``)."""
    return example.get("video") or example.get("audio")


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), 3)


def media_key_of(example: dict) -> str:
    """The cache key of an example: its media path and [start, end]."""
    blob = json.dumps([media_path(example), _num(example.get("start")), _num(example.get("end"))])
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


# ---------------------------------------------------------------- decoding (worker side)


def decode_job(job: dict) -> dict:
    """Decode one media key. A top-level function so that spawned workers can run it.

    ``job``: key, path (absolute), start, end, folder_fps, want_video,
    want_audio, settings (dict). Returns key, video, audio (arrays or None) and
    per-modality error strings.
    """
    import numpy as np

    from vxt.errors import VxtError

    s = DecodeSettings.from_dict(job["settings"])
    path = Path(job["path"])
    video = audio = None
    errors: dict[str, str] = {}
    if job["want_video"]:
        try:
            from vxt.data import media

            if job.get("folder_fps") is not None:
                video = media.read_frame_folder_clips(
                    path, job["folder_fps"], s.num_clips, s.frames, s.size,
                    start=job["start"], end=job["end"], fps=s.fps, mode="uniform",
                )
            else:
                video = media.read_clips(
                    path, s.num_clips, s.frames, s.size, start=job["start"], end=job["end"], fps=s.fps, mode="uniform"
                )
            video = np.ascontiguousarray(video, dtype=np.uint8)
        except VxtError as e:
            errors["video"] = e.message
        except Exception as e:  # noqa: BLE001 - a broken file is data, not a crash
            errors["video"] = f"{type(e).__name__}: {e}"
    if job["want_audio"]:
        try:
            from vxt.data import media

            wave = media.read_audio(path, start=job["start"], end=job["end"], sr=s.audio_sr)
            mel = media.log_mel(wave, sr=s.audio_sr)
            audio = np.ascontiguousarray(mel.detach().cpu().numpy() if hasattr(mel, "detach") else mel, dtype=np.float32)
            if audio.size == 0:
                audio = None
                errors["audio"] = "empty audio"
        except VxtError as e:
            errors["audio"] = e.message
        except Exception as e:  # noqa: BLE001
            errors["audio"] = f"{type(e).__name__}: {e}"
    return {"key": job["key"], "video": video, "audio": audio, "errors": errors}


def _worker_init() -> None:
    """One thread per worker process: the pool is the parallelism (no oversubscribed cores)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["VXT_DECODE_THREADS"] = "1"  # FFmpeg would start a decoder thread per core in every worker
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


# ---------------------------------------------------------------- the cache


@contextlib.contextmanager
def _locked(lock_path: Path):
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class MediaCache:
    """Decoded media of a data dir for one :class:`DecodeSettings` (see the module docstring)."""

    def __init__(self, data_dir: str | os.PathLike, settings: DecodeSettings | None = None, *, shard_size: int = 64, max_open: int = 8):
        self.data_dir = Path(data_dir)
        self.settings = settings or DecodeSettings()
        self.dir = self.data_dir / "cache" / self.settings.key()
        self.shard_size = shard_size
        self.max_open = max_open
        self._entries: dict[str, dict] = {}
        self._failed: dict[str, str] = {}
        self._index_mtime: float | None = None
        self._pending: dict[str, dict] = {}
        self._handles: OrderedDict[str, Any] = OrderedDict()
        self._pid = os.getpid()
        self._load_index()
        ref = weakref.ref(self)
        atexit.register(lambda: (lambda c: c is not None and c.flush())(ref()))

    # ---------------------------------------------------- index

    @property
    def index_path(self) -> Path:
        return self.dir / "index.json"

    def _load_index(self) -> None:
        p = self.index_path
        if not p.exists():
            return
        mtime = p.stat().st_mtime_ns
        if mtime == self._index_mtime:
            return
        try:
            idx = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # written atomically, so this is a foreign file: start afresh
        if idx.get("format") != CACHE_FORMAT:
            return
        self._entries = {k: v for k, v in idx.get("entries", {}).items() if (self.dir / v["shard"]).exists()}
        self._failed = dict(idx.get("failed", {}))
        self._index_mtime = mtime

    def _commit(self, new_entries: dict[str, dict], new_failed: dict[str, str], cleared: set[str] = frozenset()) -> None:
        """Merge entries into the index on disk under the lock (other processes may have added theirs)."""
        with _locked(self.dir / ".lock"):
            self._index_mtime = None
            self._load_index()
            self._entries.update(new_entries)
            for k in list(new_entries) + list(cleared):
                self._failed.pop(k, None)
            self._failed.update(new_failed)
            write_json(
                self.index_path,
                {"format": CACHE_FORMAT, "settings": self.settings.to_dict(), "entries": self._entries, "failed": self._failed},
                indent=None,
            )
            self._index_mtime = self.index_path.stat().st_mtime_ns

    # ---------------------------------------------------- keys and jobs

    def media_key(self, example: dict) -> str:
        """(media path, start, end): examples sharing a media file and range share an entry."""
        return media_key_of(example)

    def _job(self, example: dict) -> dict:
        from vxt.data.manifest import resolve_media

        rel = media_path(example)
        if rel is None:
            raise ValueError(f"example {example.get('id')} has no media")
        path = resolve_media(self.data_dir, rel)
        missing = set(example.get("missing", []))
        folder_fps = example.get("fps")
        is_audio_only = example.get("video") is None
        return {
            "key": self.media_key(example),
            "path": str(path),
            "start": example.get("start"),
            "end": example.get("end"),
            "folder_fps": folder_fps,
            "want_video": not is_audio_only and "video" not in missing,
            "want_audio": folder_fps is None and "audio" not in missing,
            "settings": self.settings.to_dict(),
            "rel": rel,
        }

    # ---------------------------------------------------- writing

    def _add(self, job: dict, result: dict) -> str | None:
        """Queue a decoded entry; returns a failure reason when nothing could be decoded."""
        if result["video"] is None and result["audio"] is None:
            wanted = [m for m in ("video", "audio") if job[f"want_{m}"]]
            if wanted:  # an example that wants nothing (all missing) is simply empty
                return "; ".join(f"{m}: {result['errors'].get(m, 'not decoded')}" for m in wanted)
        self._pending[job["key"]] = {
            "video": result["video"],
            "audio": result["audio"],
            "meta": {"path": job["rel"], "start": job["start"], "end": job["end"], "errors": result["errors"]},
        }
        return None

    def flush(self) -> None:
        """Write the queued entries as one shard and point the index at it."""
        self._check_fork()
        if not self._pending:
            return
        from safetensors.numpy import save

        tensors = {}
        entries = {}
        name = f"shard-{uuid.uuid4().hex[:12]}.safetensors"
        for key, item in self._pending.items():
            for m in ("video", "audio"):
                if item[m] is not None:
                    tensors[f"{key}.{m}"] = item[m]
            entries[key] = {"shard": name, "video": item["video"] is not None, "audio": item["audio"] is not None, **item["meta"]}
        self.dir.mkdir(parents=True, exist_ok=True)
        if tensors:
            from vxt.utils import atomic_write_bytes

            atomic_write_bytes(self.dir / name, save(tensors))
        else:
            entries = {k: {**v, "shard": ""} for k, v in entries.items()}
        self._pending = {}
        self._commit(entries, {})

    def build(self, examples: list[dict], workers: int = 1, progress: bool = True) -> dict:
        """Decode every media key of ``examples`` that the cache lacks.

        Keys already in the index are kept (a rerun resumes); keys that failed
        before are tried again. Returns ``{"ok": n, "failed": {key: reason},
        "degraded": {key: {modality: reason}}}`` over the keys of ``examples``.
        """
        self._load_index()
        jobs: dict[str, dict] = {}
        for ex in examples:
            if media_path(ex) is None:
                continue
            job = self._job(ex)
            if job["key"] in jobs:
                # examples of one media item may disagree on what they lack: decode what any wants
                for m in ("want_video", "want_audio"):
                    jobs[job["key"]][m] = jobs[job["key"]][m] or job[m]
                continue
            jobs[job["key"]] = job
        todo = [j for k, j in jobs.items() if k not in self._entries]
        failed: dict[str, str] = {}
        retried = {j["key"] for j in todo if j["key"] in self._failed}
        from vxt.utils import progress as progress_bar

        def consume(results):
            pending_failed: dict[str, str] = {}
            for res in results:
                job = jobs[res["key"]]
                reason = self._add(job, res)
                if reason is not None:
                    failed[res["key"]] = reason
                    pending_failed[res["key"]] = reason
                if len(self._pending) >= self.shard_size:
                    self.flush()
                if pending_failed and len(pending_failed) >= self.shard_size:
                    self._commit({}, pending_failed)
                    pending_failed = {}
                yield res
            self.flush()
            self._commit({}, pending_failed, cleared=retried)

        with progress_bar() as bar:
            task = bar.add_task("caching media", total=len(todo), visible=progress and bool(todo))
            # a spawned worker costs a second or two to start (it imports torch for the log-mel):
            # only worth it for more than a handful of entries
            if workers > 1 and len(todo) >= 4 * workers:
                import multiprocessing as mp

                ctx = mp.get_context("spawn")
                with ctx.Pool(min(workers, len(todo)), initializer=_worker_init) as pool:
                    for _ in consume(pool.imap_unordered(decode_job, todo, chunksize=1)):
                        bar.advance(task)
            else:
                for _ in consume(decode_job(j) for j in todo):
                    bar.advance(task)
        degraded = {k: dict(self._entries[k].get("errors", {})) for k in jobs if k in self._entries and self._entries[k].get("errors")}
        ok = sum(1 for k in jobs if k in self._entries)
        return {"ok": ok, "failed": {k: self._failed.get(k, failed.get(k, "")) for k in jobs if k not in self._entries}, "degraded": degraded}

    def usable(self, examples: list[dict], split: str, *, quiet: bool = False) -> list[dict]:
        """The examples whose media could be read (after :meth:`build`); the others are skipped, and said so.

        An example without media (text only) or that lists all its media as missing is usable. When no
        example is usable the run has nothing to learn from or decode: a one-line VxtError naming the
        data dir and the first unreadable file; when some are, one line says how many were skipped.
        """
        from vxt.errors import VxtError

        self._load_index()
        bad = [ex for ex in examples if media_path(ex) is not None and self.media_key(ex) not in self._entries
               and self.media_key(ex) in self._failed]
        if not bad:
            return examples
        first = bad[0]
        reason = self._failed.get(self.media_key(first), "")
        what = f"{media_path(first)}" + (f" ({reason})" if reason else "")
        if len(bad) == len(examples):
            raise VxtError(f"none of the {len(examples)} {split} examples has a readable media file (first: {what})",
                           path=str(self.data_dir))
        if not quiet:
            from vxt.utils import err_console

            err_console().print(f"[yellow]vxt:[/] skipped {len(bad)} of {len(examples)} {split} examples whose media "
                                f"could not be read (first: {what})", highlight=False, soft_wrap=True)
        bad_ids = {id(ex) for ex in bad}
        return [ex for ex in examples if id(ex) not in bad_ids]

    # ---------------------------------------------------- reading

    def _check_fork(self) -> None:
        """In a forked child (a DataLoader worker) start with no open handles and no queued entries of the parent."""
        if os.getpid() != self._pid:
            self._handles = OrderedDict()
            self._pending = {}
            self._pid = os.getpid()

    def _handle(self, shard: str):
        from safetensors import safe_open

        h = self._handles.get(shard)
        if h is None:
            h = safe_open(str(self.dir / shard), framework="np")
            self._handles[shard] = h
            while len(self._handles) > self.max_open:
                self._handles.popitem(last=False)
        else:
            self._handles.move_to_end(shard)
        return h

    def __contains__(self, example: dict) -> bool:
        key = self.media_key(example)
        return key in self._entries or key in self._pending

    def entry_info(self, example: dict) -> dict | None:
        """The index record of an example's entry (what decoded, errors), or None."""
        return self._entries.get(self.media_key(example))

    def get(self, example: dict) -> dict:
        """``{"video": uint8 [N,T,S,S,3] | None, "audio": float32 [frames, 64] | None}`` for an example.

        A miss decodes the media here and queues it for the next shard; a
        modality the example lists as missing is None.
        """
        self._check_fork()
        key = self.media_key(example)
        missing = set(example.get("missing", []))
        if key not in self._entries and key not in self._pending:
            self._load_index()  # another process may have added it
        if key in self._pending:
            item = self._pending[key]
            video, audio = item["video"], item["audio"]
        elif key in self._entries:
            e = self._entries[key]
            video = audio = None
            if e.get("video") or e.get("audio"):
                h = self._handle(e["shard"])
                video = h.get_tensor(f"{key}.video") if e.get("video") else None
                audio = h.get_tensor(f"{key}.audio") if e.get("audio") else None
        elif key in self._failed or media_path(example) is None:
            video = audio = None
        else:
            job = self._job(example)
            res = decode_job(job)
            reason = self._add(job, res)
            if reason is not None:
                self._failed[key] = reason
                video = audio = None
            else:
                video, audio = res["video"], res["audio"]
                if len(self._pending) >= self.shard_size:
                    self.flush()
        return {
            "video": None if "video" in missing else video,
            "audio": None if "audio" in missing else audio,
        }

    def close(self) -> None:
        self.flush()
        self._handles.clear()

    def __enter__(self) -> "MediaCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_media(ex: dict, settings) -> dict:
    """Decode the clips and the log-mel an example needs, as the media cache would."""
    from vxt.data.media import log_mel, read_audio, read_clips

    missing = set(ex.get("missing", []))
    media: dict = {"video": None, "audio": None}
    kw = {"start": ex.get("start"), "end": ex.get("end")}
    if "video" not in missing:
        media["video"] = read_clips(ex["video"], settings.num_clips, settings.frames, settings.size, fps=settings.fps,
                                    mode="uniform", **kw)
    if "audio" not in missing:
        wave = read_audio(ex["video"], sr=settings.audio_sr, **kw)
        media["audio"] = log_mel(wave, sr=settings.audio_sr).numpy()
    return media
