"""Modality classifiers (vxt.modalities): shapes, checkpoints, label spaces, preprocessing."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import vxt.utils
from vxt.errors import VxtError
from vxt.modalities import create_classifier, load_label_space
from vxt.modalities.base import ModalityClassifier
from vxt.registry import CLASSIFIERS


@pytest.fixture(autouse=True)
def _fresh_notices(monkeypatch):
    """Each test sees say_once's notices afresh."""
    monkeypatch.setattr(vxt.utils, "_said_once", set())


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- registry, shapes, sizes


def test_registry_lists_the_classifiers():
    assert set(CLASSIFIERS.names()) >= {
        "r2plus1d_18", "r3d_18", "mc3_18", "s3d", "r2plus1d_34", "tiny-video", "cnn14", "tiny-audio",
    }


@pytest.mark.parametrize(
    "name, feature_dim",
    [("r2plus1d_18", 512), ("r3d_18", 512), ("mc3_18", 512), ("s3d", 1024), ("r2plus1d_34", 512), ("tiny-video", 32)],
)
def test_video_classifier_shapes(name, feature_dim):
    torch.manual_seed(0)
    model = create_classifier(name).eval()
    assert model.modality == "video" and model.multi_label is False
    assert model.num_classes == 400 and model.labels[0] == "abseiling"
    assert model.feature_dim == feature_dim
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
    assert logits.shape == (2, 400) and feats.shape == (2, feature_dim)
    assert torch.isfinite(logits).all()
    # forward is the head applied to the penultimate features
    assert _same(model.classify(feats), logits)


@pytest.mark.parametrize("name, feature_dim", [("tiny-audio", 32)])
def test_audio_classifier_shapes(name, feature_dim):
    model = create_classifier(name).eval()
    assert model.modality == "audio" and model.multi_label is True
    assert model.num_classes == 527 and model.labels[0] == "Speech"
    x = torch.randn(3, 1, 100, 64)
    with torch.no_grad():
        assert model(x).shape == (3, 527)
        assert model.features(x).shape == (3, feature_dim)
        # shorter than the pooling stack (8 frames for 4 blocks) is padded, not a crash
        assert model(torch.randn(1, 1, 3, 64)).shape == (1, 527)
    with pytest.raises(VxtError, match=r"log-mel \[B, 1, frames, 64\]"):
        model(torch.randn(1, 1, 100, 40))


def test_parameter_counts_match_the_published_models():
    from torchvision.models.video import MC3_18_Weights, R2Plus1D_18_Weights, R3D_18_Weights, S3D_Weights

    def count(name, **kw):
        with torch.device("meta"):
            return sum(p.numel() for p in create_classifier(name, **kw).parameters())

    # torchvision's own published counts (400 classes)
    assert count("r2plus1d_18") == R2Plus1D_18_Weights.KINETICS400_V1.meta["num_params"] == 31_505_325
    assert count("r3d_18") == R3D_18_Weights.KINETICS400_V1.meta["num_params"]
    assert count("mc3_18") == MC3_18_Weights.KINETICS400_V1.meta["num_params"]
    assert count("s3d") == S3D_Weights.KINETICS400_V1.meta["num_params"]
    # R(2+1)D-34 in torchvision layout; published as ~63.5M (torchvision's BasicBlock
    # sizes both (2+1)D convs of a block from its input width, hence a little less)
    n34 = count("r2plus1d_34")
    assert n34 == 61_831_661 and abs(n34 - 63.5e6) / 63.5e6 < 0.05
    # PANNs CNN14: 80.8M with the 527 AudioSet classes
    assert count("cnn14") == 80_753_615


def test_r2plus1d_34_is_torchvision_videoresnet_with_caffe2_batchnorm():
    with torch.device("meta"):
        model = create_classifier("r2plus1d_34")
    keys = model.checkpoint_state_dict()
    assert [len([k for k in keys if k.startswith(f"layer{i}.") and k.endswith(".conv1.0.0.weight")]) for i in (1, 2, 3, 4)] == [3, 4, 6, 3]
    assert tuple(keys["stem.0.weight"].shape) == (45, 3, 1, 7, 7)
    assert tuple(keys["fc.weight"].shape) == (400, 512)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and all(m.eps == 1e-3 for m in bns)
    assert model.config["frames"] == 32


