"""Feature streams in BMT's .npy layout (real sample features), segment slicing, padding."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vxt.data.features import load_bmt_features, pad_streams, segment_features, segment_indices
from vxt.errors import DataError

NAME = "women_long_jump"
DURATION = 35.1  # seconds, videos/women_long_jump.mp4


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def feat_dir(shared_data):
    return shared_data / "features"


def test_real_features_load_with_their_shapes(feat_dir):
    rgb = np.load(feat_dir / f"{NAME}_rgb.npy")
    flow = np.load(feat_dir / f"{NAME}_flow.npy")
    f = load_bmt_features(feat_dir, NAME, combine="sum", duration=DURATION)
    assert f["video"].shape == (14, 1024) and f["video"].dtype == np.float32
    assert f["audio"].shape == (36, 128) and f["audio"].dtype == np.float32
    assert np.allclose(f["video"], rgb + flow)
    assert f["audio_step"] == 0.96 and f["missing"] == []
    assert abs(f["video_step"] - 35.1 / 14) < 1e-9          # 2.507 s, inferred from the duration
    c = load_bmt_features(feat_dir / NAME, combine="concat")  # the stem form; no duration -> nominal step
    assert c["video"].shape == (14, 2048)
    assert np.array_equal(c["video"][:, :1024], rgb) and np.array_equal(c["video"][:, 1024:], flow)
    assert c["video_step"] == 64 / 25
    with pytest.raises(DataError, match="combine"):
        load_bmt_features(feat_dir, NAME, combine="mean")


def test_missing_streams_are_data(feat_dir, tmp_path):
    for s in ("rgb", "flow"):
        shutil.copy(feat_dir / f"{NAME}_{s}.npy", tmp_path / f"{NAME}_{s}.npy")
    f = load_bmt_features(tmp_path, NAME)
    assert f["audio"] is None and f["missing"] == ["audio"] and f["video"].shape == (14, 1024)
    (tmp_path / f"{NAME}_flow.npy").unlink()
    with pytest.raises(DataError, match="women_long_jump_flow.npy.*I3D needs both"):
        load_bmt_features(tmp_path, NAME)
    with pytest.raises(DataError, match="no features for 'other'"):
        load_bmt_features(tmp_path, "other")
    (tmp_path / "bad_rgb.npy").write_bytes(b"not numpy")
    (tmp_path / "bad_flow.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="bad_rgb.npy: cannot read the feature file"):
        load_bmt_features(tmp_path, "bad")


def test_segment_slicing():
    feats = np.arange(10, dtype=np.float32)[:, None]  # 10 steps of 2 s: step i covers [2i, 2i+2)
    assert segment_features(feats, 2.0, 3.0, 9.0)[:, 0].tolist() == [1, 2, 3, 4]
    assert segment_features(feats, 2.0, 4.0, 6.0)[:, 0].tolist() == [2]
    assert segment_features(feats, 2.0, 4.2, 4.3)[:, 0].tolist() == [2]      # shorter than a step: one step
    assert segment_features(feats, 2.0, 25.0, 30.0)[:, 0].tolist() == [9]    # past the end: the last step
    assert segment_features(feats, 2.0, -1.0, 100.0).shape == (10, 1)
    assert segment_indices(14, 35.1 / 14, 10.0, 20.0) == (3, 8)
    with pytest.raises(DataError):
        segment_indices(0, 1.0, 0.0, 1.0)


def test_pad_streams():
    x, m = pad_streams([np.ones((3, 4)), None, np.ones((5, 4))], 4)
    assert x.shape == (3, 5, 4) and m.tolist()[0] == [True] * 3 + [False] * 2
    assert not m[1].any() and float(x[1].abs().sum()) == 0.0
    with pytest.raises(DataError, match="expected \\[T, 4\\]"):
        pad_streams([np.ones((3, 5))], 4)


@pytest.mark.parametrize("combine,d_video", [("sum", 1024), ("concat", 2048)])
def test_real_features_through_tiny_bmt_and_proposals(feat_dir, combine, d_video):
    from vxt.models.dense import build_dense_model
    from vxt.nn.vocab import build_vocab
    from vxt.models.dense.proposals import ProposalGenerator

    f = load_bmt_features(feat_dir, NAME, combine=combine, duration=DURATION)
    video, vmask = pad_streams([f["video"]], d_video)
    audio, amask = pad_streams([f["audio"]], 128)
    torch.manual_seed(0)
    vocab = build_vocab(["a woman runs and jumps into the sand"])
    bmt = build_dense_model("bmt-tiny", {"d_video": d_video, "d_audio": 128}, vocab).eval()
    batch = {"video": video, "video_mask": vmask, "audio": audio, "audio_mask": amask}
    with torch.no_grad():
        streams, masks = bmt.encode_streams(batch)
    assert streams["video"].shape == (1, 14, 32) and streams["audio"].shape == (1, 36, 16)
    assert all(torch.isfinite(s).all() for s in streams.values())

    # a segment's captions: slice each stream with its own step
    seg = {"video": segment_features(f["video"], f["video_step"], 10.0, 20.0),
           "audio": segment_features(f["audio"], f["audio_step"], 10.0, 20.0)}
    assert seg["video"].shape == (5, d_video) and seg["audio"].shape == (11, 128)
    with torch.no_grad():
        ids = bmt.generate({"video": torch.from_numpy(seg["video"])[None],
                            "audio": torch.from_numpy(seg["audio"])[None]}, max_len=5)
    assert ids.shape[0] == 1 and ids.shape[1] <= 5

    gen = ProposalGenerator({"video": 32, "audio": 16}, {"video": [1.0, 4.0], "audio": [3.0, 10.0]},
                            {"video": [1, 5], "audio": [3, 11]}, hidden=(16, 16),
                            steps={"video": f["video_step"], "audio": f["audio_step"]}).eval()
    props = gen.propose(streams, masks, torch.tensor([DURATION]), top_k=100)[0]
    assert 0 < len(props) <= 100
    assert all(0.0 <= p["start"] <= p["end"] <= DURATION and 0.0 <= p["score"] <= 1.0 for p in props)
    # raw feature streams work as well (any widths)
    raw = ProposalGenerator({"video": d_video, "audio": 128}, {"video": [2.0], "audio": [5.0]},
                            {"video": [3], "audio": [5]}, hidden=(8, 8)).eval()
    assert len(raw.propose({"video": video, "audio": audio}, {"video": vmask, "audio": amask},
                           torch.tensor([DURATION]), top_k=10)[0]) <= 10
