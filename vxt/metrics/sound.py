"""Metrics of generated sound (SpecVQGAN's evaluation, ``evaluation/metrics/*.py``), and an onset alignment score.

All of them take classifier outputs, not audio: Melception's 2,048-d pooled
features (FID, KID) and its logits (IS, MKL), computed elsewhere; so this
module is pure numpy and scores any feature extractor.

* :func:`fid` / :func:`frechet_distance`: ``|mu1 - mu2|^2 + Tr(S1) + Tr(S2)
  - 2 Tr((S1 S2)^1/2)`` from the feature means and (unbiased) covariances.
  The trace of the matrix square root is taken from the symmetric form
  ``S1^1/2 S2 S1^1/2`` (same eigenvalues as ``S1 S2``) with ``eigh``, so no
  scipy is needed at run time and the result is real by construction.
* :func:`kid`: the unbiased squared MMD with the polynomial kernel
  ``(x.y / d + 1)^3`` over 100 random subsets of 1,000 (fewer when the sets
  are smaller), mean and std, seed 2020, as torch-fidelity and SpecVQGAN.
* :func:`inception_score`: ``exp(E_x KL(p(y|x) || p(y)))`` over 10 splits of
  the shuffled (seed 2020) set, mean and std.
* :func:`mkl`: the mean over generated samples of ``KL(p_real || p_gen)``
  between softmaxed logits, each sample paired with the real clip of its id
  (several samples per clip allowed; eps 1e-6 inside the log, as SpecVQGAN).
* :func:`onset_alignment`: beyond the paper, the share of onsets detected in
  the generated sound (:func:`detect_onsets`, a spectral-flux detector on the
  log-mel spectrogram) that lie within 50 ms of an event the picture shows
  (the foley data's ``sound_events``), and the share of events so matched.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

#: SpecVQGAN's evaluation settings (evaluation/configs/eval_melception_*.yaml)
KID_SUBSETS, KID_SUBSET_SIZE, KID_DEGREE, KID_COEF0 = 100, 1000, 3, 1.0
IS_SPLITS = 10
SEED = 2020
KL_EPS = 1e-6
ONSET_TOLERANCE_S = 0.05


def _features(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] array, got shape {a.shape}")
    return a


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased covariance) of ``[N, D]`` features (``N >= 2``)."""
    f = _features(feats, "features")
    if len(f) < 2:
        raise ValueError("a covariance needs at least 2 feature vectors")
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``Tr((S1 S2)^1/2)`` for symmetric PSD ``S1``, ``S2`` (via the symmetric ``S1^1/2 S2 S1^1/2``)."""
    r = _psd_sqrt(np.asarray(s1, dtype=np.float64))
    m = r @ np.asarray(s2, dtype=np.float64) @ r
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError("the means and covariances of the two sets must have matching shapes")
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))


def fid(real_feats, fake_feats) -> float:
    """FID between two ``[N, D]`` feature sets (Melception's 2,048-d pooled features)."""
    return frechet_distance(*feature_stats(real_feats), *feature_stats(fake_feats))


def _poly_mmd(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> float:
    m = len(x)
    kxx = (x @ x.T * gamma + coef0) ** degree
    kyy = (y @ y.T * gamma + coef0) ** degree
    kxy = (x @ y.T * gamma + coef0) ** degree
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return float((sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid(real_feats, fake_feats, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        degree: int = KID_DEGREE, gamma: float | None = None, coef0: float = KID_COEF0,
        seed: int = SEED) -> dict[str, float]:
    """KID: ``{"KID", "KID_std"}`` (unbiased polynomial-kernel MMD^2 over random subsets)."""
    x, y = _features(real_feats, "real features"), _features(fake_feats, "generated features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sizes differ: {x.shape[1]} and {y.shape[1]}")
    n = min(int(subset_size), len(x), len(y))
    if n < 2:
        raise ValueError("KID needs at least 2 feature vectors in each set")
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)
    rng = np.random.RandomState(seed)
    mmds = [_poly_mmd(x[rng.choice(len(x), n, replace=False)], y[rng.choice(len(y), n, replace=False)],
                      degree, g, coef0) for _ in range(int(subsets))]
    return {"KID": float(np.mean(mmds)), "KID_std": float(np.std(mmds))}


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(logits, *, splits: int = IS_SPLITS, shuffle: bool = True, seed: int = SEED) -> dict[str, float]:
    """IS: ``{"IS", "IS_std"}`` over ``splits`` chunks of the (shuffled) logits."""
    z = _features(logits, "logits")
    if shuffle:
        z = z[np.random.RandomState(seed).permutation(len(z))]
    splits = max(1, min(int(splits), len(z)))
    log_p = _log_softmax(z)
    p = np.exp(log_p)
    scores = []
    N = len(z)
    for i in range(splits):
        lo, hi = i * N // splits, (i + 1) * N // splits
        pc, lpc = p[lo:hi], log_p[lo:hi]
        q = pc.mean(0, keepdims=True)
        scores.append(float(np.exp((pc * (lpc - np.log(q))).sum(1).mean())))
    return {"IS": float(np.mean(scores)), "IS_std": float(np.std(scores))}


def mkl(real_logits: Mapping[str, Sequence[float]], fake_logits: Iterable[tuple[str, Sequence[float]]]) -> float:
    """Mean KL(p_real || p_generated) over generated samples, each paired with its own real clip by id.

    ``real_logits``: clip id -> logits; ``fake_logits``: ``(clip id, logits)`` pairs, any number per clip.
    """
    pairs = list(fake_logits)
    if not pairs:
        raise ValueError("no generated samples to score")
    missing = sorted({k for k, _ in pairs if k not in real_logits})
    if missing:
        raise ValueError(f"generated samples without a real clip of the same id: {', '.join(missing[:5])}")
    fake = np.asarray([np.asarray(v, np.float64) for _, v in pairs])
    real = np.asarray([np.asarray(real_logits[k], np.float64) for k, _ in pairs])
    if fake.shape != real.shape or fake.ndim != 2:
        raise ValueError("real and generated logits must have the same number of classes")
    p_real = np.exp(_log_softmax(real))
    p_fake = np.exp(_log_softmax(fake))
    # SpecVQGAN: kl_div((p_fake + eps).log(), p_real, reduction="sum") / N (0 log 0 counts as 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_real > 0, p_real * (np.log(p_real) - np.log(p_fake + KL_EPS)), 0.0)
    return float(terms.sum() / len(fake))


# ---------------------------------------------------------------- onsets


def spectral_flux(spec: np.ndarray) -> np.ndarray:
    """The positive spectral flux of a ``[bins, T]`` (log-)spectrogram: ``T`` values, the first 0."""
    s = np.asarray(spec, dtype=np.float64)
    flux = np.zeros(s.shape[1])
    if s.shape[1] > 1:
        flux[1:] = np.clip(np.diff(s, axis=1), 0, None).sum(0)
    return flux


def detect_onsets(spec: np.ndarray, fps: float, *, delta: float = 0.1, min_gap_s: float = 0.05,
                  window_s: float = 0.2, floor: float = 0.5) -> np.ndarray:
    """Onset times (s) in a ``[bins, T]`` log-mel spectrogram (values in [0, 1]) with ``fps`` frames a second.

    librosa's recipe: the spectral flux scaled to [0, 1] over the clip; a
    frame is an onset when its flux is the largest within ``min_gap_s``
    either side, exceeds the mean flux within ``window_s`` around it by
    ``delta``, and comes at least ``min_gap_s`` after the previous onset. A
    clip whose largest flux is under ``floor`` (the summed rise over the
    bins: silence, a steady tone) has none.
    """
    flux = spectral_flux(spec)
    T = len(flux)
    if T < 3 or flux.max() < floor:
        return np.zeros(0)
    env = (flux - flux.min()) / (flux.max() - flux.min())
    gap = max(1, int(round(min_gap_s * fps)))
    half = max(1, int(round(window_s * fps / 2)))
    out: list[int] = []
    for t in range(1, T):
        v = env[t]
        if v < env[max(0, t - gap) : t + gap + 1].max() or (out and t - out[-1] <= gap):
            continue
        if v >= env[max(0, t - half) : t + half + 1].mean() + delta:
            out.append(t)
    return np.asarray(out, dtype=np.float64) / float(fps)


def onset_alignment(onsets: Mapping[str, Sequence[float]], events: Mapping[str, Sequence[float]],
                    *, tolerance: float = ONSET_TOLERANCE_S) -> dict[str, float]:
    """``{"onset_alignment", "onset_recall", "onsets", "events"}`` over the clips of ``events``.

    ``onset_alignment``: the share of generated onsets (pooled over clips)
    within ``tolerance`` seconds of an event of their clip (0 when no onset
    was found); ``onset_recall``: the share of events with a generated onset
    that close. ``onsets`` / ``events``: clip id -> times in seconds.
    """
    hits = n_on = matched = n_ev = 0
    for cid, ev in events.items():
        ev = np.asarray(list(ev), dtype=np.float64)
        on = np.asarray(list(onsets.get(cid, ())), dtype=np.float64)
        n_on += len(on)
        n_ev += len(ev)
        if len(on) and len(ev):
            d = np.abs(on[:, None] - ev[None, :])
            hits += int((d.min(1) <= tolerance + 1e-9).sum())
            matched += int((d.min(0) <= tolerance + 1e-9).sum())
    return {"onset_alignment": hits / n_on if n_on else 0.0, "onset_recall": matched / n_ev if n_ev else 0.0,
            "onsets": float(n_on), "events": float(n_ev)}
