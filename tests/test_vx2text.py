"""VX2TEXT end to end on tiny configurations: inputs, losses, baselines, save/load, backbones."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from vxt.decoding import DecodingOptions
from vxt.errors import VxtError
from vxt.models import build_model, load_model
from vxt.models.vx2text import VX2Text


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


VIDEO_LABELS = ["moves left", "moves right", "grows", "shrinks", "blinks", "stays still"]
AUDIO_LABELS = ["low hum", "high beep", "rising whistle", "drum", "rain", "silence"]
SUBS = [{"start": 1.0, "end": 2.0, "text": "it's anna"}, {"start": 0.0, "end": 1.0, "text": "look,"}]
CANDS = ["a drum", "rain", "a low hum", "a high beep", "silence"]


def caption_ex(i: int, **kw) -> dict:
    return {"id": f"clip-{i}-caption", "task": "caption", "subtitles": SUBS,
            "targets": ["a red circle moves left while a drum plays", "anna's red circle moves left"], **kw}


def qa_ex(i: int, **kw) -> dict:
    return {"id": f"clip-{i}-qa", "task": "qa", "subtitles": SUBS, "question": "what sound is heard?",
            "candidates": CANDS, "answer": i % 5, "targets": [CANDS[i % 5]], **kw}


def dialog_ex(i: int, **kw) -> dict:
    return {"id": f"clip-{i}-dialog", "task": "dialog", "subtitles": SUBS,
            "history": [["is it red?", "yes it is red"], ["does it move?", "it moves left"]],
            "question": "what sound is there?", "targets": ["a drum plays"], **kw}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from vxt.data.manifest import write_manifest

    d = tmp_path_factory.mktemp("data")
    (d / "labels").mkdir()
    (d / "labels" / "video.txt").write_text("\n".join(VIDEO_LABELS) + "\n")
    (d / "labels" / "audio.txt").write_text("\n".join(AUDIO_LABELS) + "\n")
    exs = [f(i) for i in range(4) for f in (caption_ex, qa_ex, dialog_ex)]
    write_manifest(d / "train.jsonl", exs)
    return d


def media(seed: int, video: bool = True, audio: bool = True, clips: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    return {"video": rng.integers(0, 255, (clips, 8, 64, 64, 3), dtype=np.uint8) if video else None,
            "audio": rng.standard_normal((101, 64)).astype(np.float32) if audio else None}


def items(make, n: int = 4, seed: int = 0) -> list[dict]:
    return [{"example": make(i), "media": media(seed + i)} for i in range(n)]


def build(data_dir, **overrides):
    torch.manual_seed(0)
    return build_model("vx2text-tiny", overrides, data_dir=data_dir)


# ---------------------------------------------------------------- registry and config


def test_presets_are_registered_with_the_papers_settings():
    from vxt.registry import MODELS

    assert {"vx2text-tiny", "vx2text-small", "vx2text-base"} <= set(MODELS.names())
    base = MODELS.default_config("vx2text-base")
    assert (base["video_classifier"], base["audio_classifier"]) == ("r2plus1d_34", "cnn14")
    assert base["text_backbone"].endswith("t5-base")
    assert (base["k_video"], base["k_audio"], base["tokenization"]) == (12, 6, "gumbel")
    tiny = MODELS.default_config("vx2text-tiny")
    assert tiny["text"]["d_model"] == 128 and tiny["text"]["num_layers"] == 2


def test_config_errors_are_one_line(data_dir):
    with pytest.raises(VxtError, match="unknown option"):
        build(data_dir, not_an_option=1)
    with pytest.raises(VxtError, match="tokenization must be"):
        build(data_dir, tokenization="soft")
    with pytest.raises(VxtError, match="needs --task qa"):
        build(data_dir, head="discriminative")
    with pytest.raises(VxtError, match="unknown modality"):
        build(data_dir, modalities=["smell"])
    with pytest.raises(VxtError, match="does not do the task"):
        build(data_dir, task="dense")


def test_config_is_json_and_records_what_rebuilds_the_model(data_dir):
    model = build(data_dir, task="qa", text={"d_model": 64, "d_kv": 16})
    cfg = json.loads(json.dumps(model.config))
    assert cfg["name"] == "vx2text-tiny" and cfg["task"] == "qa" and model.task == "qa"
    assert cfg["video_labels"] == VIDEO_LABELS and cfg["audio_labels"] == AUDIO_LABELS
    assert cfg["t5_config"]["d_model"] == 64 and cfg["text"]["d_ff"] == 512  # nested override merged
    assert (data_dir / "tokenizer" / "tokenizer.json").is_file()


# ---------------------------------------------------------------- inputs


def test_encoder_input_layout(data_dir):
    """e_task e_sep V e_sep A e_sep subtitles </s>, with the subtitles joined in time order."""
    model = build(data_dir, k_video=2, k_audio=3)
    model.eval()
    batch = model.collate(items(caption_ex, 2), train=False)
    tok = model.tokenizer
    sub_ids = tok("look, it's anna", add_special_tokens=False)["input_ids"]
    assert batch["seg.subtitles"][0, : len(sub_ids)].tolist() == sub_ids
    captured = {}
    model.t5.encoder.register_forward_hook(lambda mod, args, kwargs, out: captured.update(kwargs), with_kwargs=True)
    with torch.no_grad():
        cont, names = model.continuous_tokens(batch)
        model.encode(batch["task_ids"], cont, model.segments(batch))
    x = captured["inputs_embeds"][0]
    n_v, n_a = cont["video"][0].shape[0], cont["audio"][0].shape[0]
    name_len = lambda ns: sum(len(tok(n, add_special_tokens=False)["input_ids"]) for n in ns)  # noqa: E731
    assert n_v == name_len(names["video"][0]) and n_a == name_len(names["audio"][0])
    E = model.t5.get_input_embeddings().weight
    ids = lambda *ts: torch.tensor([tok.convert_tokens_to_ids(t) for t in ts])  # noqa: E731
    assert torch.equal(x[:2], E[ids("<caption>", "<sep>")])
    assert torch.equal(x[2 + n_v], E[ids("<sep>")][0])
    assert torch.equal(x[3 + n_v + n_a], E[ids("<sep>")][0])
    tail = x[4 + n_v + n_a : 4 + n_v + n_a + len(sub_ids) + 1]
    assert torch.equal(tail, E[torch.tensor(sub_ids + [tok.eos_token_id])])
    assert int(captured["attention_mask"][0].sum()) == 5 + n_v + n_a + len(sub_ids)
    # the video tokens are the category-name embeddings (initialised from the text embeddings)
    first = names["video"][0][0]
    first_ids = tok(first, add_special_tokens=False)["input_ids"]
    assert torch.equal(x[2 : 2 + len(first_ids)], E[torch.tensor(first_ids)])


def test_subtitles_only_builds_inputs_without_category_tokens(data_dir):
    model = build(data_dir, modalities=["subtitles"])
    assert len(model.classifiers) == 0 and model.continuous == ()
    batch = model.collate(items(caption_ex, 2), train=True, rng=random.Random(0))
    assert "video" not in batch and "audio" not in batch
    with torch.no_grad():
        cont, _ = model.continuous_tokens(batch)
        enc = model.encode(batch["task_ids"], cont, model.segments(batch))
    n_sub = int(batch["seg.subtitles.len"][0])
    assert int(enc.mask[0].sum()) == 1 + 1 + n_sub + 1  # <caption> <sep> subtitles </s>
    out = model(batch)
    assert torch.isfinite(out["loss"])
    pred = model.predict(batch, DecodingOptions(greedy=True, max_length=5))[0]
    assert set(pred["explain"]) == {"text"}


def test_missing_modalities_contribute_no_tokens(data_dir):
    model = build(data_dir, task="qa", k_video=2, k_audio=2)
    its = items(qa_ex, 4)
    its[0]["media"]["audio"] = None                      # media None
    its[1]["example"] = qa_ex(1, missing=["audio"])      # declared missing
    its[2]["media"]["video"] = None
    its[3]["media"] = {"video": None, "audio": None}
    model.train()
    batch = model.collate(its, train=True, rng=random.Random(0))
    assert batch["audio.len"].tolist() == [0, 0, 101, 0]
    assert batch["video.mask"].any(1).tolist() == [True, True, False, False]
    out = model(batch)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    preds = model.predict(model.collate(its, train=False), DecodingOptions())
    assert [p["explain"]["audio"] == [] for p in preds] == [True, True, False, True]
    assert [p["explain"]["video"] == [] for p in preds] == [False, False, True, True]
    assert all(0 <= p["choice"] < 5 and p["prediction"] in CANDS for p in preds)
    # no audio anywhere in the batch
    its = items(qa_ex, 2)
    for it in its:
        it["media"]["audio"] = None
    assert torch.isfinite(model(model.collate(its, train=True, rng=random.Random(0)))["loss"])


def test_training_collate_samples_one_clip_evaluation_keeps_all(data_dir):
    model = build(data_dir)
    its = items(caption_ex, 2)
    assert model.collate(its, train=True, rng=random.Random(0))["video"].shape[:2] == (2, 1)
    ev = model.collate(its, train=False)
    assert ev["video"].shape[:3] == (2, 2, 3) and bool(ev["video.mask"].all())
    assert set(k for k, v in ev.items() if k != "ids" and not isinstance(v, torch.Tensor)) == set()


def test_dialog_inputs_hold_history_and_question(data_dir):
    model = build(data_dir, task="dialog", modalities=["history", "question"])
    batch = model.collate(items(dialog_ex, 2), train=False)
    p = model.predict(batch, DecodingOptions(beam_size=2, max_length=4))[0]
    assert p["explain"]["text"] == {"history": "is it red? yes it is red does it move? it moves left",
                                    "question": "what sound is there?"}


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("overrides", [{"head": "discriminative"}, {"objective": "qa+qg"},
                                       {"objective": "cycle", "max_target_tokens": 6}])
def test_baselines_give_finite_losses_and_gradients(data_dir, overrides):
    model = build(data_dir, task="qa", k_video=2, k_audio=2, **overrides)
    model.train()
    batch = model.collate(items(qa_ex, 3), train=True, rng=random.Random(0))
    out = model(batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.t5.encoder.parameters())
    if overrides.get("head") == "discriminative":
        assert model.t5.decoder is None
        assert model.score_head.weight.grad is not None
    else:
        parts = [v for k, v in out.items() if k.startswith("loss_")]
        assert len(parts) == (2 if overrides["objective"] == "qa+qg" else 4)
        assert float(out["loss"].detach()) == pytest.approx(float(sum(parts) / len(parts)), rel=1e-5)
    preds = model.predict(model.collate(items(qa_ex, 3), train=False), DecodingOptions())
    assert all(0 <= p["choice"] < 5 for p in preds)


def test_a_few_steps_overfit_a_fixed_caption_batch(data_dir):
    model = build(data_dir, k_video=2, k_audio=2)
    model.train()
    its = items(caption_ex, 2)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(10):
        batch = model.collate(its, train=True, rng=random.Random(step))
        loss = model(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.35 * losses[0], losses


# ---------------------------------------------------------------- save / load / backbones


@pytest.mark.parametrize("task,make", [("caption", caption_ex), ("qa", qa_ex)])
def test_save_load_predict_identical(data_dir, tmp_path, task, make):
    model = build(data_dir, task=task)
    model.eval()
    its = items(make, 3)
    opts = DecodingOptions(beam_size=3, max_length=8)
    before = model.predict(model.collate(its, train=False), opts)
    model.save_pretrained(tmp_path / "ckpt")
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    assert not any(f.endswith((".bin", ".pt", ".pth", ".pkl")) for f in files)
    for loaded in (VX2Text.from_pretrained(tmp_path / "ckpt"), load_model(tmp_path / "ckpt")):
        assert loaded.config == json.loads(json.dumps({**model.config, "class": "vxt.models.vx2text:VX2Text"}))
        sd_a, sd_b = model.state_dict(), loaded.state_dict()
        assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
        after = loaded.predict(loaded.collate(its, train=False), opts)
        assert after == before
    if task == "qa":
        assert all("choice" in p for p in before)


def test_discriminative_and_frozen_models_roundtrip(data_dir, tmp_path):
    model = build(data_dir, task="qa", head="discriminative", tokenization="frozen")
    model.save_pretrained(tmp_path / "d")
    loaded = load_model(tmp_path / "d")
    assert loaded.t5.decoder is None and not any(p.requires_grad for p in loaded.classifiers.parameters())
    batch = model.collate(items(qa_ex, 2), train=False)
    model.eval()
    assert loaded.predict(batch, DecodingOptions()) == model.predict(batch, DecodingOptions())


def test_load_errors(tmp_path):
    with pytest.raises(VxtError, match="config.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"arch": "vx2text"}))
    with pytest.raises(VxtError):
        VX2Text.from_pretrained(tmp_path)


def test_t5_saved_to_a_dir_loads_as_the_text_backbone(data_dir, tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    from vxt.models.vx2text.text import data_tokenizer

    tok = data_tokenizer(data_dir, [])
    torch.manual_seed(3)
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=len(tok) + 7, d_model=48, d_ff=96, num_layers=1,
                                             num_decoder_layers=1, num_heads=2, d_kv=24,
                                             decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
    t5.save_pretrained(tmp_path / "t5")
    model = build(data_dir, text_backbone=str(tmp_path / "t5"))
    assert model.t5.config.d_model == 48 and model.config["t5_config"]["d_model"] == 48
    sd = t5.state_dict()
    assert all(torch.equal(v, sd[k]) for k, v in model.t5.state_dict().items())
    # categories are initialised from the backbone's own embeddings
    name_ids = tok("rising whistle", add_special_tokens=False)["input_ids"]
    row = model.category_embeddings["audio"].weight[AUDIO_LABELS.index("rising whistle"), : len(name_ids)]
    assert torch.equal(row, t5.shared.weight[torch.tensor(name_ids)])
    batch = model.collate(items(caption_ex, 2), train=True, rng=random.Random(0))
    assert torch.isfinite(model(batch)["loss"])


def test_backbone_dir_with_its_own_tokenizer_gets_the_special_tokens(data_dir, tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    from vxt.models.vx2text.text import train_tokenizer

    own = train_tokenizer(["a tokenizer of another model", *VIDEO_LABELS, *AUDIO_LABELS], None, vocab_size=120,
                          extra_tokens=())
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=len(own), d_model=32, d_ff=64, num_layers=1, num_heads=2,
                                             d_kv=16, decoder_start_token_id=0))
    t5.save_pretrained(tmp_path / "t5")
    own.save_pretrained(tmp_path / "t5")
    model = build(data_dir, text_backbone=str(tmp_path / "t5"))
    assert model.config["tokenizer_source"].startswith("backbone:")
    assert len(model.tokenizer) == len(own) + 5
    assert model.t5.config.vocab_size == len(model.tokenizer)  # resized for <caption> ... <sep>
    batch = model.collate(items(caption_ex, 2), train=True, rng=random.Random(0))
    assert torch.isfinite(model(batch)["loss"])


def test_long_inputs_are_cut_longest_segment_first(data_dir):
    from vxt.models.vx2text import fit_lengths

    assert fit_lengths([3, 4], 10) == [3, 4]
    assert fit_lengths([100, 5, 20], 40) == [17, 5, 17]
    assert sum(fit_lengths([100, 5, 20], 40)) <= 40
    assert fit_lengths([7, 9], -3) == [0, 0]
    long_subs = [{"start": float(i), "end": i + 1.0, "text": f"line {i} of a very long talk"} for i in range(40)]
    model = build(data_dir, task="qa", modalities=["subtitles", "question", "candidates"], max_input_tokens=60)
    its = [{"example": qa_ex(0, subtitles=long_subs), "media": media(0)}]
    batch = model.collate(its, train=False)
    assert int(batch["seg.subtitles.len"][0]) > 60
    captured = {}
    model.t5.encoder.register_forward_hook(lambda mod, args, kwargs, out: captured.update(kwargs), with_kwargs=True)
    with torch.no_grad():
        model.encode(batch["task_ids"], {}, model.segments(batch))
    x = captured["inputs_embeds"][0]
    assert x.shape[0] == 60
    E = model.t5.get_input_embeddings().weight
    n_c = int(batch["seg.candidates.len"][0])
    cand_ids = batch["seg.candidates"][0, :n_c]
    # all candidates survive, right before </s>
    assert torch.equal(x[-1 - n_c : -1], E[cand_ids])
    assert torch.equal(x[-1], E[model.eos_id])


def test_classifier_lr_scale_gives_the_classifiers_their_own_learning_rate(data_dir):
    m = build(data_dir, task="caption", classifier_lr_scale=0.1)
    groups = m.param_groups(1e-3)
    clf = {id(p) for p in m.classifiers.parameters()}
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert {id(p) for p in groups[1]["params"]} == clf and not clf & {id(p) for p in groups[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in m.parameters() if p.requires_grad)
    # 0: the classifiers keep their weights through an optimizer step; everything else trains
    m0 = build(data_dir, task="caption", classifier_lr_scale=0)
    opt = torch.optim.Adam(m0.param_groups(1e-2), lr=1e-2)
    before = {k: v.clone() for k, v in m0.state_dict().items()}
    m0(m0.collate(items(caption_ex), train=True, rng=random.Random(0)))["loss"].backward()
    opt.step()
    after = m0.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and not any(k.startswith("classifiers.") and "running" not in k and "num_batches" not in k for k in changed)
    with pytest.raises(VxtError, match="classifier_lr_scale must be a number >= 0"):
        build(data_dir, classifier_lr_scale=-1)
