"""Audio: :func:`read_audio` (any codec, resampled to float32 mono) and :func:`log_mel`."""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np

from vxt.data.media.probing import _audio_stream, _av, _check_file, _open, _short, _t0
from vxt.errors import MediaError

# Audio: seek when the range starts later than this; start decoding this early
# so the decoder's overlap (AAC pre-roll) is settled before the range begins.
_AUDIO_SEEK_MIN_S = 2.0
_AUDIO_PREROLL_S = 0.5
# Resampled audio comes out in blocks of this many samples (fewer Python round trips).
_AUDIO_BLOCK = 8192


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

