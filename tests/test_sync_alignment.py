"""Exact audio-visual alignment through vxt's media layer and SparseSync's input pipeline.

A click and a flash at the same time must come out of the decoders within
one spectrogram hop (8 ms at hop 128, 16 kHz): a decoder or PyAV version
that shifts the audio (SparseSync's users met one that made every prediction
-2.00 s) fails here, not silently in a model's accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest

from syncmedia import click_times_spec, flash_times, write_clip

HOP_S = 128 / 16000  # 8 ms
EVENTS = (3.0, 6.52)


def _cfg(**over):
    from vxt.models.sync.config import sync_config

    return sync_config("sparsesync-tiny", over)


def _whole(path):
    """Flash and click times of a whole file, decoded by the media layer."""
    from vxt.data.media import probe, read_audio, read_clips
    from vxt.models.sync.inputs import log_spectrogram

    info = probe(path)
    n = int(round(info.duration * 25)) - 2
    frames = read_clips(path, 1, n, 32, start=0.0, end=n / 25, fps=25)[0]
    wave = read_audio(path, sr=16000)
    spec = log_spectrogram(wave, _cfg(), standardise=False).numpy()
    return flash_times(frames, 25), click_times_spec(spec, 128, 16000)


@pytest.mark.parametrize("audio_start", [0.0, 0.7], ids=["together", "audio-starts-later"])
def test_click_and_flash_decode_at_the_same_time(tmp_path, audio_start):
    path = write_clip(tmp_path / "c.mp4", 10.0, EVENTS, audio_start=audio_start, noise=0.003)
    flashes, clicks = _whole(path)
    assert flashes == pytest.approx(list(EVENTS), abs=1e-6)
    assert len(clicks) == len(EVENTS)
    errors = [abs(c - f) for c, f in zip(clicks, flashes)]
    assert max(errors) <= HOP_S, f"audio and video disagree by {1000 * max(errors):.1f} ms"


def test_a_44k_stereo_file_is_aligned_after_resampling(tmp_path):
    path = write_clip(tmp_path / "c.mp4", 10.0, EVENTS, sr=44100, channels=2, audio_start=0.3, noise=0.003)
    flashes, clicks = _whole(path)
    assert len(clicks) == len(EVENTS)
    assert max(abs(c - f) for c, f in zip(clicks, flashes)) <= HOP_S


def test_the_waveform_itself_is_sample_accurate(tmp_path):
    """Sharper than a hop: the click's first sample lands within 1 ms of its time."""
    from vxt.data.media import read_audio

    for a0 in (0.0, 0.7):
        path = write_clip(tmp_path / f"c{a0}.mp4", 6.0, (3.0,), audio_start=a0)
        wave = read_audio(path, sr=16000)
        onset = int(np.flatnonzero(np.abs(wave) > 0.05)[0]) / 16000
        assert abs(onset - 3.0) < 1e-3, (a0, onset)


@pytest.mark.parametrize("offset", [0.0, 0.4, -1.2])
def test_the_model_inputs_carry_exactly_the_offset_asked_for(tmp_path, offset):
    """SparseSync's trims: with offset o the click comes o later than the flash (o > 0: audio late)."""
    from vxt.models.sync.inputs import Trim, log_spectrogram, read_trim

    cfg = _cfg()
    path = write_clip(tmp_path / "c.mp4", 10.0, (4.6,), audio_start=0.2, noise=0.003, size=80)
    v = 2.0
    frames, wave = read_trim(str(path), Trim(v, v - offset, offset), 0.0, cfg)
    assert frames.shape == (125, cfg["crop"], cfg["crop"], 3) and wave.shape == (80000,)
    spec = log_spectrogram(wave, cfg, standardise=False).numpy()
    assert spec.shape == (257, 626)
    (flash,) = flash_times(frames, 25)
    (click,) = click_times_spec(spec, 128, 16000)
    assert flash == pytest.approx(4.6 - v, abs=1e-6)
    assert abs((click - flash) - offset) <= HOP_S, f"{click - flash:.4f} s instead of {offset}"


def test_a_file_whose_sound_is_late_gives_that_lag_as_it_is(tmp_path):
    """A file taken as it is (decode of media): a 0.4 s late recording shows the click 0.4 s after the flash."""
    from vxt.models.sync.inputs import file_trim, log_spectrogram, read_trim

    cfg = _cfg()
    path = write_clip(tmp_path / "late.mp4", 8.0, (3.88,), audio_lag=0.4, noise=0.003, size=80)
    trim = file_trim(8.0, cfg)
    assert trim.vstart == trim.astart == pytest.approx(1.48)  # centred, on the frame grid
    frames, wave = read_trim(str(path), trim, 0.0, cfg)
    (flash,) = flash_times(frames, 25)
    (click,) = click_times_spec(log_spectrogram(wave, cfg, standardise=False).numpy(), 128, 16000)
    assert abs(click - flash - 0.4) <= HOP_S
