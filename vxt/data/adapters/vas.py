"""``vxt prepare vas --root DIR``: VAS, Visually Aligned Sounds (sound generation).

``--root`` holds the clips ``<class>/video_NNNNN.mp4`` (under ``videos/`` or
the root itself) and SpecVQGAN's split lists ``vas_train.txt`` /
``vas_valid.txt`` (``<class>/video_NNNNN`` lines; any ``*train*``,
``*valid*``/``*val*``, ``*test*`` ``.txt`` in the root is read by its name).
VAS has no test split of its own and SpecVQGAN reports on ``vas_valid``, so
without a test list the validation list is also the test split. One
``sound`` example per clip, ``vas-<class>-video_NNNNN``, with ``label`` the
class (the folder name). The ``sound`` task's cache is decoded at 22,050 Hz.
"""

from __future__ import annotations

from pathlib import Path

from vxt.data.adapters.base import MEDIA_EXTS, AdapterResult, PrepareContext, require_root, split_of
from vxt.data.adapters.clips import gather, read_id_list, with_duration
from vxt.errors import DataError
from vxt.registry import ADAPTERS

SOUND_SR = 22050


def _find(base: list[Path], key: str) -> Path | None:
    for b in base:
        for ext in MEDIA_EXTS:
            p = b / f"{key}{ext}"
            if p.is_file():
                return p
    return None


@ADAPTERS.register("vas", default_config={"root": None}, description="VAS (<class>/video_NNNNN.mp4, vas_train/vas_valid lists): sound")
def vas_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "vas")
    lists: dict[str, list[Path]] = {}
    for p in sorted(root.glob("*.txt")):
        s = split_of(p.name)
        if s:
            lists.setdefault(s, []).append(p)
    if not lists:
        raise DataError("no VAS split lists here (expected vas_train.txt / vas_valid.txt)", path=str(root))
    splits: dict[str, list[str]] = {s: [k for p in ps for k in read_id_list(p)] for s, ps in lists.items()}
    if "test" not in splits and "val" in splits:
        splits["test"] = list(splits["val"])
    base = [root / "videos", root / "data" / "videos", root]
    entries = []
    for split in ("train", "val", "test"):
        for key in dict.fromkeys(splits.get(split, [])):
            if "/" not in key:
                raise DataError(f"split list line {key!r} is not <class>/video_NNNNN", path=str(lists.get(split, lists.get("val"))[0]))
            label = key.split("/")[0]
            ex_id = "vas-" + key.replace("/", "-")

            def make(rel, chk, ex_id=ex_id, label=label):
                return [with_duration({"id": ex_id, "task": "sound", "video": rel, "label": label}, chk)]

            entries.append((key, split, _find(base, key), base[0] / f"{key}.mp4", make))
    examples, items = gather(ctx, entries)
    return AdapterResult(
        examples=examples,
        items=items,
        decode_by_task={"sound": {"audio_sr": SOUND_SR}},
        info={"root": str(root.resolve()), "split_lists": {s: [p.name for p in ps] for s, ps in lists.items()},
              "classes": sorted({k.split("/")[0] for ks in splits.values() for k in ks})},
    )
