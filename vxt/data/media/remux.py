"""Moving a file's sound against its picture: :func:`shift_audio` (what ``vxt decode --task sync --fix`` writes).

The video stream is never decoded: its packets are copied into the output
untouched (same bytes, same timestamps). The audio is moved by ``shift``
seconds (positive = later, negative = earlier):

* ``retime``: when the shift is a whole number of the audio codec's frames
  (1024 samples for AAC), the audio packets are copied too, each with its
  timestamps moved: no quality is lost. Moving earlier drops the packets that
  would end before 0, keeping one of them as the decoder's pre-roll (as the
  encoder's own priming packet is kept).
* ``reencode``: otherwise the audio alone is decoded, moved by the nearest
  whole number of samples (silence fills a gap at the start; what would fall
  before 0 is cut) and encoded again with the same codec (AAC when this
  FFmpeg cannot encode it), sample rate and channel layout.

Other streams (subtitles, data) are left out. Errors are
:class:`~vxt.errors.MediaError` naming the file.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from vxt.data.media.probing import _audio_stream, _av, _check_file, _open, _short, _video_stream
from vxt.errors import MediaError

#: a shift within this many samples of a whole number of codec frames is re-timed
_RETIME_TOLERANCE = 1e-3


def audio_frame_size(path: str | os.PathLike) -> tuple[int, int]:
    """(samples per codec frame, sample rate) of the file's audio stream (frame size 1 for PCM)."""
    container = _open(_check_file(path))
    try:
        a = _audio_stream(container)
        if a is None:
            raise MediaError("no audio stream", path=str(path))
        return int(a.codec_context.frame_size or 1), int(a.codec_context.sample_rate or a.rate)
    finally:
        container.close()


def shift_audio(src: str | os.PathLike, dst: str | os.PathLike, shift: float, *, method: str = "auto") -> dict:
    """Write ``dst``: ``src`` with its video packets copied as they are and its audio moved by ``shift`` s.

    ``method``: ``auto`` (re-time when the shift is a whole number of audio
    codec frames, else re-encode), ``retime`` (an error when it cannot) or
    ``reencode``. Returns what was done: ``method``, ``shift`` (the shift
    applied, in seconds), ``samples`` (the same in audio samples),
    ``frame_size`` and ``sample_rate`` of the audio codec.
    """
    av = _av()
    src_p = _check_file(src)
    dst_p = Path(dst)
    if dst_p.resolve() == src_p.resolve():
        raise MediaError("the fixed file must not overwrite its input: give another --out", path=str(dst_p))
    if method not in ("auto", "retime", "reencode"):
        raise ValueError(f"method must be auto, retime or reencode, got {method!r}")
    dst_p.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_p.with_name(f".{dst_p.stem}.{os.getpid()}.tmp{dst_p.suffix}")
    inp = _open(src_p)
    try:
        a = _audio_stream(inp)
        if a is None:
            raise MediaError("no audio stream to move", path=str(src_p))
        rate = int(a.codec_context.sample_rate or a.rate)
        frame = int(a.codec_context.frame_size or 1)
        samples = float(shift) * rate
        frames = samples / frame
        whole = abs(frames - round(frames)) * frame < _RETIME_TOLERANCE
        if method == "retime" and not whole:
            raise MediaError(f"a shift of {shift:g} s is not a whole number of {frame}-sample audio frames at "
                             f"{rate} Hz: it needs --set method=reencode", path=str(src_p))
        use = "retime" if (method == "retime" or (method == "auto" and whole)) else "reencode"
        n = int(round(samples))
        try:
            fmt = _format_name(dst_p, inp)
            # MP4 edit lists count in the movie timescale (1000 by default): a late audio start would be
            # rounded to the millisecond; the sample rate keeps it exact
            opts = {"movie_timescale": str(rate)} if fmt in ("mp4", "mov") else {}
            out = av.open(str(tmp), "w", format=fmt, options=opts)
        except (av.error.FFmpegError, ValueError, OSError) as e:
            raise MediaError(f"cannot write this kind of file ({_short(e)})", path=str(dst_p)) from None
        try:
            if use == "retime":
                _remux_retimed(inp, out, a, n)
            else:
                _remux_reencoded(inp, out, a, n, str(src_p))
        finally:
            out.close()
        os.replace(tmp, dst_p)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        raise MediaError(f"FFmpeg failed while moving the audio ({_short(e)})", path=str(src_p)) from None
    finally:
        inp.close()
        if tmp.exists():
            tmp.unlink()
    return {"method": use, "shift": n / rate, "samples": n, "frame_size": frame, "sample_rate": rate}


def _format_name(dst: Path, inp) -> str | None:
    """The output container: from the file name; the input's own format when the name says nothing."""
    if dst.suffix.lower() in (".mp4", ".m4v", ".mov"):
        return "mp4" if dst.suffix.lower() != ".mov" else "mov"
    if dst.suffix:
        return None  # FFmpeg guesses from the name (.mkv, .webm, ...)
    return (inp.format.name or "mp4").split(",")[0]


