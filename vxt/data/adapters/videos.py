"""``vxt prepare videos --root DIR``: any folder of media files, with optional sidecar subtitles.

One ``caption`` example per media file (no targets: this is input for
``vxt decode``), all in the ``test`` split (``train.jsonl`` and ``val.jsonl``
are written empty). The folder is searched recursively for media extensions
(:data:`~vxt.data.adapters.base.MEDIA_EXTS`); each file is probed: unreadable
files are skipped with the reason, files without a video or an audio stream
are kept as degraded (``missing``), and a sidecar ``.srt``/``.vtt`` with the
same stem becomes the example's subtitles. Audio-only files get an ``audio``
field instead of ``video``.
"""

from __future__ import annotations

import os
from pathlib import Path

from vxt.data.adapters.base import (
    MEDIA_EXTS,
    AdapterResult,
    PrepareContext,
    check_media,
    item_record,
    require_root,
    sidecar_subtitles,
    with_missing,
)
from vxt.errors import DataError
from vxt.registry import ADAPTERS


def _media_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out += [Path(dirpath) / f for f in sorted(filenames) if f.lower().endswith(MEDIA_EXTS) and not f.startswith(".")]
    return out


def _ids(root: Path, files: list[Path]) -> dict[Path, str]:
    """Example ids: the path under root without extension; with it where two files would collide."""
    stems = [f.relative_to(root).with_suffix("").as_posix() for f in files]
    dup = {s for s in stems if stems.count(s) > 1}
    return {f: (f.relative_to(root).as_posix() if s in dup else s) for f, s in zip(files, stems)}


@ADAPTERS.register("videos", default_config={"root": None}, description="a folder of media files (+ sidecar subtitles)")
def videos_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "videos")
    files = _media_files(root)
    if not files:
        raise DataError(f"no media files here (looked for {', '.join(MEDIA_EXTS)})", path=str(root))
    ids = _ids(root, files)
    checks = check_media(ctx, [("file", str(f), None) for f in files])
    examples, items = [], []
    for f in files:
        chk = dict(checks[str(f)])
        ex_id = ids[f]
        if chk["status"] == "skipped":
            items.append(item_record(ex_id, str(f), chk, []))
            continue
        audio_only = "video" in chk["missing"]
        ex = {"id": ex_id, "task": "caption", ("audio" if audio_only else "video"): ctx.rel(f)}
        if chk.get("duration") is not None:
            ex["duration"] = chk["duration"]
        subs, note = sidecar_subtitles(f)
        if subs is not None:
            ex["subtitles"] = subs
        if note:
            chk["note"] = "; ".join(x for x in (chk.get("note"), note) if x)
        with_missing(ex, chk["missing"])
        examples.append(ex)
        items.append(item_record(ex_id, str(f), chk, [ex_id]))
    return AdapterResult(
        examples={"train": [], "val": [], "test": examples},
        items=items,
        info={"root": str(root.resolve()), "files": len(files)},
    )
