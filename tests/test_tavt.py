"""TAVT: the AVMM's reconstruction, the counterfactuals, W_ma, audio-absent decoding, and the meta-learned CLI path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from vxt.models.tavt import losses as L

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DOMAINS = ("photo", "cartoon", "night", "sketch")


def _tiny(**over):
    """A bare tavt-tiny (no data dir): 6-d frames, 5-d audio, K = 4 clusters."""
    from vxt.models.tavt.model import TAVT
    from vxt.models.tavt.options import DEFAULTS, PRESETS
    from vxt.nn.vocab import build_vocab

    cfg = {k: v for k, v in {**DEFAULTS, **PRESETS["tavt-tiny"]}.items() if k in DEFAULTS}
    cfg.update({"d_video": 6, "d_audio": 5, "n_clusters": 4, "features": {"source": "backbone"}, **over})
    torch.manual_seed(0)
    clusters = torch.randn(4, 5)
    return TAVT(cfg, build_vocab(["a red circle moves left", "a blue square hums"]), clusters)


def _batch(model, has_audio=(True, False), n_units=3, n_frames=5, caption="a red circle moves left"):
    g = torch.Generator().manual_seed(3)
    B = len(has_audio)
    ids, mask = model.vocab.encode_batch([caption] * B)
    return {"ids": [f"x{i}" for i in range(B)], "examples": [{}] * B,
            "frames": torch.randn(B, n_frames, 6, generator=g), "frame_mask": torch.ones(B, n_frames, dtype=torch.bool),
            "clips": torch.randn(B, n_units, 6, generator=g), "audio": torch.randn(B, n_units, 5, generator=g),
            "unit_mask": torch.ones(B, n_units, dtype=torch.bool), "has_audio": torch.tensor(has_audio),
            "caption_ids": ids, "caption_mask": mask}


def test_kmeans_is_seeded_and_finds_the_blobs():
    from vxt.nn.kmeans import kmeans

    g = torch.Generator().manual_seed(0)
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([m + 0.1 * torch.randn(30, 2, generator=g) for m in means])
    c = kmeans(x, 3, seed=1)
    assert torch.equal(c, kmeans(x, 3, seed=1))
    assert torch.cdist(means, c).min(1).values.max() < 0.2
    assert kmeans(x[:2], 4, seed=0).shape == (4, 2)  # fewer points than clusters: still k distinct centres


def test_a_rec_is_a_convex_combination_of_the_clusters():
    model = _tiny()
    b = _batch(model)
    _, w, a_rec = model.prefix(b)
    m = model.avmm.clusters
    assert torch.all(w >= 0) and torch.allclose(w.sum(-1), torch.ones(w.shape[:2]))
    assert torch.allclose(a_rec, torch.einsum("blk,kd->bld", w, m), atol=1e-6)
    lo, hi = m.min(0).values, m.max(0).values
    assert torch.all(a_rec >= lo - 1e-6) and torch.all(a_rec <= hi + 1e-6)  # inside the clusters' hull's box
    # L_rec is the MSE over the units with real audio only
    real = b["unit_mask"] & b["has_audio"].view(-1, 1)
    assert float(L.reconstruction_loss(a_rec, b["audio"], real).detach()) == pytest.approx(
        float(((a_rec[0] - b["audio"][0]) ** 2).mean().detach()), rel=1e-5)


def test_the_counterfactual_negatives_differ_from_the_positive():
    perms = L.counterfactual_perms(4, 3)
    assert len(perms) == 3 and all(bool((p != torch.arange(4)).all()) for p in perms)  # derangements
    assert len(L.counterfactual_perms(4, 10)) == 3  # at most K - 1
    model = _tiny()
    _, w, a_rec = model.prefix(_batch(model))
    for p in perms:
        assert not torch.allclose(model.avmm.reconstruct(w, p), a_rec, atol=1e-4)
    # InfoNCE: lower when the positive is the anchor than when a negative is
    a = torch.randn(6, 5)
    negs = torch.randn(6, 2, 5)
    assert float(L.info_nce(a, a, negs, 0.4)) < float(L.info_nce(a, negs[:, 0], torch.stack([a, negs[:, 1]], 1), 0.4))


def test_wma_weights_each_tokens_loss():
    targets = torch.tensor([[4, 5, 6]])
    mask = torch.tensor([[True, True, False]])
    s, n = torch.zeros(8), torch.zeros(8)
    psi = torch.tensor([[2.0, 0.5, 9.0]])
    L.update_token_table(s, n, targets, psi, mask)
    L.update_token_table(s, n, targets, psi * 2, mask)
    assert n.tolist()[4:7] == [2, 2, 0] and s[4] == pytest.approx(6.0)  # the padded position adds nothing
    w = L.token_weights(s, n, targets, mask, normalize=False)
    assert w.tolist() == [[3.0, 0.75, 0.0]]
    wn = L.token_weights(s, n, targets, mask, normalize=True)
    assert float(wn[mask].mean()) == pytest.approx(1.0) and float(wn[0, 0] / wn[0, 1]) == pytest.approx(4.0)
    logits = torch.randn(1, 3, 8)
    ce = torch.nn.functional.cross_entropy(logits[0], targets[0], reduction="none")
    got = L.weighted_caption_loss(logits, targets, w, mask)
    assert float(got) == pytest.approx(float((3.0 * ce[0] + 0.75 * ce[1]) / 2), rel=1e-5)
    # in the model: a training forward adds the batch's psi to the table of the words it saw
    model = _tiny()
    model.train()
    b = _batch(model)
    out = model(b)
    assert {"loss", "log_loss_cap", "log_loss_rec", "log_loss_dis", "log_loss_dep"} <= set(out)
    seen = b["caption_ids"][:, 1:][b["caption_mask"][:, 1:]]
    assert float(model.wma_count[seen].min()) >= 1 and float(model.wma_count.sum()) == seen.numel()


def test_an_audio_absent_example_decodes_with_a_rec(tmp_path):
    model = _tiny()
    model.eval()
    b = _batch(model, has_audio=(False, True))
    _, _, a_rec = model.prefix(b)
    fed = model.audio_input(b, a_rec)
    assert torch.equal(fed[0], a_rec[0]) and torch.equal(fed[1], b["audio"][1])
    rows = model.predict(b)
    other = dict(b, audio=b["audio"].clone())
    other["audio"][0] = 1e3  # whatever sits in an absent example's audio slot is never read
    assert model.predict(other)[0]["prediction"] == rows[0]["prediction"]
    assert rows[0]["explain"]["audio"] == "A_rec" and rows[1]["explain"]["audio"] == "real"
    words = rows[0]["explain"]["words"]
    assert len(words) == len(rows[0]["prediction"].split()) and all(0 < w["alpha_av"] < 1 for w in words)
    # reloads with its clusters and W_ma table
    model.wma_sum[4] = 2.0
    model.save_pretrained(tmp_path / "m")
    back = type(model).from_pretrained(tmp_path / "m")
    assert torch.equal(back.avmm.clusters, model.avmm.clusters) and float(back.wma_sum[4]) == 2.0
    assert [r["prediction"] for r in back.predict(b)] == [r["prediction"] for r in rows]



def test_beam_search_decodes_each_example_against_its_own_memory():
    """``--beam K``: a batch decodes as each example alone (the hypotheses index their own example's memory);
    beam 1 is the greedy caption; the explained gates are those of the generating steps."""
    from vxt.decoding import DecodingOptions

    model = _tiny(max_len=6)
    model.eval()
    b = _batch(model, has_audio=(True, False, True))
    greedy = model.predict(b)
    assert [r["prediction"] for r in model.predict(b, DecodingOptions(beam_size=1))] == [r["prediction"] for r in greedy]
    beam = model.predict(b, DecodingOptions(beam_size=3))
    for i in range(3):
        one = {k: (v[i : i + 1] if isinstance(v, torch.Tensor) else v[i : i + 1]) for k, v in b.items()}
        assert model.predict(one, DecodingOptions(beam_size=3))[0]["prediction"] == beam[i]["prediction"]
    for r in beam:
        assert len(r["explain"]["words"]) == len(r["prediction"].split())
    # the gates of the greedy caption, step by step as it was generated
    with torch.no_grad():
        p, _, a_rec = model.prefix(b)
        memory = model.encode(b, p, model.audio_input(b, a_rec))
        ys = torch.full((3, 1), model.vocab.bos_id, dtype=torch.long)
        for w in greedy[0]["explain"]["words"]:
            logits, av, _ = model.decode(memory, ys)
            assert abs(float(av[0, -1]) - w["alpha_av"]) < 1e-3
            ys = torch.cat([ys, logits[:, -1].argmax(-1, keepdim=True)], dim=1)

# ---------------------------------------------------------------- the ablation switches (use_avmm, use_audio, use_real_audio)


def _one_training_step(model, batch) -> dict:
    """One meta-step (Algorithm 1's first-order gradient over two batches) and an Adam update: every trainable
    parameter the loss reaches moves, and the loss is finite."""
    from vxt.train.meta import meta_gradients

    model.train()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in params.items()}
    grads, outer, _, outs = meta_gradients(model, params, [batch, dict(batch)], 1e-3, False)
    assert torch.isfinite(outer)
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    for p, g in zip(params.values(), grads):
        p.grad = torch.zeros_like(p) if g is None else g
    opt.step()
    moved = {n for n, p in params.items() if not torch.equal(p.detach(), before[n])}
    assert "decoder.out.weight" in moved and "video_in.weight" in moved
    return outs[0]


def test_without_avmm_there_are_no_prefix_tokens_and_no_reconstruction(tmp_path):
    full, bare = _tiny(), _tiny(use_avmm=False)
    assert bare.avmm is None and not any(k.startswith("avmm.") for k in bare.state_dict())
    assert bare.config["use_avmm"] is False and bare.config["use_audio"] is True
    b = _batch(bare, has_audio=(True, False))
    assert bare.prefix(b) == (None, None, None)
    mem = bare.encode(b, None, bare.audio_input(b, None))
    mem_full = full.encode(b, *full.prefix(b)[::2])
    # V' is the frames alone (5), not the 3 prefix tokens + 5 frames
    assert mem["x_av"].shape == (2, 5, 32) and mem_full["x_av"].shape == (2, 8, 32)
    assert mem["mask_va"].tolist() == [[True] * 3, [False] * 3]  # the audio-absent example's audio is masked out
    bare.train()
    out = bare(b)
    assert set(out) == {"loss", "log_loss_cap"} and torch.equal(out["loss"].detach(), out["log_loss_cap"])
    assert float(bare.wma_count.sum()) > 0  # W_ma stays
    # the absent example's audio slot is never read: no A_rec stands in, the masked zeros add nothing
    bare.eval()
    other = dict(b, audio=b["audio"].clone())
    other["audio"][1] = 1e3
    with torch.no_grad():
        lo = bare.decode(bare.encode(b, None, bare.audio_input(b, None)), b["caption_ids"])[0]
        hi = bare.decode(bare.encode(other, None, bare.audio_input(other, None)), other["caption_ids"])[0]
    assert torch.equal(lo[1], hi[1]) and not torch.equal(lo[0], bare.decode(bare.encode(
        dict(b, audio=b["audio"] * 2), None, b["audio"] * 2), b["caption_ids"])[0][0])  # the real audio is used
    rows = bare.predict(b)
    assert [r["explain"]["audio"] for r in rows] == ["real", "masked"]
    out = _one_training_step(bare, b)
    assert set(out) == {"loss", "log_loss_cap"}
    bare.save_pretrained(tmp_path / "m")
    back = type(bare).from_pretrained(tmp_path / "m")
    assert back.avmm is None and [r["prediction"] for r in back.predict(b)] == [r["prediction"] for r in bare.predict(b)]


def test_without_audio_the_captioner_is_video_only():
    model = _tiny(use_audio=False)
    cfg = model.config
    assert (cfg["use_audio"], cfg["use_avmm"], cfg["use_wma"]) == (False, False, False)
    names = list(model.state_dict())
    audio_parts = ("audio_in.", "avmm.", "encoder.audio_self.", "encoder.cross_", "encoder.norm_va.", ".att_va.",
                   ".gate_va.")
    assert not [n for n in names if any(part in n or n.startswith(part) for part in audio_parts)]
    assert any(".att_av." in n for n in names) and any(".gate_av." in n for n in names)  # the video branch + gate
    assert len(model.encoder.video_self) == cfg["enc_layers"] + cfg["cross_layers"]  # the video path keeps its depth
    b = _batch(model, has_audio=(True, False))
    model.train()
    out = model(b)
    assert set(out) == {"loss", "log_loss_cap"}
    assert float(model.wma_count.sum()) == 0  # no psi without the audio gate: W_ma is off
    # whatever the audio (values, presence), the loss and the captions are the same
    other = dict(b, audio=torch.randn(2, 3, 5) * 100, has_audio=torch.tensor([False, True]))
    assert torch.equal(model(other)["loss"], out["loss"])
    full = _tiny()
    full.train()
    assert not torch.equal(full(other)["log_loss_cap"], full(b)["log_loss_cap"])  # TAVT itself does read it
    rows = model.predict(b)
    assert [r["prediction"] for r in model.predict(other)] == [r["prediction"] for r in rows]
    assert all(w["alpha_va"] == 0 and 0 < w["alpha_av"] < 1 for r in rows for w in r["explain"]["words"])
    assert [r["explain"]["audio"] for r in rows] == ["none", "none"]
    logits, av, va = model.decode(model.encode(b, None, None), b["caption_ids"])
    assert logits.shape == (2, b["caption_ids"].shape[1], len(model.vocab)) and va is None
    _one_training_step(model, b)


def test_without_real_audio_the_encoder_is_fed_a_rec_everywhere():
    model = _tiny(use_real_audio=False)
    model.eval()
    b = _batch(model, has_audio=(True, True))
    _, _, a_rec = model.prefix(b)
    assert torch.equal(model.audio_input(b, a_rec), a_rec)
    other = dict(b, audio=b["audio"] * 3 + 1)
    # the reconstructor fixed, the captions and L_cap do not depend on the real audio; L_rec and L_dis do
    assert [r["prediction"] for r in model.predict(other)] == [r["prediction"] for r in model.predict(b)]
    assert [r["explain"]["audio"] for r in model.predict(b)] == ["A_rec", "A_rec"]
    with torch.no_grad():
        o1, o2 = model(b), model(other)
    assert torch.equal(o1["log_loss_cap"], o2["log_loss_cap"]) and torch.equal(o1["log_loss_dep"], o2["log_loss_dep"])
    assert float(o1["log_loss_rec"]) != float(o2["log_loss_rec"]) and float(o1["log_loss_dis"]) != float(o2["log_loss_dis"])
    assert {"log_loss_cap", "log_loss_rec", "log_loss_dis", "log_loss_dep"} <= set(o1)
    # only the caption loss on: it reaches the reconstructor's head through A_rec (in TAVT, with every
    # example's real audio fed, it does not)
    for m, reached in ((_tiny(use_real_audio=False, rec_weight=0.0, **{"lambda": 0.0, "mu": 0.0}), True),
                       (_tiny(rec_weight=0.0, **{"lambda": 0.0, "mu": 0.0}), False)):
        m.train()
        m(b)["loss"].backward()
        g = m.avmm.phi.weight.grad
        assert (g is not None and float(g.abs().sum()) > 0) is reached
    _one_training_step(model, b)


def test_the_switches_take_booleans_and_refuse_what_cannot_be_built():
    from vxt.errors import VxtError

    for bad in ({"use_real_audio": False, "use_avmm": False}, {"use_real_audio": False, "use_audio": False},
                {"use_avmm": "no"}, {"use_audio": 0}):
        with pytest.raises(VxtError):
            _tiny(**bad)
    from vxt.models.tavt.build import split_options

    model, _ = split_options("tavt-tiny", {"use_avmm": False})
    assert model["use_avmm"] is False and model["use_audio"] is True and model["use_real_audio"] is True


# ---------------------------------------------------------------- the command line, end to end


@pytest.fixture(scope="module")
def domains_data(tiny_synth, tmp_path_factory) -> Path:
    """A copy of tiny_synth's caption examples with a ``domain`` each; the target (sketch) has no audio."""
    out = tmp_path_factory.mktemp("tavt") / "synth-domains"
    shutil.copytree(tiny_synth, out, ignore=shutil.ignore_patterns("cache", "features"))
    for split in ("train", "val", "test"):
        rows = [json.loads(x) for x in (out / f"{split}.jsonl").read_text().splitlines() if x.strip()]
        caps = [r for r in rows if r.get("task") == "caption"]
        for i, r in enumerate(caps):
            r["domain"] = DOMAINS[i % len(DOMAINS)]
            if r["domain"] == "sketch":
                r["missing"] = ["audio"]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in caps))
    return out


