"""vxt.metrics.sound: FID, KID, IS, MKL and the onset alignment score on known values."""

from __future__ import annotations

import numpy as np
import pytest

from vxt.metrics import sound as ms


def test_fid_matches_the_closed_form():
    rng = np.random.default_rng(0)
    # diagonal covariances: FID = |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    closed = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum())
    assert ms.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(closed, rel=1e-10)
    # full covariances: against scipy's matrix square root
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    c1, c2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    ref = float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2)
                - 2 * np.trace(scipy_linalg.sqrtm(c1 @ c2)).real)
    assert ms.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(ref, rel=1e-8)
    assert ms.frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_gaussian_samples_and_perturbation():
    rng = np.random.default_rng(1)
    d, n = 8, 20000
    real = rng.normal(size=(n, d))
    fake = rng.normal(loc=0.5, scale=2.0, size=(n, d))
    closed = d * 0.5 ** 2 + d * (1.0 - 2.0) ** 2  # N(0, I) vs N(0.5, 4 I)
    assert ms.fid(real, fake) == pytest.approx(closed, rel=0.03)
    base = rng.normal(size=(2000, d))
    scores = [ms.fid(base, base + eps * rng.normal(size=base.shape)) for eps in (0.0, 0.3, 1.0)]
    assert scores[0] == pytest.approx(0.0, abs=1e-8) and scores[0] < scores[1] < scores[2]


def test_kid_and_inception_score():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 16))
    same = ms.kid(x, x.copy(), subsets=10, subset_size=100)
    shifted = ms.kid(x, x + 0.5, subsets=10, subset_size=100)
    far = ms.kid(x, x + 2.0, subsets=10, subset_size=100)
    assert abs(same["KID"]) < 0.1 * shifted["KID"] and same["KID"] < shifted["KID"] < far["KID"]
    # with the whole sets as the one subset: the unbiased polynomial MMD^2, summed by hand
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 1

    def k(u, v):
        return (u @ v / 3 + 1) ** 3

    xx = sum(k(a[i], a[j]) for i in range(5) for j in range(5) if i != j) / 20
    yy = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
    xy = sum(k(a[i], b[j]) for i in range(5) for j in range(5)) / 25
    assert ms.kid(a, b, subsets=3, subset_size=5)["KID"] == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert ms.inception_score(np.zeros((50, 7)))["IS"] == pytest.approx(1.0)
    confident = np.full((60, 6), -50.0)
    confident[np.arange(60), np.arange(60) % 6] = 50.0  # sure of itself, every class as often
    assert ms.inception_score(confident, splits=1)["IS"] == pytest.approx(6.0, rel=1e-6)


def test_mkl_known_values_and_pairing():
    real = {"a": np.log([9 / 25, 12 / 25, 4 / 25]), "b": np.zeros(3)}
    # SpecVQGAN's own check: KL([9/25, 12/25, 4/25] || uniform) = 0.0853
    assert ms.mkl(real, [("a", np.zeros(3))]) == pytest.approx(0.0853, abs=1e-4)
    assert ms.mkl(real, [("a", real["a"]), ("b", real["b"]), ("a", real["a"])]) == pytest.approx(0.0, abs=1e-5)
    rng = np.random.default_rng(3)
    logits = {f"c{i}": rng.normal(size=10) * 3 for i in range(20)}
    vals = [ms.mkl(logits, [(k, v + eps * rng.normal(size=10)) for k, v in logits.items() for _ in range(2)])
            for eps in (0.0, 0.5, 2.0)]
    assert vals[0] == pytest.approx(0.0, abs=1e-5) and vals[0] < vals[1] < vals[2]
    with pytest.raises(ValueError, match="without a real clip"):
        ms.mkl(real, [("zzz", np.zeros(3))])


def test_onsets_and_alignment():
    fps = 22050 / 256
    T = 860
    rng = np.random.default_rng(4)
    spec = 0.2 + 0.01 * rng.random((80, T))
    times = [1.0, 3.3, 7.05]
    for t in times:
        k = int(round(t * fps))
        spec[:, k : k + 20] += np.linspace(0.6, 0.0, 20)[None, :]  # a sharp attack, a decay
    onsets = ms.detect_onsets(spec, fps)
    assert len(onsets) == 3 and np.allclose(onsets, times, atol=0.02)
    assert len(ms.detect_onsets(np.full((80, T), 0.3), fps)) == 0
    r = ms.onset_alignment({"x": [1.0, 2.0, 3.34], "y": []}, {"x": [1.03, 3.3, 5.0], "y": [1.0]})
    assert r["onset_alignment"] == pytest.approx(2 / 3) and r["onset_recall"] == pytest.approx(2 / 4)
    assert ms.onset_alignment({}, {"x": [1.0]})["onset_alignment"] == 0.0
