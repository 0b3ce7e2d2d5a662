"""SparseSync's pieces: trims, the network (selectors and the baseline), batches, save/load."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from syncmedia import write_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(**over):
    from vxt.models.sync.config import sync_config

    return sync_config("sparsesync-tiny", over)


def test_training_trims_are_feasible_on_the_frame_grid_and_jittered_within_bounds():
    from vxt.metrics.sync import offset_grid
    from vxt.models.sync.inputs import train_trim

    cfg, grid = _cfg(), offset_grid()
    rng = random.Random(0)
    seen, jitters = set(), []
    for _ in range(400):
        t = train_trim(9.0, grid, cfg, rng)
        assert t.offset in set(grid.tolist())
        assert abs(t.vstart * 25 - round(t.vstart * 25)) < 1e-9  # on the frame grid
        assert 0 <= t.vstart <= 4.0 + 1e-9 and 0 <= t.astart <= 4.0 + 1e-9  # neither trim leaves the 9 s clip
        j = t.astart - (t.vstart - t.offset)
        assert abs(j) <= 0.05 + 1e-9
        jitters.append(j)
        seen.add(t.offset)
    assert len(seen) == 21 and max(jitters) > 0.03 and min(jitters) < -0.03
    a = [train_trim(12.0, grid, cfg, random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]  # the batch generator decides everything: resume sees the same inputs


def test_evaluation_trims_fixed_drawn_from_the_id_or_refused():
    from vxt.errors import DataError
    from vxt.metrics.sync import offset_grid
    from vxt.models.sync.inputs import eval_trim, file_trim

    cfg, grid = _cfg(), offset_grid()
    t = eval_trim({"id": "x", "offset": 0.4, "vstart": 3.2}, 10.0, grid, cfg)
    assert (t.vstart, t.astart, t.offset) == (3.2, pytest.approx(2.8), 0.4)
    assert eval_trim({"id": "y"}, 10.0, grid, cfg) == eval_trim({"id": "y"}, 10.0, grid, cfg)
    with pytest.raises(DataError, match="padded"):
        eval_trim({"id": "z", "offset": 1.4, "vstart": 0.8}, 10.0, grid, cfg)  # audio from -0.6 s
    with pytest.raises(DataError, match="at least 5 s"):
        file_trim(4.0, cfg)
    assert file_trim(5.0, cfg).vstart == 0.0


def test_options_are_checked():
    from vxt.errors import VxtError

    with pytest.raises(VxtError, match="unknown sparsesync-tiny option"):
        _cfg(n_selector=3)
    with pytest.raises(VxtError, match="odd number"):
        _cfg(n_classes=20)
    with pytest.raises(VxtError, match="half a class"):
        _cfg(audio_jitter=0.2)


@pytest.mark.parametrize("selectors", [True, False], ids=["selectors", "baseline"])
def test_the_network_gives_logits_and_trains(selectors):
    from vxt.models.sync.task_model import SyncModel

    torch.manual_seed(0)
    model = SyncModel(_cfg(selectors=selectors))
    batch = {"video": torch.randint(0, 255, (2, 125, 64, 64, 3), dtype=torch.uint8),
             "spec": torch.randn(2, 1, 257, 626), "target": torch.tensor([3, 17])}
    out = model(batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert model.net.head.weight.grad is not None
    assert model.video_encoder.net[0].weight.grad.abs().sum() > 0  # fine-tuned end to end
    assert model.audio_encoder.net[0].weight.grad.abs().sum() > 0
    assert model.logits(batch).shape == (2, 21)
    assert model.config["video_tokens"] == [16, 4, 4] and model.config["audio_tokens"] == [9, 20]


def test_the_papers_preset_builds_with_the_papers_shapes():
    """S3D: 16 x 7 x 7 tokens of 1024; ResNet-18: 9 x 20 of 512 (on the meta device: no weights, no time)."""
    from vxt.models.sync.config import sync_config
    from vxt.models.sync.net import token_shapes

    cfg = sync_config("sparsesync")
    assert token_shapes(cfg) == ((16, 7, 7), (9, 20))
    assert (cfg["d"], cfg["heads"], cfg["layers"], cfg["n_selectors"], cfg["dropout"]) == (512, 8, 3, 16, 0.1)


def test_a_batch_from_files_and_a_round_trip(tmp_path):
    from vxt.models.sync.task_model import SyncModel

    for i in range(2):
        write_clip(tmp_path / f"c{i}.mp4", 9.6, (2.0 + i, 6.0), size=80, noise=0.01, seed=i)
    exs = [{"id": f"c{i}", "video": f"c{i}.mp4", "start": 0.0, "end": 9.6} for i in range(2)]
    torch.manual_seed(0)
    model = SyncModel({**_cfg(), "data_dir": str(tmp_path)})
    items = [{"example": e, "media": {}} for e in exs]
    b = model.collate(items, train=True, rng=random.Random(3))
    assert b["video"].shape == (2, 125, 64, 64, 3) and b["video"].dtype == torch.uint8
    assert b["spec"].shape == (2, 1, 257, 626)
    s = b["spec"][0, 0]
    assert s.mean(dim=-1).abs().max() < 1e-3 and (s.std(dim=-1) - 1).abs().max() < 1e-2  # per-clip, per frequency
    assert b["target"].tolist() == [int(np.argmin(np.abs(model.grid - t.offset))) for t in b["trims"]]
    ev = model.collate(items, train=False)
    preds = model.predict(ev)
    assert [p["id"] for p in preds] == ["c0", "c1"]
    assert all(len(p["probs"]) == 21 and abs(sum(p["probs"]) - 1) < 1e-4 for p in preds)
    assert all(p["offset"] == pytest.approx(model.grid[int(np.argmax(p["probs"]))]) for p in preds)
    assert all("target" in p for p in preds)
    model.save_pretrained(tmp_path / "m")
    back = SyncModel.from_pretrained(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(model.eval().logits(ev), back.logits(ev))


def test_a_clip_too_short_for_every_offset_is_refused(tmp_path):
    from vxt.errors import DataError
    from vxt.models.sync.task_model import SyncModel

    write_clip(tmp_path / "s.mp4", 7.0, (2.0,), size=80)
    model = SyncModel({**_cfg(), "data_dir": str(tmp_path)})
    with pytest.raises(DataError, match="need 9 s"):
        model.collate([{"example": {"id": "s", "video": "s.mp4"}, "media": {}}], train=True, rng=random.Random(0))


def test_pretrained_backbones_load_from_local_files(tmp_path):
    """torchvision's S3D (Kinetics) and ResNet-18 (ImageNet, RGB conv1 summed to one channel) state dicts."""
    from torchvision.models import resnet18
    from torchvision.models.video import s3d

    from vxt.errors import VxtError
    from vxt.models.sync.net import ResNet18Audio, S3DVideo

    torch.manual_seed(0)
    ref = s3d(weights=None)
    torch.save(ref.state_dict(), tmp_path / "s3d.pth")
    video = S3DVideo()
    assert video.load_weights(tmp_path / "s3d.pth") == len(ref.features.state_dict())
    mine, theirs = video.features.state_dict(), ref.features.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    rn = resnet18(weights=None)
    torch.save({"state_dict": rn.state_dict()}, tmp_path / "rn.pth")
    audio = ResNet18Audio()
    audio.load_weights(tmp_path / "rn.pth")
    assert torch.allclose(audio.net[0].weight, rn.conv1.weight.sum(dim=1, keepdim=True))
    assert torch.equal(audio.net[4][0].conv1.weight, rn.layer1[0].conv1.weight)
    torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(VxtError, match="no S3D"):
        video.load_weights(tmp_path / "bad.pth")


def test_training_uses_sparsesyncs_adam_with_warm_up():
    import torch

    from vxt.models.sync.config import sync_config
    from vxt.models.sync.task_model import SyncModel
    from vxt.train.options import TrainOptions
    from vxt.train.strategies import StepContext, Strategy

    model = SyncModel(sync_config("sparsesync-tiny", {"warmup_steps": 4}))
    opts = TrainOptions(task="sync", model="sparsesync-tiny")
    settings = model.optimizer_settings(opts)
    assert settings["lr"] == 5e-6 and settings["optimizer"] == "adam" and settings["schedule"] == "warmup"
    s = Strategy()
    ctx = StepContext(model=model, module=model, params=[], opts=opts, device=torch.device("cpu"), total_steps=10)
    s.setup(ctx)
    lrs = []
    for _ in range(6):
        lrs.append(s.lr())
        s.optimizer.step()
        s.scheduler.step()
    assert lrs == pytest.approx([5e-8, 5e-8 + 0.99 * 5e-6 / 4, 5e-8 + 0.99 * 5e-6 / 2, 5e-8 + 0.99 * 5e-6 * 3 / 4,
                                 5e-6, 5e-6])
    assert s.milestones == [4]
