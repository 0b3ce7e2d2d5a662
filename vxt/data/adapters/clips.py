"""Helpers shared by the clip-list adapters (vggsound, vas, lrs3, howto100m, youcook2, vatex, msvd).

:func:`gather` checks every media item once and turns each into its examples
(or a skipped report line); :func:`read_id_list` reads a split list (one id a
line); :func:`held_out` is the deterministic validation carve used where a
benchmark ships no validation split.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable

from vxt.data.adapters.base import PrepareContext, check_media, item_record, with_missing
from vxt.errors import DataError

NOT_FOUND = {"status": "skipped", "reason": "media file not found", "missing": []}

#: (item id, split, media file or None, the path reported when it is missing, make(rel, check) -> examples)
Entry = tuple[str, str, "Path | None", Path, Callable[[str, dict], list[dict]]]


def gather(ctx: PrepareContext, entries: list[Entry], extra_missing: tuple[str, ...] = ()) -> tuple[dict[str, list[dict]], list[dict]]:
    """Examples per split and one report line per item; missing or unreadable media are skipped with the reason."""
    checks = check_media(ctx, [("file", str(p), None) for (_, _, p, _, _) in entries if p is not None])
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items = []
    for item_id, split, path, expected, make in entries:
        chk = checks[str(path)] if path is not None else NOT_FOUND
        if chk["status"] == "skipped":
            items.append({**item_record(item_id, str(path or expected), chk, []), "split": split})
            continue
        exs = [with_missing(e, list(chk["missing"]) + list(extra_missing)) for e in make(ctx.rel(path), chk)]
        examples[split] += exs
        items.append({**item_record(item_id, str(path), chk, [e["id"] for e in exs]), "split": split})
    return examples, items


def read_id_list(path: str | Path) -> list[str]:
    """Ids one a line (blank lines and ``#`` comments skipped), extensions and ``./`` prefixes dropped."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("split list not found", path=str(p))
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("./"):
            s = s[2:]
        if s.lower().endswith((".mp4", ".avi", ".mkv", ".webm", ".txt")):
            s = s.rsplit(".", 1)[0]
        out.append(s)
    return out


def held_out(key: str, every: int = 20) -> bool:
    """True for about 1 in ``every`` keys, fixed by the key's CRC-32 (stable across runs and machines)."""
    return zlib.crc32(key.encode("utf-8")) % every == 0


def with_duration(ex: dict, chk: dict) -> dict:
    if chk.get("duration") is not None:
        ex["duration"] = chk["duration"]
    return ex
