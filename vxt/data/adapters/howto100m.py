"""``vxt prepare howto100m --root DIR``: HowTo100M (captioning pre-training from ASR, Shen et al.'s MBP).

``--root`` holds ``caption.json`` (``{video_id: {"start": [s...], "end":
[s...], "text": [str...]}}``, the ASR sentences; any ``*caption*.json`` is
read) and the videos ``<video_id>.mp4`` (any media extension, ``videos/`` or
anywhere under the root).

Clips: the sentences of a video are cut, in order, into clips; a clip starts
at a sentence and grows FORWARD (adding the following sentences) until it is
longer than 5 s (``MIN_SECONDS``); the next clip starts at the sentence after
it. A last clip that reaches the video's final sentence still 5 s or
shorter grows BACKWARD (adding the sentences before it, so it overlaps the
previous clip) until it is longer than 5 s or holds every sentence. Each clip
gives one ``caption`` example ``howto100m-<vid>-c<k>``: ``start``/``end``
the clip's span, ``targets`` its sentence(s) joined into one reference,
``next_targets`` the sentence right after the clip (empty at the video's
end: the field marks a pre-training example, as in ``synth --mode
narrated``, so the last clip still trains Predict Current Caption),
``subtitles`` the ASR cues inside the clip.

Splits: all train, except about 1 in 20 videos (CRC-32 of the id) -> val;
``--split-list FILE`` (video ids one a line) -> test.
"""

from __future__ import annotations

from pathlib import Path

from vxt.data.adapters.base import MEDIA_EXTS, AdapterResult, PrepareContext, index_files, require_root
from vxt.data.adapters.clips import gather, held_out, read_id_list
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

MIN_SECONDS = 5.0


def sentences(vid: str, ann: dict, path: Path) -> list[dict]:
    if not isinstance(ann, dict) or not all(isinstance(ann.get(k), list) for k in ("start", "end", "text")):
        raise DataError(f"video {vid}: expected {{'start': [...], 'end': [...], 'text': [...]}}", path=str(path))
    if not len(ann["start"]) == len(ann["end"]) == len(ann["text"]):
        raise DataError(f"video {vid}: start, end and text differ in length", path=str(path))
    out = []
    for s, e, t in zip(ann["start"], ann["end"], ann["text"]):
        if not isinstance(t, str) or not isinstance(s, (int, float)) or not isinstance(e, (int, float)):
            raise DataError(f"video {vid}: a sentence needs numeric start/end and a text", path=str(path))
        if t.strip():
            out.append({"start": round(float(min(s, e)), 3), "end": round(float(max(s, e)), 3), "text": " ".join(t.split())})
    return out


def grow_clips(sents: list[dict], min_seconds: float = MIN_SECONDS) -> list[tuple[int, int]]:
    """(first, last) sentence index per clip: forward growth, the tail grown backward (see the module doc)."""
    clips = []
    i, n = 0, len(sents)
    while i < n:
        j = i
        while j + 1 < n and sents[j]["end"] - sents[i]["start"] <= min_seconds:
            j += 1
        if sents[j]["end"] - sents[i]["start"] <= min_seconds:  # reached the end still short: grow backward
            while i > 0 and sents[j]["end"] - sents[i]["start"] <= min_seconds:
                i -= 1
        clips.append((i, j))
        i = j + 1
    return clips


@ADAPTERS.register("howto100m", default_config={"root": None, "split_list": None},
                   description="HowTo100M (caption.json ASR): caption pre-training clips")
def howto100m_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "howto100m")
    files = sorted(p for d in (root, root / "annotations") if d.is_dir() for p in d.glob("*caption*.json"))
    if not files:
        raise DataError("no caption.json here", path=str(root))
    anns: dict[str, tuple[Path, dict]] = {}
    for p in files:
        data = read_json(p)
        if not isinstance(data, dict):
            raise DataError("expected a JSON object {video_id: {start, end, text}}", path=str(p))
        for vid, ann in data.items():
            anns.setdefault(vid, (p, ann))
    test = set(read_id_list(ctx.options["split_list"])) if ctx.options.get("split_list") else set()
    media = index_files([root / "videos", root], MEDIA_EXTS)
    entries = []
    n_clips = 0
    for vid, (path, ann) in anns.items():
        sents = sentences(vid, ann, path)
        clips = grow_clips(sents)
        n_clips += len(clips)
        split = "test" if vid in test else "val" if held_out(vid) else "train"

        def make(rel, chk, vid=vid, sents=sents, clips=clips):
            exs = []
            for k, (a, b) in enumerate(clips):
                start, end = sents[a]["start"], max(x["end"] for x in sents[a : b + 1])
                ex = {"id": f"howto100m-{vid}-c{k}", "task": "caption", "video": rel, "start": start, "end": end}
                if chk.get("duration") is not None:
                    ex["duration"] = chk["duration"]
                ex["subtitles"] = [dict(c) for c in sents if c["end"] > start and c["start"] < end]
                ex["targets"] = [" ".join(x["text"] for x in sents[a : b + 1])]
                ex["next_targets"] = [sents[b + 1]["text"]] if b + 1 < len(sents) else []
                exs.append(ex)
            return exs

        entries.append((vid, split, media.get(vid), root / "videos" / f"{vid}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(
        examples=examples,
        items=items,
        info={"root": str(root.resolve()), "caption_files": [p.name for p in files], "min_clip_seconds": MIN_SECONDS,
              "clip_rule": "forward growth; the last clip grows backward"},
        stats={"clips": n_clips},
    )
