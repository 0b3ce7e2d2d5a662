"""Benchmark vxt's clip and audio decoding against naive decoding and the decode floor.

Run by hand (not by the tests):

    .venv/bin/python bench/decode.py [--repeats 5] [--long-repeats 3] [--cache-dir /tmp/vxt-bench]

Inputs: the sample videos in ../shared/data/videos and a generated 10-minute
854x480 30 fps H.264 + AAC stereo video (made once with libx264
``preset=ultrafast`` into the cache dir). For each file it times, as medians
over the repeats:

* **vxt**: ``read_clips(path, 10, 32, 112)`` (10 uniform clips of 32 native
  frames, 112x112) plus ``read_audio(path)`` (16 kHz mono, whole file);
* **naive** (a): decode every video frame to full-size RGB with PyAV, keep the
  same frames and resize/crop them in numpy, plus the audio decoded to arrays,
  averaged to mono and resampled with ``np.interp``;
* **floor** (b): ``ffmpeg -i X -f null -`` when an ffmpeg binary exists, else
  PyAV decoding every audio and video frame without any conversion.

Goals: vxt >= 3x faster than naive on the 10-minute video, and within 1.5x of
the floor on the short videos. Results go to bench/results/decode.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vxt.data.media import clip_starts, probe, read_audio, read_clips  # noqa: E402
from vxt.utils import console, write_json  # noqa: E402

NUM_CLIPS, FRAMES, SIZE = 10, 32, 112


# --------------------------------------------------------------------------- the long test video


def make_long_video(path: Path, minutes: float = 10.0, fps: int = 30, size=(854, 480)) -> Path:
    """A textured, moving 480p H.264/AAC video (written once, atomically)."""
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.mp4")
    w, h = size
    rng = np.random.default_rng(0)
    # A smooth random texture (upsampled noise) scrolled across the frame, plus
    # a moving bar and a little noise: compresses like natural video, not like static.
    coarse = rng.integers(0, 256, size=(h // 16 + 2, (w + 4 * 30 * 60) // 16 + 2, 3), dtype=np.uint8)
    from PIL import Image

    tex = np.asarray(Image.fromarray(coarse).resize((coarse.shape[1] * 16, coarse.shape[0] * 16), Image.BILINEAR))
    noise = rng.integers(0, 12, size=(8, h, w, 3), dtype=np.uint8)
    n = int(minutes * 60 * fps)
    sr = 44100
    with av.open(str(tmp), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "23"}
        vs.thread_type = "AUTO"
        aus = c.add_stream("aac", rate=sr, layout="stereo")
        a_per_frame = sr // fps
        t_audio = 0
        for i in range(n):
            x0 = (i * 4) % (tex.shape[1] - w)
            img = np.ascontiguousarray(tex[:h, x0 : x0 + w])
            img = img + noise[i % 8]
            bar = (i * 7) % w
            img[:, bar : bar + 24] = 255 - img[:, bar : bar + 24]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in vs.encode(frame):
                c.mux(p)
            t = (t_audio + np.arange(a_per_frame)) / sr
            tone = (0.2 * np.sin(2 * np.pi * (220 + 50 * np.sin(t / 3)) * t)).astype(np.float32)
            wave = np.stack([tone, 0.5 * tone + 0.01 * rng.standard_normal(a_per_frame).astype(np.float32)])
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = sr, t_audio, Fraction(1, sr)
            t_audio += a_per_frame
            for p in aus.encode(af):
                c.mux(p)
            if i % (fps * 60) == 0:
                print(f"  generating {path.name}: {i / fps / 60:.0f}/{minutes:.0f} min", file=sys.stderr, flush=True)
        for p in vs.encode():
            c.mux(p)
        for p in aus.encode():
            c.mux(p)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- the three contenders


def run_vxt(path: Path) -> None:
    clips = read_clips(path, NUM_CLIPS, FRAMES, SIZE)
    audio = read_audio(path)
    assert clips.shape == (NUM_CLIPS, FRAMES, SIZE, SIZE, 3) and audio.ndim == 1


def run_vxt_video(path: Path) -> None:
    read_clips(path, NUM_CLIPS, FRAMES, SIZE)


def run_vxt_audio(path: Path) -> None:
    read_audio(path)


def _numpy_resize_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    ys = (np.arange(nh) / scale).astype(int).clip(0, h - 1)
    xs = (np.arange(nw) / scale).astype(int).clip(0, w - 1)
    out = img[ys][:, xs]
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return out[y0 : y0 + size, x0 : x0 + size]


def run_naive(path: Path) -> None:
    """Every frame to RGB, sub-sample in numpy; audio to arrays, mono and resampled in numpy."""
    import av

    info = probe(path)
    fps = info.fps
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        n_frames = info.num_frames or int(info.duration * fps)
        starts = clip_starts(0, n_frames / fps, FRAMES / fps, NUM_CLIPS)
        wanted: dict[int, list[tuple[int, int]]] = {}
        for ci, s in enumerate(starts):
            for k in range(FRAMES):
                wanted.setdefault(min(int(round(s * fps)) + k, n_frames - 1), []).append((ci, k))
        out = np.empty((NUM_CLIPS, FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
        for i, frame in enumerate(c.decode(v)):
            rgb = frame.to_ndarray(format="rgb24")
            for ci, k in wanted.get(i, ()):
                out[ci, k] = _numpy_resize_crop(rgb, SIZE)
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        sr = a.codec_context.sample_rate
        chunks = [f.to_ndarray() for f in c.decode(a)]
    x = np.concatenate(chunks, axis=1)  # AAC decodes to planar float: [channels, samples]
    mono = x.mean(axis=0) if x.shape[0] > 1 else x[0]
    t_out = np.arange(int(len(mono) * 16000 / sr)) / 16000
    np.interp(t_out, np.arange(len(mono)) / sr, mono).astype(np.float32)


def run_floor(path: Path, ffmpeg: str | None) -> None:
    if ffmpeg:
        subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
        return
    import av

    with av.open(str(path)) as c:
        for s in c.streams:
            s.thread_type = "AUTO"
        for _ in c.decode(*[s for s in c.streams if s.type in ("video", "audio")]):
            pass


# --------------------------------------------------------------------------- timing


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (all threads)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def interleaved_times(fns: dict, repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of each function, ``repeats`` times, round-robin.

    Round-robin makes all contenders see the same machine load; CPU time is
    reported as well because on a shared machine it is far less noisy than
    wall time.
    """
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c, t = _cpu(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(_cpu() - c)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--long-repeats", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/vxt-bench"))
    ap.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "decode.json")
    args = ap.parse_args(argv)

    ffmpeg = shutil.which("ffmpeg")
    floor_kind = "ffmpeg -f null" if ffmpeg else "PyAV decode all, no conversion"
    files = [(p, args.repeats, "short") for p in sorted(args.videos.glob("*.mp4"))]
    if not args.skip_long:
        long_path = args.cache_dir / f"long_480p_{args.long_minutes:g}min.mp4"
        make_long_video(long_path, minutes=args.long_minutes)
        files.append((long_path, args.long_repeats, "long"))

    import av

    rows = []
    for path, repeats, kind in files:
        info = probe(path)
        run_vxt(path)  # warm the page cache and imports
        times, cpu_times = interleaved_times(
            {
                "vxt": lambda: run_vxt(path),
                "vxt_video": lambda: run_vxt_video(path),
                "vxt_audio": lambda: run_vxt_audio(path),
                "naive": lambda: run_naive(path),
                "floor": lambda: run_floor(path, ffmpeg),
            },
            repeats,
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
        vxt, vxt_v, vxt_a, naive, floor = (med[k] for k in ("vxt", "vxt_video", "vxt_audio", "naive", "floor"))
        rows.append(
            {
                "file": path.name,
                "kind": kind,
                "duration_s": info.duration,
                "size": [info.width, info.height],
                "fps": info.fps,
                "frames": info.num_frames,
                "repeats": repeats,
                "vxt_s": vxt,
                "vxt_video_s": vxt_v,
                "vxt_audio_s": vxt_a,
                "naive_s": naive,
                "floor_s": floor,
                "naive_over_vxt": naive / vxt,
                "vxt_over_floor": vxt / floor,
                "cpu_s": cpu,
                "cpu_naive_over_vxt": cpu["naive"] / cpu["vxt"],
                "cpu_vxt_over_floor": cpu["vxt"] / cpu["floor"],
                "times": times,
                "cpu_times": cpu_times,
            }
        )
        print(f"  {path.name}: vxt {vxt:.3f}s naive {naive:.3f}s floor {floor:.3f}s", file=sys.stderr, flush=True)

    from rich.table import Table

    table = Table(title=f"decode: {NUM_CLIPS} clips x {FRAMES} frames at {SIZE}px + 16 kHz audio (median s)")
    cols = ("file", "dur s", "vxt", "(video+audio)", "naive (a)", "floor (b)", "naive/vxt", "vxt/floor", "CPU: naive/vxt", "vxt/floor")
    for col in cols:
        table.add_column(col, justify="left" if col == "file" else "right")
    for r in rows:
        table.add_row(
            r["file"],
            f"{r['duration_s']:.1f}",
            f"{r['vxt_s']:.3f}",
            f"{r['vxt_video_s']:.3f}+{r['vxt_audio_s']:.3f}",
            f"{r['naive_s']:.3f}",
            f"{r['floor_s']:.3f}",
            f"{r['naive_over_vxt']:.1f}x",
            f"{r['vxt_over_floor']:.2f}x",
            f"{r['cpu_naive_over_vxt']:.1f}x",
            f"{r['cpu_vxt_over_floor']:.2f}x",
        )
    out = console()
    out.width = max(out.width, 150)
    out.print(table)
    goals = {}
    longs = [r for r in rows if r["kind"] == "long"]
    shorts = [r for r in rows if r["kind"] == "short"]
    if longs:
        goals["long: naive/vxt >= 3 (wall)"] = all(r["naive_over_vxt"] >= 3 for r in longs)
    if shorts:
        goals["short: vxt/floor <= 1.5 (wall)"] = all(r["vxt_over_floor"] <= 1.5 for r in shorts)
        goals["short: vxt/floor <= 1.5 (CPU)"] = all(r["cpu_vxt_over_floor"] <= 1.5 for r in shorts)
    for g, ok in goals.items():
        out.print(f"goal {g}: {'[green]met[/]' if ok else '[red]missed[/]'}")
    out.print(f"floor = {floor_kind}; wall-clock medians, CPU = median CPU seconds of all threads")
    write_json(
        args.out,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "pyav": av.__version__,
                "ffmpeg_libs": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
            },
            "setup": {"num_clips": NUM_CLIPS, "frames": FRAMES, "size": SIZE, "audio_sr": 16000, "floor": floor_kind},
            "goals": goals,
            "results": rows,
        },
    )
    out.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
