"""The synthetic benchmark's writer: SubRip text, the mp4 encoder, and :func:`generate_item` (one item on disk)."""

from __future__ import annotations

import os
from pathlib import Path

from vxt.data.synth.foley import foley_examples, foley_prims, foley_spec, render_foley_audio
from vxt.data.synth.narrated import espeak_narration, narrated_examples, narrated_spec, render_narrated_audio
from vxt.data.synth.scene import render_video
from vxt.data.synth.sounds import render_audio
from vxt.data.synth.specs import _rngs, _stream, clip_examples, clip_spec, dense_example, dense_spec, with_domain
from vxt.data.synth.styles import clip_prims, render_styled, restyle
from vxt.data.synth.vocab import _STYLE_STREAM, FOLEY_SAMPLE_RATE, FPS, SAMPLE_RATE


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


def _existing_ok(mp4: Path, srt: Path | None, spec: dict, srt_expected: str | None, sample_rate: int | None = None) -> bool:
    """True when a previous run finished this item: its srt (if it has one) is as expected and its mp4 probes right."""
    if not mp4.exists() or (srt is not None and not srt.exists()):
        return False
    try:
        if srt is not None and srt.read_text(encoding="utf-8") != srt_expected:
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
        and (sample_rate is None or info.audio_rate == sample_rate)
    )


def _mode_item(out_dir: Path, seed: int, split: str, kind: str, index: int, domain: str | None, voice: str,
               seconds: float | None = None) -> dict:
    """A foley clip or a narrated video: made (or kept) on disk; returns its spec, file and status."""
    if kind == "narrated":
        spec = with_domain(narrated_spec(seed, split, index, voice), domain)
        waves = None
        if voice == "espeak-ng":
            spec, waves = espeak_narration(spec)
        rate, n, prims = SAMPLE_RATE, int(round(spec["duration"] * FPS)), (lambda i: clip_prims(spec, i))
    else:
        spec = with_domain(foley_spec(seed, split, index, kind.split("-")[1], *([seconds] if seconds else [])), domain)
        rate, n, prims = FOLEY_SAMPLE_RATE, int(round(spec["duration"] * FPS)), (lambda i: foley_prims(spec, i))
    rel = f"media/{spec['id']}.mp4"
    mp4 = out_dir / rel
    srt = mp4.with_suffix(".srt") if spec["subtitles"] else None
    srt_expected = srt_text(spec["subtitles"]) if srt is not None else None
    if _existing_ok(mp4, srt, spec, srt_expected, rate):
        status = "kept"
    else:
        frames = render_styled(spec, n, prims, domain or "photo", _rngs(seed, split, index, kind)[2],
                               _stream(seed, split, index, kind, _STYLE_STREAM))
        wave = render_narrated_audio(spec, waves) if kind == "narrated" else render_foley_audio(spec)
        if srt is not None:
            from vxt.utils import atomic_write_text

            atomic_write_text(srt, srt_expected)
        write_mp4(mp4, frames, wave, sample_rate=rate)
        status = "made"
    examples = narrated_examples(spec, rel) if kind == "narrated" else foley_examples(spec, rel)
    return {"spec": spec, "rel": rel, "status": status, "examples": examples}


def generate_item(job: tuple) -> dict:
    """Make (or keep) one item's mp4 and srt and return its manifest examples.

    ``job`` is ``(out_dir, seed, split, kind, index, qa_per_clip[, options])``;
    ``kind`` is ``clip`` or ``dense`` (the default mode), ``foley-sparse``,
    ``foley-dense`` or ``narrated``; ``options`` may give the visual ``domain``
    (None: the default mode as it always was), the narration's ``voice`` and a
    foley clip's length (``seconds``; None: 10 s). A
    top-level function so that spawned worker processes can run it.
    """
    out_dir, seed, split, kind, index, qa_per_clip = job[:6]
    options = job[6] if len(job) > 6 else {}
    domain = options.get("domain")
    out_dir = Path(out_dir)
    if kind not in ("clip", "dense"):
        item = _mode_item(out_dir, seed, split, kind, index, domain, options.get("voice") or "code", options.get("seconds"))
        return {"id": item["spec"]["id"], "split": split, "kind": kind, "index": index, "domain": domain, "file": item["rel"],
                "status": item["status"], "missing": [], "examples": item["examples"]}
    spec = with_domain(clip_spec(seed, split, index) if kind == "clip" else dense_spec(seed, split, index), domain)
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
        if domain not in (None, "photo"):  # the photo frames drew from the stream first, so the sound is the same
            frames = restyle(frames, spec, lambda i: clip_prims(spec, i), domain, _stream(seed, split, index, kind, _STYLE_STREAM))
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
        "domain": domain,
        "file": rel,
        "status": status,
        "missing": [] if spec["has_audio"] else ["audio"],
        "examples": examples,
    }
