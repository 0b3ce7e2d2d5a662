"""``vxt prepare msvd --root DIR``: MSVD (video captioning, used without audio).

``--root`` holds ``AllVideoDescriptions.txt`` (lines ``<clip id> <caption>``,
``#`` lines are comments; clip ids ``<ytid>_<start>_<end>``) and the clips
``<clip id>.avi`` (``YouTubeClips/`` or anywhere under the root). One
``caption`` example per clip, ``msvd-<clip id>``, every caption a reference,
``missing: ["audio"]`` always (MSVD is used without its audio).

``--domains NAME`` gives every example ``"domain": NAME`` (one visual domain
for the whole dataset: TAVT's MSVD target, ``--domains msvd``, which
``vxt train --stage adapt --set target_domain=msvd`` and ``vxt decode --set
domain=msvd`` select); without it the examples carry no domain.

Splits: split lists ``*train*.txt`` / ``*val*.txt`` / ``*test*.txt`` in the
root (clip ids one a line) when there are any (``--split-list FILE`` names
the test list). Otherwise a seeded split of the usual 1200 / 100 / 670
proportions: the clip ids sorted, shuffled with ``random.Random(seed)``
(``--seed``, default 0), the first round(N * 1200 / 1970) -> train, the next
round(N * 100 / 1970) -> val, the rest -> test.
"""

from __future__ import annotations

import random
from pathlib import Path

from vxt.data.adapters.base import MEDIA_EXTS, AdapterResult, PrepareContext, index_files, require_root, split_of
from vxt.data.adapters.clips import gather, read_id_list, with_duration
from vxt.errors import DataError
from vxt.registry import ADAPTERS

PROPORTIONS = (1200, 100, 670)


def read_descriptions(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(None, 1)
        caps = out.setdefault(parts[0], [])
        if len(parts) == 2 and parts[1].strip():
            caps.append(parts[1].strip())
    return out


def seeded_split(ids: list[str], seed: int) -> dict[str, str]:
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_train = round(n * PROPORTIONS[0] / sum(PROPORTIONS))
    n_val = round(n * PROPORTIONS[1] / sum(PROPORTIONS))
    return {c: ("train" if k < n_train else "val" if k < n_train + n_val else "test") for k, c in enumerate(order)}


@ADAPTERS.register("msvd", default_config={"root": None, "seed": 0, "split_list": None, "domains": None},
                   description="MSVD (AllVideoDescriptions.txt, <clip>.avi; no audio): caption")
def msvd_adapter(ctx: PrepareContext) -> AdapterResult:
    root = require_root(ctx, "msvd")
    domain = ctx.options.get("domains")
    if domain is not None and (not str(domain).strip() or "," in str(domain)):
        raise DataError(f"msvd --domains takes one domain name for every clip, e.g. msvd (got {domain!r})")
    desc = next((p for d in (root, root / "annotations") if d.is_dir() for p in sorted(d.glob("AllVideoDescriptions*.txt"))), None)
    if desc is None:
        raise DataError("no AllVideoDescriptions.txt here", path=str(root))
    caps = read_descriptions(desc)
    lists: dict[str, list[str]] = {}
    for p in sorted(root.glob("*.txt")):
        if p != desc and split_of(p.name):
            lists.setdefault(split_of(p.name), []).extend(read_id_list(p))
    if ctx.options.get("split_list"):
        lists["test"] = read_id_list(ctx.options["split_list"])
    if lists:
        split = {c: s for s in ("train", "val", "test") for c in lists.get(s, [])}
        rule = "split lists"
    else:
        split = seeded_split(list(caps), int(ctx.options.get("seed") or 0))
        rule = f"seeded {'/'.join(map(str, PROPORTIONS))} proportions (seed {int(ctx.options.get('seed') or 0)})"
    media = index_files([root / "YouTubeClips", root / "videos", root], MEDIA_EXTS)
    entries = []
    for cid in caps:
        if cid not in split:
            continue

        def make(rel, chk, cid=cid):
            ex = with_duration({"id": f"msvd-{cid}", "task": "caption", "video": rel}, chk)
            if caps[cid]:
                ex["targets"] = caps[cid]
            if domain is not None:
                ex["domain"] = str(domain).strip()
            return [ex]

        entries.append((cid, split[cid], media.get(cid), root / "YouTubeClips" / f"{cid}.avi", make))
    examples, items = gather(ctx, entries, extra_missing=("audio",))
    return AdapterResult(examples=examples, items=items,
                         info={"root": str(root.resolve()), "descriptions": desc.name, "split_rule": rule})
