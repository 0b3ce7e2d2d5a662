"""SpecVQGAN's ablation switches: the sampler's code order (``sampler.order``) and visual rows (``sampler.n_feats``,
0: no visual condition), the codebook's losses (``loss.perceptual_weight`` / ``loss.disc_weight`` 0 leave LPAPS /
the PatchGAN out), and early stopping on the validation metric (``vxt train --patience N``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sound_clips import write_clip, write_sound_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = "specvqgan-tiny"


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def vq_codebook(tmp_path_factory):
    """A data dir and a codebook trained with the VQ losses only (no LPAPS, no PatchGAN): the ``vq`` cell."""
    from vxt.cli import main

    root = tmp_path_factory.mktemp("ablate")
    data = write_sound_data(root / "data", n_train=2, n_val=1, seconds=2.0)
    exp = root / "vq"
    # perceptual= names nothing: with perceptual_weight 0 the LPAPS network is never needed
    code = main(["train", "--task", "sound", "--model", TINY, "--data", str(data), "--stage", "codebook",
                 "--max-steps", "2", "--batch-size", "1", "--set", "loss.perceptual_weight=0",
                 "--set", "loss.disc_weight=0", "--set", f"perceptual={root / 'no-lpaps-here'}", "--out", str(exp)])
    assert code == 0
    return data, exp


def _codebook_model(**loss):
    from vxt.models.sound.options import PRESETS
    from vxt.models.sound.task_model import SoundTaskModel

    p = PRESETS[TINY]
    cfg = {"arch": "specvqgan", "task": "sound", "stage": "codebook", "codebook": p["codebook"],
           "loss": {**p["loss"], **loss}, "disc": p["disc"], "base_lr": p["base_lr"], "betas": p["betas"],
           "perceptual": "spy"}
    return cfg, SoundTaskModel


class _SpyLPAPS(torch.nn.Module):
    """Stands in for the perceptual network and counts its calls (a distance that depends on its inputs)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, y):
        self.calls += 1
        return (x - y).pow(2).mean(dim=(1, 2, 3), keepdim=True)


def _gan_steps(model, n=3):
    from vxt.registry import MODELS
    from vxt.tasks import get_task_entry
    from vxt.train.options import TrainOptions
    from vxt.train.strategies import StepContext, strategy_for

    opts = TrainOptions(task="sound", model=TINY, batch_size=1)
    strat = strategy_for(get_task_entry("sound"), MODELS.get(TINY))
    ctx = StepContext(model=model, module=model, params=[], opts=opts, total_steps=n, device=torch.device("cpu"))
    strat.setup(ctx)
    torch.manual_seed(0)
    spec = torch.rand(1, 1, 80, 848) * 2 - 1
    return [strat.step(ctx, {"spec": spec}, step) for step in range(n)]


@pytest.mark.parametrize("perceptual_weight,disc_weight", [(1.0, 0.8), (0.0, 0.8), (1.0, 0.0), (0.0, 0.0)])
def test_zero_loss_weights_skip_their_networks(perceptual_weight, disc_weight):
    cfg, cls = _codebook_model(perceptual_weight=perceptual_weight, disc_weight=disc_weight, disc_start=1)
    spy = _SpyLPAPS()
    torch.manual_seed(0)
    model = cls(cfg, perceptual=spy)
    disc_calls = []
    model.discriminator.register_forward_hook(lambda *a: disc_calls.append(1))
    disc_before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    logged = _gan_steps(model, 3)
    assert (spy.calls > 0) == (perceptual_weight > 0)
    assert all(("lpaps" in r) == (perceptual_weight > 0) for r in logged)
    # step 0 is before disc_start 1; from step 1 on the PatchGAN runs and steps, unless its weight is 0
    assert all(("d_loss" in r) == (disc_weight > 0 and i >= 1) for i, r in enumerate(logged))
    assert bool(disc_calls) == (disc_weight > 0)
    unchanged = all(torch.equal(disc_before[k], v) for k, v in model.discriminator.state_dict().items())
    assert unchanged == (disc_weight == 0)


