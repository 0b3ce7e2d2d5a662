"""Clips with known audio-visual timing for the sync tests: a flash on the frame of each event, a click at its time.

Written with PyAV (H.264 + AAC), so the tests see what real files give: AAC's
encoder priming, edit lists, an audio stream that starts after the video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_clip(path: str | Path, duration: float = 10.0, events=(3.0,), *, fps: int = 25, sr: int = 16000,
               size: int = 48, audio_start: float = 0.0, audio_lag: float = 0.0, channels: int = 1,
               noise: float = 0.0, seed: int = 0) -> Path:
    """Write ``path``: a flash on frame ``round(t * fps)`` and a click at ``t + audio_lag`` s for each event ``t``.

    ``audio_start``: the audio stream's first sample is at that time (its packets' pts start there);
    ``audio_lag``: every click is that much later than its flash (a badly synced file);
    ``noise``: the amplitude of background noise (so a spectrogram is never silent).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(round(duration * fps))
    frames = np.full((n, size, size, 3), 30, np.uint8)
    lo, hi = size // 4, 3 * size // 4
    for t in events:
        k = int(round(t * fps))
        if 0 <= k < n:
            frames[k, lo:hi, lo:hi] = 255
    wave = (rng.standard_normal(int(round((duration - audio_start) * sr))) * noise).astype(np.float32)
    burst = int(0.0025 * sr)
    for t in events:
        i = int(round((t + audio_lag - audio_start) * sr))
        if 0 <= i < len(wave) - burst:
            wave[i : i + burst] += 0.8 * np.hanning(burst).astype(np.float32) * np.sign(rng.standard_normal(burst))
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "18", "preset": "veryfast"}
        vs.codec_context.thread_count = 1
        aus = out.add_stream("aac", rate=sr, layout=layout)
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        fs = aus.codec_context.frame_size or 1024
        first = int(round(audio_start * sr))
        for s in range(0, len(wave), fs):
            chunk = wave[s : s + fs]
            if len(chunk) < fs:
                chunk = np.pad(chunk, (0, fs - len(chunk)))
            planes = np.repeat(chunk[None, :], channels, axis=0)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format="fltp", layout=layout)
            af.sample_rate = sr
            af.pts = first + s
            for pkt in aus.encode(af):
                out.mux(pkt)
        for pkt in aus.encode():
            out.mux(pkt)
    return path


def flash_times(frames: np.ndarray, fps: float, start: float = 0.0) -> list[float]:
    """Times (s) of the frames much brighter than the rest (``frames``: ``[T, H, W, 3]`` at ``fps`` from ``start``)."""
    b = frames.reshape(len(frames), -1).mean(axis=1)
    return [start + k / fps for k in np.flatnonzero(b > (b.min() + b.max()) / 2)]


def click_times_spec(spec, hop: int, sr: int, start: float = 0.0) -> list[float]:
    """Times (s) of the spectrogram frames that are local energy peaks well above the rest (``spec``: log power [F, T])."""
    e = np.asarray(spec).max(axis=0)
    thr = (np.median(e) + e.max()) / 2
    peaks = [j for j in range(len(e)) if e[j] > thr and e[j] >= e[max(0, j - 3): j + 4].max()]
    return [start + j * hop / sr for j in peaks]


def lag_samples(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """How many samples later ``y`` is than ``x`` (the peak of their cross-correlation)."""
    L = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.irfft(np.fft.rfft(y, L) * np.conj(np.fft.rfft(x, L)), L)
    c = np.concatenate([c[-max_lag:], c[: max_lag + 1]])
    return int(np.argmax(c)) - max_lag


def video_packets(path: str | Path) -> list[tuple[bytes, float | None, float | None]]:
    """(bytes, pts s, dts s) of every video packet of a file, in file order."""
    import av

    out = []
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        for p in c.demux(v):
            if p.size:
                tb = p.time_base
                out.append((bytes(p), None if p.pts is None else float(p.pts * tb),
                            None if p.dts is None else float(p.dts * tb)))
    return out
