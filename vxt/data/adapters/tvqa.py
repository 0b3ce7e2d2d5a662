"""``vxt prepare tvqa --root DIR``: TVQA (multiple-choice video QA on TV shows).

``--root`` holds the QA JSONL files (``tvqa_train.jsonl``, ``tvqa_val.jsonl``,
``tvqa_test_public.jsonl``: the split is read from the file name), a subtitle
JSONL (``{"vid_name", "sub": [{"start", "end", "text"}]}``; a ``*sub*.jsonl``
file in the root, or ``--subtitles FILE``), and the frames: JPEG folders at
3 fps named by ``vid_name`` (``<vid_name>/00001.jpg``), found up to three
levels under the root (``frames/``, ``frames_hq/bbt_frames/``, ...).

One ``qa`` example per question (``tvqa-<qid>``): the five answers are the
candidates, ``answer`` and ``targets`` are set where ``answer_idx`` is given
(not in the public test split), ``start``/``end`` come from ``ts``
(``"start-end"``; unparsable or NaN: the whole clip), the subtitles are the
cues that overlap that span, and ``question_type`` is the question word.
Frames carry no audio, so every example lists ``missing: ["audio"]`` (an
expected absence: items stay ``ok``).
"""

from __future__ import annotations

import math
from pathlib import Path

from vxt.data.adapters.base import (
    AdapterResult,
    PrepareContext,
    check_media,
    index_dirs,
    item_record,
    need,
    require_root,
    split_of,
    subs_in,
)
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import iter_jsonl

QUESTION_WORDS = ("what", "who", "why", "where", "when", "how", "which", "whose")


def annotation_files(root: Path, subtitle_file: Path | None) -> dict[str, list[Path]]:
    """QA/caption JSONL files in the root (and ``annotations/``) by split, the subtitle file excluded."""
    out: dict[str, list[Path]] = {}
    for d in (root, root / "annotations"):
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.jsonl")):
            is_subtitles = "sub" in p.name.lower() and "submission" not in p.name.lower()
            if is_subtitles or (subtitle_file is not None and p.resolve() == subtitle_file.resolve()):
                continue
            split = split_of(p.name)
            if split is not None:
                out.setdefault(split, []).append(p)
    return out


def load_subtitles(ctx: PrepareContext, root: Path) -> tuple[dict[str, list[dict]], Path | None]:
    """``vid_name -> cues`` from the subtitle JSONL (``--subtitles`` or a ``*sub*.jsonl`` in the root)."""
    opt = ctx.options.get("subtitles")
    if opt:
        path = Path(opt)
        if not path.exists():
            raise DataError("no such subtitle file", path=str(path))
    else:
        cands = [p for d in (root, root / "annotations") if d.is_dir() for p in sorted(d.glob("*sub*.jsonl"))]
        cands = [p for p in cands if "submission" not in p.name.lower()]
        path = cands[0] if cands else None
    subs: dict[str, list[dict]] = {}
    if path is None:
        return subs, None
    for lineno, row in enumerate(iter_jsonl(path), 1):
        where = f"line {lineno}"
        vid = need(row, "vid_name", str, path=path, where=where)
        cues = []
        for c in need(row, "sub", list, path=path, where=where):
            if not isinstance(c, dict) or not {"start", "end", "text"} <= set(c):
                raise DataError(f"{where}: subtitle cues need start, end and text", path=str(path))
            cues.append({"start": round(float(c["start"]), 3), "end": round(float(c["end"]), 3), "text": str(c["text"]).strip()})
        subs[vid] = cues
    return subs, path


def parse_span(ts) -> tuple[float | None, float | None]:
    """``"12.3-45.6"`` or ``[12.3, 45.6]`` -> (start, end); (None, None) when absent or not numbers."""
    try:
        if isinstance(ts, str):
            a, b = ts.split("-", 1)
            s, e = float(a), float(b)
        elif isinstance(ts, (list, tuple)) and len(ts) == 2:
            s, e = float(ts[0]), float(ts[1])
        else:
            return None, None
    except (ValueError, TypeError):
        return None, None
    if math.isnan(s) or math.isnan(e):
        return None, None
    s, e = sorted((max(s, 0.0), max(e, 0.0)))
    return round(s, 3), round(e, 3)


