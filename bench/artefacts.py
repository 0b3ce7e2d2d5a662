"""Temporal artefact leakage: can a probe tell where a 5 s trim starts inside a 10 s clip from codec traces alone?

Run by hand (not by the tests):

    .venv/bin/python bench/artefacts.py [--seeds 0 1 2] [--train-clips 60] [--test-clips 20] [--epochs 30]
                                        [--conditions mpeg4-noise,aac44k,...] [--cache-dir /tmp/vxt-artefacts]

A synchronisation model sees a 5 s trim of a longer clip; if the codec leaves
traces on a grid fixed to the start of the file (key frames every 12 frames,
AAC frames of 1024 samples, a rate control that settles), the trim's place in
the file, and with it the offset, can be read off the traces instead of the
content. Iashin's thesis (section 5.3) measured it on content-free media: a
probe trained to place a 5 s trim in a 10 s clip among 50 starts 0.1 s apart
(chance 2% top-1, 10% top-5).

Here, per condition and seed: ``train + test`` content-free 10 s clips (video
64x64 at 25 fps: fresh uniform noise in every frame, or one still noise
picture; audio: white noise) are encoded through PyAV, decoded back through
vxt's media layer (``read_clips`` at 25 fps, ``read_audio`` at 16 kHz, as
SparseSync's inputs are read), and cut into the 50 trims of each clip. A small
probe learns the start class from the trims of the training clips and is
scored on the trims of held-out clips:

* video: per frame of the trim, content-blind statistics (mean, spread,
  Laplacian energy, 8x8 blockiness, change from the previous frame of the trim;
  nothing from outside the trim) -> two 1-D convolutions over the 125 frames ->
  a linear layer over every frame position (so the probe can use *where* in the
  trim a trace lies) -> 50 classes;
* audio: the trim's log power spectrogram (n_fft 512, hop 128, standardised per
  frequency, as SparseSync's audio input) pooled to 32 frequency bands -> the
  same probe over its 626 frames.

Conditions: MPEG-4 Part 2 (FFmpeg's ``mpeg4``, its defaults: a key frame every
12 frames), H.264 as ``vxt prepare`` writes sync media (``libx264``, CRF 10,
preset veryfast), ProRes (``prores_ks``, intra-only), each on noise and on a
still picture; AAC (FFmpeg's ``aac``, its default bit rate) at 44.1, 22.05 and
16 kHz, and lossless PCM (16-bit WAV at 44.1 kHz). Results (mean and std over
the seeds, next to the thesis') print as a table and go to
``bench/results/artefacts.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FPS, SECONDS, TRIM, SIZE, SR_READ = 25, 10.0, 5.0, 64, 16000
N_CLASSES, STEP = 50, 0.1
#: the thesis' Table 5.x (top-1, top-5 in %); ProRes and "lossless" are its intra-only and PCM rows
THESIS = {"mpeg4": (27.2, 77.1), "h264": (2.5, 11.9), "prores": (2.7, 13.4),
          "aac44k": (86.7, 100.0), "aac22k": (23.0, 74.3), "aac16k": (6.3, 19.3), "pcm": (2.9, 14.6)}
#: name -> (stream, codec, container, pixel format or sample rate, content)
CONDITIONS = {
    "mpeg4-noise": ("video", "mpeg4", "mp4", "yuv420p", "noise"),
    "mpeg4-still": ("video", "mpeg4", "mp4", "yuv420p", "still"),
    "h264-noise": ("video", "libx264", "mp4", "yuv420p", "noise"),
    "h264-still": ("video", "libx264", "mp4", "yuv420p", "still"),
    "prores-noise": ("video", "prores_ks", "mov", "yuv422p10le", "noise"),
    "prores-still": ("video", "prores_ks", "mov", "yuv422p10le", "still"),
    "aac44k": ("audio", "aac", "mp4", 44100, "noise"),
    "aac22k": ("audio", "aac", "mp4", 22050, "noise"),
    "aac16k": ("audio", "aac", "mp4", 16000, "noise"),
    "pcm": ("audio", "pcm_s16le", "wav", 44100, "noise"),
}


# ---------------------------------------------------------------- media


def write_clip(path: Path, cond: str, rng: np.random.Generator) -> None:
    """One content-free 10 s clip of condition ``cond`` at ``path`` (written atomically)."""
    import av
    from vxt.data.media.encode import CRF

    stream, codec, fmt, param, content = CONDITIONS[cond]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    out = av.open(str(tmp), "w", format=fmt)
    try:
        if stream == "video":
            vs = out.add_stream(codec, rate=FPS)
            vs.width = vs.height = SIZE
            vs.pix_fmt = param
            vs.codec_context.time_base = Fraction(1, FPS)
            vs.codec_context.thread_count = 1
            if codec == "libx264":  # what vxt prepare writes sync media as
                vs.options = {"crf": str(CRF), "preset": "veryfast"}
            still = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
            for k in range(int(SECONDS * FPS)):
                img = still if content == "still" else rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
                f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=param)
                f.pts, f.time_base = k, Fraction(1, FPS)
                for pkt in vs.encode(f):
                    out.mux(pkt)
            for pkt in vs.encode(None):
                out.mux(pkt)
        else:
            sr = int(param)
            a = out.add_stream(codec, rate=sr, layout="mono")
            wave = (rng.standard_normal(int(SECONDS * sr)) * 0.1).clip(-1, 1).astype(np.float32)
            fs = int(a.codec_context.frame_size or 1024)
            for s in range(0, len(wave), fs):
                chunk = wave[s : s + fs]
                if codec == "pcm_s16le":
                    f = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16)[None], format="s16", layout="mono")
                else:
                    f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None]), format="fltp", layout="mono")
                f.sample_rate, f.pts, f.time_base = sr, s, Fraction(1, sr)
                for pkt in a.encode(f):
                    out.mux(pkt)
            for pkt in a.encode(None):
                out.mux(pkt)
    finally:
        out.close()
    os.replace(tmp, path)


def video_features(frames: np.ndarray) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 -> ``[T, 6]`` per-frame statistics that do not depend on the other frames."""
    x = frames.astype(np.float32).mean(-1) / 255.0  # luma-ish [T, H, W]
    lap = np.abs(4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:])
    dx = np.abs(np.diff(x, axis=2))  # [T, H, W-1]: across column c | c+1
    at_block = dx[:, :, 7::8].mean((1, 2))  # between 8x8 blocks
    inside = np.delete(dx, np.s_[7::8], axis=2).mean((1, 2))
    return np.stack([x.mean((1, 2)), x.std((1, 2)), lap.mean((1, 2)), at_block - inside,
                     frames.astype(np.float32).std(-1).mean((1, 2)) / 255.0, dx.mean((1, 2))], axis=1)