def _video_out(inp, out):
    v = _video_stream(inp)
    if v is None:
        return None, None
    return v, out.add_stream_from_template(v)


def _remux_retimed(inp, out, a, n_samples: int) -> None:
    """Copy every packet; audio packets get their timestamps moved by ``n_samples`` (whole codec frames)."""
    v, v_out = _video_out(inp, out)
    a_out = out.add_stream_from_template(a)
    tb = a.time_base or Fraction(1, int(a.codec_context.sample_rate))
    ticks = int(round(Fraction(n_samples, int(a.codec_context.sample_rate)) / tb))
    held = None  # the last audio packet dropped for ending before 0 (kept as the decoder's pre-roll)
    streams = [s for s in (v, a) if s is not None]
    for pkt in inp.demux(*streams):
        if pkt.dts is None and pkt.pts is None:
            continue  # the demuxer's flush packet
        if pkt.stream is v:
            pkt.stream = v_out
            out.mux(pkt)
            continue
        if pkt.pts is not None:
            pkt.pts += ticks
        if pkt.dts is not None:
            pkt.dts += ticks
        end = (pkt.pts if pkt.pts is not None else pkt.dts) + (pkt.duration or 0)
        if ticks < 0 and end <= 0:
            held = pkt
            continue
        if held is not None:
            held.stream = a_out
            out.mux(held)
            held = None
        pkt.stream = a_out
        out.mux(pkt)


def _decode_audio(inp, a, path: str) -> tuple[np.ndarray, int]:
    """The audio stream as float32 ``[channels, samples]`` on its own timeline (sample 0 = time 0), and its rate."""
    av = _av()
    rate = int(a.codec_context.sample_rate)
    layout = a.codec_context.layout.name
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    chunks, first = [], None
    inp.seek(0)
    for frame in inp.decode(a):
        if first is None:
            first = 0 if frame.pts is None else int(round(float(frame.pts * a.time_base) * rate))
        frame.pts = None
        for o in resampler.resample(frame):
            chunks.append(o.to_ndarray())
    for o in resampler.resample(None):
        chunks.append(o.to_ndarray())
    if not chunks:
        raise MediaError("decoded no audio", path=path)
    wave = np.concatenate(chunks, axis=1).astype(np.float32)
    if first > 0:  # the stream starts late: keep that on the timeline
        wave = np.concatenate([np.zeros((wave.shape[0], first), np.float32), wave], axis=1)
    elif first < 0:  # the encoder's priming before 0
        wave = wave[:, -first:]
    return wave, rate


def _remux_reencoded(inp, out, a, n_samples: int, path: str) -> None:
    """Copy the video packets; decode the audio, move it by ``n_samples``, encode it again."""
    av = _av()
    wave, rate = _decode_audio(inp, a, path)
    v, v_out = _video_out(inp, out)
    if n_samples > 0:
        wave = np.concatenate([np.zeros((wave.shape[0], n_samples), np.float32), wave], axis=1)
    elif n_samples < 0:
        wave = wave[:, -n_samples:]
    codec = a.codec_context.name
    try:
        a_out = out.add_stream(codec, rate=rate, layout=a.codec_context.layout.name)
    except (av.error.FFmpegError, ValueError):
        a_out = out.add_stream("aac", rate=rate, layout=a.codec_context.layout.name)
    if a.codec_context.bit_rate:
        a_out.codec_context.bit_rate = int(a.codec_context.bit_rate)
    fmt = a_out.codec_context.format.name if a_out.codec_context.format else "fltp"
    packets = []
    fs = int(a_out.codec_context.frame_size or 1024)
    conv = av.AudioResampler(format=fmt, layout=a.codec_context.layout.name, rate=rate)
    for s in range(0, wave.shape[1], fs):
        chunk = wave[:, s : s + fs]
        if chunk.shape[1] < fs:
            chunk = np.pad(chunk, ((0, 0), (0, fs - chunk.shape[1])))
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=a.codec_context.layout.name)
        f.sample_rate = rate
        f.pts = s
        for g in conv.resample(f) if fmt != "fltp" else [f]:
            g.pts = s
            packets.extend(a_out.encode(g))
    packets.extend(a_out.encode(None))
    # interleave the new audio packets with the copied video packets by time
    inp.seek(0)
    i = 0
    if v is not None:
        for pkt in inp.demux(v):
            if pkt.dts is None and pkt.pts is None:
                continue
            t = float((pkt.dts if pkt.dts is not None else pkt.pts) * v.time_base)
            while i < len(packets) and float((packets[i].dts or 0) * (packets[i].time_base or Fraction(1, rate))) <= t:
                out.mux(packets[i])
                i += 1
            pkt.stream = v_out
            out.mux(pkt)
    for p in packets[i:]:
        out.mux(p)
