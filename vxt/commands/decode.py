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
        beam: int = typer.Option(5, "--beam", min=1, help="Beam width."),
        greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding instead of beam search."),
        explain: bool = typer.Option(False, "--explain", help="Show the category tokens each modality contributed and the text inputs."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="With a data dir: decode only the first N examples."),
        batch_size: int = typer.Option(16, "--batch-size", min=1),
        out: Optional[str] = typer.Option(None, "--out", help="Where to write preds.json (default: the experiment dir's preds_<split>.json for a data dir; ./<video stem>.<task>.preds.json for media files)."),
        features: Optional[str] = typer.Option(None, "--features", help="--task dense: a folder of pre-extracted features (<name>_rgb/_flow/_vggish.npy, BMT's layout); --task sound: SpecVQGAN's visual features (<clip>.pkl/.npy; DIR/*/KIND per class; RGB:FLOW concatenated)."),
        set_: Optional[List[str]] = typer.Option(None, "--set", help="--task dense decode options, key=value: top_k, nms, segments=gt|proposals, captioner=<caption exp dir>, feature_combine=sum|concat. --task sync: shift=SECONDS (with --fix), method=auto|retime|reencode, vstart=SECONDS."),
        fix: bool = typer.Option(False, "--fix", help="--task sync: also write the video with its audio moved by the offset found (to --out FILE.mp4; video packets copied untouched)."),
        samples: Optional[int] = typer.Option(None, "--samples", min=1, help="--task sound: sounds to sample per video (a sampler checkpoint); one wav each."),
    ) -> None:
        """Decode media files or a data dir split with a trained model; writes preds.json."""
        from pathlib import Path

        from vxt.inference import DecodeRequest, decode as run_decode
        from vxt.registry import parse_overrides
        from vxt.tasks import get_task_entry
        from vxt.utils import check_writable, console, write_json

        if out is not None:
            check_writable(out)  # an unwritable --out: one line now, not after the whole decode
        cands = None
        if candidates:
            cands = [c.strip() for part in candidates for c in part.split("|") if c.strip()]
        req = DecodeRequest(inputs=list(inputs), task=task, ckpt=ckpt, split=split, question=question,
                            candidates=cands, history=list(history or []), subtitles=subtitles, beam=beam,
                            greedy=greedy, limit=limit, batch_size=batch_size, features=features,
                            overrides={**parse_overrides(set_), **({"samples": samples} if samples else {})}, fix=fix)
        result = run_decode(req)
        preds = result["preds"]
        first = Path(inputs[0])
        if first.is_dir():
            exp = Path(preds["checkpoint"])
            exp = exp.parent if exp.name in ("best", "last") else exp
            default = str(exp / f"preds_{split}.json")
        else:
            # beside the user's other outputs, named after the input (never a shared ./preds.json)
            more = f"+{len(inputs) - 1}" if len(inputs) > 1 else ""
            default = f"{first.stem}{more}.{task}.preds.json"
        entry = get_task_entry(preds["task"])
        preds_path = entry.preds_path(out, list(inputs), default)
        entry.after_decode(preds, preds_path, out, req, console())  # may add the paths of what it wrote
        write_json(preds_path, preds)
        entry.print_predictions(preds, result["explain"] if explain else None, console())
        if result["failed"]:
            console().print(f"[yellow]{len(result['failed'])} input(s) skipped[/]: " + ", ".join(result["failed"]))
        console().print(f"wrote {preds_path}")
