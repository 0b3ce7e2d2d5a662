"""``vxt prepare anet --root DIR``: ActivityNet Captions (dense captioning).

``--root`` holds the annotation JSONs ``train.json``, ``val_1.json`` and
``val_2.json`` (``{video_id: {"duration", "timestamps": [[s, e], ...],
"sentences": [...]}}``, video ids with their ``v_`` prefix) and the videos, as
``<id>.mp4`` (``v_<youtube id>.mp4``) or ``<youtube id>.mp4`` (any media
extension), in ``videos/`` or anywhere under the root.

Splits: ``train.json`` -> train, ``val_1.json`` -> val, ``val_2.json`` ->
test. (ActivityNet's test annotations are withheld, and the two validation
sets annotate the same videos with different captions; published numbers
usually score on val_1 or on both. Keeping val_2 as the test split means a
model is selected on val_1 and reported on captions it never saw.)

Each video gives one ``dense`` example (``<id>-dense``: all events with their
sentences) and one ``caption`` example per event (``<id>-seg<k>``: ``start``
and ``end`` set, the sentence as target). Timestamps are clamped to
[0, duration] and put in order.

Paragraphs (``vxt score --paragraph``): in val and test, each example also has
``"paragraph": {"video_id": <id>, "references": [val_1's, val_2's]}``, the
video's paragraph from each validation file that annotates it (its sentences
in order of start time, joined by spaces), so the segment captions of a video
can be concatenated in start order and scored against both references.
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
    subs_in,
    with_missing,
)
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

SPLIT_FILES = {"train": "train.json", "val": "val_1.json", "test": "val_2.json"}


def _events(vid: str, ann: dict, path: Path) -> tuple[float, list[dict]]:
    where = f"video {vid}"
    duration = float(need(ann, "duration", (int, float), path=path, where=where))
    stamps = need(ann, "timestamps", list, path=path, where=where)
    sents = need(ann, "sentences", list, path=path, where=where)
    if len(stamps) != len(sents):
        raise DataError(f"{where}: {len(stamps)} timestamps but {len(sents)} sentences", path=str(path))
    events = []
    for (ts, sent) in zip(stamps, sents):
        if not (isinstance(ts, list) and len(ts) == 2 and all(isinstance(x, (int, float)) for x in ts)) or not isinstance(sent, str):
            raise DataError(f"{where}: a timestamp must be [start, end] with a sentence string", path=str(path))
        s, e = sorted(min(max(float(x), 0.0), duration) for x in ts)
        events.append({"start": round(s, 3), "end": round(e, 3), "sentence": sent.strip()})
    return duration, events


def paragraph_text(events: list[dict]) -> str:
    """A video's paragraph: its event sentences in order of start time (ties: as annotated), joined by spaces."""
    return " ".join(e["sentence"] for e in sorted(events, key=lambda e: e["start"]) if e["sentence"])


def annotation_paragraph(vid: str, ann: dict, path: str | Path) -> str:
    """The paragraph of one video of an ActivityNet Captions file, exactly as the adapter builds the manifest's
    (timestamps clamped and put in order, then :func:`paragraph_text`); ``vxt score --paragraph --refs`` uses it."""
    return paragraph_text(_events(vid, ann, Path(path))[1])


@ADAPTERS.register("anet", default_config={"root": None}, description="ActivityNet Captions (train / val_1 / val_2)")
def anet_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "anet")
    anns: dict[str, tuple[Path, dict]] = {}
    for split, name in SPLIT_FILES.items():
        p = root / name
        if p.exists():
            data = read_json(p)
            if not isinstance(data, dict):
                raise DataError("expected a JSON object {video_id: annotation}", path=str(p))
            anns[split] = (p, data)
    if not anns:
        raise DataError(f"no ActivityNet Captions annotations here (expected {', '.join(SPLIT_FILES.values())})", path=str(root))
    media = index_files([root / "videos", root], MEDIA_EXTS)
    located: dict[str, Path | None] = {}
    for _, data in anns.values():
        for vid in data:
            if vid not in located:
                located[vid] = media.get(vid) or media.get(vid[2:] if vid.startswith("v_") else f"v_{vid}")
    checks = check_media(ctx, [("file", str(p), None) for p in located.values() if p is not None])
    # the reference paragraphs of val_1 and val_2 (in that order), for the val and test examples
    paragraphs: dict[str, list[str]] = {}
    for split in ("val", "test"):
        if split in anns:
            path, data = anns[split]
            for vid, ann in data.items():
                text = paragraph_text(_events(vid, ann, path)[1])
                if text:
                    paragraphs.setdefault(vid, []).append(text)
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items = []
    for split, (path, data) in anns.items():
        for vid, ann in data.items():
            duration, events = _events(vid, ann, path)
            media_file = located[vid]
            if media_file is None:
                items.append({"id": vid, "file": str(root / "videos" / f"{vid}.mp4"), "status": "skipped",
                              "reason": "media file not found", "split": split, "examples": []})
                continue
            chk = checks[str(media_file)]
            if chk["status"] == "skipped":
                items.append({**item_record(vid, str(media_file), chk, []), "split": split})
                continue
            rel = ctx.rel(media_file)
            subs, _ = sidecar_subtitles(media_file)
            common = {"video": rel, "duration": duration}
            if split != "train" and paragraphs.get(vid):
                common["paragraph"] = {"video_id": vid, "references": paragraphs[vid]}
            dense = {"id": f"{vid}-dense", "task": "dense", **common, "events": events}
            if subs:
                dense["subtitles"] = subs
            exs = [with_missing(dense, chk["missing"])]
            for k, ev in enumerate(events):
                seg = {"id": f"{vid}-seg{k}", "task": "caption", **common, "start": ev["start"], "end": ev["end"]}
                if subs_in(subs, ev["start"], ev["end"]):
                    seg["subtitles"] = subs_in(subs, ev["start"], ev["end"])
                seg["targets"] = [ev["sentence"]]
                exs.append(with_missing(seg, chk["missing"]))
            examples[split] += exs
            items.append({**item_record(vid, str(media_file), chk, [e["id"] for e in exs]), "split": split})
    return AdapterResult(
        examples=examples,
        items=items,
        info={"root": str(root.resolve()), "split_files": {s: SPLIT_FILES[s] for s in anns}},
    )
