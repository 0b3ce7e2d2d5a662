"""``vxt decode INPUT --task T``: captions, answers, dialog replies from media files or a data dir split."""

from __future__ import annotations

from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("decode")
    def decode(
        inputs: List[str] = typer.Argument(..., help="Media files (mp4, ...) or one data dir made by `vxt prepare`."),
        task: str = typer.Option(..., "--task", help="caption | qa | dialog | dense"),
        ckpt: Optional[str] = typer.Option(None, "--ckpt", help="Experiment or model dir (default: the latest exp/ run for the task)."),
        split: str = typer.Option("test", "--split", help="With a data dir: which split."),
        question: Optional[str] = typer.Option(None, "--question"),
        candidates: Optional[List[str]] = typer.Option(None, "--candidates", help="Answer candidates (repeat the option, or give them after one --candidates separated by '|')."),
        history: Optional[List[str]] = typer.Option(None, "--history", help="Dialog history turns as 'question|answer' (repeatable)."),
        subtitles: Optional[str] = typer.Option(None, "--subtitles", help="An .srt/.vtt file (default: the sidecar beside the video)."),
        beam: int = typer.Option(5, "--beam", help="Beam width."),
        greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding instead of beam search."),
        explain: bool = typer.Option(False, "--explain", help="Show the category tokens each modality contributed and the text inputs."),
        limit: Optional[int] = typer.Option(None, "--limit", help="With a data dir: decode only the first N examples."),
        batch_size: int = typer.Option(16, "--batch-size"),
        out: Optional[str] = typer.Option(None, "--out", help="Where to write preds.json (default: the experiment dir for a data dir, ./preds.json for media files)."),
        features: Optional[str] = typer.Option(None, "--features", help="--task dense: a folder of pre-extracted features (<name>_rgb/_flow/_vggish.npy, BMT's layout)."),
        set_: Optional[List[str]] = typer.Option(None, "--set", help="--task dense decode options, key=value: top_k, nms, segments=gt|proposals, captioner=<caption exp dir>, feature_combine=sum|concat."),
    ) -> None:
        """Decode media files or a data dir split with a trained model; writes preds.json."""
        from pathlib import Path

        from vxt.inference import DecodeRequest, decode as run_decode
        from vxt.registry import parse_overrides
        from vxt.utils import console, write_json

        cands = None
        if candidates:
            cands = [c.strip() for part in candidates for c in part.split("|") if c.strip()]
        req = DecodeRequest(inputs=list(inputs), task=task, ckpt=ckpt, split=split, question=question,
                            candidates=cands, history=list(history or []), subtitles=subtitles, beam=beam,
                            greedy=greedy, limit=limit, batch_size=batch_size, features=features,
                            overrides=parse_overrides(set_))
        result = run_decode(req)
        preds = result["preds"]
        if out is None:
            first = Path(inputs[0])
            if first.is_dir():
                exp = Path(preds["checkpoint"])
                exp = exp.parent if exp.name == "best" else exp
                out = str(exp / f"preds_{split}.json")
            else:
                out = "preds.json"
        write_json(out, preds)
        _print(preds, result["explain"] if explain else None, console())
        if result["failed"]:
            console().print(f"[yellow]{len(result['failed'])} input(s) skipped[/]: " + ", ".join(result["failed"]))
        console().print(f"wrote {out}")


def _print(preds: dict, explain: list | None, con) -> None:
    from rich.table import Table

    rows = preds["predictions"]
    if preds["task"] == "dense":
        _print_dense(rows, con)
        return
    if explain:
        table = Table(title="what the language model saw", show_lines=True)
        for col in ("id", "video tokens", "audio tokens", "text inputs", "prediction"):
            table.add_column(col, overflow="fold")
        for e in explain:
            text = e.get("text") or {}
            text_s = "\n".join(f"[b]{k}[/b]: {v}" for k, v in text.items() if v)
            table.add_row(e["id"], ", ".join(e.get("video") or []) or "-", ", ".join(e.get("audio") or []) or "-",
                          text_s or "-", e["prediction"])
        con.print(table)
        return
    if len(rows) > 20:
        con.print(f"{len(rows)} predictions (first 20):")
    table = Table(title=f"vxt decode --task {preds['task']}")
    table.add_column("id")
    table.add_column("prediction", overflow="fold")
    if any("references" in r for r in rows[:20]):
        table.add_column("reference", overflow="fold")
    for r in rows[:20]:
        cells = [r["id"], r["prediction"]]
        if any("references" in x for x in rows[:20]):
            cells.append((r.get("references") or [""])[0])
        table.add_row(*cells)
    con.print(table)


def _print_dense(rows: list, con, n_best: int = 10, max_videos: int = 5) -> None:
    """A timeline per video: its ``n_best`` most confident events, sorted by start time."""
    from rich.table import Table

    if len(rows) > max_videos:
        con.print(f"{len(rows)} videos (first {max_videos}):")
    for r in rows[:max_videos]:
        events = r.get("events") or []
        best = sorted(events[:n_best], key=lambda e: (float(e["start"]), float(e["end"])))
        title = f"{r['id']}: {len(best)} of {len(events)} events (most confident first, shown by start time)"
        table = Table(title=title, title_justify="left")
        for col, kw in (("start", {"justify": "right"}), ("end", {"justify": "right"}), ("score", {"justify": "right"}),
                        ("caption", {"overflow": "fold"})):
            table.add_column(col, **kw)
        for e in best:
            table.add_row(f"{float(e['start']):.1f}s", f"{float(e['end']):.1f}s", f"{float(e.get('score', 0.0)):.2f}",
                          e.get("sentence", ""))
        con.print(table)