def test_cnn14_module_names_are_the_panns_keys():
    with torch.device("meta"):
        model = create_classifier("cnn14")
    keys = model.checkpoint_state_dict()
    assert tuple(keys["bn0.weight"].shape) == (64,)
    assert tuple(keys["conv_block1.conv1.weight"].shape) == (64, 1, 3, 3)
    assert tuple(keys["conv_block6.conv2.weight"].shape) == (2048, 2048, 3, 3)
    assert "conv_block6.bn2.running_var" in keys and "conv_block7.conv1.weight" not in keys
    assert tuple(keys["fc1.weight"].shape) == (2048, 2048)
    assert tuple(keys["fc_audioset.weight"].shape) == (527, 2048)
    assert model.feature_dim == 2048


# ---------------------------------------------------------------- checkpoints


def test_panns_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    source = create_classifier("cnn14").eval()
    state = dict(source.checkpoint_state_dict())
    # the official files also carry the torchlibrosa front end; vxt skips it
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.randn(513, 1, 1024)
    state["logmel_extractor.melW"] = torch.randn(513, 64)
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    torch.save({"iteration": 1000, "model": state}, path)

    loaded = create_classifier("cnn14", weights=str(path)).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert _same(loaded(x), source(x))
        assert _same(loaded.features(x), source.features(x))
    assert loaded.weights_source == str(path)


def test_panns_bare_state_dict_and_ddp_prefix_load(tmp_path):
    torch.manual_seed(0)
    source = create_classifier("tiny-audio").eval()
    x = torch.randn(2, 1, 40, 64)
    for i, state in enumerate([source.checkpoint_state_dict(),
                               {f"module.{k}": v for k, v in source.checkpoint_state_dict().items()}]):
        path = tmp_path / f"bare{i}.pt"
        torch.save(state, path)
        loaded = create_classifier("tiny-audio", weights=path).eval()
        with torch.no_grad():
            assert _same(loaded(x), source(x))