def frame_folders(ctx: PrepareContext, root: Path, vids: set[str]) -> dict[str, Path]:
    """Locate the frame folders of ``vids`` (``--frames-dir DIR`` or under the root)."""
    opt = ctx.options.get("frames_dir")
    bases = [Path(opt)] if opt else [root]
    if opt and not Path(opt).is_dir():
        raise DataError("no such frames folder", path=str(opt))
    return index_dirs(bases, vids, max_depth=4)


def clamp_span(start, end, duration):
    if start is None or duration is None:
        return start, end
    return round(min(start, duration), 3), round(min(end, duration), 3)


def question_type(q: str) -> str:
    words = q.lower().replace("?", " ").split()
    for w in words[:3]:
        if w in QUESTION_WORDS:
            return w
    return "other"


@ADAPTERS.register(
    "tvqa",
    default_config={"root": None, "subtitles": None, "frames_dir": None, "frame_fps": 3.0},
    description="TVQA (frames at 3 fps, subtitles JSONL)",
)
def tvqa_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "tvqa")
    fps = float(ctx.options["frame_fps"])
    subs, sub_path = load_subtitles(ctx, root)
    files = annotation_files(root, sub_path)
    if not files:
        raise DataError("no TVQA JSONL files here (names with train/val/test, e.g. tvqa_val.jsonl)", path=str(root))
    rows: list[tuple[str, Path, int, dict]] = []
    for split, paths in files.items():
        for path in paths:
            for lineno, row in enumerate(iter_jsonl(path), 1):
                where = f"line {lineno}"
                need(row, "q", str, path=path, where=where)
                need(row, "vid_name", str, path=path, where=where)
                need(row, "qid", (int, str), path=path, where=where)
                for k in range(5):
                    need(row, f"a{k}", str, path=path, where=where)
                if "answer_idx" in row and not (isinstance(row["answer_idx"], int) and 0 <= row["answer_idx"] < 5):
                    raise DataError(f"{where}: answer_idx must be 0..4", path=str(path))
                rows.append((split, path, lineno, row))
    folders = frame_folders(ctx, root, {r[3]["vid_name"] for r in rows})
    checks = check_media(ctx, [("folder", str(p), fps) for p in folders.values()], label="checking frame folders")
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items: dict[str, dict] = {}
    for split, path, lineno, row in rows:
        vid = row["vid_name"]
        folder = folders.get(vid)
        chk = checks[str(folder)] if folder is not None else {"status": "skipped", "reason": "frame folder not found", "missing": []}
        ex_id = f"tvqa-{row['qid']}"
        rec = items.setdefault(vid, {**item_record(vid, str(folder or root / vid), chk, []), "split": split})
        if chk["status"] == "skipped":
            continue
        start, end = clamp_span(*parse_span(row.get("ts")), chk.get("duration"))
        cands = [row[f"a{k}"].strip() for k in range(5)]
        ex = {"id": ex_id, "task": "qa", "video": ctx.rel(folder), "fps": fps}
        if start is not None:
            ex["start"], ex["end"] = start, end
        if chk.get("duration") is not None:
            ex["duration"] = chk["duration"]
        cues = subs_in(subs.get(vid), start, end)
        if cues:
            ex["subtitles"] = cues
        ex.update({"question": row["q"].strip(), "candidates": cands})
        if "answer_idx" in row:
            ex["answer"] = row["answer_idx"]
            ex["targets"] = [cands[row["answer_idx"]]]
        ex["question_type"] = question_type(row["q"])
        ex["missing"] = ["audio"]
        examples[split].append(ex)
        rec["examples"].append(ex_id)
    return AdapterResult(
        examples=examples,
        items=list(items.values()),
        info={"root": str(root.resolve()), "subtitles": str(sub_path) if sub_path else None, "frame_fps": fps,
              "annotation_files": {s: [p.name for p in ps] for s, ps in files.items()}},
    )