def trim_video(feats: np.ndarray, frames: np.ndarray, k0: int) -> np.ndarray:
    """``[7, 125]``: the statistics of frames ``k0 .. k0+124`` plus their change from the previous frame of the trim."""
    n = int(TRIM * FPS)
    f = feats[k0 : k0 + n]
    x = frames[k0 : k0 + n].astype(np.float32) / 255.0
    change = np.zeros(n, dtype=np.float32)
    change[1:] = np.abs(np.diff(x, axis=0)).mean((1, 2, 3))
    return np.concatenate([f, change[:, None]], axis=1).T.astype(np.float32)


def trim_audio(wave: np.ndarray, starts: list[int]) -> np.ndarray:
    """``[len(starts), 32, 626]``: each trim's standardised log power spectrogram (SparseSync's, computed on the
    trim alone, as the model's input is), pooled to 32 bands."""
    import torch

    from vxt.models.sync.inputs import log_spectrogram

    n = int(TRIM * SR_READ)
    trims = torch.from_numpy(np.stack([wave[s0 : s0 + n] for s0 in starts]).astype(np.float32))
    spec = log_spectrogram(trims, {"n_fft": 512, "hop": 128}).numpy()  # [T, 257, 626], standardised per trim
    return spec[:, :256].reshape(len(starts), 32, 8, -1).mean(2).astype(np.float32)


def clip_trims(path: Path, stream: str) -> np.ndarray:
    """The 50 trims of one clip (starts 0, 0.1, ..., 4.9 s), read through vxt's media layer: ``[50, C, L]``."""
    from vxt.data.media import read_audio, read_clips

    if stream == "video":
        frames = read_clips(path, 1, int(SECONDS * FPS), SIZE, start=0.0, end=SECONDS, fps=FPS, threads=1)[0]
        feats = video_features(frames)
        return np.stack([trim_video(feats, frames, int(round(c * STEP * FPS))) for c in range(N_CLASSES)])
    wave = read_audio(path, sr=SR_READ)
    need = int((STEP * (N_CLASSES - 1) + TRIM) * SR_READ)
    if len(wave) < need:
        wave = np.pad(wave, (0, need - len(wave)))
    return trim_audio(wave, [int(round(c * STEP * SR_READ)) for c in range(N_CLASSES)])


# ---------------------------------------------------------------- the probe


