#!/usr/bin/env python3
"""The tables (mean ± std over seeds, per cell) and plot of recipes/sound/run.sh.

    python recipes/sound/report.py exp/sound [--seeds "0 1 2"] [--cells "feats nofeats vq"]
                                             [--sampler-codebook vq-gan-lpaps]

Reads each run's ``preds_test.scores.json`` (Melception's FID, KID, MKL and the onset alignment),
``preds_test.json`` (the sampling seconds of each clip, the reconstruction L1) and ``train_summary.json``
(``EXP/sampler-CELL-seedS``, ``EXP/codebook-CELL-seedS``); writes ``EXP/RESULTS.md``, ``EXP/results.json`` and
``EXP/sound.png``. A run without scores is listed as missing, never left out silently.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
import statistics
import sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: report_lib
from report_lib import metric_cells, read_json, report_parser, save_figure, stats  # noqa: E402

SAMPLER_CELLS = ("feats", "nofeats", "feats1", "feats5", "row")
CODEBOOK_CELLS = ("vq", "vq-gan", "vq-gan-lpaps")
#: (key in a run's row, column title); the onset scores and 1-L1 are fractions, shown in %; KID (and its std)
#: goes into results.json only (on a few dozen clips it is 0.00 at two decimals)
METRICS = (("FID", "FID ↓"), ("MKL", "MKL ↓"), ("onset_alignment", "onset align. % ↑"),
           ("onset_recall", "onset recall % ↑"))
JSON_ONLY = ("KID", "KID_std", "IS")
PERCENT = {"onset_alignment", "onset_recall", "1-L1"}
LABELS = {"feats": "212 feats (all rows)", "nofeats": "No feats", "feats1": "1 feat", "feats5": "5 feats",
          "row": "212 feats, row-major codes", "vq": "VQ (L1 + VQ losses)", "vq-gan": "VQ + PatchGAN",
          "vq-gan-lpaps": "VQ + PatchGAN + LPAPS"}


def _kind(cell: str) -> str:
    return "codebook" if cell in CODEBOOK_CELLS else "sampler"


#: below this spread (x 100, [0, 1] spectrogram units) a run's spectrograms are (nearly) the same for every clip;
#: the test clips' own spread is about 4 on the default foley data
COLLAPSED_SPREAD = 0.5


def _spectrogram(raw, run: Path):
    """A row's generated spectrogram (the path as decode wrote it: absolute, from here, or beside the run)."""
    import numpy as np

    if not isinstance(raw, str):
        return None
    p = Path(raw)
    for cand in ([p] if p.is_absolute() else [p, run / p, run.parent / p, run / p.name]):
        if cand.is_file():
            return np.load(cand, allow_pickle=False)
    return None


def _spread(rows: list[dict], run: Path) -> float | None:
    """The mean over bins of the std across a run's generated spectrograms, x 100: how much they differ from clip
    to clip (0: the same sound for every clip)."""
    import numpy as np

    specs = [s for s in (_spectrogram(r.get("spectrogram"), run) for r in rows) if s is not None]
    if len(specs) < 2 or len({s.shape for s in specs}) != 1:
        return None
    return float(100 * np.stack(specs).std(0).mean())


def _preds_numbers(preds: dict | None, run: Path) -> dict:
    rows = (preds or {}).get("predictions") or []
    out = {}
    spread = _spread(rows, run)
    if spread is not None:
        out["spread"] = spread
    secs = [float(r["sample_seconds"]) for r in rows if r.get("sample_seconds") is not None]
    if secs:
        out["sample_seconds"] = statistics.mean(secs)
    l1 = [float(r["l1"]) for r in rows if r.get("l1") is not None]
    if l1:
        out["1-L1"] = 100 * (1.0 - statistics.mean(l1))
    return out


def collect(exp: Path, seeds: list[int], cells: list[str]):
    rows, missing = [], []
    for cell in cells:
        for s in seeds:
            run = exp / f"{_kind(cell)}-{cell}-seed{s}"
            scores = read_json(run / "preds_test.scores.json")
            if scores is None:
                missing.append(str(run))
                continue
            m = scores.get("metrics") or {}
            vals = {k: (100 * float(m[k]) if k in PERCENT else float(m[k]))
                    for k in [k for k, _ in METRICS] + list(JSON_ONLY) if k in m}
            train = read_json(run / "train_summary.json") or {}
            stop = train.get("early_stop")
            rows.append({"cell": cell, "kind": _kind(cell), "seed": s, "run": str(run), "n": scores.get("n_scored"),
                         "train_steps": train.get("steps"), "train_seconds": train.get("seconds"),
                         "val_best": train.get("best"), "stopped_at_epoch": stop.get("epoch") if stop else None,
                         **vals, **_preds_numbers(read_json(run / "preds_test.json"), run)})
    return rows, missing


