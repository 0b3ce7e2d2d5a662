"""``vxt prepare`` for synchronisation data: media that leak least, and fixed evaluation offsets.

Run by :func:`vxt.data.prepare.prepare` on the ``sync`` examples of any
adapter (vggsound ``--task sync``, lrs3, synth ``--mode foley``), after the
adapter and before the media cache:

1. **media** (:func:`reencode_media`): each source file that is not already
   H.264 at a constant 25 fps with AAC 16 kHz mono is re-encoded to that form
   under ``media/sync/<key>.mp4`` (:mod:`vxt.data.media.encode`, which says
   why: codec artefacts leak where a trim starts); the sync examples then
   point there. Files already in that form are used as they are (a probe
   says so), and a file an earlier run re-encoded is kept. Other tasks'
   examples of the same clip keep the original file.
2. **offsets** (:func:`fixed_offsets`): each val and test example gets a
   fixed ``offset`` (vxt's sign: audio lag) and ``vstart``: from the
   ``--offsets`` list when it names the clip (SparseSync's csv, matched on
   the clip's key or a tail of its path), else the one the adapter set
   (synth), else drawn with :func:`vxt.data.offsets.draw_offset` (a random
   grid class and a feasible video start on the frame grid, as the training
   inputs) from ``random.Random(f"sync-eval-{seed}-{example id}")``: the
   same seed gives the same lists. Each split's list is also written in
   SparseSync's format and sign, ``fixed_offsets_<split>_size21_crop5_
   min-2.00_max2.00.csv`` in the data dir.

A clip's key is the adapter's (:attr:`AdapterResult.list_keys`: VGGSound's
clip id, LRS3's ``pretrain/<video>/<clip>``, as SparseSync's lists name
them), else the media file's stem.
"""

from __future__ import annotations

import os
import random
import zlib
from pathlib import Path
from typing import Any

from vxt.data import offsets as O
from vxt.errors import VxtError

SYNC_DIR = "media/sync"
TARGET = f"H.264 {O.DEFAULT_FPS} fps, AAC 16 kHz mono"
SPLITS = ("val", "test")


def _media_job(job: tuple) -> dict:
    """One source file: used as it is, kept from an earlier run, or re-encoded. Top-level for worker pools."""
    from vxt.data.media import probe
    from vxt.data.media.encode import encode_for_sync, sync_form_gaps

    src, dst, reencode = job
    try:
        info = probe(src)
        gaps = sync_form_gaps(info)
        if not gaps or not reencode:
            return {"src": src, "status": "as-is" if not gaps else "not re-encoded", "gaps": gaps,
                    "length": _usable(info)}
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            try:
                done = probe(dst)
                if not sync_form_gaps(done):
                    return {"src": src, "dst": dst, "status": "kept", "gaps": gaps, "length": _usable(done)}
            except VxtError:
                pass
        r = encode_for_sync(src, dst)
        return {"src": src, "dst": dst, "status": "re-encoded", "gaps": gaps,
                "length": round(min(r["video_seconds"], r["audio_seconds"]), 3)}
    except VxtError as e:
        return {"src": src, "status": "failed", "reason": e.message}
    except Exception as e:  # noqa: BLE001 - a broken file is data, not a crash
        return {"src": src, "status": "failed", "reason": f"{type(e).__name__}: {e}"}


def _usable(info) -> float | None:
    """The length both streams cover, as the sync model counts it (the video stream bounds the container)."""
    d = info.duration
    if d is not None and info.num_frames and info.fps and not info.vfr:
        d = min(float(d), info.num_frames / float(info.fps))
    return None if d is None else round(float(d), 3)


def _key(result, ex: dict) -> str:
    keys = getattr(result, "list_keys", None) or {}
    return O.list_key(keys.get(ex["id"]) or Path(str(ex["video"])).stem)


def _run(jobs: list[tuple], workers: int, show: bool) -> list[dict]:
    from vxt.utils import progress

    out = []
    with progress() as bar:
        task = bar.add_task("sync media", total=len(jobs), visible=show and bool(jobs))
        if workers > 1 and len(jobs) > 4:  # a spawned pool costs about a second to start
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
                for res in pool.imap(_media_job, jobs):
                    out.append(res)
                    bar.advance(task)
        else:
            for job in jobs:
                out.append(_media_job(job))
                bar.advance(task)
    return out