def test_vq_only_codebook_trains_without_lpaps_or_patchgan(vq_codebook):
    data, exp = vq_codebook
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["perceptual"] == "none" and cfg["loss"]["perceptual_weight"] == 0 and cfg["loss"]["disc_weight"] == 0
    train_rows = [r for r in _rows(exp / "metrics.jsonl") if "loss" in r]
    assert train_rows and not any({"d_loss", "g_loss", "lpaps"} & set(r) for r in train_rows)
    assert {"l1", "vq"} <= set(train_rows[-1])


def test_lpaps_weights_are_required_only_when_weighted(vq_codebook, run_cli, tmp_path):
    data, _ = vq_codebook
    code, _, err = run_cli("train", "--task", "sound", "--model", TINY, "--data", data, "--stage", "codebook",
                           "--max-steps", "1", "--out", tmp_path / "e1")
    assert code != 0 and "--set perceptual=" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "--task", "sound", "--model", TINY, "--data", data, "--stage", "codebook",
                           "--max-steps", "1", "--set", "loss.perceptual_weight=-1", "--out", tmp_path / "e2")
    assert code != 0 and "loss.perceptual_weight must be a number >= 0" in err
    # a narrow LPAPS written by LPAPS.save loads back (its widths read from the file) and trains the codebook
    from vxt.models.sound.lpaps import LPAPS

    torch.manual_seed(0)
    net = LPAPS(channels=(4, 8, 8, 16, 16))
    net.save(tmp_path / "lpaps")
    again = LPAPS.load(tmp_path / "lpaps")
    assert again.channels == (4, 8, 8, 16, 16)
    x = torch.rand(1, 1, 80, 64) * 2 - 1
    assert torch.allclose(again(x, x.flip(-1)), net(x, x.flip(-1)))
    code, _, err = run_cli("train", "--task", "sound", "--model", TINY, "--data", data, "--stage", "codebook",
                           "--max-steps", "1", "--batch-size", "1", "--set", f"perceptual={tmp_path / 'lpaps'}",
                           "--out", tmp_path / "e3")
    assert code == 0, err
    assert "lpaps" in [r for r in _rows(tmp_path / "e3" / "metrics.jsonl") if "loss" in r][-1]


def test_code_orders_round_trip():
    from vxt.models.sound.sampler import flatten_codes, unflatten_codes

    codes = torch.arange(2 * 5 * 53).view(2, 5, 53)
    col, row = flatten_codes(codes, "column"), flatten_codes(codes, "row")
    assert col[0, :5].tolist() == [0, 53, 106, 159, 212]  # time step 0's five frequency codes first
    assert row[0, :53].tolist() == list(range(53))  # the lowest frequency row's 53 time codes first
    for order, seq in (("column", col), ("row", row)):
        assert seq.shape == (2, 265)
        assert torch.equal(unflatten_codes(seq, 5, 53, order), codes)
    assert not torch.equal(unflatten_codes(row, 5, 53, "column"), codes)  # the wrong inverse scrambles the map
    with pytest.raises(ValueError, match="sampler.order"):
        flatten_codes(codes, "diagonal")


def _sampler(vq_codebook, tmp_path, *sets, features=None, extra=()):
    from vxt.cli import main

    data, cb = vq_codebook
    out = tmp_path / "sampler"
    args = ["train", "--task", "sound", "--model", TINY, "--data", str(data), "--stage", "sampler",
            "--set", f"codebook={cb}", "--batch-size", "1", "--out", str(out), *extra]
    for s in sets:
        args += ["--set", s]
    if features is not None:
        args += ["--features", str(features)]
    assert main(args) == 0
    return out