def summarise(rows: list[dict], cells: list[str], keys: list[str]) -> list[dict]:
    out = []
    for c in cells:
        sub = [r for r in rows if r["cell"] == c]
        if sub:
            out.append({"cell": c, "kind": _kind(c), "seeds": [r["seed"] for r in sub],
                        **{k: stats([r[k] for r in sub if k in r]) for k in keys}})
    return out


def _steps_cell(sub: list[dict]) -> str:
    steps = [r["train_steps"] for r in sub if r.get("train_steps") is not None]
    if not steps:
        return ""
    early = sum(1 for r in sub if r.get("stopped_at_epoch"))
    return f"{statistics.median(steps):.0f}" + (f" ({early}/{len(sub)} early)" if early else "")


def plot(summary: list[dict], cells: list[str], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown = [("FID", "FID ↓"), ("MKL", "MKL ↓"), ("onset_alignment", "onset alignment % ↑")]
    fig, axes = plt.subplots(1, len(shown), figsize=(max(4.0, 0.6 * len(cells) + 1.5) * len(shown), 3.6),
                             squeeze=False)
    for ax, (k, title) in zip(axes[0], shown):
        means, stds, colours = [], [], []
        for c in cells:
            st = next((r[k] for r in summary if r["cell"] == c and r.get(k)), None)
            means.append(st["mean"] if st else 0.0)
            stds.append(st["std"] if st else 0.0)
            colours.append("#dd8452" if _kind(c) == "codebook" else "#4c72b0")
        ax.bar(range(len(cells)), means, 0.7, yerr=stds, capsize=2, color=colours)
        ax.set_xticks(range(len(cells)), [LABELS.get(c, c) for c in cells], fontsize=7, rotation=35, ha="right")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(bottom=0)
    axes[0][0].legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#4c72b0"),
                               plt.Rectangle((0, 0), 1, 1, color="#dd8452")],
                      labels=["sampler (samples)", "codebook (reconstructions)"], fontsize=7)
    save_figure(fig, path)
    return True


def _notes(exp: Path, rows: list[dict], seeds: list[int], sampler_codebook: str) -> list[str]:
    """What the reader must know to read the numbers: the scorer, the features, the LPAPS network."""
    notes = []
    mel = read_json(exp / "melception" / "train_summary.json") or {}
    if mel:
        notes.append(f"Scored by a Melception (`melception-tiny`) trained on this data's five sound classes "
                     f"({mel.get('steps')} steps, val accuracy {100 * float(mel.get('best') or 0):.1f}%), not "
                     "SpecVQGAN's VGGSound one: the numbers compare the cells with each other, not with the paper.")
    for r in rows:
        cfg = read_json(Path(r["run"]) / "config.json") or {}
        fdir = (cfg.get("features") or {}).get("dir")
        if r["kind"] == "sampler" and fdir:
            f = read_json(Path(fdir) / "features.json") or {}
            arch = (f.get("config") or {}).get("arch", "?")
            weights = "ImageNet weights" if (f.get("config") or {}).get("weights") else "random init"
            notes.append(f"Visual features: {arch} ({weights}), {f.get('dim', '?')}-d per frame at 21.5 fps, "
                         f"from `{fdir}`.")
            break
    for s in seeds:
        cfg = read_json(exp / f"codebook-vq-gan-lpaps-seed{s}" / "config.json") or {}
        p = cfg.get("perceptual")
        if p and p != "none":
            standin = read_json(Path(p) / "standin.json")
            notes.append(("LPAPS: the network as SpecVQGAN's code ran it, at init (its checkpoint loads into "
                          "neither part: SpecVQGAN issue #13), at widths "
                          f"{', '.join(map(str, standin.get('channels', [])))}, with the train set's per-mel "
                          "scaling; `--lpaps DIR` gives a trained one." if standin
                          else f"LPAPS: the network in `{p}`."))
            break
    if any(r["kind"] == "sampler" for r in rows):
        notes.append(f"Every sampler samples from the codebook of cell `{sampler_codebook}` of its seed, with "
                     "top-k 100, temperature 1; each run is decoded from its best validation checkpoint (`best/`).")
    return notes


