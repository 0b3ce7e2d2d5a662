#!/usr/bin/env python3
"""Tables (mean ± std over seeds) and plots of the synthetic ablations run by recipes/synth/ablate.sh.

    python recipes/synth/ablate_report.py exp/synth/ablations [--data data/synth] [--copy-to recipes/synth/RESULTS.md]

Reads ``OUT/plan.tsv`` (grid, cell, task, seed, run dir, train args) and each
run's ``preds_test.scores.json``, ``preds_test.json`` and ``times.txt``; writes
``OUT/RESULTS.md``, ``OUT/results.json`` and ``OUT/<grid>.png``. A run that has
no scores yet is listed as missing, never silently left out. For captioning,
it also counts how often a test caption names the clip's true colour, shape,
owner, motion and sound (the synthetic video classifier knows motions only, so
colour and shape reach the text model only through what training made the
video tokens carry).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

from vxt.utils import atomic_write_bytes, atomic_write_text, write_json

GRID_TITLES = {
    "modalities": "Modalities (paper Figs. 2 and 3): dialog and QA",
    "tokenization": "Tokenization (paper Figs. 4 and 5): captioning, all modalities",
    "qa_data": "Generative vs discriminative QA vs training data (paper Fig. 6), QA+QG and cycle consistency",
    "k": "K_v and K_a (paper Appendix B): captioning",
    "domain_shift": "Tokenization under a domain shift: classifiers pre-trained on photo only, captioning on all visual domains",
}
DOMAINS = ("photo", "cartoon", "sketch", "night", "pixel")
CAPTION_METRICS = ("Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
ATTRIBUTES = ("motion", "sound", "owner", "colour", "shape")


def read_plan(out: Path) -> list[dict]:
    plan = out / "plan.tsv"
    if not plan.is_file():
        sys.exit(f"ablate_report: error: {plan}: no plan (run recipes/synth/ablate.sh first)")
    rows = []
    for n, line in enumerate(plan.read_text().splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 6:
            sys.exit(f"ablate_report: error: {plan}: line {n}: expected 6 tab-separated fields")
        grid, cell, task, seed, run, args = parts
        rows.append({"grid": grid, "cell": cell, "task": task, "seed": int(seed), "run": run, "args": args})
    return rows


def _cpu_seconds(run: Path) -> float | None:
    """User + system seconds of the run's processes (bash ``times``: the children's line)."""
    p = run / "times.txt"
    if not p.is_file():
        return None
    lines = p.read_text().split("\n")
    if len(lines) < 2:
        return None
    total = 0.0
    for tok in lines[1].split():
        m = re.fullmatch(r"(\d+)m([\d.]+)s", tok)
        if m:
            total += 60 * int(m.group(1)) + float(m.group(2))
    return total


# ---------------------------------------------------------------- caption attributes


def _synth_phrases():
    from vxt.data import synth

    motion = {m: {m, synth._MOTION_ALT[m], synth._MOTION_BASE[m]} for m in synth.MOTIONS}
    sound = {s: {d[s] for d in (synth._SOUND_NOUN, synth._SOUND_WHILE, synth._SOUND_WITH, synth._SOUND_HEARD)}
             for s in synth.SOUNDS}
    words = {"owner": set(synth.NAMES), "colour": set(synth.COLOURS) | set(synth.EXTRA_COLOURS),
             "shape": set(synth.SHAPES) | set(synth.EXTRA_SHAPES)}
    return motion, sound, words


def caption_truth(data: Path, split: str = "test") -> dict[str, dict]:
    """id -> the true attributes of each synthetic caption example (from its manifest)."""
    from vxt.data import synth

    truth = {}
    path = data / f"{split}.jsonl"
    if not path.is_file():
        return truth
    for line in path.read_text().splitlines():
        ex = json.loads(line)
        if ex.get("task") != "caption" or "-dense-" in ex["id"]:
            continue
        canon = ex["targets"][0]  # "{owner}'s {colour} {shape} {motion} {sound}" (synth.caption_paraphrases)
        m = re.match(r"(\w+)'s (\w+) (\w+) ", canon)
        if not m or m.group(1) not in synth.NAMES:
            continue
        labels = ex.get("labels", {})
        truth[ex["id"]] = {"owner": m.group(1), "colour": m.group(2), "shape": m.group(3),
                           "motion": (labels.get("video") or [None])[0], "sound": (labels.get("audio") or [None])[0],
                           "domain": ex.get("domain", "photo")}
    return truth


def domain_motion(preds: dict[str, str], truth: dict[str, dict]) -> dict[str, float]:
    """Per visual domain, the fraction of captions naming the true motion (``attr_motion@<domain>``)."""
    out = {}
    for d in sorted({t["domain"] for t in truth.values()}, key=lambda d: (d not in DOMAINS, DOMAINS.index(d) if d in DOMAINS else d)):
        sub = {k: v for k, v in truth.items() if v["domain"] == d}
        got = attribute_accuracy({k: p for k, p in preds.items() if k in sub}, sub)
        if "motion" in got:
            out[f"attr_motion@{d}"] = got["motion"]
    return out


def attribute_accuracy(preds: dict[str, str], truth: dict[str, dict]) -> dict[str, float]:
    """Fraction of captions naming exactly the true value of each attribute (no other value of it)."""
    motion, sound, words = _synth_phrases()
    hits = {a: [] for a in ATTRIBUTES}
    for pid, text in preds.items():
        t = truth.get(pid)
        if t is None:
            continue
        toks = set(re.findall(r"[a-z]+", text.lower()))
        low = " " + " ".join(re.findall(r"[a-z']+", text.lower())) + " "
        for a in ("owner", "colour", "shape"):
            named = {w for w in words[a] if w in toks or f"{w}'s" in low}
            hits[a].append(named == {t[a]})
        for a, table in (("motion", motion), ("sound", sound)):
            if t[a] is None:
                continue
            named = {v for v, phrases in table.items() if any(f" {p} " in low for p in phrases)}
            hits[a].append(named == {t[a]})
    return {a: sum(h) / len(h) for a, h in hits.items() if h}


# ---------------------------------------------------------------- collection


def collect(plan: list[dict], data: Path | None, domain_data: Path | None = None) -> tuple[list[dict], list[str]]:
    truth = caption_truth(data) if data else {}
    # the domain_shift grid's data dir: its photo clips are the main data's (same ids, same truth)
    truth.update(caption_truth(domain_data) if domain_data else {})
    results, missing = [], []
    cache: dict[str, dict | None] = {}
    for row in plan:
        run = Path(row["run"])
        if row["run"] not in cache:
            sp = run / "preds_test.scores.json"
            if not sp.is_file():
                cache[row["run"]] = None
            else:
                doc = json.loads(sp.read_text())
                metrics = {k: float(v) for k, v in doc["metrics"].items() if isinstance(v, (int, float))}
                if row["task"] == "caption" and truth and (run / "preds_test.json").is_file():
                    preds = {r["id"]: r["prediction"] for r in json.loads((run / "preds_test.json").read_text())["predictions"]}
                    metrics.update({f"attr_{k}": v for k, v in attribute_accuracy(preds, truth).items()})
                    if row["grid"] == "domain_shift":
                        metrics.update(domain_motion(preds, truth))
                summ = run / "train_summary.json"
                train_s = json.loads(summ.read_text()).get("seconds") if summ.is_file() else None
                cache[row["run"]] = {"metrics": metrics, "train_seconds": train_s, "cpu_seconds": _cpu_seconds(run)}
        got = cache[row["run"]]
        if got is None:
            missing.append(row["run"])
            continue
        results.append({**row, **got})
    return results, sorted(set(missing))


def aggregate(results: list[dict]) -> dict:
    """grid -> cell -> task -> metric -> {mean, std, n, values}."""
    agg: dict = {}
    for r in results:
        slot = agg.setdefault(r["grid"], {}).setdefault(r["cell"], {}).setdefault(r["task"], {})
        for k, v in r["metrics"].items():
            slot.setdefault(k, []).append(v)
    for grid in agg.values():
        for cell in grid.values():
            for task, ms in cell.items():
                cell[task] = {k: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                                  "n": len(v), "values": v} for k, v in ms.items()}
    return agg


def _fmt(stat: dict | None, scale: float = 100.0) -> str:
    if not stat:
        return ""
    return f"{scale * stat['mean']:.2f} ± {scale * stat['std']:.2f}"


def _cells(plan: list[dict], grid: str) -> list[str]:
    seen: list[str] = []
    for r in plan:
        if r["grid"] == grid and r["cell"] not in seen:
            seen.append(r["cell"])
    return seen


# ---------------------------------------------------------------- tables


def tables(plan: list[dict], agg: dict) -> list[str]:
    lines: list[str] = []
    for grid in [g for g in GRID_TITLES if any(r["grid"] == g for r in plan)]:
        lines += [f"## {GRID_TITLES[grid]}", ""]
        a = agg.get(grid, {})
        cells = _cells(plan, grid)
        n_seeds = sorted({r["seed"] for r in plan if r["grid"] == grid})
        if grid == "modalities":
            lines += ["| inputs | dialog CIDEr | dialog BLEU-4 | dialog METEOR | dialog ROUGE-L | QA accuracy |",
                      "|---|---|---|---|---|---|"]
            for c in cells:
                d, q = a.get(c, {}).get("dialog", {}), a.get(c, {}).get("qa", {})
                lines.append(f"| {c} | {_fmt(d.get('CIDEr'))} | {_fmt(d.get('Bleu_4'))} | {_fmt(d.get('METEOR'))} | "
                             f"{_fmt(d.get('ROUGE_L'))} | {_fmt(q.get('accuracy'))} |")
        elif grid == "qa_data":
            lines += ["| training data / objective | accuracy (generative) | accuracy (discriminative) |", "|---|---|---|"]
            fracs: dict[str, dict[str, str]] = {}
            extra = []
            for c in cells:
                m = re.fullmatch(r"(generative|discriminative) (\d+)%", c)
                acc = a.get(c, {}).get("qa", {}).get("accuracy")
                if m:
                    fracs.setdefault(m.group(2), {})[m.group(1)] = _fmt(acc)
                else:
                    extra.append((c, _fmt(acc)))
            for pct in sorted(fracs, key=int):
                lines.append(f"| {pct}% | {fracs[pct].get('generative', '')} | {fracs[pct].get('discriminative', '')} |")
            for c, v in extra:
                lines.append(f"| {c.replace('generative ', '')} | {v} | |")
        elif grid == "domain_shift":
            doms = [d for d in DOMAINS if any(f"attr_motion@{d}" in a.get(c, {}).get("caption", {}) for c in cells)]
            lines += ["| tokens | CIDEr | names motion | " + " | ".join(f"motion: {d}" for d in doms) + " | names colour | names shape |",
                      "|---|---|---|" + "---|" * len(doms) + "---|---|"]
            for c in cells:
                st = a.get(c, {}).get("caption", {})
                lines.append(f"| {c} | {_fmt(st.get('CIDEr'))} | {_fmt(st.get('attr_motion'))} | "
                             + " | ".join(_fmt(st.get(f"attr_motion@{d}")) for d in doms)
                             + f" | {_fmt(st.get('attr_colour'))} | {_fmt(st.get('attr_shape'))} |")
        else:  # captioning grids
            lines += ["| setting | BLEU-4 | METEOR | ROUGE-L | CIDEr | " + " | ".join(f"names {x}" for x in ATTRIBUTES) + " |",
                      "|---|---|---|---|---|" + "---|" * len(ATTRIBUTES)]
            for c in cells:
                s = a.get(c, {}).get("caption", {})
                lines.append(f"| {c} | " + " | ".join(_fmt(s.get(m)) for m in CAPTION_METRICS) + " | "
                             + " | ".join(_fmt(s.get(f"attr_{x}")) for x in ATTRIBUTES) + " |")
        lines += ["", f"Mean ± std over seeds {', '.join(map(str, n_seeds))}; metrics in %, test split."
                  + (" `names X`: % of test captions that name the clip's true X and no other." if grid in ("tokenization", "k") else "")
                  + (" `motion: D`: the same for the motion, on the test clips of domain D. The classifiers were pre-trained"
                     " on photo only; VX2TEXT trains and tests on every domain." if grid == "domain_shift" else ""),
                  "", f"![{grid}]({grid}.png)", ""]
    return lines


# ---------------------------------------------------------------- plots


def plots(plan: list[dict], agg: dict, out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("ablate_report: matplotlib is not installed (pip install 'vxt[plot]'): no plots", file=sys.stderr)
        return []
    made = []

    def bars(ax, labels, stats, title, ylabel):
        means = [100 * s["mean"] if s else 0.0 for s in stats]
        stds = [100 * s["std"] if s else 0.0 for s in stats]
        x = range(len(labels))
        ax.bar(x, means, yerr=stds, capsize=4, color=plt.cm.tab10.colors[: len(labels)], edgecolor="black", linewidth=0.5)
        for i, (m, s) in enumerate(zip(means, stds)):
            ax.text(i, m + s, f"{m:.1f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)

    def save(fig, name):
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=120)
        plt.close(fig)
        path = out / f"{name}.png"
        atomic_write_bytes(path, png.getvalue())
        made.append(path)

    for grid in [g for g in GRID_TITLES if g in agg]:
        a, cells = agg[grid], _cells(plan, grid)
        if grid == "modalities":
            panels = [("dialog", "CIDEr", "dialog: CIDEr"), ("dialog", "METEOR", "dialog: METEOR"), ("qa", "accuracy", "QA: accuracy")]
            fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
            for ax, (task, metric, title) in zip(axes, panels):
                cs = [c for c in cells if task in a.get(c, {})]
                bars(ax, cs, [a[c][task].get(metric) for c in cs], title, f"{metric} (%)")
            save(fig, grid)
        elif grid == "qa_data":
            fig, ax = plt.subplots(figsize=(5.5, 4))
            for head, marker in (("generative", "o"), ("discriminative", "s")):
                pts = []
                for c in cells:
                    m = re.fullmatch(rf"{head} (\d+)%", c)
                    s = a.get(c, {}).get("qa", {}).get("accuracy")
                    if m and s:
                        pts.append((int(m.group(1)), 100 * s["mean"], 100 * s["std"]))
                if pts:
                    pts.sort()
                    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker=marker,
                                capsize=4, label=head)
            # both objectives train on 100%: drawn a little apart so that neither hides the other
            for c, marker, x in (("generative QA+QG 100%", "^", 92), ("generative cycle 100%", "D", 108)):
                s = a.get(c, {}).get("qa", {}).get("accuracy")
                if s:
                    ax.errorbar([x], [100 * s["mean"]], yerr=[100 * s["std"]], marker=marker, capsize=4, linestyle="none",
                                label=c.replace("generative ", "").replace(" 100%", ""))
            ax.set_xscale("log")
            ax.set_xticks([10, 25, 50, 100])
            ax.set_xticklabels(["10%", "25%", "50%", "100%"])
            ax.set_xlabel("training data")
            ax.set_ylabel("QA accuracy (%)")
            ax.set_title("QA accuracy vs training data", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            save(fig, grid)
        else:
            panels = [("CIDEr", "CIDEr")] + [(f"attr_{x}", f"names {x}") for x in ("motion", "sound", "colour", "shape")]
            fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.8))
            cs = [c for c in cells if "caption" in a.get(c, {})]
            for ax, (metric, title) in zip(axes, panels):
                bars(ax, cs, [a[c]["caption"].get(metric) for c in cs], f"captioning: {title}", "%")
            save(fig, grid)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="the ablations dir (holds plan.tsv)")
    ap.add_argument("--data", type=Path, default=None, help="the synthetic data dir (for the caption attributes)")
    ap.add_argument("--domain-data", type=Path, default=None, help="the domain_shift grid's data dir (vxt prepare synth --domains)")
    ap.add_argument("--copy-to", type=Path, default=None, help="also write the tables here (e.g. recipes/synth/RESULTS.md)")
    ap.add_argument("--command", default="bash recipes/synth/ablate.sh", help="the command to print as the way to regenerate")
    args = ap.parse_args()
    plan = read_plan(args.out)
    results, missing = collect(plan, args.data, args.domain_data)
    agg = aggregate(results)
    runs = {r["run"]: r for r in results}
    cpu = sum(r["cpu_seconds"] or 0.0 for r in runs.values())
    train = sum(r["train_seconds"] or 0.0 for r in runs.values())
    wall_file = args.out / "stage2_seconds.txt"
    wall = float(wall_file.read_text().split()[0]) if wall_file.is_file() else None
    cpu_model = ""
    try:
        cpu_model = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    head = [
        "# VX2TEXT ablations on the synthetic benchmark",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: {os.cpu_count()} CPU cores"
        + (f" ({cpu_model})" if cpu_model else "") + ", no GPU.",
        f"Regenerate with `{args.command}` (after `make demo`, or it runs the synthetic recipe's stages 1-3 first).",
        f"{len(runs)} runs; CPU time (user + system, all runs): {cpu / 3600:.2f} h; training alone: {train / 3600:.2f} h of wall time"
        + (f"; stage 2 took {wall / 3600:.2f} h of wall time." if wall else "."),
        "",
    ]
    if missing:
        head += [f"**{len(missing)} run(s) have no scores yet** (not in the means): " + ", ".join(Path(m).name for m in missing), ""]
    text = "\n".join(head + tables(plan, agg)) + "\n"
    atomic_write_text(args.out / "RESULTS.md", text)
    write_json(args.out / "results.json", {"aggregate": agg, "runs": results, "missing": missing}, indent=1)
    made = plots(plan, agg, args.out)
    if args.copy_to:  # the tables, with the plots beside them in ablation_plots/
        plot_dir = args.copy_to.parent / "ablation_plots"
        for p in made:
            atomic_write_bytes(plot_dir / p.name, p.read_bytes())
        atomic_write_text(args.copy_to, re.sub(r"\]\((\w+\.png)\)", r"](ablation_plots/\1)", text))
    print(text)
    for p in made:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