def test_meta_train_adapt_and_decode(run_cli, domains_data, no_java, tmp_path):
    data = str(domains_data)
    meta = tmp_path / "meta"
    code, _, err = run_cli("train", "--task", "caption", "--model", "tavt-tiny", "--data", data, "--out", meta,
                           "--set", "source_domains=photo,cartoon,night", "--max-steps", "2", "--batch-size", "2",
                           "--eval-limit", "1", "--set", "second_order=true")
    assert code == 0, err
    rows = [json.loads(x) for x in (meta / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "loss" in r][-1]
    assert {"loss_cap", "loss_rec", "loss_dis", "loss_dep", "inner_loss"} <= set(logged)
    cfg = json.loads((meta / "config.json").read_text())
    assert cfg["arch"] == "tavt" and cfg["source_domains"] == ["photo", "cartoon", "night"]
    assert cfg["freeze_avmm"] is False

    adapt = tmp_path / "adapt"
    code, _, err = run_cli("train", "--task", "caption", "--model", "tavt-tiny", "--data", data, "--out", adapt,
                           "--stage", "adapt", "--set", "target_domain=sketch", "--ckpt", meta, "--max-steps", "1",
                           "--batch-size", "2", "--eval-limit", "1")
    assert code == 0, err
    from safetensors.torch import load_file

    cfg = json.loads((adapt / "config.json").read_text())
    assert cfg["stage"] == "adapt" and cfg["freeze_avmm"] is True  # the target has no audio: AVMM frozen
    before, after = load_file(str(meta / "model.safetensors")), load_file(str(adapt / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("avmm."))
    assert not torch.equal(before["decoder.out.weight"], after["decoder.out.weight"])

    code, out, err = run_cli("decode", data, "--task", "caption", "--split", "test", "--set", "domain=sketch",
                             "--ckpt", adapt, "--explain", "--greedy")
    assert code == 0, err
    preds = json.loads((adapt / "preds_test.json").read_text())["predictions"]
    sketch = [json.loads(x)["id"] for x in (domains_data / "test.jsonl").read_text().splitlines()
              if json.loads(x)["domain"] == "sketch"]
    assert [p["id"] for p in preds] == sketch and all(p["prediction"] for p in preds)
    assert "alpha_av / alpha_va" in out and "A_rec" in out


def test_meta_none_trains_on_the_pooled_sources(domains_data, no_java, tmp_path):
    from vxt.train.loop import TrainOptions, train

    opts = TrainOptions(task="caption", model="tavt-tiny", data=str(domains_data), out=str(tmp_path / "pooled"),
                        overrides={"meta": "none", "source_domains": "photo,cartoon"}, max_steps=1, batch_size=2,
                        evaluate=False, log_every=1)
    assert train(opts)["steps"] == 1
    rows = [json.loads(x) for x in (tmp_path / "pooled" / "metrics.jsonl").read_text().splitlines()]
    assert "inner_loss" not in rows[0] and "loss_cap" in rows[0]
    run = json.loads((tmp_path / "pooled" / "run.json").read_text())
    assert run["steps_per_epoch"] == 2  # the 4 source examples (2 domains x 2) of the 8, in batches of 2


def test_vggish_takes_the_released_key_layout():
    """VGGish in torchvggish's layout (no head in the file: the head is re-initialised); small patches and
    built empty here, to stay fast."""
    from vxt.modalities.base import build_classifier

    vgg = build_classifier("vggish", ["a", "b"], {"mel_bins": 16, "patch_frames": 16}, empty=True)
    keys = set(vgg.checkpoint_state_dict())
    assert {"features.0.weight", "features.13.bias", "embeddings.0.weight", "embeddings.4.weight"} <= keys
    released = {k: torch.zeros_like(v) for k, v in vgg.checkpoint_state_dict().items() if not k.startswith("fc.")}
    released["pproc._pca_means"] = torch.zeros(128)  # the PCA post-processing is skipped
    vgg.load_checkpoint_state_dict(released, source="vggish-10086976.pth")
    assert vgg.features(torch.full((2, 1, 10, 16), -40.0)).shape == (2, 128)  # a short tail is padded


def test_two_processes_keep_one_wma_table(domains_data, no_java, tmp_path):
    """Under DDP each rank adds every rank's words to W_ma: the table counts what one process counts."""
    from safetensors.torch import load_file

    from vxt.train.loop import TrainOptions, train

    tables = []
    for n in (1, 2):
        opts = TrainOptions(task="caption", model="tavt-tiny", data=str(domains_data), out=str(tmp_path / f"n{n}"),
                            overrides={"source_domains": "photo,cartoon,night"}, max_steps=2, batch_size=4,
                            nproc=n, evaluate=False)
        train(opts)
        tables.append(load_file(str(tmp_path / f"n{n}" / "last" / "model.safetensors"))["wma_count"])
    assert float(tables[0].sum()) > 0 and bool((tables[0] == tables[1]).all())
    assert json.loads((tmp_path / "n2" / "run.json").read_text())["world_size"] == 2


@pytest.mark.parametrize("switch", ["use_avmm", "use_audio", "use_real_audio"])
def test_each_switch_meta_trains_and_adapts(switch, domains_data, no_java, tmp_path):
    """The builder and ``--stage adapt`` with each ablation: what is fitted and frozen, what the checkpoint holds."""
    from safetensors.torch import load_file

    from vxt.train.loop import TrainOptions, train

    meta, adapt = tmp_path / "meta", tmp_path / "adapt"
    train(TrainOptions(task="caption", model="tavt-tiny", data=str(domains_data), out=str(meta), max_steps=1,
                       batch_size=2, evaluate=False, log_every=1,
                       overrides={"source_domains": "photo,cartoon,night", switch: False}))
    cfg = json.loads((meta / "config.json").read_text())
    assert cfg[switch] is False
    avmm = switch == "use_real_audio"  # w/o AVMM and w/o audio fit no clusters and have no AVMM weights
    assert (cfg["cluster_source"] == "train") is avmm and (cfg["n_cluster_units"] > 0) is avmm
    keys = set(load_file(str(meta / "model.safetensors")))
    assert ("avmm.clusters" in keys) is avmm and ("audio_in.weight" in keys) is (switch != "use_audio")
    logged = [json.loads(x) for x in (meta / "metrics.jsonl").read_text().splitlines()][-1]
    assert "inner_loss" in logged and ("loss_rec" in logged) is avmm  # meta-learned; L_rec only with an AVMM

    # the target (sketch) has no audio: only a model with an AVMM has one to freeze
    train(TrainOptions(task="caption", model="tavt-tiny", data=str(domains_data), out=str(adapt), max_steps=1,
                       batch_size=2, evaluate=False, overrides={"stage": "adapt", "target_domain": "sketch",
                                                                "ckpt": str(meta)}))
    cfg = json.loads((adapt / "config.json").read_text())
    assert cfg[switch] is False and cfg["freeze_avmm"] is avmm and cfg["stage"] == "adapt"