def reencode_media(out: Path, result, sync: list[dict], *, workers: int, progress: bool, reencode: bool) -> tuple[dict, dict]:
    """Step 1 (module docstring): (the report's ``media`` section, source path -> usable length)."""
    from vxt.data.manifest import resolve_media

    by_src: dict[str, list[dict]] = {}
    for ex in sync:
        by_src.setdefault(str(resolve_media(out, ex["video"])), []).append(ex)
    dst_of: dict[str, str] = {}
    taken: dict[str, str] = {}
    for src, exs in by_src.items():
        key = _key(result, exs[0])
        if any(part in ("", ".", "..") for part in key.split("/")):  # never a path outside media/sync/
            key = f"clip-{zlib.crc32(src.encode('utf-8')):08x}"
        if taken.setdefault(key, src) != src:  # two sources with one key: keep both apart
            key = f"{key}-{zlib.crc32(src.encode('utf-8')):08x}"
        dst_of[src] = str(out / SYNC_DIR / f"{key}.mp4")
    done = _run([(src, dst_of[src], reencode) for src in by_src], workers, progress)
    counts: dict[str, int] = {}
    changes: dict[str, int] = {}
    failed: dict[str, str] = {}
    lengths: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for r in done:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        src = r["src"]
        if r["status"] == "failed":
            failed[src] = r["reason"]
            continue
        if r.get("gaps"):
            change = ", ".join(r["gaps"])
            changes[change] = changes.get(change, 0) + 1
        notes[src] = {"as-is": f"sync: already {TARGET}, used as it is",
                      "not re-encoded": f"sync: not re-encoded ({', '.join(r['gaps'])}): --no-reencode",
                      "kept": f"sync: re-encoded to {TARGET} by an earlier run (was {', '.join(r['gaps'])})",
                      "re-encoded": f"sync: re-encoded to {TARGET} (was {', '.join(r['gaps'])})"}[r["status"]]
        for ex in by_src[src]:
            if r.get("dst"):
                ex["video"] = Path(r["dst"]).resolve().relative_to(out.resolve()).as_posix()
            if r.get("length") is not None:
                ex["duration"] = r["length"]
        lengths[src] = r.get("length")
    _annotate_items(result, by_src, notes, failed)
    section = {"target": TARGET, "why": _leakage(), "dir": SYNC_DIR, "reencode": bool(reencode),
               "counts": dict(sorted(counts.items())), "changes": dict(sorted(changes.items(), key=lambda kv: -kv[1]))}
    if failed:
        section["failed"] = {Path(k).name: v for k, v in failed.items()}
    return section, {ex["id"]: lengths.get(src) for src, exs in by_src.items() for ex in exs}


def _leakage() -> str:
    from vxt.data.media.encode import LEAKAGE

    return LEAKAGE


def _annotate_items(result, by_src: dict[str, list[dict]], notes: dict[str, str], failed: dict[str, str]) -> None:
    """Each item's report line says what became of its sync media; a source that failed loses its sync examples."""
    dropped = {ex["id"] for src in failed for ex in by_src[src]}
    ex_src = {ex["id"]: src for src, exs in by_src.items() for ex in exs}
    for item in result.items:
        srcs = {ex_src[e] for e in item.get("examples", []) if e in ex_src}
        for src in srcs:
            if src in failed:
                item["examples"] = [e for e in item["examples"] if e not in dropped]
                why = f"sync: cannot re-encode ({failed[src]})"
                if not item["examples"]:
                    item["status"] = "skipped"
                    item.pop("missing", None)
                item["reason"] = "; ".join(x for x in (item.get("reason"), why) if x)
            elif src in notes:
                item["sync_media"] = notes[src]
    if dropped:
        for split, exs in result.examples.items():
            result.examples[split] = [ex for ex in exs if ex["id"] not in dropped]


