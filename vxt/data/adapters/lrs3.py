"""``vxt prepare lrs3 --root DIR``: LRS3 (audio-visual sync pre-training, SparseSync).

``--root`` holds LRS3's folders ``pretrain/``, ``trainval/``, ``test/``:
``<folder>/<video>/<clip>.mp4`` with the clip's metadata ``<clip>.txt``
beside it (``Text:`` the transcript, ``Ref:``, and per-frame face boxes or
word timings). One ``sync`` example per clip, ``lrs3-<folder>-<video>-<clip>``;
the transcript, when the metadata has one, becomes one subtitle cue over
the clip (``subtitles``).

Splits: the clips named in a test list (``--split-list FILE``, else any
``*test*.txt`` in the root, as SparseSync's ``lrs3_test.txt``:
``pretrain/<video>/<clip>`` lines) -> test; without a list, LRS3's
``test/`` folder -> test. The rest -> train, except about 1 in 20 source
videos (CRC-32 of the video id, so a speaker's clips stay together) -> val.

Fixed evaluation offsets: ``--offsets FILE`` (SparseSync's
``fixed_offsets_lrs3`` csv, ``path`` = ``pretrain/<video>/<clip>``), else
drawn with ``--seed`` (:mod:`vxt.data.syncprep`, which also re-encodes the
media to H.264 25 fps with AAC 16 kHz mono).
"""

from __future__ import annotations

import os
from pathlib import Path

from vxt.data.adapters.base import AdapterResult, PrepareContext, require_root
from vxt.data.adapters.clips import gather, held_out, read_id_list, with_duration
from vxt.errors import DataError
from vxt.registry import ADAPTERS

FOLDERS = ("pretrain", "trainval", "test")


def read_meta(path: Path) -> dict:
    """``Text``, ``Ref`` and the last word's end time (when the file has word timings) of an LRS3 metadata file."""
    out: dict = {}
    words = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        s = line.strip()
        if s.startswith("Text:"):
            out["text"] = s[5:].strip()
        elif s.startswith("Ref:"):
            out["ref"] = s[4:].strip()
        elif s.startswith("WORD START END"):
            words = True
        elif words and s:
            parts = s.split()
            try:
                out["words_end"] = float(parts[2])
            except (IndexError, ValueError):
                words = False
    return out


def _clips(root: Path) -> dict[str, tuple[Path | None, Path | None]]:
    """key ``<folder>/<video>/<clip>`` -> (mp4, txt)."""
    found: dict[str, list] = {}
    for folder in FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                stem, ext = os.path.splitext(fn)
                if ext.lower() not in (".mp4", ".txt"):
                    continue
                key = (Path(dirpath) / stem).relative_to(root).as_posix()
                slot = found.setdefault(key, [None, None])
                slot[0 if ext.lower() == ".mp4" else 1] = Path(dirpath) / fn
    return {k: (v[0], v[1]) for k, v in found.items()}


@ADAPTERS.register("lrs3", default_config={"root": None, "split_list": None, "offsets": None, "seed": None}, description="LRS3 (pretrain/trainval/test clips): sync")
def lrs3_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "lrs3")
    clips = _clips(root)
    if ctx.options.get("split_list"):
        list_files = [Path(ctx.options["split_list"])]
    else:
        list_files = sorted(p for p in root.glob("*test*.txt"))
    test_keys = [k for p in list_files for k in read_id_list(p)]
    for k in test_keys:  # listed clips that are not here are reported as skipped
        clips.setdefault(k, (None, None))
    if not clips:
        raise DataError("no LRS3 clips here (expected pretrain/, trainval/ or test/ with <video>/<clip>.mp4)", path=str(root))
    test_set = set(test_keys)
    entries = []
    for key in sorted(clips):
        mp4, txt = clips[key]
        parts = key.split("/")
        if test_set:
            split = "test" if key in test_set else None
        else:
            split = "test" if parts[0] == "test" else None
        if split is None:
            split = "val" if held_out(parts[-2] if len(parts) >= 2 else key) else "train"
        meta = read_meta(txt) if txt is not None else {}

        def make(rel, chk, key=key, meta=meta):
            ex = with_duration({"id": "lrs3-" + key.replace("/", "-"), "task": "sync", "video": rel}, chk)
            if meta.get("text"):
                end = chk.get("duration") or meta.get("words_end") or 0.0
                ex["subtitles"] = [{"start": 0.0, "end": round(float(end), 3), "text": meta["text"]}]
            return [ex]

        entries.append((key, split, mp4, root / f"{key}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(
        examples=examples,
        items=items,
        info={"root": str(root.resolve()), "test_lists": [str(p) for p in list_files]},
        list_keys={"lrs3-" + k.replace("/", "-"): k for k in clips},
    )