def _feature_files(root, dim=16):
    root.mkdir(parents=True, exist_ok=True)
    for i, cid in enumerate(("train-0", "train-1", "val-0", "silent")):
        np.save(root / f"{cid}.npy", np.random.default_rng(i).normal(size=(215, dim)).astype(np.float32))
    return root


def test_row_order_is_recorded_and_decode_inverts_it(vq_codebook, tmp_path):
    from vxt.models import load_checkpoint
    from vxt.models.sound import frontend as fe
    from vxt.models.sound.sampler import flatten_codes

    feats = _feature_files(tmp_path / "feats")
    exp = _sampler(vq_codebook, tmp_path, "sampler.order=row", "sampler.n_feats=1", features=feats,
                   extra=("--max-steps", "2"))
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["sampler"]["order"] == "row" and cfg["sampler"]["n_feats"] == 1
    model = load_checkpoint(exp)
    assert model.code_order == "row"
    # the sampler's sequence goes back to the code map it was laid out from: a row-major sequence of a known map
    torch.manual_seed(1)
    codes = torch.randint(0, int(cfg["sampler"]["vocab_size"]), (1, 5, 53))
    model.sampler.sample = lambda *a, **k: flatten_codes(codes, "row")
    data = vq_codebook[0]
    model.configure_decode(data_dir=data, features=feats, overrides={"vocoder": "griffin-lim",
                                                                     "griffin_lim_iters": 1})
    batch = model.collate([{"example": {"id": "val-0", "video": "media/val-0.mp4"}}], train=False)
    pred = model.predict(batch)[0]
    want = fe.from_model(model.vqgan.decode_codes(codes)[:, 0].numpy())[0]
    assert np.allclose(pred["spec"], want, atol=1e-5) and pred["spec"].shape == (80, 848)
    assert pred["sample_seconds"] > 0
    # training lays the clip's codes out in the same order: its loss is that of the row-major sequence
    train_batch = model.collate([{"example": {"id": "train-0", "video": "media/train-0.mp4"}}], train=True)
    with torch.no_grad():
        _, _, clip_codes = model.vqgan.encode(train_batch["spec"])
        loss = float(model.eval()(train_batch)["loss"])
        assert loss == pytest.approx(float(model.sampler.loss(train_batch["feats"], flatten_codes(clip_codes, "row"))))
        assert loss != pytest.approx(float(model.sampler.loss(train_batch["feats"],
                                                              flatten_codes(clip_codes, "column"))))
    model.config["sampler"]["order"] = "column"  # read as the other order, the same sequence is another map
    assert not np.allclose(model.predict(batch)[0]["spec"], want, atol=1e-3)


def test_unknown_order_and_feature_counts_are_one_line_errors(vq_codebook, run_cli, tmp_path):
    data, cb = vq_codebook
    for bad, msg in (("sampler.order=diagonal", "sampler.order must be column or row"),
                     ("sampler.n_feats=213", "sampler.n_feats must be a whole number from 0"),
                     ("sampler.n_feats=-1", "sampler.n_feats must be a whole number from 0")):
        code, _, err = run_cli("train", "--task", "sound", "--model", TINY, "--data", data, "--stage", "sampler",
                               "--set", f"codebook={cb}", "--set", bad, "--max-steps", "1", "--out", tmp_path / "e")
        assert code != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_no_feats_sampler_trains_and_samples_without_video(vq_codebook, run_cli, tmp_path):
    from vxt.models import load_checkpoint

    exp = _sampler(vq_codebook, tmp_path, "sampler.n_feats=0", extra=("--max-steps", "2"))
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["sampler"]["n_feats"] == 0 and cfg["features"] == {"source": "none"}
    assert any("-CE" in r for r in _rows(exp / "metrics.jsonl"))
    model = load_checkpoint(exp)
    names = {n for n, _ in model.sampler.named_parameters()}
    assert "start" in names and not any(n.startswith("feat_emb") for n in names)  # nothing reads a feature
    assert model.visual is None
    seq = model.sampler.sample(None, top_k=None, generator=torch.Generator().manual_seed(0), batch_size=3)
    assert seq.shape == (3, 265) and int(seq.min()) >= 0 and int(seq.max()) < cfg["sampler"]["vocab_size"]
    # a video with no sound and no features: the sampler needs neither (--features would not be used)
    silent = write_clip(tmp_path / "silent.mp4", 2.0, audio=False)
    code, stdout, err = run_cli("decode", silent, "--task", "sound", "--ckpt", exp, "--set", "vocoder=griffin-lim",
                                "--set", "griffin_lim_iters=1", "--out", tmp_path / "out.mp4")
    assert code == 0, err
    row = json.loads((tmp_path / "out.preds.json").read_text())["predictions"][0]
    assert np.load(row["spectrogram"]).shape == (80, 848) and row["sample_seconds"] > 0


