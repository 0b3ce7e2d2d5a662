"""Melception (torchvision Inception3 on one-channel mels, first two max-pools removed) and `vxt score` on sound
predictions, end to end on a tiny foley dir: a 1-epoch melception-tiny, a 1-step specvqgan-tiny codebook decode,
FID/KID/IS/MKL with `--classifier`, the onset alignment without."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_inception_melception_builds_and_runs_one_forward():
    from torch import nn

    from vxt.models.sound.melception import PRESETS, MelceptionNet

    net = MelceptionNet(PRESETS["melception"], n_classes=5).eval()
    inc = net.inception
    assert inc.Conv2d_1a_3x3.conv.in_channels == 1 and inc.Conv2d_1a_3x3.conv.stride == (2, 2)
    assert isinstance(inc.maxpool1, nn.Identity) and isinstance(inc.maxpool2, nn.Identity)
    assert inc.AuxLogits is None and inc.fc.in_features == 2048
    with torch.no_grad():
        out = net(torch.rand(2, 80, 96))  # a small mel: 80 bins, 96 frames
    assert out["features"].shape == (2, 2048) and out["logits"].shape == (2, 5)
    assert torch.allclose(out["logits"], out["logits_unbiased"] + inc.fc.bias, atol=1e-5)


@pytest.fixture(scope="module")
def foley(tmp_path_factory):
    """A tiny foley dir, a 1-epoch melception-tiny on its sound classes, and a 1-step codebook's decode of test."""
    from vxt.cli import main
    from vxt.data.prepare import prepare

    root = tmp_path_factory.mktemp("melception")
    data = root / "foley"
    prepare("synth", data, options={"n_train": 2, "n_val": 1, "n_test": 2, "mode": "foley", "seed": 0},
            workers=1, cache=False, progress=False)
    mel = root / "mel"
    assert main(["train", "--task", "classify", "--model", "melception-tiny", "--data", str(data), "--epochs", "1",
                 "--batch-size", "2", "--out", str(mel)]) == 0
    cb = root / "cb"
    assert main(["train", "--task", "sound", "--model", "specvqgan-tiny", "--data", str(data), "--stage", "codebook",
                 "--max-steps", "1", "--batch-size", "1", "--set", "perceptual=none", "--eval-limit", "1",
                 "--out", str(cb)]) == 0
    preds = root / "preds_test.json"
    assert main(["decode", str(data), "--split", "test", "--task", "sound", "--ckpt", str(cb), "--out", str(preds),
                 "--set", "griffin_lim_iters=2"]) == 0
    return data, mel, preds


def test_melception_trains_on_the_sound_classes_and_reloads(foley):
    from vxt.models import load_checkpoint
    from vxt.models.sound.melception import MelceptionModel

    data, mel, _ = foley
    cfg = json.loads((mel / "config.json").read_text())
    assert cfg["arch"] == "melception" and cfg["labels"] == (data / "labels" / "audio.txt").read_text().split("\n")[:-1]
    run = json.loads((mel / "run.json").read_text())
    assert run["modality"] == "audio"  # no --modality needed
    model = load_checkpoint(mel)
    assert isinstance(model, MelceptionModel)
    assert float(model.net.norm_std.min()) > 0 and float(model.net.norm_mean.abs().sum()) > 0  # train statistics
    spec = np.random.default_rng(0).random((2, 80, 848))
    a = model.embed(spec)
    b = MelceptionModel.from_pretrained(mel / "last").embed(spec)
    assert a["features"].shape == (2, 32) and a["logits"].shape == (2, len(cfg["labels"]))
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-5)
    # one example per clip: the 22.05 kHz `-sound` items, not their 16 kHz `-sync` copies
    from vxt.tasks import get_task_entry
    from vxt.train.options import TrainOptions

    exs = get_task_entry("classify").examples(data, "train", TrainOptions(task="classify", model="melception-tiny"))
    assert len(exs) == 2 and all(ex["id"].endswith("-sound") for ex in exs)


def test_melception_refuses_another_modality(foley, run_cli, tmp_path):
    data, _, _ = foley
    code, _, err = run_cli("train", "--task", "classify", "--model", "melception-tiny", "--modality", "video",
                           "--data", data, "--out", tmp_path / "x")
    assert code != 0 and "melception-tiny classifies audio" in err and len(err.strip().splitlines()) == 1


def test_score_sound_with_the_classifier(foley, run_cli):
    _, mel, preds = foley
    rows = json.loads(preds.read_text())["predictions"]
    assert all(r["spectrogram"].endswith(".npy") and r["sound_events"] and r["audio_start"] > 0 for r in rows)
    code, out, err = run_cli("score", preds, "--no-java", "--classifier", mel)
    assert code == 0, err
    doc = json.loads(preds.with_name("preds_test.scores.json").read_text())
    m = doc["metrics"]
    assert set(m) == {"FID", "KID", "KID_std", "IS", "IS_std", "MKL", "onset_alignment", "onset_recall"}
    assert m["FID"] >= -1e-6 and m["MKL"] >= -1e-4 and m["IS"] >= 1 - 1e-9 and 0 <= m["onset_alignment"] <= 1
    assert doc["task"] == "sound" and doc["n_scored"] == 2 and "FID" in out and "onset_alignment (%)" in out


