"""``vxt prepare vggsound --root DIR``: VGGSound (sound generation, audio-visual sync).

``--root`` holds ``vggsound.csv`` (rows ``youtube_id,start_seconds,label,split``,
no header; any ``*vggsound*.csv`` is read) and the 10 s clips
``<id>_<start ms>_<end ms>.mp4`` in ``video/`` (or anywhere under the root).

Splits: the csv's ``test`` rows -> test, its ``train`` rows -> train, except
about 1 in 20 train clips (fixed by the CRC-32 of the clip id) -> val, as
VGGSound ships no validation split. ``--split-list FILE`` (clip ids one a
line, as SparseSync's ``vggsound_test.txt``) picks the test split instead:
listed clips -> test, csv test clips not listed -> val.

Examples: ``vggsound-<clip>-sound`` (task ``sound``) with ``label`` the
class; ``--task sync`` makes ``vggsound-<clip>-sync`` examples instead
(``--task sound,sync``: both). ``--sparse`` keeps only the VGGSound-Sparse
classes (``is_sparse`` = y in ``picked_sparse_classes.{tsv,csv}`` in the
root). ``--offsets FILE`` (SparseSync's fixed offset list,
``path,offset_sec,vstart_sec``, matched on the clip id) gives ``offset`` and
``vstart`` of the val and test sync examples; without it, or for clips it
does not list, they are drawn with ``--seed``. Both, and the re-encoding of
the sync examples' media, are :mod:`vxt.data.syncprep`'s (for every sync
adapter). SparseSync shifts the audio trim by ``offset_sec`` (audio earlier
than the video when positive), vxt's ``offset`` is the audio lag, so
``offset = -offset_sec`` (:func:`vxt.data.offsets.from_sparsesync_offset`).
The ``sound`` task's cache is decoded at 22,050 Hz (SpecVQGAN's rate).
"""

from __future__ import annotations

import csv
from pathlib import Path

from vxt.data.adapters.base import AdapterResult, PrepareContext, index_files, require_root
from vxt.data.adapters.clips import gather, held_out, read_id_list, with_duration
from vxt.data.offsets import from_sparsesync_offset  # noqa: F401 - the convention; lists are read in vxt.data.syncprep
from vxt.errors import DataError
from vxt.registry import ADAPTERS

SOUND_SR = 22050
TASKS = ("sound", "sync")


def clip_id(youtube_id: str, start_seconds: float, seconds: float = 10.0) -> str:
    s = int(round(float(start_seconds) * 1000))
    return f"{youtube_id}_{s}_{s + int(round(seconds * 1000))}"


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    """(clip id, label, split) per csv row."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 4:
                raise DataError(f"line {n}: expected youtube_id,start_seconds,label,split", path=str(path))
            yt, start, label, split = (x.strip() for x in row[:4])
            try:
                cid = clip_id(yt, float(start))
            except ValueError:
                if n == 1:  # a header line
                    continue
                raise DataError(f"line {n}: start_seconds {start!r} is not a number", path=str(path)) from None
            if split.lower() not in ("train", "test", "val", "valid", "validation"):
                raise DataError(f"line {n}: unknown split {split!r}", path=str(path))
            rows.append((cid, label, "train" if split.lower() == "train" else "test" if split.lower() == "test" else "val"))
    return rows


def sparse_classes(root: Path) -> set[str]:
    """The VGGSound-Sparse classes from ``picked_sparse_classes.{tsv,csv}`` (header ``class,is_sparse``)."""
    files = sorted(p for d in (root, root / "data") if d.is_dir() for p in d.glob("picked_sparse_classes*") if p.suffix in (".tsv", ".csv", ".txt"))
    if not files:
        raise DataError("--sparse needs picked_sparse_classes.tsv (or .csv) in the root", path=str(root))
    text = files[0].read_text(encoding="utf-8")
    delim = "\t" if "\t" in text.splitlines()[0] else ","
    out = set()
    for row in csv.DictReader(text.splitlines(), delimiter=delim):
        if (row.get("is_sparse") or "").strip().lower() in ("y", "yes", "1", "true"):
            out.add((row.get("class") or "").strip())
    if not out:
        raise DataError("no class marked is_sparse = y", path=str(files[0]))
    return out


def parse_tasks(value: str | None) -> tuple[str, ...]:
    tasks = tuple(t.strip() for t in (value or "sound").split(",") if t.strip())
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise DataError(f"--task takes sound, sync or sound,sync (got {value!r})")
    return tasks


@ADAPTERS.register("vggsound", default_config={"root": None, "task": None, "sparse": None, "offsets": None, "split_list": None,
                                              "seed": None},
                   description="VGGSound (+ VGGSound-Sparse, SparseSync offsets): sound, sync")
def vggsound_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "vggsound")
    tasks = parse_tasks(ctx.options.get("task"))
    csvs = sorted(p for d in (root, root / "data") if d.is_dir() for p in d.glob("*vggsound*.csv"))
    if not csvs:
        raise DataError("no vggsound.csv here", path=str(root))
    rows: dict[str, tuple[str, str]] = {}
    for p in csvs:
        for cid, label, split in read_rows(p):
            rows.setdefault(cid, (label, split))
    made = len(rows)
    if ctx.options.get("sparse"):
        keep = sparse_classes(root)
        rows = {c: v for c, v in rows.items() if v[0] in keep}
    test_list = set(read_id_list(ctx.options["split_list"])) if ctx.options.get("split_list") else None
    media = index_files([root / "video", root / "videos", root], (".mp4", ".mkv", ".webm"))

    def split_of(cid: str, split: str) -> str:
        if test_list is not None:
            return "test" if cid in test_list else ("val" if split == "test" else split)
        return "val" if split == "train" and held_out(cid) else split

    entries = []
    for cid, (label, csv_split) in rows.items():
        split = split_of(cid, csv_split)

        def make(rel, chk, cid=cid, label=label):
            return [with_duration({"id": f"vggsound-{cid}-{t}", "task": t, "video": rel, "label": label}, chk)
                    for t in tasks]

        entries.append((cid, split, media.get(cid), root / "video" / f"{cid}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(
        examples=examples,
        items=items,
        decode_by_task={"sound": {"audio_sr": SOUND_SR}},
        info={"root": str(root.resolve()), "csv": [p.name for p in csvs], "tasks": list(tasks),
              "sparse": bool(ctx.options.get("sparse")), "classes": sorted({v[0] for v in rows.values()}),
              "split_list": ctx.options.get("split_list"), "offsets": ctx.options.get("offsets")},
        stats={"csv_rows": made, "kept_rows": len(rows)},
        list_keys={f"vggsound-{cid}-sync": cid for cid in rows} if "sync" in tasks else {},
    )