def fixed_offsets(out: Path, result, lengths: dict[str, float | None], cfg: dict) -> dict:
    """Step 2 (module docstring): set ``offset``/``vstart`` of the val/test sync examples, write the csv lists."""
    seed = int(cfg.get("seed") or 0)
    given = O.index_offset_list(O.read_offset_list(cfg["offsets"])) if cfg.get("offsets") else None
    grid = O.offset_grid()
    clip, fps, need = O.DEFAULT_CLIP_SECONDS, O.DEFAULT_FPS, O.DEFAULT_CLIP_SECONDS + 2 * O.DEFAULT_MAX_OFFSET
    lists: dict[str, Any] = {}
    for split in SPLITS:
        exs = [ex for ex in result.examples.get(split, []) if ex.get("task") == "sync"]
        if not exs:
            continue
        counts = {"from_list": 0, "from_adapter": 0, "sampled": 0, "too_short": 0, "outside_clip": 0}
        rows = []
        for ex in exs:
            key = _key(result, ex)
            hit = O.match_key(given, key) if given is not None else None
            length = _length(ex, lengths.get(ex["id"]))
            if hit is not None:
                ex["offset"], ex["vstart"] = hit
                counts["from_list"] += 1
            elif ex.get("offset") is not None and ex.get("vstart") is not None:
                counts["from_adapter"] += 1
            else:
                if length is None or length + 0.5 / fps < need:
                    counts["too_short"] += 1
                    continue
                off, v = O.draw_offset(length, grid, random.Random(f"sync-eval-{seed}-{ex['id']}"), fps=fps,
                                       clip_seconds=clip)
                ex["offset"], ex["vstart"] = round(off, 3), round(v, 3)
                counts["sampled"] += 1
            if not _fits(float(ex["offset"]), float(ex["vstart"]), length, clip, fps):
                counts["outside_clip"] += 1  # the model refuses these (they would need padding): say so here
            rows.append((key, float(ex["offset"]), float(ex["vstart"])))
        name = O.list_name(split)
        O.write_offset_list(out / name, rows)
        lists[split] = {"file": name, "rows": len(rows), **{k: v for k, v in counts.items() if v}}
    return {"seed": seed, "grid": f"{len(grid)} classes, {-O.DEFAULT_MAX_OFFSET:+g} to {O.DEFAULT_MAX_OFFSET:+g} s",
            "given": cfg.get("offsets"), "lists": lists}


def _fits(offset: float, vstart: float, length: float | None, clip: float, fps: float) -> bool:
    """Whether the video trim at ``vstart`` and the audio trim at ``vstart - offset`` lie inside the clip."""
    tol = 0.5 / fps
    a = vstart - offset
    return length is None or (min(vstart, a) >= -tol and max(vstart, a) + clip <= length + tol)


def _length(ex: dict, file_len: float | None) -> float | None:
    """An example's clip length: ``end - start`` bounded by what the file covers after ``start``."""
    start = float(ex.get("start") or 0.0)
    lens = [x for x in (None if file_len is None else file_len - start,
                        None if ex.get("end") is None else float(ex["end"]) - start,
                        None if ex.get("duration") is None else float(ex["duration"]) - start) if x is not None]
    return min(lens) if lens else None


def prepare_sync(out: Path, result, cfg: dict, *, workers: int = 1, progress: bool = True, reencode: bool = True) -> dict | None:
    """Both steps on ``result``'s sync examples (changed in place); the report's ``sync`` section, None without any."""
    sync = [ex for exs in result.examples.values() for ex in exs
            if ex.get("task") == "sync" and ex.get("video") and not ex.get("fps")
            and not {"video", "audio"} & set(ex.get("missing") or [])]
    if not sync:
        return None
    media, lengths = reencode_media(out, result, sync, workers=workers, progress=progress, reencode=reencode)
    return {"media": media, "offsets": fixed_offsets(out, result, lengths, cfg)}


def summary_lines(section: dict | None) -> list[str]:
    """The printed summary's lines about sync data."""
    if not section:
        return []
    m, o = section["media"], section["offsets"]
    c = m["counts"]
    lines = []
    if c.get("re-encoded") or c.get("kept"):
        top = next(iter(m["changes"]), "")
        lines.append(f"sync media: {c.get('re-encoded', 0)} re-encoded, {c.get('kept', 0)} kept from an earlier run, to "
                     f"{m['target']} in {m['dir']}/ (e.g. from {top}): {m['why']}")
    if c.get("as-is"):
        lines.append(f"sync media: {c['as-is']} already {m['target']}, used as they are")
    if c.get("not re-encoded"):
        lines.append(f"sync media: {c['not re-encoded']} NOT re-encoded (--no-reencode): {m['why']}")
    if c.get("failed"):
        lines.append(f"sync media: {c['failed']} could not be re-encoded: their sync examples are left out")
    for split, li in o["lists"].items():
        how = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in li.items() if k not in ("file", "rows"))
        lines.append(f"fixed offsets {split}: {li['rows']} ({how}; seed {o['seed']}) -> {li['file']}")
    return lines
