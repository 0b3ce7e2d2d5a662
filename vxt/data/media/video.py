"""Video clips: clip placement (:func:`clip_starts`) and :func:`read_clips`.

Clips are read in one forward pass over the stream, seeking to the key frame
in front of a clip when the container index shows that this skips decoding;
sampled frames are scaled and turned into RGB by FFmpeg, and the rotation and
centre crop are numpy views.
"""

from __future__ import annotations

import math
import os
import random as _random
from typing import Iterator

import numpy as np

from vxt.data.media.probing import (
    _av,
    _check_file,
    _demux_ticks,
    _index_entries,
    _open,
    _rate,
    _rotation_cw,
    _short,
    _stream_end,
    _t0,
    _video_stream,
)
from vxt.errors import MediaError

# Seek only when it skips at least this many frames of decoding (a seek costs a
# demuxer jump and a decoder flush, about the price of a few frames).
_MIN_SEEK_GAIN_FRAMES = 4
# Without a container index we cannot tell where key frames are; seek only for
# long jumps, where a backward landing before the current position is unlikely.
_BLIND_SEEK_GAP_S = 4.0
_FAST_420 = ("yuv420p", "yuvj420p")


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
    ``segments`` (training, TSN style): one start drawn uniformly inside each
    of ``num_clips`` equal segments, so the clips stay spread over the range.
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
    if mode == "segments":  # one random start inside each of num_clips equal segments (TSN's sampling)
        g = _as_rng(rng)
        seg = (end - start) / num_clips
        out = []
        for i in range(num_clips):
            a = start + seg * i
            b = max(a, start + seg * (i + 1) - clip_len)
            u = g.uniform(a, b) if b > a else a
            out.append(min(max(float(u), start), last))
        return out
    raise ValueError(f"unknown clip mode {mode!r} (expected 'uniform', 'random' or 'segments')")


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
    :func:`clip_starts` (``mode="uniform"``, or ``"random"``/``"segments"`` with ``rng``) and
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