def _torchvision_r2plus1d_18(num_classes=400):
    from torchvision.models.video import r2plus1d_18

    torch.manual_seed(1)
    model = r2plus1d_18(weights=None, num_classes=num_classes).eval()
    # non-trivial BatchNorm statistics, so that a wrong eps or a skipped buffer shows
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def tv_r2plus1d_18():
    return _torchvision_r2plus1d_18()


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_torchvision_checkpoint_round_trip(tmp_path, tv_r2plus1d_18, fmt):
    from safetensors.torch import save_file

    path = tmp_path / f"r2plus1d_18.{fmt}"
    if fmt == "pth":
        # some converted checkpoints lack BatchNorm's num_batches_tracked counters
        state = {k: v for k, v in tv_r2plus1d_18.state_dict().items() if not k.endswith("num_batches_tracked")}
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in tv_r2plus1d_18.state_dict().items()}, str(path))
    model = create_classifier("r2plus1d_18", weights=path).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert _same(model(x), tv_r2plus1d_18(x))
    counters = [v for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")]
    assert counters and all(int(c) == 0 for c in counters)


def test_checkpoint_with_other_class_count_reinitialises_fc(tmp_path, tv_r2plus1d_18, capsys):
    path = tmp_path / "kinetics.pth"
    torch.save(tv_r2plus1d_18.state_dict(), path)
    model = create_classifier("r2plus1d_18", labels=["cooking", "dancing", "juggling"], weights=path).eval()
    err = capsys.readouterr().err
    assert "fc has 400 classes, the label space has 3 classes" in err and "fc re-initialised" in err
    assert model.net.fc.weight.shape == (3, 512)
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        backbone = torch.nn.Sequential(*list(tv_r2plus1d_18.children())[:-1])
        assert _same(model.features(x), backbone(x).flatten(1))
        assert model(x).shape == (1, 3)


def test_backbone_only_checkpoint_loads_with_a_fresh_head(tmp_path, tv_r2plus1d_18, capsys):
    state = {k: v for k, v in tv_r2plus1d_18.state_dict().items() if not k.startswith("fc.")}
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    model = create_classifier("r2plus1d_18", weights=path).eval()
    assert "the checkpoint has no fc" in capsys.readouterr().err
    assert torch.isfinite(model.net.fc.weight).all() and model.net.fc.weight.abs().max() < 0.1


def test_mismatched_checkpoint_is_one_clear_line(tmp_path, tv_r2plus1d_18):
    state = dict(tv_r2plus1d_18.state_dict())
    state["layer9.0.weight"] = torch.zeros(3)
    del state["layer1.0.conv1.0.0.weight"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(VxtError) as exc:
        create_classifier("r2plus1d_18", weights=path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    assert "missing 1 keys: layer1.0.conv1.0.0.weight" in msg
    assert "unexpected 1 keys: layer9.0.weight" in msg
    # another architecture's checkpoint names what does not fit
    with pytest.raises(VxtError, match="does not fit the video classifier r3d_18"):
        create_classifier("r3d_18", weights=path)


class _NotWeights:
    """A pickled object: vxt never unpickles it."""


def test_unreadable_and_missing_weights_are_user_errors(tmp_path):
    with pytest.raises(VxtError, match="no such weights file"):
        create_classifier("tiny-video", weights=tmp_path / "nope.pth")
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(VxtError, match="cannot read"):
        create_classifier("tiny-video", weights=bad)

    evil = tmp_path / "object.pth"
    torch.save({"model": _NotWeights()}, evil)
    with pytest.raises(VxtError, match="weights_only=True"):
        create_classifier("tiny-video", weights=evil)


def test_numpy_state_next_to_the_weights_is_readable(tmp_path):
    source = create_classifier("tiny-audio").eval()
    path = tmp_path / "train_ckpt.pth"
    torch.save({"model": source.checkpoint_state_dict(), "sampler": {"state": np.arange(5)}}, path)
    loaded = create_classifier("tiny-audio", weights=path).eval()
    x = torch.randn(1, 1, 20, 64)
    with torch.no_grad():
        assert _same(loaded(x), source(x))


def test_s3d_pooling_matches_torchvision():
    """features/classify reproduce torchvision's S3D forward (pool window, head, mean over positions)."""
    from torchvision.models.video import s3d

    torch.manual_seed(0)
    tv = s3d(weights=None, num_classes=7).eval()
    model = create_classifier("s3d", num_classes=7).eval()
    model.load_checkpoint_state_dict(tv.state_dict())
    # a smaller pooling window keeps the test fast; the code path is the one of (2, 7, 7) at 224 px
    tv.avgpool = torch.nn.AvgPool3d(kernel_size=(1, 2, 2), stride=1)
    model.net.avgpool = torch.nn.AvgPool3d(kernel_size=(1, 2, 2), stride=1)
    x = torch.randn(1, 3, 8, 96, 96)
    with torch.no_grad():
        assert _same(model(x), tv(x))


# ---------------------------------------------------------------- save_pretrained / from_pretrained


def test_save_and_from_pretrained_give_equal_outputs(tmp_path):
    torch.manual_seed(0)
    labels = ["red circle", "blue square", "green triangle"]
    model = create_classifier("tiny-video", labels=labels, channels=[8, 16, 16, 16]).eval()
    out = model.save_pretrained(tmp_path / "clf")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["name"] == "tiny-video" and config["labels"] == labels and config["num_classes"] == 3
    assert config["channels"] == [8, 16, 16, 16]

    x = torch.randn(2, 3, 8, 64, 64)
    again = ModalityClassifier.from_pretrained(out).eval()
    via_create = create_classifier("tiny-video", weights=out).eval()
    with torch.no_grad():
        assert _same(again(x), model(x)) and _same(via_create(x), model(x))
    assert again.labels == labels and via_create.config == model.config

    # keys other layers add to config.json (e.g. vxt train --task classify) are not hyperparameters
    config.update(task="classify", **{"class": "vxt.models.classify:ClassifierModel"})
    (out / "config.json").write_text(json.dumps(config))
    with torch.no_grad():
        assert _same(create_classifier("tiny-video", weights=out).eval()(x), model(x))

    # a saved dir of another classifier is refused, by name
    with pytest.raises(VxtError, match="holds a tiny-video classifier, not tiny-audio"):
        create_classifier("tiny-audio", weights=out)


def test_saved_weights_use_checkpoint_keys(tmp_path):
    from safetensors.torch import load_file

    model = create_classifier("mc3_18", num_classes=5)
    model.save_pretrained(tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert "stem.0.weight" in keys and "fc.weight" in keys
    assert not any(k.startswith("net.") for k in keys)


# ---------------------------------------------------------------- label spaces


def test_builtin_label_spaces(shared_data):
    kinetics = load_label_space("kinetics400")
    assert len(kinetics) == 400 and kinetics[0] == "abseiling" and kinetics[-1] == "zumba"
    audioset = load_label_space("audioset")
    assert len(audioset) == 527 and audioset[0] == "Speech" and audioset[-1] == "Field recording"
    assert "Male speech, man speaking" in audioset  # a comma inside a CSV field
    # equal to the shared files they were made from, read by path
    assert load_label_space(shared_data / "labels" / "kinetics400_labels.txt") == kinetics
    assert load_label_space(shared_data / "labels" / "audioset_class_labels_indices.csv") == audioset


def test_kinetics_names_equal_torchvisions():
    from torchvision.models.video import R2Plus1D_18_Weights

    assert R2Plus1D_18_Weights.KINETICS400_V1.meta["categories"] == load_label_space("kinetics400")


def test_label_space_files_and_errors(tmp_path):
    txt = tmp_path / "video.txt"
    txt.write_text("running\n\njumping  \nswimming\n", encoding="utf-8")
    assert load_label_space(txt) == ["running", "jumping", "swimming"]
    csv = tmp_path / "events.csv"
    csv.write_text('index,mid,display_name\n1,/m/b,"Dog, barking"\n0,/m/a,Speech\n', encoding="utf-8")
    assert load_label_space(csv) == ["Speech", "Dog, barking"]

    dup = tmp_path / "dup.txt"
    dup.write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(VxtError, match="'a' appears twice"):
        load_label_space(dup)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("index,name\n0,a\n", encoding="utf-8")
    with pytest.raises(VxtError, match="display_name"):
        load_label_space(nocol)
    with pytest.raises(VxtError, match="no such label space"):
        load_label_space(tmp_path / "missing.txt")
    with pytest.raises(VxtError, match="no such label space"):
        load_label_space("kinetics700")


def test_labels_decide_the_head():
    model = create_classifier("tiny-audio", labels=["Speech", "Music"])
    assert model.fc_audioset.out_features == 2 and model.config["labels"] == ["Speech", "Music"]
    assert create_classifier("tiny-video", num_classes=4).labels == ["class_0", "class_1", "class_2", "class_3"]
    with pytest.raises(VxtError, match="unknown option.*widht"):
        create_classifier("tiny-video", widht=3)
    with pytest.raises(VxtError, match="not unique"):
        create_classifier("tiny-video", labels=["a", "a"])
    with pytest.raises(VxtError, match="unknown modality classifier 'r2plus1d_50'"):
        create_classifier("r2plus1d_50")


# ---------------------------------------------------------------- preprocessing, probabilities


def test_video_preprocess_normalises_with_kinetics_statistics():
    model = create_classifier("tiny-video")
    frames = np.zeros((8, 16, 20, 3), dtype=np.uint8)
    frames[..., 0] = 255
    x = model.preprocess(frames)
    assert x.shape == (3, 8, 16, 20) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full_like(x[0], (1 - 0.43216) / 0.22803))
    assert torch.allclose(x[1], torch.full_like(x[1], -0.394666 / 0.22145))
    assert torch.allclose(x[2], torch.full_like(x[2], -0.37645 / 0.216989))
    read_only = np.zeros((2, 8, 16, 20, 3), dtype=np.uint8)
    read_only.flags.writeable = False  # as decoders may hand frames over
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clips = model.preprocess(read_only)
    assert clips.shape == (2, 3, 8, 16, 20)
    with pytest.raises(VxtError, match=r"\[T, H, W, 3\]"):
        model.preprocess(np.zeros((8, 3, 16, 20), dtype=np.uint8))


def test_multi_clip_input_averages_clip_features():
    torch.manual_seed(0)
    model = create_classifier("tiny-video", num_classes=5).eval()
    x = torch.randn(2, 3, 3, 8, 32, 32)  # [B, N clips, 3, T, H, W]
    with torch.no_grad():
        feats = model.features(x)
        per_clip = torch.stack([model.features(x[:, i]) for i in range(3)], 1).mean(1)
        assert _same(feats, per_clip)
        assert model(x).shape == (2, 5)


def test_audio_preprocess_layout():
    model = create_classifier("tiny-audio")
    mel = np.random.default_rng(0).standard_normal((101, 64)).astype(np.float32)
    x = model.preprocess(mel)
    assert x.shape == (1, 101, 64) and torch.equal(x[0], torch.from_numpy(mel))
    with pytest.raises(VxtError, match=r"\[frames, 64\]"):
        model.preprocess(mel.T)


def test_log_probs_softmax_for_video_sigmoid_for_audio():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    video = create_classifier("tiny-video", labels=["a", "b", "c"])
    lp = video.log_probs(logits)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(2))
    assert torch.allclose(lp, torch.log_softmax(logits, -1))
    audio = create_classifier("tiny-audio", labels=["a", "b", "c"])
    lp = audio.log_probs(logits)
    assert torch.allclose(lp.exp(), torch.sigmoid(logits))
    assert lp.exp().sum(-1)[1] > 1.4  # independent events, not a distribution
    assert video.topk(logits, 2)[0][0][0] == "a" and len(audio.topk(logits, 2)[1]) == 2


def test_freeze_keeps_inference_behaviour():
    model = create_classifier("tiny-audio").freeze()
    parent = torch.nn.Sequential(model)
    parent.train()
    assert model.training is False and not any(p.requires_grad for p in model.parameters())
    x = torch.randn(2, 1, 40, 64)
    assert torch.equal(model(x), model(x))  # no dropout, no SpecAugment, fixed BatchNorm


def test_random_init_notice_is_said_once(capsys):
    create_classifier("tiny-video")
    create_classifier("tiny-video", num_classes=3)
    err = capsys.readouterr().err
    assert err.count("video classifier tiny-video built at random init (no --video-weights given)") == 1


def test_spec_augment_drops_whole_time_and_frequency_stripes():
    from vxt.modalities.audio import _drop_stripes

    torch.manual_seed(0)
    x = torch.ones(16, 1, 100, 64)
    t = _drop_stripes(x, dim=2, drop_width=64, stripes_num=2)
    rows = (t == 0).all(dim=3)  # [B, 1, time]: a dropped frame is zero across every mel bin
    assert torch.equal((t == 0).any(dim=3), rows) and rows.any()
    assert rows.sum(dim=2).max() <= 2 * 63
    f = _drop_stripes(x, dim=3, drop_width=8, stripes_num=2)
    cols = (f == 0).all(dim=2)
    assert torch.equal((f == 0).any(dim=2), cols) and cols.sum(dim=2).max() <= 2 * 7
    assert torch.equal(x, torch.ones_like(x))  # the input is left alone
    # only in training
    model = create_classifier("tiny-audio", spec_augment=True).eval()
    mel = torch.randn(2, 1, 80, 64)
    with torch.no_grad():
        assert torch.equal(model(mel), model(mel))
