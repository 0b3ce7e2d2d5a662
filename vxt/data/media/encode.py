"""Re-encoding for synchronisation data: :func:`sync_form_gaps` and :func:`encode_for_sync`.

A model that learns where a 5 s trim starts inside its clip can read the
offset off the codecs instead of the content: MPEG-4 Part 2 key frames and
the frames of AAC at high sample rates leave traces on a regular grid.
Iashin's thesis (section 5.3) trained a probe to place a 5 s trim inside a
10 s clip of content-free media (50 places, chance 2% top-1): MPEG-4 Part 2
video 27.2%, AAC at 44.1 kHz 86.7% and at 22.05 kHz 23.0%, against H.264
2.5% and AAC at 16 kHz 6.3%. So ``vxt prepare`` writes the sync examples'
media as H.264 at a constant 25 fps with AAC at 16 kHz mono
(:data:`LEAKAGE`), as SparseSync's ``reencode_videos.py`` does (which also
scales the shorter side to 256 and uses CRF 10).

:func:`encode_for_sync` decodes the file through PyAV and encodes it again,
keeping the timeline: output frame ``k`` is the source frame nearest
``k / fps`` (seconds from the container start, as the readers count), and
the audio is the source's as :func:`~vxt.data.media.read_audio` reads it
(16 kHz mono from time 0, silence where the source's audio starts late), so
the video and the sound stay exactly as aligned as they were. The shorter
side is scaled down to at most ``max_side`` (never up), both sides even,
display rotation and pixel aspect applied.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from vxt.data.media.audio import read_audio
from vxt.data.media.probing import _av, _check_file, _open, _rotation_cw, _short, _t0, _video_stream, probe
from vxt.errors import MediaError

#: the form that leaks least (see the module docstring)
FPS, SAMPLE_RATE, MAX_SIDE, CRF = 25, 16000, 256, 10
LEAKAGE = ("codec artefacts give away where a trim starts (Iashin's thesis, section 5.3: a probe placing a 5 s trim "
           "in a 10 s clip, chance 2% top-1, gets 27.2% from MPEG-4 Part 2, 86.7% from AAC 44.1 kHz, 23.0% from "
           "AAC 22.05 kHz, but 2.5% from H.264 and 6.3% from AAC 16 kHz)")


def sync_form_gaps(info, *, fps: int = FPS, sample_rate: int = SAMPLE_RATE) -> list[str]:
    """How a probed file (:class:`~vxt.data.media.MediaInfo`) differs from H.264 at a constant ``fps``
    with AAC ``sample_rate`` mono; empty when it is already in that form."""
    gaps = []
    if info.video_codec != "h264":
        gaps.append(f"video {info.video_codec or 'missing'}")
    if info.vfr or info.fps is None or abs(float(info.fps) - fps) > 0.01:
        gaps.append("variable frame rate" if info.vfr else f"{info.fps or 0:.3g} fps")
    if info.audio_codec != "aac":
        gaps.append(f"audio {info.audio_codec or 'missing'}")
    if info.audio_rate != sample_rate:
        gaps.append(f"{info.audio_rate or 0} Hz")
    if info.audio_channels != 1:
        gaps.append(f"{info.audio_channels or 0} audio channels")
    return gaps


def _even(x: float) -> int:
    return max(2, int(round(x)) // 2 * 2)


def encode_for_sync(src: str | os.PathLike, dst: str | os.PathLike, *, fps: int = FPS,
                    sample_rate: int = SAMPLE_RATE, max_side: int = MAX_SIDE, crf: int = CRF) -> dict:
    """Write ``dst`` (mp4, atomically): ``src`` as H.264 (yuv420p) at ``fps`` and AAC ``sample_rate`` mono.

    Returns ``{"frames", "video_seconds", "audio_seconds", "width", "height"}``.
    Errors are :class:`~vxt.errors.MediaError` naming the file.
    """
    av = _av()
    src_p, dst_p = _check_file(src), Path(dst)
    if dst_p.resolve() == src_p.resolve():
        raise MediaError("the re-encoded file must not overwrite its source", path=str(dst_p))
    info = probe(src_p)
    if not (info.has_video and info.has_audio):
        raise MediaError("synchronisation needs a video and an audio stream", path=str(src_p))
    wave = read_audio(src_p, sr=sample_rate)
    scale = min(1.0, max_side / float(min(info.width, info.height)))
    W, H = _even(info.width * scale), _even(info.height * scale)
    dst_p.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_p.with_name(f".{dst_p.stem}.{os.getpid()}.tmp.mp4")
    inp = _open(src_p)
    try:
        out = av.open(str(tmp), "w", format="mp4")
        try:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
            vs.codec_context.time_base = Fraction(1, fps)
            vs.options = {"crf": str(int(crf)), "preset": "veryfast"}
            vs.codec_context.thread_count = 1  # parallel clips come from prepare's --workers
            a_out = out.add_stream("aac", rate=sample_rate, layout="mono")  # every stream before the first packet
            n = _encode_video(inp, out, vs, fps, W, H, str(src_p))
            _encode_audio(out, a_out, wave, sample_rate)
        finally:
            out.close()
        os.replace(tmp, dst_p)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        raise MediaError(f"FFmpeg failed while re-encoding ({_short(e)})", path=str(src_p)) from None
    finally:
        inp.close()
        if tmp.exists():
            tmp.unlink()
    return {"frames": n, "video_seconds": n / float(fps), "audio_seconds": len(wave) / float(sample_rate),
            "width": W, "height": H}


def _encode_video(inp, out, vs, fps: int, W: int, H: int, path: str) -> int:
    """Frame ``k`` of the output: the source frame nearest ``k / fps``; returns the number of frames."""
    av = _av()
    v = _video_stream(inp)
    t0, tb = _t0(inp), v.time_base
    src_dur = 1.0 / (float(v.average_rate) if v.average_rate else float(fps))
    k, prev, prev_t = 0, None, None

    def emit(frame) -> None:
        nonlocal k
        rot = _rotation_cw(frame.rotation, v)
        if rot:  # rotate the picture itself: the output carries no display matrix
            w, h = (H, W) if rot in (90, 270) else (W, H)
            img = np.rot90(frame.reformat(width=w, height=h, format="rgb24").to_ndarray(), k=-(rot // 90))
            pic = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format="yuv420p")
        else:
            pic = frame.reformat(width=W, height=H, format="yuv420p")
        pic.pts, pic.time_base = k, Fraction(1, fps)
        for pkt in vs.encode(pic):
            out.mux(pkt)
        k += 1

    for frame in inp.decode(v):
        t = float(frame.pts * tb) - t0 if frame.pts is not None and tb else (0.0 if prev_t is None else prev_t + src_dur)
        while k / fps <= t:
            pick = prev if prev is not None and k / fps - prev_t <= t - k / fps else frame
            emit(pick)
        prev, prev_t = frame, t
        src_dur = float(frame.duration * tb) if frame.duration and tb else src_dur
    if prev is None:
        raise MediaError("decoded no video frames", path=path)
    while k / fps < prev_t + src_dur - 1e-6:  # the last frame lasts until its own end
        emit(prev)
    for pkt in vs.encode(None):
        out.mux(pkt)
    return k


def _encode_audio(out, a, wave: np.ndarray, sr: int) -> None:
    av = _av()
    fs = int(a.codec_context.frame_size or 1024)
    for s in range(0, len(wave), fs):
        chunk = wave[s : s + fs]  # the last one may be shorter (AAC takes a short last frame)
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None], dtype=np.float32), format="fltp", layout="mono")
        f.sample_rate, f.pts, f.time_base = sr, s, Fraction(1, sr)
        for pkt in a.encode(f):
            out.mux(pkt)
    for pkt in a.encode(None):
        out.mux(pkt)
