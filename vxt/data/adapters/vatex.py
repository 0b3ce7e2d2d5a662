"""``vxt prepare vatex --root DIR``: VATEX (English video captioning).

``--root`` holds the VATEX JSON lists (``vatex_training_v1.0.json``,
``vatex_validation_v1.0.json``, ``vatex_public_test_english_v1.1.json``: any
``*vatex*.json``, the split from the file name) of ``{"videoID":
"<ytid>_<start>_<end>", "enCap": [10 English captions], "chCap": [...]}``,
and the videos: the trimmed clip ``<videoID>.mp4`` or the whole YouTube video
``<ytid>.mp4`` (then ``start``/``end`` are taken from the id), anywhere
under the root. One ``caption`` example per video, ``vatex-<videoID>``, the
English captions as ``targets`` (absent when a test file has none).
"""

from __future__ import annotations

import re

from vxt.data.adapters.base import MEDIA_EXTS, AdapterResult, PrepareContext, index_files, need, require_root, split_of
from vxt.data.adapters.clips import gather, with_duration
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

VIDEO_ID = re.compile(r"^(?P<yt>.+)_(?P<s>\d+)_(?P<e>\d+)$")


@ADAPTERS.register("vatex", default_config={"root": None}, description="VATEX (vatex_*.json, enCap): caption")
def vatex_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "vatex")
    files = sorted(p for d in (root, root / "annotations") if d.is_dir() for p in d.glob("*vatex*.json"))
    files = [p for p in files if split_of(p.name)]
    if not files:
        raise DataError("no vatex_{training,validation,public_test}*.json here", path=str(root))
    media = index_files([root / "videos", root], MEDIA_EXTS)
    entries, seen = [], set()
    for path in files:
        split = split_of(path.name)
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError("expected a JSON list of {videoID, enCap}", path=str(path))
        for i, v in enumerate(data):
            vid = need(v, "videoID", str, path=path, where=f"entry {i}")
            if vid in seen:
                continue
            seen.add(vid)
            caps = v.get("enCap")
            if caps is not None and not (isinstance(caps, list) and all(isinstance(c, str) for c in caps)):
                raise DataError(f"entry {i} ({vid}): enCap must be a list of strings", path=str(path))
            m = VIDEO_ID.match(vid)
            f, whole = media.get(vid), False
            if f is None and m and media.get(m["yt"]) is not None:
                f, whole = media[m["yt"]], True

            def make(rel, chk, vid=vid, caps=caps, m=m, whole=whole):
                ex = with_duration({"id": f"vatex-{vid}", "task": "caption", "video": rel}, chk)
                if whole and m:
                    ex["start"], ex["end"] = float(int(m["s"])), float(int(m["e"]))
                if caps:
                    ex["targets"] = [" ".join(c.split()) for c in caps]
                return [ex]

            entries.append((vid, split, f, root / "videos" / f"{vid}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(examples=examples, items=items, info={"root": str(root.resolve()), "files": [p.name for p in files]})