def train_probe(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, epochs: int, seed: int) -> dict:
    """Train the probe on ``xtr [N, C, L]`` and return top-1/top-5 (%) on ``xte``."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    mu = xtr.mean((0, 2), keepdims=True)
    sd = xtr.std((0, 2), keepdims=True) + 1e-6
    xtr_t = torch.from_numpy((xtr - mu) / sd).float()
    xte_t = torch.from_numpy((xte - mu) / sd).float()
    ytr_t, yte_t = torch.from_numpy(ytr).long(), torch.from_numpy(yte).long()
    C, L = xtr.shape[1], xtr.shape[2]
    stride = 1 if L <= 200 else 4
    net = nn.Sequential(
        nn.Conv1d(C, 32, 5, padding=2), nn.ReLU(),
        nn.Conv1d(32, 16, 5, stride=stride, padding=2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.2), nn.LazyLinear(N_CLASSES))
    net(xtr_t[:2])  # materialise the lazy layer
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(xtr_t), generator=g).split(64):
            loss = nn.functional.cross_entropy(net(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(b) for b in xte_t.split(256)])
    top5 = logits.topk(5, dim=1).indices
    return {"top1": 100.0 * float((top5[:, 0] == yte_t).float().mean()),
            "top5": 100.0 * float((top5 == yte_t[:, None]).any(1).float().mean())}


def run_condition(cond: str, seed: int, n_train: int, n_test: int, epochs: int, cache: Path) -> dict:
    stream = CONDITIONS[cond][0]
    ext = {"mp4": ".mp4", "mov": ".mov", "wav": ".wav"}[CONDITIONS[cond][2]]
    folder = cache / f"{cond}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, sorted(CONDITIONS).index(cond)])
    t0 = time.perf_counter()
    xs = []
    for i in range(n_train + n_test):
        path = folder / f"clip{i:03d}{ext}"
        clip_rng = np.random.default_rng(rng.integers(2 ** 63))
        if not path.is_file():
            write_clip(path, cond, clip_rng)
        xs.append(clip_trims(path, stream))
    t_media = time.perf_counter() - t0
    x = np.stack(xs)  # [clips, 50, C, L]
    y = np.tile(np.arange(N_CLASSES), (len(xs), 1))
    xtr, ytr = x[:n_train].reshape(-1, *x.shape[2:]), y[:n_train].reshape(-1)
    xte, yte = x[n_train:].reshape(-1, *x.shape[2:]), y[n_train:].reshape(-1)
    t1 = time.perf_counter()
    res = train_probe(xtr, ytr, xte, yte, epochs, seed)
    res.update(media_s=round(t_media, 1), probe_s=round(time.perf_counter() - t1, 1))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--train-clips", type=int, default=60)
    ap.add_argument("--test-clips", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/vxt-artefacts"))
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "artefacts.json")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other conditions' results already in --out (e.g. audio with other seeds)")
    args = ap.parse_args(argv)
    conds = [c.strip() for c in args.conditions.split(",") if c.strip()]
    bad = [c for c in conds if c not in CONDITIONS]
    if bad:
        print(f"artefacts.py: unknown condition(s) {', '.join(bad)} (known: {', '.join(CONDITIONS)})", file=sys.stderr)
        return 2
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from vxt.utils import write_json

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    rows: dict[str, list[dict]] = {c: [] for c in conds}
    jobs = [(c, s) for c in conds for s in args.seeds]
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn()) as bar:
        task = bar.add_task("probes", total=len(jobs))
        for c, s in jobs:
            bar.update(task, description=f"{c} seed {s}")
            rows[c].append({"seed": s, **run_condition(c, s, args.train_clips, args.test_clips, args.epochs,
                                                        args.cache_dir)})
            bar.advance(task)

    def ms(vals):
        return (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)

    table = Table(title=f"where does a 5 s trim start in a 10 s clip? (50 classes; chance 2.0 / 10.0; "
                        f"{args.train_clips} train / {args.test_clips} test clips, seeds {args.seeds})")
    for col in ("condition", "top-1 %", "top-5 %", "thesis top-1 / top-5"):
        table.add_column(col, justify="left" if col == "condition" else "right")
    summary = {}
    for c in conds:
        t1, t5 = ms([r["top1"] for r in rows[c]]), ms([r["top5"] for r in rows[c]])
        key = c.split("-")[0]
        th = THESIS.get(key)
        summary[c] = {"top1_mean": round(t1[0], 2), "top1_std": round(t1[1], 2), "top5_mean": round(t5[0], 2),
                      "top5_std": round(t5[1], 2), "seeds": args.seeds, "thesis": th, "runs": rows[c]}
        table.add_row(c, f"{t1[0]:.1f} ± {t1[1]:.1f}", f"{t5[0]:.1f} ± {t5[1]:.1f}",
                      "-" if th is None else f"{th[0]:.1f} / {th[1]:.1f}")
    Console().print(table)
    command = "python bench/artefacts.py " + " ".join(sys.argv[1:] if argv is None else argv)
    for c in summary:
        summary[c]["command"] = command
    if args.merge and args.out.is_file():
        old = json.loads(args.out.read_text()).get("results", {})
        summary = {**{c: r for c, r in old.items() if c not in summary}, **summary}
    meta = {"command": command,
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__},
            "settings": {"train_clips": args.train_clips, "test_clips": args.test_clips, "epochs": args.epochs,
                         "size": SIZE, "fps": FPS, "read_sr": SR_READ},
            "chance": {"top1": 100 / N_CLASSES, "top5": 500 / N_CLASSES}, "results": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, meta)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