def main(argv: list[str] | None = None) -> int:
    ap = report_parser(__doc__, " ".join((*SAMPLER_CELLS, *CODEBOOK_CELLS)))
    ap.add_argument("--sampler-codebook", default="vq-gan-lpaps")
    args = ap.parse_args(argv)
    seeds, cells = [int(s) for s in args.seeds.split()], args.cells.split()
    unknown = [c for c in cells if c not in SAMPLER_CELLS + CODEBOOK_CELLS]
    if unknown:
        ap.error(f"unknown cell(s) {', '.join(unknown)}")
    rows, missing = collect(args.exp, seeds, cells)
    keys = [k for k, _ in METRICS if any(k in r for r in rows)]
    summary = summarise(rows, cells, keys + ["sample_seconds", "1-L1", "spread", "train_seconds"])
    titles = dict(METRICS)
    lines = ["# SpecVQGAN on synthetic foley", "",
             f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{platform.processor() or platform.machine()}, CPU. Regenerate with `bash recipes/sound/run.sh`.", "",
             "Test split, mean ± std over seeds " + ", ".join(map(str, seeds)) + ". FID and MKL on Melception's "
             "features and logits (lower is better); onset alignment: the share of onsets detected in the generated "
             "spectrogram within 50 ms of an event the picture shows; onset recall: the share of events so matched. "
             "s/clip: the wall time of making one clip's sound on this CPU (sampling, the codebook's decoder, the "
             "MelGAN vocoder; batch 1), the median over seeds of each run's mean. spread: how much a run's "
             "spectrograms differ from clip to clip (the mean over bins of their std across clips, x 100).", ""]
    lines += [f"- {n}" for n in _notes(args.exp, rows, seeds, args.sampler_codebook)] + [""]
    flat = sorted({r["cell"] for r in rows if r.get("spread") is not None and r["spread"] < COLLAPSED_SPREAD})
    if flat:
        lines += [f"**Collapsed:** the spectrograms of {', '.join(LABELS.get(c, c) for c in flat)} are nearly the "
                  f"same for every clip (spread under {COLLAPSED_SPREAD}; the test clips' own is about 4): at these "
                  "sizes the codebook has not learned the clips (its reconstructions are close to the mean "
                  "spectrogram), so those rows cannot tell the ablations apart. Train longer (`--codebook_steps`, "
                  "`--sampler_steps`) before reading them.", ""]
    for kind, head, extra in (("sampler", "## Sampler: visual condition and code order (samples)", ()),
                              ("codebook", "## Codebook: losses (reconstructions of the test clips)", ("1-L1",))):
        kcells = [c for c in cells if _kind(c) == kind]
        if not kcells:
            continue
        extra = (*extra, *(("spread",) if any("spread" in r for r in rows) else ()))
        cols = ([titles[k] for k in keys] + [{"1-L1": "1-L1 % ↑", "spread": "spread"}[k] for k in extra]
                + ["seeds", "s/clip", "train s"])
        if kind == "sampler":
            cols.append("steps")
        lines += [head, "", "| cell | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for c in kcells:
            sub = [r for r in rows if r["cell"] == c]
            if not sub:
                continue
            cells_ = metric_cells(sub, keys + list(extra), ("sample_seconds", "train_seconds"))
            if kind == "sampler":
                cells_.append(_steps_cell(sub))
            lines.append(f"| {LABELS.get(c, c)} | " + " | ".join(cells_) + " |")
        lines.append("")
    if rows and plot(summary, [c for c in cells if any(r["cell"] == c for r in rows)], args.exp / "sound.png"):
        lines += ["![sound](sound.png)", ""]
    if missing:
        lines += ["Missing (no scores yet): " + ", ".join(missing), ""]
    bad = [r["run"] for r in rows if any(not math.isfinite(r[k]) for k in keys if k in r)]
    if bad:
        lines += ["Not finite: " + ", ".join(bad), ""]
    atomic_write_text(args.exp / "RESULTS.md", "\n".join(lines))
    write_json(args.exp / "results.json", {"cells": cells, "seeds": seeds, "metrics": keys,
                                           "sampler_codebook": args.sampler_codebook, "runs": rows,
                                           "summary": summary, "missing": missing})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
