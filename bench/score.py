"""Time ``vxt score``'s dense-captioning evaluation against a straightforward per-threshold implementation.

Workload: the full ActivityNet Captions val_1 references
(/work/shared/data/anet/val_1.json, 4,917 videos) with generated predictions:
val_2's segments and sentences for the videos the two files share (4,885
videos, ~17k events), as an ActivityNet submission. Both implementations
score it with max_proposals=100 and the four tIoUs, METEOR included:

* ``reference``: bench/densevid_reference.py, the official evaluator's
  structure (per threshold: build items, PTB-tokenize, then each
  pycocoevalcap scorer per video);
* ``vxt``: ``vxt.metrics.score_dense`` (one tokenizer call, one METEOR
  process fed in batches with each distinct pair once, exact per-video
  BLEU/ROUGE-L/CIDEr in a process pool).

Each run is a fresh subprocess; wall time and CPU time (the process and all
its children, Java included) are measured. Runs alternate (vxt, reference,
vxt, ...) so that load from other work on the machine hits both alike. The
numbers of every run are compared for exact equality.

    .venv/bin/python bench/score.py                 # full val_1, 1 run each
    .venv/bin/python bench/score.py --repeats 3
    .venv/bin/python bench/score.py --videos 500    # quick look

Writes bench/results/score.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VXT_SHARED_DATA", REPO.parent / "shared" / "data"))


def make_submission(val_1: Path, val_2: Path, videos: int | None, out: Path, refs_out: Path) -> dict:
    v1 = json.loads(val_1.read_text())
    v2 = json.loads(val_2.read_text())
    vids = sorted(v1)
    if videos:
        vids = vids[:videos]
    refs = {v: v1[v] for v in vids}
    results = {
        v: [{"sentence": s, "timestamp": t} for s, t in zip(v2[v]["sentences"], v2[v]["timestamps"])]
        for v in vids
        if v in v2
    }
    sub = {"version": "VERSION 1.0", "results": results, "external_data": {"used": False, "details": "val_2 as predictions"}}
    out.write_text(json.dumps(sub))
    refs_out.write_text(json.dumps(refs))
    return {
        "reference_videos": len(refs),
        "videos_with_predictions": len(results),
        "predictions": sum(len(x) for x in results.values()),
        "reference_segments": sum(len(r["timestamps"]) for r in refs.values()),
    }


def worker(impl: str, sub_path: str, refs_path: str, out_path: str, official_tokenization: bool) -> None:
    """Runs in a subprocess: score once, write the numbers and the in-process wall time."""
    sub = json.loads(Path(sub_path).read_text())
    refs = json.loads(Path(refs_path).read_text())
    t0 = time.perf_counter()
    if impl == "vxt":
        from vxt.metrics.dense import score_dense

        events = {v: [{"start": e["timestamp"][0], "end": e["timestamp"][1], "sentence": e["sentence"]} for e in evs]
                  for v, evs in sub["results"].items()}
        r = score_dense(events, [refs], max_proposals=100, seed=0)
        metrics = {k: r[k] for k in ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "Precision", "Recall")}
        per_tiou = {t: {k: row[k] for k in metrics} for t, row in r["per_tiou"].items()}
        info = {k: r[k] for k in ("n_items", "n_distinct_pairs", "timings_s")}
    else:
        sys.path.insert(0, str(REPO / "bench"))
        from densevid_reference import ReferenceDenseEval

        ev = ReferenceDenseEval([refs], sub["results"], max_proposals=100, seed=0,
                                tokenize_per_scorer=official_tokenization)
        avg = ev.evaluate()
        for scorer, _ in ev.scorers:  # stop METEOR's Java so its CPU time is counted
            proc = getattr(scorer, "meteor_p", None)
            if proc is not None:
                proc.stdin.close()
                proc.kill()
                proc.wait()
        metrics = {k: float(v) for k, v in avg.items()}
        per_tiou = {f"{t:g}": {k: float(ev.scores[k][i]) for k in metrics} for i, t in enumerate(ev.tious)}
        info = {}
    wall = time.perf_counter() - t0
    Path(out_path).write_text(json.dumps({"impl": impl, "wall_s": wall, "metrics": metrics, "per_tiou": per_tiou, **info}))


def run_one(impl: str, sub: Path, refs: Path, tmp: Path, i: int, official_tokenization: bool) -> dict:
    out = tmp / f"{impl}-{i}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--worker", impl, "--sub", str(sub), "--refs-file", str(refs), "--result", str(out)]
    if official_tokenization:
        cmd.append("--official-tokenization")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res = json.loads(out.read_text())
    res.update({"process_wall_s": wall, "cpu_s": cpu, "loadavg_after": os.getloadavg()})
    return res


def compare(a: dict, b: dict) -> tuple[bool, float]:
    identical, worst = True, 0.0
    for k in a["metrics"]:
        d = abs(a["metrics"][k] - b["metrics"][k])
        worst = max(worst, d)
        identical &= a["metrics"][k] == b["metrics"][k]
    for t in a["per_tiou"]:
        for k in a["per_tiou"][t]:
            d = abs(a["per_tiou"][t][k] - b["per_tiou"][t][k])
            worst = max(worst, d)
            identical &= a["per_tiou"][t][k] == b["per_tiou"][t][k]
    return identical, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--videos", type=int, default=None, help="score only the first N val_1 videos")
    ap.add_argument("--official-tokenization", action="store_true",
                    help="the reference tokenizes once per scorer, as densevid_eval does (slower reference)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "score.json"))
    ap.add_argument("--worker", choices=["vxt", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--sub", help=argparse.SUPPRESS)
    ap.add_argument("--refs-file", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.sub, args.refs_file, args.result, args.official_tokenization)
        return

    from vxt.metrics.java import tool_versions

    with tempfile.TemporaryDirectory(prefix="vxt-bench-score-") as tmp_s:
        tmp = Path(tmp_s)
        sub, refs = tmp / "submission.json", tmp / "val_1.json"
        workload = make_submission(DATA / "anet" / "val_1.json", DATA / "anet" / "val_2.json", args.videos, sub, refs)
        print(f"workload: {workload}", flush=True)
        load_before = os.getloadavg()
        runs = []
        for i in range(args.repeats):
            for impl in ("vxt", "reference"):
                r = run_one(impl, sub, refs, tmp, i, args.official_tokenization)
                print(f"run {i} {impl:9s}: wall {r['process_wall_s']:.1f} s, cpu {r['cpu_s']:.1f} s, "
                      f"load {r['loadavg_after'][0]:.1f}", flush=True)
                runs.append(r)

    vxt_runs = [r for r in runs if r["impl"] == "vxt"]
    ref_runs = [r for r in runs if r["impl"] == "reference"]
    identical, worst = True, 0.0
    for r in runs[1:]:
        same, d = compare(runs[0], r)
        identical &= same
        worst = max(worst, d)

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    vw, rw = med([r["process_wall_s"] for r in vxt_runs]), med([r["process_wall_s"] for r in ref_runs])
    vc, rc = med([r["cpu_s"] for r in vxt_runs]), med([r["cpu_s"] for r in ref_runs])
    doc = {
        "benchmark": "dense captioning evaluation (ActivityNet Captions protocol, METEOR included)",
        "workload": {**workload, "references": "anet/val_1.json" + (f" (first {args.videos} videos)" if args.videos else ""),
                     "predictions": "anet/val_2.json segments and sentences of the shared videos",
                     "max_proposals": 100, "tious": [0.3, 0.5, 0.7, 0.9]},
        "reference_tokenization": "per scorer (official)" if args.official_tokenization else "once per threshold",
        "median_wall_s": {"vxt": vw, "reference": rw},
        "median_cpu_s": {"vxt": vc, "reference": rc},
        "speedup_wall": rw / vw,
        "speedup_cpu": rc / vc,
        "identical_numbers": identical,
        "max_abs_difference": worst,
        "metrics": runs[0]["metrics"],
        "per_tiou": runs[0]["per_tiou"],
        "vxt_breakdown": {k: vxt_runs[0][k] for k in ("n_items", "n_distinct_pairs", "timings_s")},
        "runs": [{k: r[k] for k in ("impl", "process_wall_s", "wall_s", "cpu_s", "loadavg_after")} for r in runs],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load_before,
                    "note": "shared machine: other jobs ran at the same time, see loadavg"},
        "tools": tool_versions(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from vxt.utils import write_json

    write_json(out, doc)
    print(f"vxt {vw:.1f} s vs reference {rw:.1f} s wall: {rw / vw:.2f}x; cpu {vc:.1f} s vs {rc:.1f} s: {rc / vc:.2f}x; "
          f"identical numbers: {identical} (max |diff| {worst:.3g})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
