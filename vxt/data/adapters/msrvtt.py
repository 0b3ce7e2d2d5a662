"""``vxt prepare msrvtt --root DIR``: MSR-VTT (video captioning).

``--root`` holds ``videodatainfo.json`` (or the release's
``train_val_videodatainfo.json`` + ``test_videodatainfo.json``: every
``*videodatainfo*.json`` is read) with ``videos: [{video_id, category,
"start time", "end time", split}]`` and ``sentences: [{video_id, caption}]``,
and the clips ``<video_id>.mp4`` (``videos/``, ``TrainValVideo/``,
``TestVideo/`` or anywhere under the root). The ``split`` field maps
``train`` -> train, ``validate``/``val`` -> val, ``test`` -> test. One
``caption`` example per video, every sentence a reference. (The start/end
times refer to the source YouTube video, not to the clip, so they are not
used.)

``--domains tavt`` gives each example a ``domain``: TAVT's regrouping of the
20 categories (``videos[].category``, an index into :data:`CATEGORIES`) into
10 domains (:data:`TAVT_DOMAINS`); ``--domains categories`` keeps the 20
category names as domains.
"""

from __future__ import annotations

from pathlib import Path

from vxt.data.adapters.base import (
    MEDIA_EXTS,
    AdapterResult,
    PrepareContext,
    check_media,
    index_files,
    item_record,
    need,
    require_root,
    sidecar_subtitles,
    with_missing,
)
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

CATEGORIES = ("music", "people", "gaming", "sports/actions", "news/events/politics", "education", "tv shows",
              "movie/comedy", "animation", "vehicles/autos", "how-to", "travel", "science/technology", "animals/pets",
              "kids/family", "documentary", "food/drink", "cooking", "beauty/fashion", "advertisement")
TAVT_GROUPS = {"news": ("how-to", "education", "science/technology", "news/events/politics"),
               "movie": ("tv shows", "movie/comedy", "documentary", "advertisement"),
               "sports": ("people", "sports/actions", "travel"), "cooking": ("food/drink", "cooking"),
               "traffic": ("vehicles/autos",), "animation": ("gaming", "animation"), "music": ("music",),
               "animal": ("animals/pets",), "kids": ("kids/family",), "beauty": ("beauty/fashion",)}
#: category index -> TAVT domain
TAVT_DOMAINS = {CATEGORIES.index(c): d for d, cs in TAVT_GROUPS.items() for c in cs}
SPLITS = {"train": "train", "validate": "val", "val": "val", "validation": "val", "test": "test"}


@ADAPTERS.register("msrvtt", default_config={"root": None, "domains": None}, description="MSR-VTT (videodatainfo.json)")
def msrvtt_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "msrvtt")
    domains = ctx.options.get("domains")
    if domains not in (None, "tavt", "categories"):
        raise DataError(f"msrvtt --domains takes tavt or categories (got {domains!r})")
    category: dict[str, int] = {}
    ann_files = sorted(p for d in (root, root / "annotations") if d.is_dir() for p in d.glob("*videodatainfo*.json"))
    if not ann_files:
        raise DataError("no videodatainfo.json here", path=str(root))
    videos: dict[str, tuple[str, Path]] = {}
    captions: dict[str, list[str]] = {}
    for path in ann_files:
        data = read_json(path)
        for i, v in enumerate(need(data, "videos", list, path=path, where="top level")):
            vid = need(v, "video_id", str, path=path, where=f"videos[{i}]")
            split = need(v, "split", str, path=path, where=f"videos[{i}] ({vid})")
            if split.lower() not in SPLITS:
                raise DataError(f"videos[{i}] ({vid}): unknown split {split!r}", path=str(path))
            videos.setdefault(vid, (SPLITS[split.lower()], path))
            if domains:
                cat = need(v, "category", int, path=path, where=f"videos[{i}] ({vid})")
                if not 0 <= cat < len(CATEGORIES):
                    raise DataError(f"videos[{i}] ({vid}): category {cat} is not in 0-19", path=str(path))
                category.setdefault(vid, cat)
        for i, s in enumerate(need(data, "sentences", list, path=path, where="top level")):
            vid = need(s, "video_id", str, path=path, where=f"sentences[{i}]")
            cap = need(s, "caption", str, path=path, where=f"sentences[{i}] ({vid})")
            captions.setdefault(vid, []).append(cap.strip())
    media = index_files([root / "videos", root / "TrainValVideo", root / "TestVideo", root], MEDIA_EXTS)
    checks = check_media(ctx, [("file", str(media[v]), None) for v in videos if v in media])
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items = []
    for vid, (split, _) in videos.items():
        f = media.get(vid)
        chk = checks[str(f)] if f is not None else {"status": "skipped", "reason": "media file not found", "missing": []}
        if chk["status"] == "skipped":
            items.append({**item_record(vid, str(f or root / "videos" / f"{vid}.mp4"), chk, []), "split": split})
            continue
        ex = {"id": f"msrvtt-{vid}", "task": "caption", "video": ctx.rel(f)}
        if chk.get("duration") is not None:
            ex["duration"] = chk["duration"]
        subs, _ = sidecar_subtitles(f)
        if subs:
            ex["subtitles"] = subs
        if captions.get(vid):
            ex["targets"] = captions[vid]
        if domains:
            ex["domain"] = TAVT_DOMAINS[category[vid]] if domains == "tavt" else CATEGORIES[category[vid]]
        examples[split].append(with_missing(ex, chk["missing"]))
        items.append({**item_record(vid, str(f), chk, [ex["id"]]), "split": split})
    return AdapterResult(
        examples=examples,
        items=items,
        info={"root": str(root.resolve()), "annotation_files": [p.name for p in ann_files]},
    )
