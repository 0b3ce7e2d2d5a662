"""The speech coverage rate (Shen et al., 2023): how much of a caption is said in the speech.

For a data dir whose caption examples carry a transcript (the manifest's
``subtitles``: ASR sentences or subtitles, :mod:`vxt.data.manifest`), the share
of caption words that occur anywhere in that example's transcript. Shen et
al. report it per benchmark (YouCook2 about 49 %, MSR-VTT about 15 %) to tell
how much a captioner can take from speech alone; ``vxt prepare synth --mode
narrated`` records the same rate in ``dataset.json`` (computed with the same
tokenisation on the same examples, so the two agree).

What counts, per split:

* the caption examples: task ``caption`` with non-empty ``targets`` (every
  reference is a caption); other tasks are not counted;
* of those, the examples with a transcript (at least one subtitle word) are
  scored; the others are counted and reported, not scored;
* ``coverage``: caption word tokens found in the example's transcript / all
  caption word tokens (every reference of every scored example);
* ``coverage_content``: the same without the tokens of :data:`STOP_WORDS`;
* ``mean_caption_coverage``: the mean over the captions (each reference with
  at least one word) of that caption's own coverage.

Words are :func:`words`: lowercase, runs of letters and digits.
``vxt score --coverage DATA_DIR`` prints :func:`coverage_table` and writes
:func:`coverage_document` to ``DATA_DIR/coverage.json``.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, Iterable

from vxt.errors import DataError

_WORD = re.compile(r"[^\W_]+")

#: a small fixed list of English function words, left out of ``coverage_content`` (``s``/``t``: what is
#: left of "it's", "don't" once the apostrophe separates words)
STOP_WORDS = frozenset("""
a an the and or but nor so if then than as of to in on at by for with from into onto over under up down out off
about after before while is are was were be been being am has have had do does did it its this that these those
there here he she they them his her him their we you your our my me i who which what not no s t
""".split())

TOKENIZER = "lowercase; a word is a run of letters and digits (punctuation, apostrophes and hyphens separate words)"


def words(text: str) -> list[str]:
    """The caption/transcript words coverage counts: the lowercased text's maximal runs of letters and digits
    (any script; ``_`` and everything else separate words), so ``"It's a drum-roll!"`` -> ``["it", "s", "a",
    "drum", "roll"]``."""
    return _WORD.findall(str(text).lower())


def _rate(hit: int, total: int) -> float | None:
    return None if total == 0 else hit / total


def split_coverage(examples: Iterable[dict]) -> dict[str, Any]:
    """The counts and rates of one split's examples (see the module docstring); rates are fractions, None when
    nothing was scored. ``without_transcript`` lists the ids of the caption examples left out."""
    n_examples = n_captioned = n_scored = n_captions = 0
    tok = hit = ctok = chit = 0
    per_caption: list[float] = []
    without: list[str] = []
    for ex in examples:
        n_examples += 1
        targets = [t for t in ex.get("targets") or [] if isinstance(t, str)]
        if ex.get("task", "caption") != "caption" or not targets:
            continue
        n_captioned += 1
        spoken = {w for s in ex.get("subtitles") or [] for w in words(s.get("text", ""))}
        if not spoken:
            without.append(str(ex.get("id")))
            continue
        n_scored += 1
        for t in targets:
            ws = words(t)
            found = [w in spoken for w in ws]
            tok += len(ws)
            hit += sum(found)
            content = [f for w, f in zip(ws, found) if w not in STOP_WORDS]
            ctok += len(content)
            chit += sum(content)
            if ws:
                n_captions += 1
                per_caption.append(sum(found) / len(ws))
    return {
        "n_examples": n_examples, "n_captioned": n_captioned, "n_with_transcript": n_scored,
        "n_without_transcript": len(without), "n_captions": n_captions,
        "n_tokens": tok, "n_covered": hit, "coverage": _rate(hit, tok),
        "n_content_tokens": ctok, "n_content_covered": chit, "coverage_content": _rate(chit, ctok),
        "mean_caption_coverage": None if not per_caption else sum(per_caption) / len(per_caption),
        "caption_coverage_sum": sum(per_caption),  # for pooling splits
        "without_transcript": without,
    }


def _pool(rows: list[dict]) -> dict[str, Any]:
    keys = ("n_examples", "n_captioned", "n_with_transcript", "n_without_transcript", "n_captions", "n_tokens",
            "n_covered", "n_content_tokens", "n_content_covered", "caption_coverage_sum")
    out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    out["coverage"] = _rate(out["n_covered"], out["n_tokens"])
    out["coverage_content"] = _rate(out["n_content_covered"], out["n_content_tokens"])
    out["mean_caption_coverage"] = _rate(out["caption_coverage_sum"], out["n_captions"])
    return out


def coverage_document(data_dir: str | Path, splits: Iterable[str] | None = None) -> dict[str, Any]:
    """The speech coverage of a data dir's splits (default: every split it has), as ``coverage.json`` holds it.

    A data dir without manifests, without caption examples, or whose caption examples have no transcript at
    all is a :class:`~vxt.errors.DataError`.
    """
    from vxt.data.manifest import SPLITS, load_split, split_path

    d = Path(data_dir)
    if not d.is_dir():
        raise DataError("no such data dir" if not d.exists() else "is a file, not a data dir", path=str(d))
    names = list(dict.fromkeys(splits)) if splits else [s for s in SPLITS if split_path(d, s).exists()]
    if not names:
        raise DataError(f"no {', '.join(f'{s}.jsonl' for s in SPLITS)} here: is this a data dir made by `vxt prepare`?",
                        path=str(d))
    rows = {s: split_coverage(load_split(d, s)) for s in names}
    if not any(r["n_captioned"] for r in rows.values()):
        raise DataError(f"no caption examples (task caption with targets) in {', '.join(names)}: nothing to cover",
                        path=str(d))
    if not any(r["n_with_transcript"] for r in rows.values()):
        raise DataError(f"no caption example in {', '.join(names)} has a transcript (manifest 'subtitles'): the speech "
                        "coverage needs ASR transcripts or subtitles", path=str(d))
    notes = []
    for s, r in rows.items():
        if r["n_without_transcript"]:
            ids = r["without_transcript"]
            notes.append(f"{s}: {r['n_without_transcript']} of {r['n_captioned']} caption examples have no transcript "
                         f"and are not scored (first: {', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''})")
    doc: dict[str, Any] = {
        "data_dir": str(d),
        "splits": {s: {k: v for k, v in r.items() if k not in ("without_transcript", "caption_coverage_sum")}
                   for s, r in rows.items()},
        "tokenizer": TOKENIZER,
        "stop_words": sorted(STOP_WORDS),
        "notes": notes,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if len(rows) > 1:
        doc["all"] = {k: v for k, v in _pool(list(rows.values())).items() if k != "caption_coverage_sum"}
    for s, r in rows.items():
        doc["splits"][s]["without_transcript_ids"] = r["without_transcript"][:20]
    return doc


def coverage_table(doc: dict, digits: int = 2):
    """A rich table: one column per split (and all splits pooled), counts and rates (as percentages) as rows."""
    from rich.table import Table

    def pct(v):
        return "-" if v is None else f"{100 * v:.{digits}f}"

    cols = list(doc["splits"].items()) + ([("all", doc["all"])] if "all" in doc else [])
    table = Table()
    table.add_column("speech coverage")
    for s, _ in cols:
        table.add_column(s, justify="right", style="bold" if s == "all" else None)
    for label, key, fmt in (("caption examples", "n_captioned", str),
                            ("  with a transcript (scored)", "n_with_transcript", str),
                            ("  without (not scored)", "n_without_transcript", str),
                            ("caption words", "n_tokens", str),
                            ("coverage (%)", "coverage", pct),
                            ("  without stop words (%)", "coverage_content", pct),
                            ("mean per caption (%)", "mean_caption_coverage", pct)):
        table.add_row(label, *[fmt(r[key]) for _, r in cols])
    return table
