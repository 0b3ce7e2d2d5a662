"""The synthetic benchmark's sound track: the sounds' waveforms and :func:`render_audio`."""

from __future__ import annotations

from vxt.data.synth.vocab import SAMPLE_RATE

# ---------------------------------------------------------------- rendering


def _sound_wave(sound: str, n: int, rng):
    """One sound, ``n`` samples at 16 kHz, peak-normalised (zeros for silence)."""
    import numpy as np

    sr = SAMPLE_RATE
    t = np.arange(n, dtype=np.float64) / sr
    if sound == "silence" or n <= 0:
        return np.zeros(n, dtype=np.float32)
    if sound == "low hum":
        f0 = rng.uniform(70, 140)
        w = sum((0.6**h) * np.sin(2 * np.pi * (h + 1) * f0 * t + rng.uniform(0, 2 * np.pi)) for h in range(4))
        w *= 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * t)
    elif sound == "high beep":
        f = rng.uniform(1800, 3000)
        period, duty = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.55)
        ph = (t + rng.uniform(0, period)) % period
        gate = np.clip(np.minimum(ph, period * duty - ph) / 0.005, 0, 1)
        w = np.sin(2 * np.pi * f * t) * gate
    elif sound == "rising whistle":
        f0, f1 = rng.uniform(500, 900), rng.uniform(2000, 3500)
        sweeps = int(rng.integers(1, 3))
        ts = n / sr / sweeps
        tau = t % ts
        freq = f0 * (f1 / f0) ** (tau / ts) * (1 + 0.01 * np.sin(2 * np.pi * 6 * t))
        w = np.sin(np.cumsum(2 * np.pi * freq / sr))
    elif sound == "drum":
        interval = rng.uniform(0.3, 0.55)
        k = np.arange(int(0.4 * sr)) / sr
        f = rng.uniform(60, 110)
        hit = np.sin(2 * np.pi * f * k * (1 - 0.3 * k)) * np.exp(-k / 0.12)
        hit += 0.5 * rng.standard_normal(len(k)) * np.exp(-k / 0.02)
        w = np.zeros(n + len(k))
        for s in np.arange(rng.uniform(0, interval / 2), n / sr, interval):
            i = int(s * sr)
            w[i : i + len(k)] += hit * rng.uniform(0.8, 1.0)
        w = w[:n]
    else:  # rain: high-passed noise with slow swells and droplet crackles
        noise = rng.standard_normal(n + 1)
        w = np.diff(noise) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t))
        drops = (rng.random(n) < 40 / sr) * rng.uniform(1.5, 3.0, n)
        kern = np.exp(-np.arange(int(0.004 * sr)) / (0.001 * sr)) * np.sin(2 * np.pi * 3500 * np.arange(int(0.004 * sr)) / sr)
        w += np.convolve(drops, kern)[:n]
    w = w / (np.abs(w).max() + 1e-9)
    fade = min(int(0.02 * sr), n // 2)
    if fade:
        ramp = np.linspace(0, 1, fade)
        w[:fade] *= ramp
        w[n - fade :] *= ramp[::-1]
    return w.astype(np.float32)


def render_audio(spec: dict, rng):
    """The audio track of an item, float32 mono 16 kHz: its sounds at their times plus background noise."""
    import numpy as np

    n = int(round(spec["duration"] * SAMPLE_RATE))
    wave = (rng.standard_normal(n) * rng.uniform(0.004, 0.015)).astype(np.float32)
    for snd in spec["sounds"]:
        a = int(round((snd["start"] + snd["on"]) * SAMPLE_RATE))
        b = min(int(round((snd["start"] + snd["off"]) * SAMPLE_RATE)), n)
        wave[a:b] += snd["gain"] * _sound_wave(snd["sound"], b - a, rng)
    return np.clip(wave, -1, 1)
