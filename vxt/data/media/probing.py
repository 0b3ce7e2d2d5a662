"""Probing media files with PyAV: :class:`MediaInfo`, :func:`probe`, and the open/check helpers.

The low-level helpers here (opening a file, picking streams, rates, the
container index, one-sentence errors) are shared by the video and audio
readers.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vxt.errors import MediaError


# --------------------------------------------------------------------------- probe


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds.

    ``rotation`` is the clockwise rotation (0, 90, 180 or 270 degrees) that the
    file's display matrix (or its legacy ``rotate`` tag) asks a player to apply;
    a portrait phone video typically says 90. ``width`` and ``height`` are the
    display size after that rotation and after the sample aspect ratio.
    ``duration`` is the container's duration in seconds. ``truncated`` is set
    when the container index points past the end of the file (a partial
    download): the file is readable up to where it stops.
    """

    path: str
    duration: float | None
    has_video: bool
    has_audio: bool
    fps: float | None
    vfr: bool
    width: int | None
    height: int | None
    rotation: int
    num_frames: int | None
    pix_fmt: str | None
    video_codec: str | None
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None
    truncated: bool = False


def _av():
    import av  # heavy; imported on first use

    return av


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError("file not found", path=str(path))
    if p.is_dir():
        raise MediaError("is a directory, not a media file", path=str(path))
    try:
        size = p.stat().st_size
    except OSError as e:
        raise MediaError(f"cannot read the file ({e.strerror or e})", path=str(path)) from None
    if size == 0:
        raise MediaError("empty file (0 bytes)", path=str(path))
    return p


def _mp4_truncation(path: Path) -> str | None:
    """If ``path`` is an ISO-BMFF file cut short before its index, say so.

    Walks the top-level boxes (size, type). A file that starts with ``ftyp``,
    has no ``moov`` box and whose last box runs past the end of the file was
    cut off (e.g. a partial download of a file whose index is written last).
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 8 or head[4:8] != b"ftyp":
                return None
            pos, seen, cut_in = 0, set(), None
            while pos + 8 <= size:
                f.seek(pos)
                hdr = f.read(16)
                box_size, box_type = struct.unpack(">I4s", hdr[:8])
                if box_size == 1 and len(hdr) >= 16:
                    box_size = struct.unpack(">Q", hdr[8:16])[0]
                elif box_size == 0:
                    box_size = size - pos
                if box_size < 8:
                    return None
                seen.add(box_type)
                if pos + box_size > size:
                    cut_in = box_type.decode("latin-1")
                    break
                pos += box_size
    except OSError:
        return None
    if b"moov" in seen:
        return None
    if cut_in is not None:
        return f"truncated MP4: the file ends inside its '{cut_in}' box before the index (moov box) that FFmpeg needs to read it"
    return "not a playable MP4: it has no index (moov box), so FFmpeg cannot read it"


def _open(path: Path):
    """Open ``path`` for reading; any failure becomes a MediaError."""
    av = _av()
    try:
        return av.open(str(path), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError, EOFError, UnicodeDecodeError) as e:
        if isinstance(e, PermissionError):
            raise MediaError("permission denied", path=str(path)) from None
        reason = _mp4_truncation(path)
        if reason is None:
            reason = "not a media file FFmpeg can read"
        raise MediaError(reason, path=str(path)) from None


def _is_attached_picture(stream) -> bool:
    av = _av()
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except Exception:  # pragma: no cover - very old PyAV
        return False


def _video_stream(container):
    """The first real video stream (cover art in an audio file does not count)."""
    for s in container.streams.video:
        if not _is_attached_picture(s):
            return s
    return None


def _audio_stream(container):
    streams = list(container.streams.audio)
    if not streams:
        return None
    for s in streams:  # prefer the one flagged default
        try:
            if s.disposition & _av().stream.Disposition.default:
                return s
        except Exception:  # pragma: no cover
            break
    return streams[0]


def _t0(container) -> float:
    """The container start time in seconds: all times here are relative to it."""
    st = container.start_time
    return 0.0 if st is None else st / 1_000_000


def _rate(x) -> float | None:
    try:
        v = float(x) if x is not None else None
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    return v if v and math.isfinite(v) and 0.0 < v < 10_000 else None


def _index_entries(stream):
    """The container's index of ``stream`` (MP4/MKV cues...) or None when it has none."""
    try:
        entries = stream.index_entries
        return entries if entries is not None and len(entries) >= 2 else None
    except Exception:
        return None


def _index_ticks(entries, window: int = 500, windows: int = 8) -> list[np.ndarray]:
    """Timestamps of index entries, as runs of consecutive entries.

    Small indexes are read whole; long ones as ``windows`` evenly spread runs
    of ``window`` entries (reading 18,000 entries one by one in Python costs
    more than the rest of a probe).
    """
    n = len(entries)
    if n <= window * windows:
        return [np.array([e.timestamp for e in entries], dtype=np.int64)]
    starts = np.linspace(0, n - window, windows).astype(int)
    return [np.array([e.timestamp for e in entries[s : s + window]], dtype=np.int64) for s in starts]


def _vfr_from_ticks(runs: list[np.ndarray]) -> bool:
    """Variable frame rate: more than 2% of frame intervals differ from the median by >10%."""
    d = np.concatenate([np.diff(np.sort(r)) for r in runs if len(r) > 1] or [np.zeros(0, np.int64)])
    d = d[d > 0]
    if len(d) < 3:
        return False
    med = float(np.median(d))
    off = np.abs(d - med) > max(0.1 * med, 1.0)  # one tick of slack for rounded time bases
    return bool(off.mean() > 0.02)


