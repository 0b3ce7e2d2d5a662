"""BMT's proposal generator: anchors, decoding cells to seconds, loss, NMS, missing streams."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vxt.errors import VxtError
from vxt.decoding.events import nms_segments, segment_tiou
from vxt.models.dense.proposals import EncoderProposalModel, ProposalGenerator, fit_anchors, odd_ceil


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def two_stream_generator(**kw):
    torch.manual_seed(0)
    args = dict(stream_dims={"video": 8, "audio": 4}, anchors={"video": [1.0, 3.0, 6.0], "audio": [2.0, 8.0]},
                kernel_sizes={"video": [1, 3], "audio": [3]}, hidden=(16, 16), dropout=0.0,
                steps={"video": 2.0, "audio": 1.0})
    args.update(kw)
    return ProposalGenerator(**args)


def random_streams(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    streams = {"video": torch.randn(B, 10, 8, generator=g), "audio": torch.randn(B, 20, 4, generator=g)}
    masks = {"video": torch.ones(B, 10, dtype=torch.bool), "audio": torch.ones(B, 20, dtype=torch.bool)}
    return streams, masks


# ------------------------------------------------------------------ anchors


def test_odd_ceil():
    assert [odd_ceil(v) for v in (0.2, 1.0, 1.5, 2.0, 3.0, 9.99, 10.0, 10.01)] == [1, 1, 3, 3, 3, 11, 11, 11]


def test_kmeans_anchors_recover_clusters_and_odd_kernels():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.normal(2, 0.1, 200), rng.normal(10, 0.5, 200), rng.normal(40, 2, 200)])
    rng.shuffle(lengths)
    anchors, kernels = fit_anchors(lengths.tolist(), n_anchors=3, seed=7)
    assert anchors == sorted(anchors)
    for got, want in zip(anchors, (2, 10, 40)):
        assert abs(got - want) < 0.05 * want
    assert kernels == [3, 11, 41]
    assert all(k % 2 == 1 for k in kernels)
    # deterministic for a seed; more anchors than kernels by default (BMT: 10 heads)
    assert fit_anchors(lengths, 3, seed=7) == (anchors, kernels)
    many, ks = fit_anchors(lengths, n_anchors=16, seed=1)
    assert len(many) == 16 and len(ks) <= 10 and all(k % 2 == 1 for k in ks)
    with pytest.raises(VxtError, match="positive segment length"):
        fit_anchors([0.0, -1.0], 2)
    with pytest.raises(VxtError, match="odd"):
        ProposalGenerator({"video": 4}, {"video": [1.0]}, {"video": [4]})


# ------------------------------------------------------------------ decoding


def hand_built():
    """One video stream, 10 cells of 2 s, one anchor of 3 cells, three confident predictions."""
    g = ProposalGenerator({"video": 4}, {"video": [3.0]}, {"video": [1]}, hidden=(4, 4),
                          steps={"video": 2.0}, min_length=0.0)
    raw = torch.zeros(1, 1, 10, 1, 3)
    raw[..., 2] = -20.0                                   # no object anywhere ...
    raw[0, 0, 4, 0] = torch.tensor([0.0, math.log(2), 3.0])   # centre 4.5 cells = 9 s, length 6 cells = 12 s
    raw[0, 0, 9, 0] = torch.tensor([0.0, math.log(2), 2.0])   # centre 19 s, length 12 s -> past the end
    raw[0, 0, 0, 0] = torch.tensor([math.log(1 / 3), 0.0, 1.0])  # centre 0.25 cells = 0.5 s, 6 s -> before 0
    preds = {"video": {"raw": raw, "mask": torch.ones(1, 10, dtype=torch.bool), "step": torch.tensor([2.0])}}
    return g, preds


def test_cells_to_seconds_hand_built():
    g, preds = hand_built()
    props = g.decode(preds, durations=[19.0], top_k=3)[0]
    got = [(round(p["start"], 4), round(p["end"], 4)) for p in props]
    assert got == [(3.0, 15.0), (13.0, 19.0), (0.0, 3.5)]     # clipped to [0, duration]
    scores = [p["score"] for p in props]
    assert scores == sorted(scores, reverse=True)
    assert abs(scores[0] - 1 / (1 + math.exp(-3))) < 1e-6
    assert len(g.decode(preds, durations=[19.0], top_k=2)[0]) == 2
    # masked cells propose nothing
    preds["video"]["mask"] = torch.arange(10)[None] < 8
    assert [round(p["start"], 4) for p in g.decode(preds, [19.0], top_k=3)[0]][:2] == [3.0, 0.0]


def test_step_inferred_from_duration_when_not_fixed():
    g = ProposalGenerator({"video": 4}, {"video": [3.0]}, {"video": [1]}, hidden=(4, 4))
    x = torch.randn(2, 10, 4)
    mask = torch.arange(10)[None] < torch.tensor([[8], [10]])
    out = g({"video": x}, {"video": mask}, torch.tensor([16.0, 35.0]))
    assert torch.allclose(out["video"]["step"], torch.tensor([2.0, 3.5]))
    assert out["video"]["raw"].shape == (2, 1, 10, 1, 3)


def test_nms_is_optional_and_works():
    segs = np.array([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0], [0.5, 9.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert abs(segment_tiou(segs[:1], segs[1:2])[0, 0] - 0.9) < 1e-9
    assert nms_segments(segs, scores, 0.5, top_k=10).tolist() == [0, 2]
    assert nms_segments(segs, scores, 0.95, top_k=10).tolist() == [0, 1, 2, 3]
    assert nms_segments(segs, scores, 0.5, top_k=1).tolist() == [0]

    g = ProposalGenerator({"video": 4}, {"video": [3.0, 3.2]}, {"video": [1]}, hidden=(4, 4),
                          steps={"video": 1.0}, min_length=0.0)
    raw = torch.zeros(1, 1, 6, 2, 3)
    raw[..., 2] = -20.0
    raw[0, 0, 2, 0, 2], raw[0, 0, 2, 1, 2] = 5.0, 4.0      # two nearly identical segments around 2.5 s
    raw[0, 0, 5, 0, 2] = 3.0                                 # and one apart
    preds = {"video": {"raw": raw, "mask": torch.ones(1, 6, dtype=torch.bool), "step": torch.tensor([1.0])}}
    plain = g.decode(preds, [6.0], top_k=3)[0]
    assert len(plain) == 3 and abs(plain[1]["start"] - plain[0]["start"]) < 0.2
    kept = g.decode(preds, [6.0], top_k=3, nms=0.5)[0]
    assert [round(p["start"], 3) for p in kept][:2] == [1.0, 4.0]


# ------------------------------------------------------------------ loss and training


def test_targets_assignment_hand_checked():
    g = ProposalGenerator({"video": 4}, {"video": [1.0, 3.0, 8.0]}, {"video": [1]}, hidden=(4, 4),
                          steps={"video": 2.0})
    preds = g({"video": torch.randn(1, 10, 4)}, None, torch.tensor([20.0]))
    obj, tx, tw = g._targets("video", preds["video"], [[(3.0, 9.0), (19.0, 40.0)]])
    # (3, 9) s: centre 6 s = cell 3.0, length 6 s = 3 cells -> anchor 1 (3 cells), offset 0, log(3/3) = 0
    assert obj[0, 3, 1] and abs(float(tx[0, 3, 1])) < 1e-6 and abs(float(tw[0, 3, 1])) < 1e-6
    # (19, 40) s: centre 14.75 cells -> clamped to the last valid cell 9, length 10.5 cells -> anchor 8
    assert obj[0, 9, 2] and float(tx[0, 9, 2]) == 1.0 and abs(float(tw[0, 9, 2]) - math.log(10.5 / 8)) < 1e-5
    assert int(obj.sum()) == 2


def test_training_lowers_loss_and_finds_the_segments():
    g = two_stream_generator()
    streams, masks = random_streams()
    dur = torch.tensor([20.0, 20.0])
    gt = [[(4.0, 10.0)], [(1.0, 3.0), (12.0, 19.0)]]
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    first = g.loss(g(streams, masks, dur), gt)
    assert set(first) == {"loss", "loss_x", "loss_w", "loss_obj", "loss_noobj"}
    assert torch.isfinite(first["loss"])
    for _ in range(150):
        out = g.loss(g(streams, masks, dur), gt)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["loss"].item() < 0.05 * first["loss"].item()
    g.eval()
    props = g.propose(streams, masks, dur, top_k=100)
    assert all(len(p) <= 100 for p in props)
    assert all(0.0 <= q["start"] <= q["end"] <= 20.0 for p in props for q in p)
    best0 = np.array([[props[0][0]["start"], props[0][0]["end"]]])
    assert segment_tiou(best0, np.array([[4.0, 10.0]]))[0, 0] > 0.9
    top2 = np.array([[q["start"], q["end"]] for q in g.propose(streams, masks, dur, top_k=2, nms=0.5)[1]])
    assert segment_tiou(top2, np.array([[1.0, 3.0], [12.0, 19.0]])).max(axis=0).min() > 0.8


def test_missing_audio_stream_is_skipped_not_noise():
    g = two_stream_generator().eval()
    streams, masks = random_streams()
    masks["audio"] = masks["audio"].clone()
    masks["audio"][1] = False
    dur = torch.tensor([20.0, 20.0])
    outs = []
    for seed in (1, 2):
        s = dict(streams)
        s["audio"] = torch.where(masks["audio"][..., None], streams["audio"],
                                 torch.randn(streams["audio"].shape, generator=torch.Generator().manual_seed(seed)) * 40)
        outs.append((g.propose(s, masks, dur, min_length=0.0), g.loss(g(s, masks, dur), [[(1, 5)], [(2, 8)]])))
    (p1, l1), (p2, l2) = outs
    assert p1 == p2 and torch.equal(l1["loss"], l2["loss"]) and torch.isfinite(l1["loss"])
    # row 1's proposals are exactly the video head's: the audio heads are skipped for it
    video_only = g.propose({"video": streams["video"]}, {"video": masks["video"]}, dur, min_length=0.0)
    assert p1[1] == video_only[1]
    assert p1[0] != video_only[0]
    # audio masked for the whole batch: loss still finite, gradients too
    masks["audio"][:] = False
    g.train()
    loss = g.loss(g(streams, masks, dur), [[(1, 5)], [(2, 8)]])["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


def test_on_a_frozen_bmt_encoder_and_save_load(tmp_path):
    from vxt.models.dense import build_dense_model
    from vxt.nn.vocab import build_vocab

    torch.manual_seed(0)
    bmt = build_dense_model("bmt-tiny", {"d_video": 8, "d_audio": 4}, build_vocab(["a man runs"]))
    g = ProposalGenerator({"video": 32, "audio": 16}, {"video": [1.0, 3.0], "audio": [2.0, 6.0]},
                          {"video": [1, 3], "audio": [3, 5]}, hidden=(16, 16), dropout=0.0)
    model = EncoderProposalModel(g, bmt)
    streams, masks = random_streams()
    batch = {**streams, "video_mask": masks["video"], "audio_mask": masks["audio"],
             "duration": torch.tensor([20.0, 18.0]), "segments": [[(2.0, 9.0)], [(0.0, 4.0), (10.0, 18.0)]]}
    enc_before = {k: v.clone() for k, v in bmt.state_dict().items()}
    gen_before = {k: v.clone() for k, v in g.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss = model(batch)["loss"]
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(torch.equal(v, bmt.state_dict()[k]) for k, v in enc_before.items())       # frozen
    assert any(not torch.equal(v, g.state_dict()[k]) for k, v in gen_before.items())     # trained
    props = model.propose(batch, top_k=5)
    assert len(props) == 2 and all(len(p) <= 5 for p in props)
    assert all(0.0 <= q["end"] <= d for p, d in zip(props, (20.0, 18.0)) for q in p)

    g.eval()
    g.save_pretrained(tmp_path / "prop")
    again = ProposalGenerator.from_pretrained(tmp_path / "prop").eval()
    assert again.config == g.config
    s, m = bmt.encode_streams(batch)
    assert again.propose(s, m, batch["duration"]) == g.propose(s, m, batch["duration"])