def test_score_sound_without_a_classifier(foley, run_cli, tmp_path):
    _, _, preds = foley
    code, out, err = run_cli("score", preds, "--no-java", "--out", tmp_path / "s.json")
    assert code == 0, err
    warn = [line for line in err.splitlines() if "need --classifier" in line]
    assert len(warn) == 1 and "FID" in warn[0] and "MKL" in warn[0]
    assert set(json.loads((tmp_path / "s.json").read_text())["metrics"]) == {"onset_alignment", "onset_recall"}
    # no sound_events: nothing to score without Melception -> one line
    doc = json.loads(preds.read_text())
    for r in doc["predictions"]:
        r.pop("sound_events")
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    code, _, err = run_cli("score", bare, "--no-java")
    assert code != 0 and "need --classifier" in err and len(err.strip().splitlines()) == 1


def test_real_sound_scores_as_itself(foley, tmp_path):
    """The real clips' own spectrograms as the 'generated' ones: FID and MKL ~0, every event has an onset."""
    from vxt.models.sound import frontend as fe
    from vxt.models.sound.scoring import score_sound_predictions
    from vxt.models.sound.task_model import clip_spectrogram

    _, mel, preds = foley
    rows = json.loads(preds.read_text())["predictions"]
    by_id, refs = {}, {}
    for r in rows:
        p = tmp_path / f"{r['id']}.npy"
        np.save(p, fe.centre_crop(clip_spectrogram(r["reference_audio"])[0]).astype(np.float32))
        by_id[r["id"]] = [{**r, "spectrogram": str(p)}]
        refs[r["id"]] = {"audio": r["reference_audio"], "events": r["sound_events"]}
    m, extra = score_sound_predictions(str(preds), by_id, refs, classifier=mel)
    assert abs(m["FID"]) < 1e-3 and abs(m["MKL"]) < 1e-4 and m["onset_recall"] == 1.0
    assert extra["n_events"] > 0


def test_vggishish_is_specvqgans_vgg16_stack_and_lpaps_reads_its_convs():
    from torch import nn

    from vxt.models.sound.lpaps import LPAPS
    from vxt.models.sound.melception import PRESETS, MelceptionNet

    net = MelceptionNet(PRESETS["vggishish"], n_classes=309)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.features) == 4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # use_bn: False
    assert net.body[1].in_features == 512 * 5 * 10 and net.fc.in_features == 4096
    # the same stack LPAPS slices: every conv's weights land in the tap slice at the same index
    tiny = MelceptionNet(PRESETS["vggishish-tiny"], n_classes=3).eval()
    tiny.norm_mean.fill_(0.25)
    tiny.norm_std.fill_(0.5)
    torch.manual_seed(0)
    lp = LPAPS.from_vggishish(tiny)
    assert lp.channels == (4, 8, 8, 16, 16)
    lp_convs = [m for k in range(1, 6) for m in getattr(lp.net, f"slice{k}") if isinstance(m, nn.Conv2d)]
    own = [m for m in tiny.features if isinstance(m, nn.Conv2d)][: len(lp_convs)]
    assert len(lp_convs) == 13 and all(torch.equal(a.weight, b.weight) for a, b in zip(lp_convs, own))
    assert torch.allclose(lp.scaling_layer.shift, torch.full_like(lp.scaling_layer.shift, -0.5))
    assert torch.allclose(lp.scaling_layer.scale, torch.ones_like(lp.scaling_layer.scale))
    x = torch.rand(2, 1, 80, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(lp(x, x), torch.zeros(2, 1, 1, 1)) and float(lp(x, x.flip(0)).abs().min()) > 0
        out = tiny(torch.rand(2, 80, 848))
    assert out["features"].shape == (2, 32) and out["logits"].shape == (2, 3)
    with pytest.raises(Exception, match="VGGishish"):
        LPAPS.from_vggishish(MelceptionNet(PRESETS["melception-tiny"], n_classes=3))


def test_vggishish_trains_with_the_classify_task(foley, tmp_path):
    from vxt.cli import main
    from vxt.models import load_checkpoint
    from vxt.models.sound.lpaps import LPAPS

    data, _, _ = foley
    out = tmp_path / "vgg"
    assert main(["train", "--task", "classify", "--model", "vggishish-tiny", "--data", str(data), "--epochs", "1",
                 "--batch-size", "2", "--out", str(out)]) == 0
    model = load_checkpoint(out)
    assert model.config["network"]["net"] == "vggishish" and float(model.net.norm_std.min()) > 0
    lp = LPAPS.from_vggishish(model)
    lp.save(tmp_path / "lpaps")
    back = LPAPS.load(tmp_path / "lpaps")
    assert back.channels == (4, 8, 8, 16, 16)
    for k, v in lp.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
