"""``vxt prepare avsd --root DIR``: AVSD (audio-visual scene-aware dialog, DSTC7).

``--root`` holds the dialog JSONs (split from the file name:
``train_set4DSTC7-AVSD.json``, ``valid_set4DSTC7-AVSD.json``,
``test_set4DSTC7-AVSD.json``), each ``{"dialogs": [{"image_id", "summary",
"caption", "dialog": [{"question", "answer"}, ...]}]}``, and the Charades
videos ``<image_id>.mp4`` (in ``videos/`` or anywhere under the root).

Train and val give one ``dialog`` example per turn (``avsd-<image_id>-t<k>``)
with the turns before it as ``history``. The DSTC7 test set is scored on the
last turn of each dialog only, so test gives that turn alone; when its answer
is a list (the 6 DSTC7 references) all of them are targets, and a withheld
answer (``__UNDISCLOSED__``) gives no targets. ``--with-caption`` (default)
adds the Charades ``caption`` and ``summary`` as extra text fields (the
DSTC7 "text" track); ``--no-caption`` leaves them out.
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
    split_of,
    with_missing,
)
from vxt.errors import DataError
from vxt.registry import ADAPTERS
from vxt.utils import read_json

UNDISCLOSED = "__UNDISCLOSED__"


def _answers(a, *, path: Path, where: str) -> list[str]:
    if isinstance(a, str):
        return [] if a.strip() in ("", UNDISCLOSED) else [a.strip()]
    if isinstance(a, list) and all(isinstance(x, str) for x in a):
        return [x.strip() for x in a if x.strip() and x.strip() != UNDISCLOSED]
    raise DataError(f"{where}: an answer must be a string or a list of strings", path=str(path))


@ADAPTERS.register("avsd", default_config={"root": None, "with_caption": True}, description="AVSD / DSTC7 dialogs on Charades")
def avsd_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "avsd")
    files: dict[str, list[Path]] = {}
    for d in (root, root / "annotations"):
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                s = split_of(p.name)
                if s is not None:
                    files.setdefault(s, []).append(p)
    if not files:
        raise DataError("no AVSD dialog JSONs here (names with train/valid/test)", path=str(root))
    dialogs: list[tuple[str, Path, int, dict]] = []
    for split, paths in files.items():
        for path in paths:
            data = read_json(path)
            for i, dlg in enumerate(need(data, "dialogs", list, path=path, where="top level")):
                where = f"dialog {i}"
                need(dlg, "image_id", str, path=path, where=where)
                turns = need(dlg, "dialog", list, path=path, where=f"{where} ({dlg['image_id']})")
                for k, t in enumerate(turns):
                    need(t, "question", str, path=path, where=f"{where} ({dlg['image_id']}) turn {k}")
                    if "answer" not in t:
                        raise DataError(f"{where} ({dlg['image_id']}) turn {k}: missing field 'answer'", path=str(path))
                dialogs.append((split, path, i, dlg))
    media = index_files([root / "videos", root], MEDIA_EXTS)
    checks = check_media(ctx, [("file", str(media[d["image_id"]]), None) for *_, d in dialogs if d["image_id"] in media])
    with_caption = bool(ctx.options.get("with_caption", True))
    examples: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    items = []
    for split, path, i, dlg in dialogs:
        vid = dlg["image_id"]
        f = media.get(vid)
        chk = checks[str(f)] if f is not None else {"status": "skipped", "reason": "media file not found", "missing": []}
        if chk["status"] == "skipped":
            items.append({**item_record(vid, str(f or root / "videos" / f"{vid}.mp4"), chk, []), "split": split})
            continue
        common: dict = {"video": ctx.rel(f)}
        if chk.get("duration") is not None:
            common["duration"] = chk["duration"]
        subs, _ = sidecar_subtitles(f)
        if subs:
            common["subtitles"] = subs
        if with_caption:
            for k in ("caption", "summary"):
                if isinstance(dlg.get(k), str) and dlg[k].strip():
                    common[k] = dlg[k].strip()
        turns = dlg["dialog"]
        history: list[list[str]] = []
        exs = []
        for k, t in enumerate(turns):
            where = f"dialog {i} ({vid}) turn {k}"
            refs = _answers(t["answer"], path=path, where=where)
            last = k == len(turns) - 1
            if split != "test" or last:
                ex = {"id": f"avsd-{vid}-t{k}", "task": "dialog", **common, "history": [list(h) for h in history],
                      "question": t["question"].strip()}
                if refs:
                    ex["targets"] = refs[:6] if split == "test" else refs
                exs.append(with_missing(ex, chk["missing"]))
            history.append([t["question"].strip(), refs[0] if refs else ""])
        examples[split] += exs
        items.append({**item_record(vid, str(f), chk, [e["id"] for e in exs]), "split": split})
    return AdapterResult(
        examples=examples,
        items=items,
        info={"root": str(root.resolve()), "with_caption": with_caption,
              "annotation_files": {s: [p.name for p in ps] for s, ps in files.items()}},
    )
