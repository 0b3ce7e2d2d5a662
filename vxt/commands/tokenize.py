"""``vxt tokenize DATA``: the text tokenizer and, per split, the top-K category tokens of each classifier."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("tokenize")
    def tokenize(
        data: str = typer.Argument("data/synth", help="A data dir made by `vxt prepare`."),
        backbone: Optional[str] = typer.Option(None, "--backbone", help="A pretrained T5 dir: use its tokenizer (none is trained)."),
        vocab_size: int = typer.Option(2000, "--vocab-size", min=1, help="Vocabulary of the trained tokenizer."),
        video_classifier: str = typer.Option("tiny-video", "--video-classifier"),
        audio_classifier: str = typer.Option("tiny-audio", "--audio-classifier"),
        video_weights: Optional[str] = typer.Option(None, "--video-weights", help="Local weights (file or `vxt train --task classify` dir)."),
        audio_weights: Optional[str] = typer.Option(None, "--audio-weights"),
        k_video: int = typer.Option(12, "--k-video", min=1, help="K_v: video categories per example."),
        k_audio: int = typer.Option(6, "--k-audio", min=1, help="K_a: audio categories per example."),
        no_tokens: bool = typer.Option(False, "--no-tokens", help="Only the text tokenizer."),
        force: bool = typer.Option(False, "--force", help="Retrain the tokenizer even if DATA/tokenizer exists."),
    ) -> None:
        """Train the text tokenizer and write tokens/<split>.jsonl (category names each classifier gives)."""
        from rich.table import Table

        from vxt.models.vx2text.tokens import tokenize as run
        from vxt.utils import console

        result = run(data, backbone=backbone, vocab_size=vocab_size, force=force,
                     video_classifier=video_classifier, audio_classifier=audio_classifier,
                     video_weights=video_weights, audio_weights=audio_weights, k_video=k_video, k_audio=k_audio,
                     tokens=not no_tokens)
        table = Table(title=f"vxt tokenize {data}")
        table.add_column("output")
        table.add_column("")
        table.add_row("tokenizer", result["tokenizer"])
        for split, n in (result.get("tokens") or {}).items():
            table.add_row(f"tokens/{split}.jsonl", f"{n} examples")
        console().print(table)
