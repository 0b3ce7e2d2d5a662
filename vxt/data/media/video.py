"""Media decoding through PyAV: probe, video clips, frame folders, audio, log-mel.

Everything a model sees of a video or its sound comes through here, so three
rules hold throughout:

* **Do only the work that is used.** Clips are read in one forward pass over the
  stream; before a clip (or a sampled frame) the reader seeks to the key frame
  in front of it whenever the container index shows that this skips frames, and
  it stops once the last clip is full. Frames that are decoded but not sampled
  are never converted; sampled frames are scaled and turned into RGB by FFmpeg
  (swscale) in one step, and the centre crop and the rotation are numpy views.
* **Timestamps, not frame counts.** Times are seconds from the start of the
  file (the container start time). Variable frame rate video is handled by
  picking, for each wanted time, the decoded frame whose timestamp is nearest.
* **One clear error.** Every failure to read a file becomes a
  :class:`vxt.errors.MediaError` with one sentence and the path; no PyAV
  exception leaks out.
"""

from __future__ import annotations

import math
import os
import random as _random
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from vxt.errors import MediaError

__all__ = [
    "MediaInfo",
    "probe",
    "clip_starts",
    "read_clips",
    "read_frame_folder_clips",
    "frame_folder_files",
    "read_audio",
    "log_mel",
    "find_sidecar_subtitles",
]

# Seek only when it skips at least this many frames of decoding (a seek costs a
# demuxer jump and a decoder flush, about the price of a few frames).
_MIN_SEEK_GAIN_FRAMES = 4
# Without a container index we cannot tell where key frames are; seek only for
# long jumps, where a backward landing before the current position is unlikely.
_BLIND_SEEK_GAP_S = 4.0
# Audio: seek when the range starts later than this; start decoding this early
# so the decoder's overlap (AAC pre-roll) is settled before the range begins.
_AUDIO_SEEK_MIN_S = 2.0
_AUDIO_PREROLL_S = 0.5
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_SUBTITLE_EXTS = (".srt", ".vtt")
_FAST_420 = ("yuv420p", "yuvj420p")
# Resampled audio comes out in blocks of this many samples (fewer Python round trips).
_AUDIO_BLOCK = 8192


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


# --------------------------------------------------------------------------- clip placement


def _as_rng(rng):
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    return rng


def clip_starts(
    start: float,
    end: float,
    clip_len: float,
    num_clips: int,
    mode: str = "uniform",
    rng=None,
) -> list[float]:
    """Start times of ``num_clips`` clips of ``clip_len`` seconds inside ``[start, end]``.

    ``uniform`` (evaluation, deterministic): the range is cut into
    ``num_clips`` equal segments and each clip is centred on its segment's
    centre, clamped to the range. ``random`` (training): starts are drawn
    uniformly from ``[start, end - clip_len]`` with ``rng`` (a
    ``numpy.random.Generator``, a ``random.Random`` or an int seed) and sorted.
    When a clip is longer than the range, every clip starts at ``start``.
    """
    if num_clips < 1:
        raise ValueError("num_clips must be >= 1")
    start = float(start)
    end = max(float(end), start)
    clip_len = max(float(clip_len), 0.0)
    last = max(start, end - clip_len)
    if mode == "uniform":
        seg = (end - start) / num_clips
        return [min(max(start + seg * (i + 0.5) - clip_len / 2, start), last) for i in range(num_clips)]
    if mode == "random":
        g = _as_rng(rng)
        if isinstance(g, _random.Random):
            draws = [g.uniform(start, last) for _ in range(num_clips)]
        else:
            draws = [float(x) for x in g.uniform(start, last, size=num_clips)] if last > start else [start] * num_clips
        return sorted(draws)
    raise ValueError(f"unknown clip mode {mode!r} (expected 'uniform' or 'random')")


# --------------------------------------------------------------------------- video clips


class _Frame:
    """A decoded frame, its time in seconds, and its RGB crop once it is needed."""

    __slots__ = ("t", "frame", "rgb")

    def __init__(self, t: float, frame):
        self.t = t
        self.frame = frame
        self.rgb = None


