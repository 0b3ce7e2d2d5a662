"""``vxt prepare youcook2 --root DIR``: YouCook2 (captioning of recipe steps; dense captioning).

``--root`` holds ``youcookii_annotations_trainval.json`` (any
``*annotations*.json``: ``{"database": {vid: {"duration", "subset",
"annotations": [{"segment": [s, e], "sentence"}]}}}``) and the videos
``<vid>.mp4`` (any media extension, anywhere under the root up to 4 levels:
the release's ``raw_videos/<subset>/<recipe>/<vid>.mp4``). ``subset``
``training`` -> train, ``validation`` -> val, ``testing`` -> test (no
sentences there).

Per video one ``caption`` example per segment, ``yc2-<vid>-seg<k>``
(``start``, ``end``, ``targets`` the sentence), and one ``dense`` example
``yc2-<vid>-dense`` with all segments as events.
"""

from __future__ import annotations

from vxt.data.adapters.base import MEDIA_EXTS, AdapterResult, PrepareContext, index_files, need, require_root
from vxt.data.adapters.clips import gather
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

SUBSETS = {"training": "train", "train": "train", "validation": "val", "val": "val", "testing": "test", "test": "test"}


@ADAPTERS.register("youcook2", default_config={"root": None}, description="YouCook2 (annotations trainval json): caption, dense")
def youcook2_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "youcook2")
    files = sorted(p for d in (root, root / "annotations") if d.is_dir() for p in d.glob("*annotations*.json"))
    if not files:
        raise DataError("no youcookii_annotations_trainval.json here", path=str(root))
    media = index_files([root / "raw_videos", root / "videos", root], MEDIA_EXTS)
    entries, seen = [], set()
    for path in files:
        db = need(read_json(path), "database", dict, path=path, where="top level")
        for vid, ann in db.items():
            if vid in seen:
                continue
            seen.add(vid)
            where = f"video {vid}"
            subset = need(ann, "subset", str, path=path, where=where)
            if subset.lower() not in SUBSETS:
                raise DataError(f"{where}: unknown subset {subset!r}", path=str(path))
            duration = float(need(ann, "duration", (int, float), path=path, where=where))
            events = []
            for k, seg in enumerate(ann.get("annotations") or []):
                ts = need(seg, "segment", list, path=path, where=f"{where} annotation {k}")
                if len(ts) != 2 or not all(isinstance(x, (int, float)) for x in ts):
                    raise DataError(f"{where} annotation {k}: segment must be [start, end]", path=str(path))
                s, e = sorted(min(max(float(x), 0.0), duration) for x in ts)
                ev = {"start": round(s, 3), "end": round(e, 3)}
                if isinstance(seg.get("sentence"), str):
                    ev["sentence"] = seg["sentence"].strip()
                events.append(ev)

            def make(rel, chk, vid=vid, duration=duration, events=events):
                common = {"video": rel, "duration": duration}
                exs = [{"id": f"yc2-{vid}-dense", "task": "dense", **common, "events": events}]
                for k, ev in enumerate(events):
                    ex = {"id": f"yc2-{vid}-seg{k}", "task": "caption", **common, "start": ev["start"], "end": ev["end"]}
                    if ev.get("sentence"):
                        ex["targets"] = [ev["sentence"]]
                    exs.append(ex)
                return exs

            entries.append((vid, SUBSETS[subset.lower()], media.get(vid), root / "raw_videos" / f"{vid}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(examples=examples, items=items, info={"root": str(root.resolve()), "annotation_files": [p.name for p in files]})
