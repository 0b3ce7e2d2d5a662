"""``vxt prepare DATASET --out DIR``: raw benchmark files (or a folder of media) -> a data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vxt.commands._bounds import real


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare_cmd(
        dataset: str = typer.Argument(..., help="synth, videos, anet, tvqa, tvc, avsd, msrvtt, vggsound, vas, lrs3, howto100m, youcook2, vatex or msvd."),
        out: Path = typer.Option(..., "--out", "-o", help="The data dir to write (rerun to resume)."),
        root: Optional[Path] = typer.Option(None, "--root", help="Folder with the benchmark's files (all but synth)."),
        workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
        seed: Optional[int] = typer.Option(None, "--seed", min=0, help="synth: the seed of every clip; sync data: of the fixed val/test offsets drawn (default 0)."),
        n_train: Optional[int] = typer.Option(None, "--n-train", min=0, help="synth: 4 s training clips (default 800)."),
        n_val: Optional[int] = typer.Option(None, "--n-val", min=0, help="synth: validation clips (default 100)."),
        n_test: Optional[int] = typer.Option(None, "--n-test", min=0, help="synth: test clips (default 100)."),
        n_dense_train: Optional[int] = typer.Option(None, "--n-dense-train", min=0, help="synth: 20 s dense videos (default n-train / 8)."),
        n_dense_val: Optional[int] = typer.Option(None, "--n-dense-val", min=0, help="synth: dense validation videos (default n-val / 8)."),
        n_dense_test: Optional[int] = typer.Option(None, "--n-dense-test", min=0, help="synth: dense test videos (default n-test / 8)."),
        qa_per_clip: Optional[int] = typer.Option(None, "--qa-per-clip", min=1, max=5, help="synth: questions per clip, one per type (1-5, default 5)."),
        mode: Optional[str] = typer.Option(None, "--mode", help="synth: default | foley (10 s clips, sounds caused by visible events) | narrated (40-60 s videos, narration spoken in the audio)."),
        events: Optional[str] = typer.Option(None, "--events", help="synth --mode foley: sparse (1-3 events and distractors, default) | dense (a busy, irregular rhythm: a gap of 0.4-1 s drawn per event)."),
        domains: Optional[str] = typer.Option(None, "--domains", help="synth: visual domains, comma-separated, each scene in each: photo,cartoon,sketch,night,pixel (default: photo). msrvtt: tavt (TAVT's 10 domains from the 20 categories) or categories. msvd: one domain name for every clip (e.g. msvd)."),
        seconds: Optional[float] = typer.Option(None, "--seconds", help="synth --mode foley: the clip length (default 10; at least 9, a 5 s trim and +-2 s of offset). In longer clips the fixed val/test starts leave room for a trim of seconds - 4 (the input-length ablation: --seconds 11 for 7 s trims)."),
        voice: Optional[str] = typer.Option(None, "--voice", help="synth --mode narrated: code (a word code, default) | espeak-ng (real speech; apt-get install espeak-ng)."),
        with_caption: Optional[bool] = typer.Option(None, "--with-caption/--no-caption", help="avsd: add the Charades caption and summary as text input (default: with)."),
        subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="tvqa/tvc: the subtitle JSONL (default: *sub*.jsonl in the root)."),
        frames_dir: Optional[Path] = typer.Option(None, "--frames-dir", help="tvqa/tvc: where the frame folders are (default: under the root)."),
        task: Optional[str] = typer.Option(None, "--task", help="vggsound: sound (default), sync, or sound,sync."),
        sparse: bool = typer.Option(False, "--sparse", help="vggsound: keep only the VGGSound-Sparse classes (picked_sparse_classes.tsv in the root)."),
        offsets: Optional[Path] = typer.Option(None, "--offsets", help="sync data (vggsound, lrs3): SparseSync's fixed offsets csv (path,offset_sec,vstart_sec) for val/test (default: drawn with --seed)."),
        split_list: Optional[Path] = typer.Option(None, "--split-list", help="vggsound/lrs3/howto100m/msvd: the test split's ids, one a line."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not build the media cache."),
        no_reencode: bool = typer.Option(False, "--no-reencode", help="Sync data: use the media as they are, not re-encoded to H.264 25 fps + AAC 16 kHz mono (codec artefacts may then leak the offset)."),
        num_clips: Optional[int] = typer.Option(None, "--num-clips", min=1, help="Cache: clips per example (default from the dataset)."),
        frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Cache: frames per clip."),
        size: Optional[int] = typer.Option(None, "--size", min=1, help="Cache: frame size in pixels (square)."),
        fps: Optional[float] = typer.Option(None, "--fps", callback=real(0, low_open=True), help="Cache: frame sampling rate inside a clip (> 0)."),
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
            "mode": mode,
            "events": events,
            "domains": domains,
            "voice": voice,
            "seconds": seconds,
            "with_caption": with_caption,
            "subtitles": None if subtitles is None else str(subtitles),
            "frames_dir": None if frames_dir is None else str(frames_dir),
            "task": task,
            "sparse": sparse or None,
            "offsets": None if offsets is None else str(offsets),
            "split_list": None if split_list is None else str(split_list),
        }
        report = prepare(
            dataset,
            out,
            options=options,
            workers=workers,
            cache=not no_cache,
            reencode=not no_reencode,
            decode_overrides={"num_clips": num_clips, "frames": frames, "size": size, "fps": fps},
        )
        print_summary(report)