def _rotation_cw(frame_rotation: float | int | None, stream) -> int:
    """Clockwise display rotation in {0, 90, 180, 270}.

    FFmpeg copies a stream's display matrix onto every decoded frame
    (``VideoFrame.rotation``, counter-clockwise degrees); old files may only
    carry a ``rotate`` tag (clockwise degrees).
    """
    if frame_rotation:
        return int(round(-float(frame_rotation) / 90.0)) * 90 % 360
    tag = (stream.metadata or {}).get("rotate") if stream is not None else None
    if tag:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360
        except ValueError:
            return 0
    return 0


def _first_frame(container, stream):
    """Decode the first frame of ``stream`` (None when nothing decodes)."""
    av = _av()
    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, OSError, EOFError):
        return None
    return None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file: duration, streams, frame rate (VFR aware), size, rotation.

    The video stream's first frame is decoded, which proves that the file
    really decodes and yields the rotation FFmpeg attaches to frames. Frame
    timestamps for the VFR check come from the container index (no decoding),
    or, when the container has none, from demuxing up to 2,000 packets.
    """
    p = _check_file(path)
    av = _av()
    container = _open(p)
    try:
        return _probe_open(container, p, str(path))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        raise MediaError(f"FFmpeg failed while reading the file ({_short(e)})", path=str(path)) from None
    finally:
        container.close()


def _short(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return msg.split(":")[0].strip().rstrip(".")


def _probe_open(container, p: Path, path_str: str) -> MediaInfo:
    v = _video_stream(container)
    a = _audio_stream(container)
    if v is None and a is None:
        raise MediaError("no audio or video stream", path=path_str)
    size = p.stat().st_size
    truncated = False

    duration = None
    if container.duration is not None and container.duration > 0:
        duration = container.duration / 1_000_000
    else:
        ends = [_stream_end(s, _t0(container)) for s in (v, a) if s is not None]
        ends = [e for e in ends if e is not None]
        duration = max(ends) if ends else None

    fps = vfr = width = height = num_frames = pix_fmt = vcodec = None
    rotation = 0
    if v is not None:
        cc = v.codec_context
        if cc is None:
            raise MediaError("no decoder for this video codec in this FFmpeg build", path=path_str)
        vcodec = cc.name
        entries = _index_entries(v)
        if entries is not None:
            runs = _index_ticks(entries)
            truncated = truncated or _index_past_eof(entries, size)
        else:
            ticks = _demux_ticks(container, v, limit=2000)
            runs = [ticks] if ticks is not None else []
            container.seek(0)
        vfr = _vfr_from_ticks(runs)
        fps = _rate(v.average_rate) or _rate(v.guessed_rate)
        if fps is None and runs and len(runs[0]) > 1 and v.time_base:
            span = float((runs[0].max() - runs[0].min()) * v.time_base)
            fps = (len(runs[0]) - 1) / span if span > 0 else None
        num_frames = int(v.frames) if v.frames else (len(entries) if entries is not None else None)
        first = _first_frame(container, v)  # one frame: frame threads would only add start-up latency
        if first is None:
            raise MediaError("truncated: decoded no frames", path=path_str)
        pix_fmt = first.format.name
        rotation = _rotation_cw(first.rotation, v)
        w, h = first.width, first.height
        sar = _rate(v.sample_aspect_ratio) or _rate(cc.sample_aspect_ratio) or 1.0
        w = int(round(w * sar))
        width, height = (h, w) if rotation in (90, 270) else (w, h)
    if a is not None and _index_entries(a) is not None:
        truncated = truncated or _index_past_eof(_index_entries(a), size)
    acodec = arate = achannels = None
    if a is not None:
        acc = a.codec_context
        acodec = acc.name
        arate = int(acc.sample_rate) if acc.sample_rate else None
        try:
            achannels = int(acc.layout.nb_channels) or None
        except Exception:
            achannels = getattr(acc, "channels", None)
    return MediaInfo(
        path=path_str,
        duration=duration,
        has_video=v is not None,
        has_audio=a is not None,
        fps=fps,
        vfr=bool(vfr),
        width=width,
        height=height,
        rotation=rotation,
        num_frames=num_frames,
        pix_fmt=pix_fmt,
        video_codec=vcodec,
        audio_codec=acodec,
        audio_rate=arate,
        audio_channels=achannels,
        truncated=truncated,
    )


def _index_past_eof(entries, size: int) -> bool:
    """The index points at data beyond the end of the file (a cut-off download)."""
    try:
        n = len(entries)
        return any(e.pos >= 0 and e.pos + e.size > size for e in entries[max(0, n - 16) : n])
    except Exception:
        return False


def _demux_ticks(container, stream, limit: int) -> np.ndarray | None:
    av = _av()
    ticks = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                ticks.append(packet.pts)
            if len(ticks) >= limit:
                break
    except (av.error.FFmpegError, OSError, EOFError):
        pass
    return np.asarray(ticks, dtype=np.int64) if ticks else None


def _stream_end(stream, t0: float) -> float | None:
    """End time of a stream in seconds relative to the container start, if known."""
    if stream.duration is None or stream.time_base is None:
        return None
    start = stream.start_time or 0
    return float((start + stream.duration) * stream.time_base) - t0