def test_gpt_without_features_is_causal_and_caches():
    from vxt.models.sound.sampler import GPT

    torch.manual_seed(0)
    gpt = GPT({"n_layer": 2, "n_head": 2, "n_embd": 16, "pdrop": 0.0, "n_feats": 0, "n_codes": 6, "d_feat": 0,
               "vocab_size": 7}).eval()
    assert gpt.block_size == 7 and gpt.n_prefix == 1
    codes = torch.randint(0, 7, (2, 6))
    logits = gpt(None, codes)
    assert logits.shape == (2, 6, 7)
    other = codes.clone()
    other[:, 3:] = (other[:, 3:] + 1) % 7
    assert torch.allclose(gpt(None, other)[:, :4], logits[:, :4], atol=1e-6)
    seq = gpt.sample(None, top_k=1, batch_size=2)
    assert torch.equal(gpt(None, seq).argmax(-1), seq)  # the cached greedy sample is the recomputed argmax
    with pytest.raises(ValueError, match="batch size"):
        gpt.sample(None)


def test_patience_stops_on_the_validation_metric_and_keeps_the_best(vq_codebook, tmp_path, monkeypatch):
    """Scripted validations 0.5, 0.6, 0.55, 0.58, ...: with --patience 2 the run stops after the 4th epoch, best/
    is epoch 2's; without --patience it trains on; --resume of the stopped run trains no further."""
    import vxt.train.evaluate as ev
    from vxt.train.loop import TrainOptions, train

    data, cb = vq_codebook
    scripted = [0.5, 0.6, 0.55, 0.58, 0.9, 0.95]

    def run(out, patience, resume=False):
        script = iter(scripted)
        monkeypatch.setattr(ev, "evaluate", lambda *a, **k: {"-CE": next(script)})
        opts = TrainOptions(task="sound", model=TINY, data=str(data), out=str(out), epochs=6, batch_size=1,
                            overrides={"stage": "sampler", "codebook_exp": str(cb), "sampler": {"n_feats": 0}},
                            patience=patience, resume=resume)
        return train(opts)

    summary = run(tmp_path / "stop", 2)
    assert summary["early_stop"] == {"step": 8, "epoch": 4, "patience": 2, "best": 0.6}
    assert summary["steps"] == 8  # 4 epochs of the 2 training clips, of 6
    best = json.loads((tmp_path / "stop" / "best" / "metric.json").read_text())
    assert best["epoch"] == 2 and best["value"] == 0.6
    assert [r["-CE"] for r in _rows(tmp_path / "stop" / "metrics.jsonl") if "-CE" in r] == [0.5, 0.6, 0.55, 0.58]
    again = run(tmp_path / "stop", 2, resume=True)
    assert again["steps"] == 8 and again["early_stop"]["epoch"] == 4
    full = run(tmp_path / "full", None)  # the same validations without --patience: all six epochs
    assert full["steps"] == 12 and "early_stop" not in full


def test_patience_option_is_checked(run_cli, tmp_path):
    code, _, err = run_cli("train", "--task", "sound", "--data", tmp_path, "--patience", "0")
    assert code != 0 and "--patience" in err
