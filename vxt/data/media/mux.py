"""Writing sound: :func:`write_wav` (16-bit PCM) and :func:`mux_audio`, a video with a new soundtrack.

:func:`mux_audio` is what ``vxt decode silent.mp4 --task sound --out with_sound.mp4``
writes: the input's video stream copied packet for packet (never decoded or
encoded again: the same bytes, the same timestamps) and the given wave
encoded as AAC at its own sample rate, trimmed to the video's length (or
ending with it when shorter). The input's own audio and other streams are
left out. Errors are :class:`~vxt.errors.MediaError` naming the file.
"""

from __future__ import annotations

import os
import wave as _wave
from fractions import Fraction
from pathlib import Path

import numpy as np

from vxt.data.media.probing import _av, _check_file, _open, _short, _video_stream
from vxt.errors import MediaError


def write_wav(path: str | os.PathLike, wave, sr: int) -> Path:
    """Write a mono float wave (clipped to [-1, 1]) as 16-bit PCM; atomically."""
    from vxt.utils import atomic_open

    w = np.clip(np.asarray(wave, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pcm = np.round(w * 32767.0).astype("<i2").tobytes()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(p, "wb", encoding=None) as fh:
        with _wave.open(fh, "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(int(sr))
            wf.writeframes(pcm)
    return p


def video_span(path: str | os.PathLike) -> tuple[float, float]:
    """(start, end) in seconds of the file's video packets (presentation times, container timeline)."""
    container = _open(_check_file(path))
    try:
        v = _video_stream(container)
        if v is None:
            raise MediaError("no video stream", path=str(path))
        tb = v.time_base
        lo, hi = None, None
        for pkt in container.demux(v):
            if pkt.pts is None:
                continue
            s = float(pkt.pts * tb)
            e = float((pkt.pts + (pkt.duration or 0)) * tb)
            lo = s if lo is None else min(lo, s)
            hi = e if hi is None else max(hi, e)
        if lo is None:
            raise MediaError("the video stream has no packets", path=str(path))
        return lo, hi
    finally:
        container.close()


def mux_audio(src: str | os.PathLike, dst: str | os.PathLike, wave, sr: int, *, bit_rate: int = 128000) -> dict:
    """Write ``dst``: ``src``'s video packets as they are, with ``wave`` (mono, ``sr`` Hz) as its only sound.

    The sound starts with the video and is trimmed to its length. Returns
    ``{"video_packets", "audio_seconds", "video_seconds"}``.
    """
    av = _av()
    src_p = _check_file(src)
    dst_p = Path(dst)
    if dst_p.resolve() == src_p.resolve():
        raise MediaError("the output must not overwrite its input: give another --out", path=str(dst_p))
    start, end = video_span(src_p)
    w = np.asarray(wave, dtype=np.float32).reshape(-1)
    w = np.clip(w[: max(0, int(round((end - start) * sr)))], -1.0, 1.0)
    dst_p.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_p.with_name(f".{dst_p.stem}.{os.getpid()}.tmp{dst_p.suffix}")
    inp = _open(src_p)
    n_video = 0
    try:
        v = _video_stream(inp)
        fmt = "mp4" if dst_p.suffix.lower() in (".mp4", ".m4v") else None
        try:
            out = av.open(str(tmp), "w", format=fmt)
        except (av.error.FFmpegError, ValueError, OSError) as e:
            raise MediaError(f"cannot write this kind of file ({_short(e)})", path=str(dst_p)) from None
        try:
            v_out = out.add_stream_from_template(v)
            a_out = out.add_stream("aac", rate=int(sr), layout="mono")
            a_out.codec_context.bit_rate = int(bit_rate)
            fs = int(a_out.codec_context.frame_size or 1024)
            packets = []
            # audio pts in samples from the video's first presentation time
            offset = int(round(start * sr))
            for s in range(0, len(w), fs):
                chunk = w[s : s + fs]
                f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None]), format="fltp", layout="mono")
                f.sample_rate = int(sr)
                f.pts = offset + s
                f.time_base = Fraction(1, int(sr))
                packets.extend(a_out.encode(f))
            packets.extend(a_out.encode(None))
            i = 0
            for pkt in inp.demux(v):
                if pkt.dts is None and pkt.pts is None:
                    continue  # the demuxer's flush packet
                t = float((pkt.dts if pkt.dts is not None else pkt.pts) * v.time_base)
                while i < len(packets) and float((packets[i].dts or 0) * packets[i].time_base) <= t:
                    out.mux(packets[i])
                    i += 1
                pkt.stream = v_out
                out.mux(pkt)
                n_video += 1
            for p in packets[i:]:
                out.mux(p)
        finally:
            out.close()
        os.replace(tmp, dst_p)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        raise MediaError(f"FFmpeg failed while writing the video with its new sound ({_short(e)})",
                         path=str(dst_p)) from None
    finally:
        inp.close()
        if tmp.exists():
            tmp.unlink()
    return {"video_packets": n_video, "audio_seconds": len(w) / float(sr), "video_seconds": end - start}
