"""``vxt prepare DATASET --out DIR``: raw benchmark files (or a folder of media) -> a data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare_cmd(
        dataset: str = typer.Argument(..., help="synth, videos, anet, tvqa, tvc, avsd or msrvtt."),
        out: Path = typer.Option(..., "--out", "-o", help="The data dir to write (rerun to resume)."),
        root: Optional[Path] = typer.Option(None, "--root", help="Folder with the benchmark's files (all but synth)."),
        workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
        seed: Optional[int] = typer.Option(None, "--seed", help="synth: the seed of every clip (default 0)."),
        n_train: Optional[int] = typer.Option(None, "--n-train", help="synth: 4 s training clips (default 800)."),
        n_val: Optional[int] = typer.Option(None, "--n-val", help="synth: validation clips (default 100)."),
        n_test: Optional[int] = typer.Option(None, "--n-test", help="synth: test clips (default 100)."),
        n_dense_train: Optional[int] = typer.Option(None, "--n-dense-train", help="synth: 20 s dense videos (default n-train / 8)."),
        n_dense_val: Optional[int] = typer.Option(None, "--n-dense-val", help="synth: dense validation videos (default n-val / 8)."),
        n_dense_test: Optional[int] = typer.Option(None, "--n-dense-test", help="synth: dense test videos (default n-test / 8)."),
        qa_per_clip: Optional[int] = typer.Option(None, "--qa-per-clip", help="synth: questions per clip, one per type (1-5, default 5)."),
        with_caption: Optional[bool] = typer.Option(None, "--with-caption/--no-caption", help="avsd: add the Charades caption and summary as text input (default: with)."),
        subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="tvqa/tvc: the subtitle JSONL (default: *sub*.jsonl in the root)."),
        frames_dir: Optional[Path] = typer.Option(None, "--frames-dir", help="tvqa/tvc: where the frame folders are (default: under the root)."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not build the media cache."),
        num_clips: Optional[int] = typer.Option(None, "--num-clips", help="Cache: clips per example (default from the dataset)."),
        frames: Optional[int] = typer.Option(None, "--frames", help="Cache: frames per clip."),
        size: Optional[int] = typer.Option(None, "--size", help="Cache: frame size in pixels (square)."),
        fps: Optional[float] = typer.Option(None, "--fps", help="Cache: frame sampling rate inside a clip."),
    ) -> None:
        """Turn a benchmark's files (or a folder of media) into a data dir: manifests, media cache, report."""
        from vxt.data.prepare import prepare, print_summary

        options = {
            "root": None if root is None else str(root),
            "seed": seed,
            "n_train": n_train,
            "n_val": n_val,
            "n_test": n_test,
            "n_dense_train": n_dense_train,
            "n_dense_val": n_dense_val,
            "n_dense_test": n_dense_test,
            "qa_per_clip": qa_per_clip,
            "with_caption": with_caption,
            "subtitles": None if subtitles is None else str(subtitles),
            "frames_dir": None if frames_dir is None else str(frames_dir),
        }
        report = prepare(
            dataset,
            out,
            options=options,
            workers=workers,
            cache=not no_cache,
            decode_overrides={"num_clips": num_clips, "frames": frames, "size": size, "fps": fps},
        )
        print_summary(report)
