"""Generate media with known content and a corpus of broken or unusual files.

Everything is written with PyAV (no ffmpeg binary needed), small and fast
(the whole corpus takes a few seconds). Importable by any test:

    from badmedia import make_test_video, make_bad_corpus, frame_index

``make_test_video`` encodes the frame index in the colour of every frame
(red = 16 * (i % 16) + 8, green = 16 * (i // 16 % 16) + 8), so a test can
read back which frame it got with :func:`frame_index`, even after scaling and
lossy compression. The blue channel is 0 on the left half and 255 on the
right half of the coded picture, which shows how a frame was rotated.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

def frame_color(i: int) -> tuple[int, int]:
    """(red, green) that encode frame index ``i`` (0..255)."""
    return 16 * (i % 16) + 8, 16 * ((i // 16) % 16) + 8


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    """The RGB picture of frame ``i``: index in red/green, blue 0 left / 255 right."""
    r, g = frame_color(i)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[..., 0] = r
    img[..., 1] = g
    img[..., 2] = 0
    img[:, (width // 2) & ~1 :, 2] = 255  # edge on an even column: no chroma bleed across it
    return img


def frame_index(rgb: np.ndarray) -> int:
    """Recover the frame index from an RGB frame (any size) written by :func:`make_test_video`."""
    r = float(np.median(rgb[..., 0]))
    g = float(np.median(rgb[..., 1]))
    return int(round((r - 8) / 16)) + 16 * int(round((g - 8) / 16))


def _tone(seconds: float, rate: int, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels)  # planar [channels, samples]


def make_test_video(
    path: str | Path,
    seconds: float = 2.0,
    fps: float = 10,
    size: tuple[int, int] = (64, 48),
    audio: bool = True,
    *,
    video: bool = True,
    pix_fmt: str = "yuv420p",
    num_frames: int | None = None,
    rotation_cw: int = 0,
    pts_ms: list[int] | None = None,
    audio_rate: int = 44100,
    audio_channels: int = 2,
    audio_seconds: float | None = None,
    audio_freq: float = 440.0,
    preset: str = "ultrafast",
    gop: int | None = None,
    faststart: bool = False,
) -> Path:
    """Write an H.264/AAC MP4 (or M4A when ``video=False``) with known content.

    ``size`` is (width, height) of the coded picture; ``rotation_cw`` stores a
    display matrix asking players to turn it clockwise (as a phone's
    ``rotate=90`` tag does); ``pts_ms`` gives each frame's timestamp in
    milliseconds (variable frame rate). Audio is a sine at ``audio_freq``,
    amplitude 0.3, identical on every channel.
    """
    import av

    path = Path(path)
    n = num_frames if num_frames is not None else int(round(seconds * fps))
    if pts_ms is not None:
        n = len(pts_ms)
    opts = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4" if path.suffix in (".mp4", ".m4a", ".mov") else None, options=opts) as c:
        vs = as_ = None
        if video:
            vs = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height = size
            vs.pix_fmt = pix_fmt
            o = {"preset": preset}
            if gop:
                o["g"] = str(gop)
            vs.options = o
            if pts_ms is not None:
                vs.codec_context.time_base = Fraction(1, 1000)
                vs.time_base = Fraction(1, 1000)
            if rotation_cw:
                vs.set_display_rotation(-rotation_cw)  # PyAV takes counter-clockwise degrees
        if audio:
            as_ = c.add_stream("aac", rate=audio_rate, layout="mono" if audio_channels == 1 else "stereo")
        if vs is not None:
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(frame_image(i, *size), format="rgb24")
                if pix_fmt != "yuv420p":
                    frame = frame.reformat(format=pix_fmt)
                if pts_ms is not None:
                    frame.pts = pts_ms[i]
                    frame.time_base = Fraction(1, 1000)
                else:
                    frame.pts = i
                for p in vs.encode(frame):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if as_ is not None:
            secs = audio_seconds if audio_seconds is not None else (n / fps if video else seconds)
            wave = _tone(secs, audio_rate, audio_channels, audio_freq)
            step = 1024
            for k in range(0, wave.shape[1], step):
                chunk = np.ascontiguousarray(wave[:, k : k + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=as_.layout.name)
                frame.sample_rate = audio_rate
                frame.pts = k
                frame.time_base = Fraction(1, audio_rate)
                for p in as_.encode(frame):
                    c.mux(p)
            for p in as_.encode():
                c.mux(p)
    return path


def make_bad_corpus(dirpath: str | Path) -> dict[str, str]:
    """Write the broken/odd media corpus into ``dirpath``; return {filename: expected status}.

    Expected statuses: "ok", "degraded:video" / "degraded:audio" (that
    modality is missing), "skipped" (unreadable). ``latin1.srt`` is a
    Latin-1 sidecar subtitle file (with one broken cue) of ``latin1.mp4``;
    it is not a media file, so it is not in the returned mapping.
    """
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    (d / "empty.mp4").write_bytes(b"")
    expected["empty.mp4"] = "skipped"

    (d / "not_media.mp4").write_text("This is a text file that only pretends to be a video.\n" * 40)
    expected["not_media.mp4"] = "skipped"

    # A complete file, then its first 30%. The MP4 muxer writes the index
    # (moov box) at the end, so the cut-off copy has no index: unreadable.
    full = make_test_video(d / "_full.mp4", seconds=2.0, fps=10, size=(64, 48))
    data = full.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: int(len(data) * 0.3)])
    full.unlink()
    expected["truncated.mp4"] = "skipped"

    # The same cut on a "fast start" file (index first, as web video is):
    # what was downloaded plays, the rest is gone; readers pad the clips.
    full = make_test_video(d / "_full_fs.mp4", seconds=2.0, fps=10, size=(64, 48), faststart=True)
    data = full.read_bytes()
    (d / "truncated_faststart.mp4").write_bytes(data[: int(len(data) * 0.3)])
    full.unlink()
    expected["truncated_faststart.mp4"] = "ok"

    make_test_video(d / "audio_only.m4a", seconds=1.0, video=False)
    expected["audio_only.m4a"] = "degraded:video"

    make_test_video(d / "video_only.mp4", seconds=1.0, fps=10, audio=False)
    expected["video_only.mp4"] = "degraded:audio"

    make_test_video(d / "single_frame.mp4", fps=10, num_frames=1, audio_seconds=0.5)
    expected["single_frame.mp4"] = "ok"

    make_test_video(d / "rotated.mp4", seconds=1.0, fps=10, size=(64, 32), rotation_cw=90)
    expected["rotated.mp4"] = "ok"

    make_test_video(d / "yuv420p10le.mp4", seconds=1.0, fps=10, pix_fmt="yuv420p10le")
    expected["yuv420p10le.mp4"] = "ok"

    make_test_video(d / "yuv444p.mp4", seconds=1.0, fps=10, pix_fmt="yuv444p")
    expected["yuv444p.mp4"] = "ok"

    # Irregular frame intervals: 20 frames with gaps of 40, 40, 120, 40, 200 ms, ...
    gaps = [40, 40, 120, 40, 200]
    pts = np.cumsum([0] + [gaps[i % len(gaps)] for i in range(19)]).tolist()
    make_test_video(d / "vfr.mp4", fps=25, pts_ms=pts, audio_seconds=pts[-1] / 1000 + 0.04)
    expected["vfr.mp4"] = "ok"

    make_test_video(d / "uhd_3840x2160.mp4", fps=25, num_frames=5, size=(3840, 2160))
    expected["uhd_3840x2160.mp4"] = "ok"

    make_test_video(d / "latin1.mp4", seconds=2.0, fps=10)
    (d / "latin1.srt").write_bytes(LATIN1_SRT.encode("latin-1"))
    expected["latin1.mp4"] = "ok"
    return expected


# Latin-1 subtitles with one broken cue (an unreadable timing line).
LATIN1_SRT = (
    "1\n00:00:00,100 --> 00:00:00,900\nÇa va? Très bien, merci.\n\n"
    "2\n00:00:0x,000 --> 00:00:01,200\nthis cue has a broken time\n\n"
    "3\n00:00:01,000 --> 00:00:01,900\n<i>Señor</i> Müller, à bientôt!\n"
)