class _Converter:
    """Scale the shorter display side to ``size`` and convert to RGB in FFmpeg; rotate and crop as views."""

    def __init__(self, size: int, sar: float, tag_rotation: int = 0):
        av = _av()
        self.size = size
        self.sar = sar
        self.tag_rotation = tag_rotation  # legacy `rotate` tag, used when frames carry no display matrix
        self.reformatter = av.video.reformatter.VideoReformatter()  # each keeps its own cached SwsContext
        self.to_rgb = av.video.reformatter.VideoReformatter()
        self._geom: dict[tuple[int, int, int], tuple[int, int, int]] = {}

    def __call__(self, f: _Frame) -> np.ndarray:
        if f.rgb is None:
            frame = f.frame
            rot = _rotation_cw(frame.rotation, None) if frame.rotation else self.tag_rotation
            key = (frame.width, frame.height, rot)
            geom = self._geom.get(key)
            if geom is None:
                geom = self._geom[key] = self._geometry(*key)
            w, h, k = geom
            if frame.format.name in _FAST_420:
                # Scale in YUV, then convert at the final size: swscale's unscaled
                # YUV->RGB path is several times faster than a scaling RGB conversion.
                # threads=1: these pictures are small, and swscale's slice threads
                # would only compete with the decoder's threads (measured ~40% slower).
                small = self.reformatter.reformat(frame, width=w, height=h, threads=1)
                img = self.to_rgb.reformat(small, format="rgb24", threads=1).to_ndarray()
            else:
                img = self.reformatter.reformat(frame, width=w, height=h, format="rgb24", threads=1).to_ndarray()
            if k:
                img = np.rot90(img, k=k)  # a view
            H, W = img.shape[:2]
            y0, x0 = (H - self.size) // 2, (W - self.size) // 2
            f.rgb = img[y0 : y0 + self.size, x0 : x0 + self.size]
            f.frame = None  # the decoded picture is no longer needed
        return f.rgb

    def _geometry(self, cw: int, ch: int, rot: int) -> tuple[int, int, int]:
        dw, dh = cw * self.sar, float(ch)  # display size before rotation
        scale = self.size / min(dw, dh)
        w = max(self.size, int(round(dw * scale)))
        h = max(self.size, int(round(dh * scale)))
        # np.rot90 turns counter-clockwise for positive k; a clockwise rotation is negative k.
        return w, h, (-(rot // 90)) % 4


class _VideoSource:
    """A forward decoder over one video stream that can jump to key frames.

    ``next()`` returns the next decoded :class:`_Frame` (None at the end);
    ``jump_to(t)`` seeks to the key frame before ``t`` when the container index
    shows that this skips enough frames (or, with no index, when ``t`` is far).
    """

    def __init__(self, container, stream, t0: float, frame_dur: float, allow_seek: bool):
        self.c = container
        self.s = stream
        self.t0 = t0
        self.tb = float(stream.time_base) if stream.time_base else None
        self.frame_dur = frame_dur
        self.allow_seek = allow_seek and self.tb is not None
        self.entries = _index_entries(stream) if self.allow_seek else None
        self.it: Iterator | None = None
        self.pos: float | None = None  # time of the last frame returned
        self.seeks = 0
        self.last_seek_ticks: int | None = None
        self.decoded = 0
        self.error: str | None = None

    def _iter(self):
        self.it = iter(self.c.decode(self.s))

    def next(self) -> _Frame | None:
        av = _av()
        if self.it is None:
            self._iter()
        try:
            frame = next(self.it)
        except StopIteration:
            return None
        except (av.error.FFmpegError, OSError, EOFError) as e:
            # A damaged or cut-off stream: keep what decoded so far.
            self.error = _short(e)
            return None
        self.decoded += 1
        if frame.pts is not None and self.tb is not None:
            t = frame.pts * self.tb - self.t0
        else:
            t = 0.0 if self.pos is None else self.pos + self.frame_dur
        self.pos = t
        return _Frame(t, frame)

    def jump_to(self, target: float) -> bool:
        """Seek before ``target`` if that skips decoding; returns whether it sought."""
        if not self.allow_seek:
            return False
        gain = _MIN_SEEK_GAIN_FRAMES * self.frame_dur
        if self.entries is not None:
            # Index timestamps are decode times; a key frame can be shown up to a
            # few frames later, so look for one a little before the target.
            want = int(math.floor((target - 3 * self.frame_dur + self.t0) / self.tb))
            i = self.entries.search_timestamp(want, backward=True)
            if i < 0:
                return False
            ticks = int(self.entries[i].timestamp)
            here = self.entries[0].timestamp * self.tb - self.t0 if self.pos is None else self.pos
            if ticks * self.tb - self.t0 <= here + gain:
                return False
        else:
            here = 0.0 if self.pos is None else self.pos
            if target - here <= _BLIND_SEEK_GAP_S:
                return False
            ticks = int(math.floor((target - 0.5 + self.t0) / self.tb))
        # Each seek must aim further than the last: a demuxer may land on an
        # earlier key frame than asked (MP4 seeks by presentation time while the
        # index holds decode times), and asking again would loop forever.
        if self.last_seek_ticks is not None and ticks <= self.last_seek_ticks:
            return False
        self.last_seek_ticks = ticks
        av = _av()
        try:
            self.c.seek(ticks, stream=self.s, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError):
            self.allow_seek = False
            return False
        self.seeks += 1
        self._iter()
        return True


def _set_threads(streams, threads: int | None) -> None:
    """Decoder threading: FFmpeg's frame+slice threads ("AUTO") unless told otherwise."""
    if threads is None:
        env = os.environ.get("VXT_DECODE_THREADS", "").strip()
        threads = int(env) if env.isdigit() else None
    for s in streams:
        if threads == 1:
            s.thread_type = "NONE"
        else:
            s.thread_type = "AUTO"
            if threads:
                s.codec_context.thread_count = int(threads)


def _video_meta(container, v) -> tuple[float, float, float | None]:
    """(t0, average fps, end of the video stream in seconds or None)."""
    t0 = _t0(container)
    fps = _rate(v.average_rate) or _rate(v.guessed_rate) or _rate(v.base_rate) or 25.0
    end = _stream_end(v, t0)
    if end is None and container.duration:
        end = container.duration / 1_000_000
    return t0, fps, end


def _scan_end(container, v, t0: float, fps: float) -> float:
    """End of the video stream from its packet timestamps (for files without a duration)."""
    ticks = _demux_ticks(container, v, limit=10**9)
    container.seek(0)
    if ticks is None or v.time_base is None:
        return 0.0
    return float(ticks.max() * v.time_base) - t0 + 1.0 / fps


def _fill_fps(src: _VideoSource, conv: _Converter, out: np.ndarray, starts: list[float], fps: float) -> int:
    """Frames at ``fps`` from each start: each slot gets the frame nearest its time."""
    T = out.shape[1]
    slots = sorted((s + k / fps, c, k) for c, s in enumerate(starts) for k in range(T))
    n, i = len(slots), 0
    prev: _Frame | None = None
    filled = 0
    src.jump_to(slots[0][0])
    while i < n:
        cur = src.next()
        if cur is None:
            break
        while i < n and cur.t >= slots[i][0]:
            t, c, k = slots[i]
            pick = prev if prev is not None and t - prev.t <= cur.t - t else cur
            out[c, k] = conv(pick)
            filled += 1
            i += 1
        prev = cur
        if i < n and slots[i][0] - cur.t > src.frame_dur and src.jump_to(slots[i][0]):
            prev = None
    if i < n and prev is not None:  # past the last frame: the last frame is the nearest
        rgb = conv(prev)
        for _, c, k in slots[i:]:
            out[c, k] = rgb
            filled += 1
        i = n
    return filled


def _fill_native(src: _VideoSource, conv: _Converter, out: np.ndarray, starts: list[float]) -> int:
    """``T`` consecutive native frames from the frame nearest each start; pad with the last frame."""
    T = out.shape[1]
    order = sorted(range(len(starts)), key=lambda c: starts[c])
    n, i = len(order), 0
    active: list[list[int]] = []  # [clip, next slot]
    prev: _Frame | None = None
    filled = 0
    src.jump_to(starts[order[0]])
    while i < n or active:
        cur = src.next()
        if cur is None:
            break
        just = set()
        while i < n and cur.t >= starts[order[i]]:
            c = order[i]
            s = starts[c]
            if prev is not None and s - prev.t < cur.t - s:
                out[c, 0] = conv(prev)
            else:
                out[c, 0] = conv(cur)
                just.add(c)
            filled += 1
            active.append([c, 1])
            i += 1
        for a in active:
            if a[0] not in just and a[1] < T:
                out[a[0], a[1]] = conv(cur)
                a[1] += 1
                filled += 1
        active = [a for a in active if a[1] < T]
        prev = cur
        if not active and i < n and starts[order[i]] - cur.t > src.frame_dur and src.jump_to(starts[order[i]]):
            prev = None
    # End of stream: clips in progress repeat their last frame; clips never
    # reached get the last frame of the video.
    for c, k in active:
        out[c, k:] = out[c, k - 1]
        filled += T - k
    if i < n and prev is not None:
        rgb = conv(prev)
        for c in order[i:]:
            out[c] = rgb
            filled += T
    return filled


def read_clips(
    path: str | os.PathLike,
    num_clips: int,
    frames: int,
    size: int,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
    mode: str = "uniform",
    rng=None,
    seek: bool = True,
    threads: int | None = None,
) -> np.ndarray:
    """Read ``num_clips`` clips of ``frames`` RGB frames, ``size``×``size``, as uint8 ``[N, T, S, S, 3]``.

    Clips are placed in ``[start, end]`` (default: the whole video stream) by
    :func:`clip_starts` (``mode="uniform"`` or ``"random"`` with ``rng``) and
    returned in time order. ``fps=None`` takes consecutive native frames from
    the frame nearest each clip start; otherwise frames are sampled at ``fps``
    by timestamp, each being the decoded frame nearest its time (safe for
    variable frame rate). Each frame is rotated as the file's display matrix
    asks, its shorter side scaled to ``size`` by FFmpeg and centre-cropped.
    Clips that run past the end repeat the last frame. ``seek=False`` forces
    one sequential pass (the reader otherwise seeks to key frames when that
    skips decoding). ``threads``: decoder threads; None uses FFmpeg's frame
    and slice threading over all cores (or ``$VXT_DECODE_THREADS``), 1 decodes
    on the calling thread, which is what worker pools want.
    """
    if num_clips < 1 or frames < 1 or size < 1:
        raise ValueError("num_clips, frames and size must be >= 1")
    if fps is not None and not fps > 0:
        raise ValueError("fps must be > 0 or None")
    p = _check_file(path)
    av = _av()
    container = _open(p)
    try:
        _set_threads(container.streams.video, threads)
        return _read_clips_open(container, p, str(path), num_clips, frames, size, start, end, fps, mode, rng, seek)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError) as e:
        raise MediaError(f"FFmpeg failed while decoding video ({_short(e)})", path=str(path)) from None
    finally:
        container.close()


def _read_clips_open(container, p, path_str, num_clips, frames, size, start, end, fps, mode, rng, seek):
    v = _video_stream(container)
    if v is None:
        raise MediaError("no video stream", path=path_str)
    for s in container.streams:
        if s is not v:
            try:
                s.discard = _av().stream.Discard.all  # the demuxer can skip them
            except Exception:
                pass
    t0, native_fps, vend = _video_meta(container, v)
    lo = max(0.0, float(start)) if start is not None else 0.0
    if end is not None:
        hi = float(end)
    else:
        hi = vend if vend is not None else _scan_end(container, v, t0, native_fps)
    hi = max(hi, lo)
    clip_len = frames / (fps if fps is not None else native_fps)
    starts = clip_starts(lo, hi, clip_len, num_clips, mode, rng)
    sar = _rate(v.sample_aspect_ratio) or _rate(v.codec_context.sample_aspect_ratio) or 1.0
    frame_dur = 1.0 / native_fps

    for attempt_seek in ((True, False) if seek else (False,)):
        out = np.empty((num_clips, frames, size, size, 3), dtype=np.uint8)
        src = _VideoSource(container, v, t0, frame_dur, allow_seek=attempt_seek)
        conv = _Converter(size, sar, _rotation_cw(0, v))
        if fps is None:
            filled = _fill_native(src, conv, out, starts)
        else:
            filled = _fill_fps(src, conv, out, starts, fps)
        if filled == out.shape[0] * out.shape[1]:
            return out
        if not src.seeks:
            break
        container.seek(0)  # retry without seeking (a bad index can make seeks land past the data)
    if src.decoded == 0:
        raise MediaError("truncated: decoded no frames", path=path_str)
    raise MediaError(f"video decoding stopped early ({src.error or 'no frames left'})", path=path_str)


# --------------------------------------------------------------------------- frame folders


def frame_folder_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frames folder in frame order (numeric stems sort numerically)."""
    d = Path(folder)
    if not d.is_dir():
        raise MediaError("frames folder not found", path=str(folder))
    files = [f for f in d.iterdir() if f.suffix.lower() in _IMAGE_EXTS and f.is_file()]
    if not files:
        raise MediaError("no JPEG frames in the folder", path=str(folder))

    def key(f: Path):
        digits = re.findall(r"\d+", f.stem)
        return (0, int(digits[-1]), f.name) if digits else (1, 0, f.name)

    return sorted(files, key=key)


def _nearest_index(t: float, folder_fps: float, n: int) -> int:
    return min(max(int(math.floor(t * folder_fps + 0.5)), 0), n - 1)


def read_frame_folder_clips(
    folder: str | os.PathLike,
    folder_fps: float,
    num_clips: int,
    frames: int,
    size: int,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
    mode: str = "uniform",
    rng=None,
) -> np.ndarray:
    """:func:`read_clips` over a folder of frames (``00001.jpg`` ...) taken at ``folder_fps``.

    Frame ``i`` (0-based, in file order) shows time ``i / folder_fps``. Only
    the frames a clip uses are opened; JPEGs are decoded at reduced scale
    (``draft``) when that still covers ``size``, then resized by Pillow.
    """
    if num_clips < 1 or frames < 1 or size < 1:
        raise ValueError("num_clips, frames and size must be >= 1")
    if not folder_fps > 0:
        raise ValueError("folder_fps must be > 0")
    files = frame_folder_files(folder)
    n = len(files)
    lo = max(0.0, float(start)) if start is not None else 0.0
    hi = float(end) if end is not None else n / folder_fps
    clip_len = frames / (fps if fps is not None else folder_fps)
    starts = clip_starts(lo, max(hi, lo), clip_len, num_clips, mode, rng)
    out = np.empty((num_clips, frames, size, size, 3), dtype=np.uint8)
    cache: dict[int, np.ndarray] = {}
    for c, s in enumerate(starts):
        first = _nearest_index(s, folder_fps, n)
        for k in range(frames):
            i = _nearest_index(s + k / fps, folder_fps, n) if fps is not None else min(first + k, n - 1)
            if i not in cache:
                cache[i] = _load_image(files[i], size)
            out[c, k] = cache[i]
    return out


def _load_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while the shorter side stays >= size.
                scale = min(w, h) / size
                im.draft("RGB", (max(1, int(math.ceil(w / scale))), max(1, int(math.ceil(h / scale)))))
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, int(round(w * scale))), max(size, int(round(h * scale)))
            im = im.resize((nw, nh), Image.BILINEAR)
            arr = np.asarray(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise MediaError(f"cannot decode this frame image ({type(e).__name__}: {e})", path=str(path)) from None
    y0, x0 = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return arr[y0 : y0 + size, x0 : x0 + size]


# --------------------------------------------------------------------------- audio


def read_audio(
    path: str | os.PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    sr: int = 16000,
) -> np.ndarray:
    """Decode the audio of ``[start, end]`` seconds as float32 mono at ``sr`` Hz.

    Any codec, sample format and channel layout: FFmpeg's resampler
    (``av.AudioResampler(format="flt", layout="mono", rate=sr)``) converts
    inside the decode; channels are averaged (``rematrix_maxval=1`` keeps the
    downmix at unit gain, as librosa's ``to_mono``). For a range that starts
    late the reader seeks first. The result has ``round((end - start) * sr)``
    samples, fewer when the audio ends before ``end``; if the audio starts
    after ``start`` the gap is silence. With sample-accurate timestamps (MP4,
    WAV) a range read equals the same slice of a whole-file read exactly;
    Matroska's millisecond timestamps leave it within a millisecond.
    """
    if not sr > 0:
        raise ValueError("sr must be > 0")
    p = _check_file(path)
    av = _av()
    container = _open(p)
    try:
        return _read_audio_open(container, str(path), start, end, int(sr))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, EOFError) as e:
        raise MediaError(f"FFmpeg failed while decoding audio ({_short(e)})", path=str(path)) from None
    finally:
        container.close()


def _align_first_frame(frame, t: float, sr: int):
    """Drop the first samples of ``frame`` so that it starts on the output sample grid.

    A resampler's output sample ``n`` lies at ``n / sr`` after its first input
    sample. Starting on a time that is a whole number of output samples from 0
    makes a range read after a seek give the same samples as slicing a
    full read (otherwise the sub-sample phase of the resampler differs).
    Returns (frame or None if it is used up, start time).
    """
    rate = frame.sample_rate
    s_in = int(round(t * rate))
    step = rate // math.gcd(rate, sr)  # input samples per whole number of output samples
    drop = (-s_in) % step
    if drop == 0:
        return frame, s_in / rate
    if drop >= frame.samples:
        return None, None
    av = _av()
    arr = frame.to_ndarray()
    if frame.format.is_planar:
        arr = arr[:, drop:]
    else:
        arr = arr[:, drop * frame.layout.nb_channels :]
    new = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=frame.format.name, layout=frame.layout.name)
    new.sample_rate = rate
    return new, (s_in + drop) / rate


def _new_resampler(sr: int):
    av = _av()
    return av.AudioResampler(
        format="flt", layout="mono", rate=sr, frame_size=_AUDIO_BLOCK, options={"rematrix_maxval": "1.0"}
    )


def _samples(frame) -> np.ndarray:
    """The samples of a packed mono float frame as a 1-D array (no per-plane stacking)."""
    return np.frombuffer(frame.planes[0], dtype=np.float32, count=frame.samples)


def _read_audio_open(container, path_str: str, start, end, sr: int) -> np.ndarray:
    av = _av()
    a = _audio_stream(container)
    if a is None:
        raise MediaError("no audio stream", path=path_str)
    for s in container.streams:
        if s is not a:
            try:
                s.discard = av.stream.Discard.all
            except Exception:
                pass
    t0 = _t0(container)
    lo = max(0.0, float(start)) if start is not None else 0.0
    hi = float(end) if end is not None else None
    if hi is not None and hi <= lo:
        return np.zeros(0, dtype=np.float32)
    tb = float(a.time_base) if a.time_base else None
    # Seek only in containers whose timestamps stay exact after a seek (MP4/MOV,
    # Matroska/WebM, WAV); elsewhere (MP3 by byte estimate, raw streams) decode from 0.
    fmt = container.format.name or ""
    exact = any(name in fmt for name in ("mp4", "mov", "matroska", "webm", "wav"))
    if lo > _AUDIO_SEEK_MIN_S and tb and exact:
        try:
            container.seek(int((lo - _AUDIO_PREROLL_S + t0) / tb), stream=a, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError):
            container.seek(0)

    chunks: list[np.ndarray] = []
    first_t: float | None = None
    resampler, signature = None, None
    got = 0  # samples produced so far
    error = None
    it = container.decode(a)
    while True:
        try:
            frame = next(it)
        except StopIteration:
            break
        except (av.error.FFmpegError, OSError, EOFError) as e:
            error = _short(e)
            break
        if frame.samples == 0:
            continue
        if first_t is None:
            if frame.pts is not None and tb:
                frame, first_t = _align_first_frame(frame, frame.pts * tb - t0, sr)
                if frame is None:
                    continue
            else:
                first_t = 0.0
        sig = (frame.format.name, frame.layout.name, frame.sample_rate)
        if sig != signature:  # the layout or rate may change mid-stream (broadcast recordings)
            if resampler is not None:
                for o in resampler.resample(None):
                    chunks.append(_samples(o))
            resampler, signature = _new_resampler(sr), sig
        frame.pts = None  # the position is tracked here; let the resampler stream freely
        for o in resampler.resample(frame):
            arr = _samples(o)
            chunks.append(arr)
            got += len(arr)
        if hi is not None and first_t + got / sr > hi + 0.1:
            break
    if resampler is not None:
        for o in resampler.resample(None):
            chunks.append(_samples(o))
    if first_t is None:
        if error:
            raise MediaError(f"audio decoding failed ({error})", path=path_str)
        raise MediaError("truncated: decoded no audio", path=path_str)
    wave = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    offset = int(round((lo - first_t) * sr))
    if offset >= 0:
        wave = wave[offset:]
    else:
        wave = np.concatenate([np.zeros(-offset, dtype=np.float32), wave])
    if hi is not None:
        wave = wave[: int(round((hi - lo) * sr))]
    return np.ascontiguousarray(wave, dtype=np.float32)


@lru_cache(maxsize=4)
def _mel_transform(sr: int):
    import torch
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sr,
        n_fft=512,
        win_length=512,
        hop_length=160,
        f_min=50.0,
        f_max=8000.0,
        n_mels=64,
        window_fn=torch.hann_window,
        power=2.0,
        center=True,
        pad_mode="reflect",
        norm="slaney",
        mel_scale="slaney",
    )


def log_mel(wave, sr: int = 16000):
    """Log-mel spectrogram ``[frames, 64]`` (float32) with PANNs CNN14's 16 kHz front end.

    STFT with a 512-point periodic Hann window, hop 160, centred with reflect
    padding, power 2; 64 Slaney mel bands from 50 to 8000 Hz (librosa's
    filters, as torchlibrosa uses); then ``10 * log10(max(x, 1e-10))`` (ref
    1.0, no top_db). ``frames = len(wave) // 160 + 1``.
    """
    import torch

    x = wave if torch.is_tensor(wave) else torch.from_numpy(np.asarray(wave, dtype=np.float32))
    x = x.to(torch.float32)
    if x.ndim != 1:
        raise ValueError(f"log_mel expects a 1-D waveform, got shape {tuple(x.shape)}")
    frames = x.numel() // 160 + 1
    if x.numel() <= 256:  # reflect padding needs more samples than half a window: pad with silence
        x = torch.nn.functional.pad(x, (0, 257 - x.numel()))
    with torch.no_grad():
        mel = _mel_transform(int(sr))(x)  # [64, frames]
        out = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    return out.transpose(0, 1)[:frames].contiguous()
    return out


# --------------------------------------------------------------------------- subtitles next to a video


def find_sidecar_subtitles(video_path: str | os.PathLike) -> Path | None:
    """A subtitle file beside ``video_path`` with the same stem (``.srt`` first, then ``.vtt``).

    Upper-case extensions count too; when there is no exact match a
    language-tagged name (``clip.en.srt``) is accepted, the first in name order.
    Only the candidate names are looked up, so this stays cheap in a folder of
    thousands of videos.
    """
    import glob

    v = Path(video_path)
    for ext in _SUBTITLE_EXTS:
        for e in (ext, ext.upper()):
            candidate = v.with_name(v.stem + e)
            if candidate.is_file():
                return candidate
    base = glob.escape(str(v.with_name(v.stem)))
    for ext in _SUBTITLE_EXTS:
        tagged = sorted(glob.glob(f"{base}.*{ext}"))
        if tagged:
            return Path(tagged[0])
    return None
