"""``sync``: how late the sound of a video is (SparseSync's offset classes), and moving it back (``--fix``).

Offsets follow vxt's convention (:mod:`vxt.metrics.sync`): positive = the
audio is heard later than the picture it belongs to. ``vxt decode clip.mp4
--task sync`` prints the offset found, its probability and the next two
candidates; a file longer than one 5 s trim is read in windows sliding over it
(``--set hop=``, ``--set windows=``), printed one by one, and the overall
offset is the soft vote of the windows, with how many of them agree; with ``--fix
--out fixed.mp4`` it also writes the file with its audio moved by minus that
offset (or by ``--set shift=SECONDS``, positive = later) and its video
packets copied untouched (:func:`vxt.data.media.remux.shift_audio`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.errors import VxtError
from vxt.tasks.base import Task, register_task

#: the model's defaults, for choosing examples before a model exists (its config decides in the end)
CLIP_SECONDS, MAX_OFFSET = 5.0, 2.0
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")


def _example_length(ex: dict, data_dir: str | Path) -> float | None:
    """The clip length of an example: its manifest's ``end - start`` (or ``duration``), else the file's."""
    start = float(ex.get("start") or 0.0)
    if ex.get("end") is not None:
        return float(ex["end"]) - start
    if ex.get("duration") is not None:
        return float(ex["duration"]) - start
    from vxt.data.manifest import resolve_media
    from vxt.data.media import probe

    try:
        info = probe(resolve_media(data_dir, ex["video"]))
    except VxtError:
        return None  # the model says what is wrong with the file when it reads it
    return None if info.duration is None else float(info.duration) - start


class SyncTask(Task):
    name = "sync"
    description = "sync: the audio-visual offset (is the sound late, by how much), and fixing it"
    default_model = "sparsesync"
    metric = "accuracy_1"
    scorer = "sync"

    def run_name(self, opts: Any) -> list[str]:
        parts = [opts.model]
        if opts.overrides.get("selectors") is False:
            parts.append("noselectors")
        if opts.overrides.get("n_classes"):
            parts.append(f"{opts.overrides['n_classes']}cls")
        return parts

    def examples(self, data_dir: str | Path, split: str, opts: Any = None) -> list[dict]:
        """The examples with video and audio in clips long enough for trims at every offset (9 s).

        Shorter clips are skipped, and said once: trims there would need
        padding, and padding gives the offset away.
        """
        from vxt.utils import say_once

        over = getattr(opts, "overrides", None) or {}
        need = float(over.get("clip_seconds", CLIP_SECONDS)) + 2 * float(over.get("max_offset", MAX_OFFSET))
        keep, short, no_av = [], [], []
        for ex in super().examples(data_dir, split, opts):
            missing = ex.get("missing") or []
            if not ex.get("video") or "video" in missing or "audio" in missing:
                no_av.append(ex.get("id"))
                continue
            length = _example_length(ex, data_dir)
            if length is not None and length + 0.02 < need:
                short.append(ex.get("id"))
                continue
            keep.append(ex)
        if short:
            say_once(f"sync: skipped {len(short)} {split} example(s) shorter than {need:g} s (first: {short[0]}): "
                     "a 5 s trim at every offset would need padding there, and padding gives the offset away")
        if no_av:
            say_once(f"sync: skipped {len(no_av)} {split} example(s) without both video and audio "
                     f"(first: {no_av[0]})")
        return keep

    # ------------------------------------------------------------ scoring

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        from vxt.metrics.sync import METRICS, grid_for, score_offsets

        scored = [p for p in preds if p.get("target") is not None]
        if not scored:
            return {}
        grid = grid_for(len(scored[0]["probs"]), scored[0].get("max_offset"))
        r = score_offsets([p["offset"] for p in scored], [p["target"] for p in scored], grid)
        return {k: r[k] for k in METRICS}

    # ------------------------------------------------------------ decoding

    def prediction_row(self, pred: dict, example: dict) -> dict:
        row = {"id": pred["id"], "prediction": pred["prediction"], "offset": pred["offset"], "probs": pred["probs"]}
        target = pred.get("target", example.get("offset"))
        if target is not None:
            row["target"] = float(target)
        for key in ("vstart", "candidates", "windows", "agreement", "clip_seconds"):
            if key in pred:
                row[key] = pred[key]
        return row

    def preds_path(self, out: str | None, inputs: list[str], default: str) -> str:
        """``--out fixed.mp4`` names the fixed video: preds.json goes beside it (``fixed.sync.preds.json``)."""
        if out is not None and Path(out).suffix.lower() in _VIDEO_SUFFIXES:
            return str(Path(out).with_name(f"{Path(out).stem}.sync.preds.json"))
        return super().preds_path(out, inputs, default)

    def after_decode(self, preds: dict, preds_path: str, out: str | None, request: Any, con) -> None:
        """Record the offset grid; with ``--fix``, write each input with its audio moved (see the module docstring)."""
        from vxt.utils import read_json

        ckpt = Path(preds.get("checkpoint") or "")
        if (ckpt / "config.json").is_file():
            from vxt.metrics.sync import offset_grid

            cfg = read_json(ckpt / "config.json")
            preds["offset_grid"] = [float(x) for x in offset_grid(int(cfg.get("n_classes", 21)),
                                                                   float(cfg.get("max_offset", 2.0)))]
        fix = bool(getattr(request, "fix", False))
        if not fix:
            if out is not None and Path(out).suffix.lower() in _VIDEO_SUFFIXES:
                raise VxtError(f"--out {out} names a video: add --fix to write the fixed file there")
            return
        inputs = list(getattr(request, "inputs", []) or [])
        if len(inputs) == 1 and Path(inputs[0]).is_dir():
            raise VxtError("--fix moves the audio of media files: give the files, not a data dir")
        targets = self._fix_targets(preds["predictions"], inputs, out)
        over = dict(getattr(request, "overrides", {}) or {})
        method = over.get("method", "auto")
        from vxt.data.media.remux import shift_audio

        for row, (src, dst) in targets:
            shift = over.get("shift")
            if shift is None:
                shift = -float(row["offset"])
            elif not isinstance(shift, (int, float)) or isinstance(shift, bool):
                raise VxtError(f"--set shift= takes seconds (positive = later), got {shift!r}")
            done = shift_audio(src, dst, float(shift), method=method)
            row["fixed"] = str(dst)
            row["shift"] = round(done["shift"], 6)
            row["fix_method"] = done["method"]

    @staticmethod
    def _fix_targets(rows: list[dict], inputs: list[str], out: str | None) -> list:
        """(row, (input file, fixed file)) per prediction: ``--out`` for one input, ``<stem>.fixed<ext>`` else."""
        by_stem: dict[str, list[str]] = {}
        for raw in inputs:
            by_stem.setdefault(Path(raw).stem, []).append(raw)
        pairs = []
        for row in rows:
            rid = str(row["id"])
            src = (by_stem.get(rid) or [None])[0]
            if src is None:  # a repeated file name: `<stem>-<n>`
                stem = rid.rsplit("-", 1)[0]
                cands = by_stem.get(stem) or []
                src = cands[1] if len(cands) > 1 else (cands[0] if cands else None)
            if src is None:
                continue
            if out is not None and len(inputs) == 1:
                dst = Path(out)
            elif out is not None and Path(out).is_dir():
                dst = Path(out) / f"{Path(src).stem}.fixed{Path(src).suffix or '.mp4'}"
            elif out is not None:
                raise VxtError("--fix with several inputs writes <stem>.fixed.mp4 files: give --out a folder")
            else:
                dst = Path(f"{Path(src).stem}.fixed{Path(src).suffix or '.mp4'}")
            pairs.append((row, (src, dst)))
        return pairs

    def print_predictions(self, preds: dict, explain: list | None, con) -> None:
        """Per input: the offset found (s), its probability, what it means, the target where known, the fix."""
        from rich.table import Table

        rows = preds["predictions"]
        if len(rows) > 20:
            con.print(f"{len(rows)} predictions (first 20):")
        table = Table(title="vxt decode --task sync (offset > 0: the audio is late)")
        with_target = any(r.get("target") is not None for r in rows[:20])
        with_fixed = any(r.get("fixed") for r in rows[:20])
        with_windows = any(r.get("windows") for r in rows[:20])
        for col, kw, shown in (("id", {}, True), ("offset", {"justify": "right"}, True),
                               ("probability", {"justify": "right"}, True), ("meaning", {}, True),
                               ("next candidates", {}, True), ("windows", {"justify": "right"}, with_windows),
                               ("target", {"justify": "right"}, with_target), ("fixed", {"overflow": "fold"}, with_fixed)):
            if shown:
                table.add_column(col, **kw)
        for r in rows[:20]:
            off = float(r["offset"])
            probs = r.get("probs") or []
            prob = max(probs) if probs else float("nan")
            meaning = "in sync" if abs(off) < 1e-9 else (f"audio {abs(off):.1f} s late" if off > 0
                                                        else f"audio {abs(off):.1f} s early")
            target = "" if r.get("target") is None else f"{float(r['target']):+.1f} s"
            fixed = "" if not r.get("fixed") else f"{r['fixed']} (moved {float(r['shift']):+.3f} s, {r['fix_method']})"
            nxt = ", ".join(f"{c['offset']:+.1f} s ({100 * c['probability']:.1f}%)"
                            for c in (r.get("candidates") or [])[1:3])
            wins = r.get("windows") or []
            agree = (f"{len(wins)}, {round(len(wins) * r['agreement'])} agree" if wins else "1") if with_windows else None
            cells = [str(r["id"]), f"{off:+.1f} s", f"{100 * prob:.1f}%", meaning, nxt]
            table.add_row(*cells, *([agree] if with_windows else []), *([target] if with_target else []),
                          *([fixed] if with_fixed else []))
        con.print(table)
        windowed = [r for r in rows if r.get("windows")]
        if len(windowed) == 1:  # one file read in windows: each window's own estimate
            r = windowed[0]
            clip = float(r.get("clip_seconds", 5.0))
            wt = Table(title=f"{r['id']}: {len(r['windows'])} windows of {clip:g} s (offset > 0: the audio is late)")
            for col in ("window", "offset", "probability"):
                wt.add_column(col, justify="right")
            for w in r["windows"]:
                wt.add_row(f"{w['vstart']:.2f}-{w['vstart'] + clip:.2f} s", f"{w['offset']:+.1f} s",
                           f"{100 * w['probability']:.1f}%")
            con.print(wt)
            con.print(f"overall: {float(r['offset']):+.1f} s, {100 * r['agreement']:.0f}% of the windows within one "
                      "class of it")


register_task(SyncTask())
