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
