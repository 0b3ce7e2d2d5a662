"""``vxt prepare``: run a dataset adapter, build the media cache, write a data dir and a report.

Steps (each output file written atomically, each step resumable):

1. the adapter (:data:`vxt.registry.ADAPTERS`) reads the benchmark's files (or
   generates them, for ``synth``), checks every media item and returns the
   examples per split and one status per item;
   sync examples then get media that leak least and fixed val/test offsets
   (:mod:`vxt.data.syncprep`);
2. the label spaces go to ``labels/<modality>.txt``;
3. unless ``cache=False``, the media cache (:mod:`vxt.data.cache`) decodes
   what the examples need, for the decode settings of ``dataset.json``
   (adapter defaults, overridden by ``decode_overrides``), keeping what a
   previous run cached. An item none of whose media decode is skipped (its
   examples leave the manifests); one whose video or audio fails alone is
   degraded (the modality is added to ``missing``);
4. ``{train,val,test}.jsonl``, ``dataset.json`` and ``prepare_report.json``.

A killed run loses nothing already written: rerun the same command and it
continues (synth keeps the mp4s that probe right, the cache keeps its shards).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vxt.errors import VxtError

DECODE_FIELDS = ("num_clips", "frames", "size", "fps", "audio_sr")


def _option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def resolve_options(dataset: str, options: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
    """The adapter entry and its options (defaults merged); an option it does not take is an error."""
    from vxt.registry import ADAPTERS

    entry = ADAPTERS.get(dataset)
    defaults = entry.default_config if isinstance(entry.default_config, dict) else {}
    given = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        takes = ", ".join(_option_flag(k) for k in defaults) or "no options"
        raise VxtError(f"dataset {dataset!r} does not take {', '.join(_option_flag(k) for k in unknown)} (it takes: {takes})")
    return entry, {**defaults, **given}


def decode_plan(result, overrides: dict[str, Any] | None) -> tuple[dict, dict[str, dict]]:
    """(base decode settings, per-task settings): adapter defaults < adapter per-task < user overrides."""
    from vxt.data.cache import DecodeSettings

    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    bad = sorted(set(over) - set(DECODE_FIELDS))
    if bad:
        raise VxtError(f"unknown decode settings: {', '.join(bad)}")
    for k in ("num_clips", "frames", "size", "audio_sr"):
        if k in over and int(over[k]) < 1:
            raise VxtError(f"{_option_flag(k)} must be >= 1")
    if "fps" in over and over["fps"] is not None and float(over["fps"]) <= 0:
        raise VxtError("--fps must be > 0")
    base = DecodeSettings.from_dict({**DecodeSettings().to_dict(), **result.decode, **over}).to_dict()
    per_task = {
        task: DecodeSettings.from_dict({**base, **extra, **over}).to_dict() for task, extra in result.decode_by_task.items()
    }
    return base, per_task


def _counts(examples: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for split, exs in examples.items():
        c: dict[str, int] = {}
        for ex in exs:
            c[ex.get("task", "?")] = c.get(ex.get("task", "?"), 0) + 1
        out[split] = dict(sorted(c.items()))
    return out


def _apply_cache_results(result, examples_by_key: dict[str, list[dict]], stats: dict) -> None:
    """Fold cache failures into the items and examples (skip / degrade)."""
    from vxt.data.adapters.base import with_missing

    ex_to_item = {eid: item for item in result.items for eid in item.get("examples", [])}
    dropped: set[str] = set()
    for key, reason in stats["failed"].items():
        for ex in examples_by_key.get(key, []):
            dropped.add(ex["id"])
            item = ex_to_item.get(ex["id"])
            if item is not None and item["status"] != "skipped":
                item.update(status="skipped", reason=f"cannot decode: {reason}")
                item.pop("missing", None)
    for key, errors in stats["degraded"].items():
        for ex in examples_by_key.get(key, []):
            lost = [m for m in errors if m not in ex.get("missing", [])]
            if not lost:
                continue
            with_missing(ex, lost)
            item = ex_to_item.get(ex["id"])
            if item is not None and item["status"] != "skipped":
                item["status"] = "degraded"
                item["missing"] = sorted(set(item.get("missing", [])) | set(lost), key=["video", "audio"].index)
                why = "; ".join(f"{m} could not be decoded ({errors[m]})" for m in lost)
                item["reason"] = "; ".join(x for x in (item.get("reason"), why) if x)
    if dropped:
        for split, exs in result.examples.items():
            result.examples[split] = [ex for ex in exs if ex["id"] not in dropped]
        for item in result.items:
            if item["status"] == "skipped":
                item["examples"] = []


def build_cache(out: Path, result, base: dict, per_task: dict[str, dict], *, workers: int, progress: bool) -> dict:
    """Build the media cache of every example, per decode settings; fold failures into the result."""
    from vxt.data.cache import DecodeSettings, MediaCache, media_path

    groups: dict[str, tuple[DecodeSettings, list[dict]]] = {}
    for exs in result.examples.values():
        for ex in exs:
            if media_path(ex) is None:
                continue
            s = DecodeSettings.from_dict(per_task.get(ex.get("task"), base))
            groups.setdefault(s.key(), (s, []))[1].append(ex)
    report: dict[str, Any] = {}
    for key, (settings, exs) in groups.items():
        cache = MediaCache(out, settings)
        stats = cache.build(exs, workers=workers, progress=progress)
        cache.close()
        by_key: dict[str, list[dict]] = {}
        for ex in exs:
            by_key.setdefault(cache.media_key(ex), []).append(ex)
        _apply_cache_results(result, by_key, stats)
        report[key] = {"settings": settings.to_dict(), "entries": stats["ok"], "failed": len(stats["failed"]),
                       "degraded": len(stats["degraded"])}
    return report


def prepare(
    dataset: str,
    out: str | Path,
    *,
    options: dict[str, Any] | None = None,
    workers: int = 1,
    cache: bool = True,
    decode_overrides: dict[str, Any] | None = None,
    progress: bool = True,
    reencode: bool = True,
) -> dict:
    """Make (or complete) a data dir for ``dataset`` in ``out``; returns the report (also written)."""
    import vxt
    from vxt.data.adapters.base import PrepareContext
    from vxt.data.cache import DecodeSettings
    from vxt.data.manifest import SPLITS, write_manifest
    from vxt.utils import atomic_write_text, ensure_dir, write_json

    t0 = time.time()
    entry, cfg = resolve_options(dataset, options)
    out = Path(out).expanduser()
    ensure_dir(out, "data dir (--out)")
    workers = max(1, int(workers))
    ctx = PrepareContext(out=out, options=cfg, workers=workers, progress=progress)
    result = entry.builder(ctx)
    base, per_task = decode_plan(result, decode_overrides)
    from vxt.data.syncprep import prepare_sync

    sync = prepare_sync(out, result, cfg, workers=workers, progress=progress, reencode=reencode)

    for modality, names in result.labels.items():
        atomic_write_text(out / "labels" / f"{modality}.txt", "".join(f"{n}\n" for n in names))

    cache_report: dict[str, Any] = {"built": False}
    if cache:
        cache_report = {"built": True, "caches": build_cache(out, result, base, per_task, workers=workers, progress=progress)}

    for split in SPLITS:
        write_manifest(out / f"{split}.jsonl", result.examples.get(split, []))

    meta = {
        "adapter": dataset,
        "options": cfg,
        "seed": cfg.get("seed"),
        "vxt_version": vxt.__version__,
        "decode": base,
        "decode_key": DecodeSettings.from_dict(base).key(),
        "decode_by_task": per_task,
        "labels": {m: f"labels/{m}.txt" for m in result.labels},
        "splits": {s: len(result.examples.get(s, [])) for s in SPLITS},
        "info": result.info,
    }
    if sync:
        meta["sync"] = {"media": sync["media"]["target"] if reencode else "as given (--no-reencode)",
                        "offset_lists": {s: li["file"] for s, li in sync["offsets"]["lists"].items()},
                        "offsets_seed": sync["offsets"]["seed"]}
    write_json(out / "dataset.json", meta)

    summary = {s: sum(1 for i in result.items if i["status"] == s) for s in ("ok", "degraded", "skipped")}
    report = {
        "dataset": dataset,
        "out": str(out.resolve()),
        "counts": _counts({s: result.examples.get(s, []) for s in SPLITS}),
        "summary": summary,
        "cache": cache_report,
        "stats": result.stats,
        **({"sync": sync} if sync else {}),
        "seconds": round(time.time() - t0, 2),
        "items": [{k: v for k, v in item.items() if k != "examples"} for item in result.items],
    }
    write_json(out / "prepare_report.json", report)
    return report


def print_summary(report: dict) -> None:
    """The report as tables on stdout: examples per split and task, item statuses, the problems."""
    from rich.table import Table

    from vxt.utils import console

    con = console()
    tasks = sorted({t for c in report["counts"].values() for t in c})
    con.print(f"[bold]vxt prepare {report['dataset']}[/] -> {report['out']}", highlight=False)
    t = Table()
    t.add_column("split")
    for task in tasks:
        t.add_column(task, justify="right")
    t.add_column("total", justify="right")
    for split, c in report["counts"].items():
        t.add_row(split, *[str(c.get(task, 0)) for task in tasks], str(sum(c.values())))
    con.print(t)
    s = report["summary"]
    con.print(f"items: [green]{s['ok']} ok[/], [yellow]{s['degraded']} degraded[/], [red]{s['skipped']} skipped[/]"
              + (f"  ({', '.join(f'{k} {v}' for k, v in report['stats'].items())})" if report.get("stats") else ""))
    problems = [i for i in report["items"] if i["status"] != "ok"]
    if problems:
        p = Table(show_header=True)
        p.add_column("item")
        p.add_column("status")
        p.add_column("reason", overflow="fold")
        for i in problems[:20]:
            status = i["status"] + (f":{','.join(i['missing'])}" if i["status"] == "degraded" and i.get("missing") else "")
            p.add_row(i["id"], status, i.get("reason", ""))
        con.print(p)
        if len(problems) > 20:
            con.print(f"... and {len(problems) - 20} more: see prepare_report.json")
    from vxt.data.syncprep import summary_lines

    for line in summary_lines(report.get("sync")):
        con.print(line, soft_wrap=True, highlight=False)
    if report["cache"].get("built"):
        for key, c in report["cache"]["caches"].items():
            con.print(f"cache {key}: {c['entries']} entries" + (f", {c['failed']} failed" if c["failed"] else ""))
    con.print(f"wrote {report['out']}/{{train,val,test}}.jsonl, dataset.json, prepare_report.json in {report['seconds']:.1f} s",
              soft_wrap=True, highlight=False)
