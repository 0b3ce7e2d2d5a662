"""The text tokenizer (training, special ids, save/load) and the T5 backbone helpers."""

from __future__ import annotations

import json

import pytest
import torch

from vxt.errors import VxtError
from vxt.models.vx2text import text as textlib


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


TEXTS = [
    "a red circle moves left while a drum plays",
    "Look, it's Anna!",
    "what sound is heard?",
    "the blue square grows; a high beep sounds",
    "is it red? yes it is red",
] * 5
NAMES = ["playing guitar", "abseiling", "Rising whistle", "moves left"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    return textlib.train_tokenizer(TEXTS + NAMES, out, vocab_size=300), out


def test_special_tokens_follow_t5_convention(tok):
    t, _ = tok
    assert (t.pad_token_id, t.eos_token_id, t.unk_token_id) == (0, 1, 2)
    ids = [t.convert_tokens_to_ids(x) for x in textlib.EXTRA_TOKENS]
    assert ids == list(range(3, 3 + len(textlib.EXTRA_TOKENS)))
    assert t.convert_tokens_to_ids("<sep>") != t.unk_token_id


def test_lowercase_roundtrip_and_no_unk_for_known_text(tok):
    t, _ = tok
    ids = t("Look, it's ANNA!", add_special_tokens=False)["input_ids"]
    assert t.unk_token_id not in ids
    assert t.decode(ids, skip_special_tokens=True) == "look, it's anna!"
    # category names are in the training texts: whole-word tokens
    for name in NAMES:
        pieces = t(name, add_special_tokens=False)["input_ids"]
        assert t.unk_token_id not in pieces
        assert t.decode(pieces) == name.lower()
    # an unseen word is spelled with subwords, not <unk>
    assert t.unk_token_id not in t("zebra xylophone 42", add_special_tokens=False)["input_ids"]


def test_save_load_roundtrip(tok):
    t, out = tok
    assert (out / "tokenizer.json").is_file()
    loaded = textlib.load_tokenizer(out)
    text = "the blue square grows; a high beep sounds"
    assert loaded(text, add_special_tokens=False)["input_ids"] == t(text, add_special_tokens=False)["input_ids"]
    assert len(loaded) == len(t)
    assert loaded.convert_tokens_to_ids("<answer>") == t.convert_tokens_to_ids("<answer>")


def test_training_is_deterministic(tmp_path):
    a = textlib.train_tokenizer(TEXTS + NAMES, tmp_path / "a", vocab_size=300)
    b = textlib.train_tokenizer(TEXTS + NAMES, tmp_path / "b", vocab_size=300)
    assert a.get_vocab() == b.get_vocab()
    assert json.loads((tmp_path / "a" / "tokenizer.json").read_text())["model"]["merges"] == json.loads(
        (tmp_path / "b" / "tokenizer.json").read_text()
    )["model"]["merges"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(VxtError, match="no tokenizer here"):
        textlib.load_tokenizer(tmp_path)
    with pytest.raises(VxtError, match="too small"):
        textlib.train_tokenizer(TEXTS, None, vocab_size=10)
    with pytest.raises(VxtError, match="not a saved T5"):
        textlib.load_t5(str(tmp_path))
    with pytest.raises(VxtError, match="does not download"):
        textlib.load_t5("nobody/not-a-cached-model")


def test_data_tokenizer_trains_once_and_is_reused(tmp_path):
    from vxt.data.manifest import write_manifest

    write_manifest(tmp_path / "train.jsonl", [
        {"id": "a", "task": "caption", "targets": ["a green triangle blinks"],
         "subtitles": [{"start": 0.0, "end": 1.0, "text": "hello emma"}]},
    ])
    t1 = textlib.data_tokenizer(tmp_path, ["low hum"], vocab_size=200)
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file()
    mtime = (tmp_path / "tokenizer" / "tokenizer.json").stat().st_mtime_ns
    t2 = textlib.data_tokenizer(tmp_path, ["something else"], vocab_size=200)
    assert (tmp_path / "tokenizer" / "tokenizer.json").stat().st_mtime_ns == mtime
    assert t1.get_vocab() == t2.get_vocab()
    assert t1.unk_token_id not in t1("hello emma, low hum", add_special_tokens=False)["input_ids"]


def test_build_t5_follows_tokenizer_and_roundtrips_config(tok):
    t, _ = tok
    t5 = textlib.build_t5({"d_model": 32, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2,
                           "d_kv": 16}, t)
    assert t5.config.vocab_size == len(t)
    assert t5.config.decoder_start_token_id == t.pad_token_id == 0
    assert t5.config.eos_token_id == t.eos_token_id == 1
    cfg = textlib.t5_config_dict(t5)
    json.dumps(cfg)
    again = textlib.t5_from_config_dict(cfg)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in t5.state_dict().items()}
    with pytest.raises(VxtError, match="T5 hyperparameters"):
        textlib.build_t5({"feed_forward_proj": "not-an-act-fn-at-all"}, t)


def test_t5_v11_scaling_survives_the_config_roundtrip():
    from transformers import T5Config, T5ForConditionalGeneration

    v11 = T5ForConditionalGeneration(T5Config(vocab_size=10, d_model=8, d_ff=8, num_layers=1, num_heads=1, d_kv=8,
                                              tie_word_embeddings=False))
    assert v11.config.scale_decoder_outputs is False
    assert textlib.t5_from_config_dict(textlib.t5_config_dict(v11)).config.scale_decoder_outputs is False


def test_add_special_tokens_to_a_pretrained_style_tokenizer(tmp_path):
    t = textlib.train_tokenizer(TEXTS, None, vocab_size=200, extra_tokens=())
    assert t.convert_tokens_to_ids("<sep>") == t.unk_token_id
    n = textlib.add_special_tokens(t)
    assert n == len(textlib.EXTRA_TOKENS)
    assert textlib.add_special_tokens(t) == 0
    ids = [t.convert_tokens_to_ids(x) for x in textlib.EXTRA_TOKENS]
    assert t.unk_token_id not in ids and len(set(ids)) == len(ids)
    assert torch.tensor(ids).max() < len(t)
