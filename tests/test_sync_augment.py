"""SparseSync's training augmentation: frames mirrored left to right with probability ``hflip`` (0.5), seeded,
in training only."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_hflip_draws_with_its_probability_from_the_given_generator():
    from vxt.models.sync.inputs import hflip

    x = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    for p in (0.5, 0.2):
        rng = random.Random(7)
        flips = [not np.array_equal(hflip(x, p, rng), x) for _ in range(4000)]
        assert abs(np.mean(flips) - p) < 0.03
        again = random.Random(7)
        assert flips == [not np.array_equal(hflip(x, p, again), x) for _ in range(4000)]  # seeded
    out = hflip(x, 1.0, random.Random(0))
    assert np.array_equal(out, x[:, :, ::-1]) and out.flags["C_CONTIGUOUS"]
    rng = random.Random(3)
    state = rng.getstate()
    assert hflip(x, 0.0, rng) is x and rng.getstate() == state  # p = 0 draws nothing: other draws stay as they were
    assert hflip(x, 1.0, None) is x  # no generator: evaluation


def test_the_model_flips_training_inputs_only(tmp_path):
    from vxt.data.synth.writer import write_mp4
    from vxt.models.sync.config import sync_config
    from vxt.models.sync.inputs import read_trim
    from vxt.models.sync.task_model import SyncModel

    frames = np.zeros((240, 80, 80, 3), np.uint8)
    frames[:, :, :30] = 220  # a bright left side: a flip moves it right
    wave = (np.random.default_rng(0).standard_normal(int(9.6 * 16000)) * 0.1).astype(np.float32)
    write_mp4(tmp_path / "c.mp4", frames, wave, fps=25, sample_rate=16000)
    ex = {"id": "c", "task": "sync", "video": "c.mp4", "start": 0.0, "end": 9.6, "offset": 0.4, "vstart": 2.0}
    assert sync_config("sparsesync")["hflip"] == 0.5 == sync_config("sparsesync-tiny")["hflip"]

    def model(p):
        return SyncModel(sync_config("sparsesync-tiny", {"hflip": p, "random_crop": False}), data_dir=tmp_path)

    m = model(1.0)
    batch = m.collate([{"example": ex}], train=True, rng=random.Random(0))
    plain, _ = read_trim(str(tmp_path / "c.mp4"), batch["trims"][0], 0.0, m.config)
    got = batch["video"][0].numpy()
    assert np.array_equal(got, plain[:, :, ::-1]) and got[:, :, -8:].mean() > 150 > got[:, :, :8].mean()
    for train, rng in ((False, None), (False, random.Random(0))):  # never at evaluation
        batch = m.collate([{"example": ex}], train=train, rng=rng)
        assert batch["video"][0].numpy()[:, :, :8].mean() > 150
    batch = model(0.0).collate([{"example": ex}], train=True, rng=random.Random(0))
    assert batch["video"][0].numpy()[:, :, :8].mean() > 150
    with pytest.raises(Exception, match="hflip"):
        sync_config("sparsesync-tiny", {"hflip": 1.5})
