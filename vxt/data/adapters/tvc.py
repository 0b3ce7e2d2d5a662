"""``vxt prepare tvc --root DIR``: TVC (TV show moment captioning).

Same layout as TVQA (:mod:`vxt.data.adapters.tvqa`): caption JSONL files whose
names give the split (``tvc_train_release.jsonl``, ``tvc_val_release.jsonl``,
``tvc_test_public_release.jsonl``), a subtitle JSONL, and 3 fps frame
folders named by ``vid_name``. Each line (one moment, ``clip_id``) gives one
``caption`` example ``tvc-<clip_id>`` over ``ts`` = ``[start, end]``, with
every ``descs[].desc`` as a reference (none in the public test split) and the
subtitles overlapping the moment. ``duration`` comes from the line when given,
else from the number of frames.
"""

from __future__ import annotations

from vxt.data.adapters.base import AdapterResult, PrepareContext, check_media, item_record, need, require_root, subs_in
from vxt.data.adapters.tvqa import annotation_files, clamp_span, frame_folders, load_subtitles, parse_span
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import iter_jsonl


@ADAPTERS.register(
    "tvc",
    default_config={"root": None, "subtitles": None, "frames_dir": None, "frame_fps": 3.0},
    description="TVC (frames at 3 fps, subtitles JSONL)",
)
def tvc_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "tvc")
    fps = float(ctx.options["frame_fps"])
    subs, sub_path = load_subtitles(ctx, root)
    files = {s: [p for p in ps if "prediction" not in p.name.lower()] for s, ps in annotation_files(root, sub_path).items()}
    files = {s: ps for s, ps in files.items() if ps}
    if not files:
        raise DataError("no TVC JSONL files here (names with train/val/test, e.g. tvc_val_release.jsonl)", path=str(root))
    rows = []
    for split, paths in files.items():
        for path in paths:
            for lineno, row in enumerate(iter_jsonl(path), 1):
                where = f"line {lineno}"
                need(row, "vid_name", str, path=path, where=where)
                need(row, "clip_id", (int, str), path=path, where=where)
                need(row, "ts", list, path=path, where=where)
                descs = row.get("descs", [])
                if not isinstance(descs, list) or not all(isinstance(d, dict) and isinstance(d.get("desc"), str) for d in descs):
                    raise DataError(f"{where}: descs must be a list of {{\"desc\": str}}", path=str(path))
                rows.append((split, row))
    folders = frame_folders(ctx, root, {r["vid_name"] for _, r in rows})
    checks = check_media(ctx, [("folder", str(p), fps) for p in folders.values()], label="checking frame folders")
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items: dict[str, dict] = {}
    for split, row in rows:
        vid = row["vid_name"]
        folder = folders.get(vid)
        chk = checks[str(folder)] if folder is not None else {"status": "skipped", "reason": "frame folder not found", "missing": []}
        rec = items.setdefault(vid, {**item_record(vid, str(folder or root / vid), chk, []), "split": split})
        if chk["status"] == "skipped":
            continue
        duration = row.get("duration") if isinstance(row.get("duration"), (int, float)) else chk.get("duration")
        start, end = clamp_span(*parse_span(row["ts"]), duration)
        ex_id = f"tvc-{row['clip_id']}"
        ex = {"id": ex_id, "task": "caption", "video": ctx.rel(folder), "fps": fps}
        if start is not None:
            ex["start"], ex["end"] = start, end
        if duration is not None:
            ex["duration"] = round(float(duration), 3)
        cues = subs_in(subs.get(vid), start, end)
        if cues:
            ex["subtitles"] = cues
        refs = [d["desc"].strip() for d in row.get("descs", [])]
        if refs:
            ex["targets"] = refs
        ex["missing"] = ["audio"]
        examples[split].append(ex)
        rec["examples"].append(ex_id)
    return AdapterResult(
        examples=examples,
        items=list(items.values()),
        info={"root": str(root.resolve()), "subtitles": str(sub_path) if sub_path else None, "frame_fps": fps,
              "annotation_files": {s: [p.name for p in ps] for s, ps in files.items()}},
    )
