"""The synthetic benchmark's writer: SubRip text, the mp4 encoder, and :func:`generate_item` (one item on disk)."""

from __future__ import annotations

import os
from pathlib import Path

from vxt.data.synth.scene import render_video
from vxt.data.synth.sounds import render_audio
from vxt.data.synth.specs import _rngs, clip_examples, clip_spec, dense_example, dense_spec
from vxt.data.synth.vocab import FPS, SAMPLE_RATE


# ---------------------------------------------------------------- writing


def srt_text(subs: list[dict]) -> str:
    """Subtitles as SubRip text."""

    def ts(x: float) -> str:
        ms = int(round(x * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i}\n{ts(s['start'])} --> {ts(s['end'])}\n{s['text']}\n\n" for i, s in enumerate(subs, 1))


def write_mp4(path: str | os.PathLike, frames, wave=None, *, fps: int = FPS, sample_rate: int = SAMPLE_RATE) -> None:
    """Write H.264 (yuv420p) video and, if ``wave`` is given, AAC mono audio to ``path``, atomically."""
    import av
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with av.open(str(tmp), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": "20", "preset": "veryfast"}
            vs.codec_context.thread_count = 1
            aus = None
            if wave is not None:
                aus = out.add_stream("aac", rate=sample_rate, layout="mono")
            for f in frames:
                for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(pkt)
            for pkt in vs.encode():
                out.mux(pkt)
            if aus is not None:
                fs = aus.codec_context.frame_size or 1024
                wave = np.asarray(wave, dtype=np.float32)
                for pts in range(0, len(wave), fs):
                    chunk = wave[pts : pts + fs]
                    if len(chunk) < fs:
                        chunk = np.pad(chunk, (0, fs - len(chunk)))
                    af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    af.sample_rate = sample_rate
                    af.pts = pts
                    for pkt in aus.encode(af):
                        out.mux(pkt)
                for pkt in aus.encode():
                    out.mux(pkt)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _existing_ok(mp4: Path, srt: Path, spec: dict, srt_expected: str) -> bool:
    """True when a previous run finished this item: its srt is as expected and its mp4 probes right."""
    if not (mp4.exists() and srt.exists()):
        return False
    try:
        if srt.read_text(encoding="utf-8") != srt_expected:
            return False
        from vxt.data.media import probe

        info = probe(mp4)
    except Exception:  # noqa: BLE001 - anything unreadable is simply regenerated
        return False
    return (
        bool(info.has_video)
        and bool(info.has_audio) == bool(spec["has_audio"])
        and info.duration is not None
        and abs(float(info.duration) - spec["duration"]) < 0.15
    )


def generate_item(job: tuple) -> dict:
    """Make (or keep) one item's mp4 and srt and return its manifest examples.

    ``job`` is ``(out_dir, seed, split, kind, index, qa_per_clip)``; a
    top-level function so that spawned worker processes can run it.
    """
    out_dir, seed, split, kind, index, qa_per_clip = job
    out_dir = Path(out_dir)
    spec = clip_spec(seed, split, index) if kind == "clip" else dense_spec(seed, split, index)
    rel = f"media/{spec['id']}.mp4"
    mp4 = out_dir / rel
    srt = mp4.with_suffix(".srt")
    srt_expected = srt_text(spec["subtitles"])
    if _existing_ok(mp4, srt, spec, srt_expected):
        status = "kept"
    else:
        render_rng = _rngs(seed, split, index, kind)[2]
        frames = render_video(spec, render_rng)
        wave = render_audio(spec, render_rng) if spec["has_audio"] else None
        from vxt.utils import atomic_write_text

        atomic_write_text(srt, srt_expected)
        write_mp4(mp4, frames, wave)
        status = "made"
    examples = clip_examples(spec, rel, qa_per_clip) if kind == "clip" else [dense_example(spec, rel)]
    return {
        "id": spec["id"],
        "split": split,
        "kind": kind,
        "index": index,
        "file": rel,
        "status": status,
        "missing": [] if spec["has_audio"] else ["audio"],
        "examples": examples,
    }
