"""Building VX2TEXT from a preset and overrides for a data dir, and the presets' registry entries."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from vxt.errors import VxtError
from vxt.models.vx2text import text as textlib
from vxt.models.vx2text.config import (
    _DERIVED,
    _DESCRIPTIONS,
    BASE_CONFIG,
    CLASS_PATH,
    PRESETS,
    build_classifiers,
    resolve_labels,
    validate,
)
from vxt.models.vx2text.model import VX2Text
from vxt.registry import MODELS, merge_config
from vxt.utils import say_once


def _resolve_tokenizer(config: dict, data_dir: Path | None):
    """The tokenizer: ``tokenizer`` option > the backbone's own > DATA/tokenizer > trained on the category names."""
    names = [*config["video_labels"], *config["audio_labels"]]
    if config.get("tokenizer"):
        tok = textlib.load_tokenizer(config["tokenizer"])
        source = str(config["tokenizer"])
    elif config.get("text_backbone") and _backbone_tokenizer_available(config["text_backbone"]):
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(config["text_backbone"]), local_files_only=True)
        except (OSError, ValueError) as e:
            if not Path(str(config["text_backbone"])).exists():
                textlib.load_t5(str(config["text_backbone"]))  # raises the one-line "not cached" error
            raise VxtError(f"cannot load the tokenizer of the text backbone: {e}", path=str(config["text_backbone"])) from None
        source = f"backbone:{config['text_backbone']}"
    elif data_dir is not None:
        tok = textlib.data_tokenizer(data_dir, names, int(config["tokenizer_vocab_size"]))
        source = str(Path(data_dir) / textlib.TOKENIZER_DIRNAME)
    else:
        say_once("no data dir and no tokenizer given: training a tokenizer on the category names only")
        tok = textlib.train_tokenizer(names, None, vocab_size=int(config["tokenizer_vocab_size"]))
        source = "category-names"
    textlib.add_special_tokens(tok)
    if tok.pad_token_id is None or tok.eos_token_id is None:
        raise VxtError("the tokenizer needs <pad> and </s> tokens (T5 convention)", path=source)
    return tok, source


def _backbone_tokenizer_available(backbone: str) -> bool:
    p = Path(backbone)
    if p.exists():
        return textlib.has_tokenizer(p)
    return True  # a hub id: its tokenizer comes with it (from the local cache)


def build_vx2text(overrides: dict | None = None, data_dir: str | os.PathLike | None = None,
                  name: str = "vx2text-tiny") -> VX2Text:
    """Build preset ``name`` with ``overrides`` (nested dicts merge) for the data in ``data_dir``."""
    if name not in PRESETS:
        raise VxtError(f"unknown VX2TEXT preset {name!r} (known: {', '.join(PRESETS)})")
    config = merge_config(merge_config(BASE_CONFIG, PRESETS[name]), dict(overrides or {}))
    for k in _DERIVED:
        config.pop(k, None)
    validate(config, name)
    data = Path(data_dir) if data_dir is not None else None
    resolve_labels(config, data)
    tokenizer, source = _resolve_tokenizer(config, data)
    if config.get("text_backbone"):
        t5 = textlib.load_t5(str(config["text_backbone"]))
        if len(tokenizer) > t5.config.vocab_size:
            t5.resize_token_embeddings(len(tokenizer))
        t5.config.pad_token_id = tokenizer.pad_token_id
        t5.config.eos_token_id = tokenizer.eos_token_id
        t5.config.decoder_start_token_id = tokenizer.pad_token_id
        t5.generation_config.pad_token_id = tokenizer.pad_token_id
        t5.generation_config.eos_token_id = tokenizer.eos_token_id
        t5.generation_config.decoder_start_token_id = tokenizer.pad_token_id
    else:
        t5 = textlib.build_t5(config["text"], tokenizer)
    config["name"] = name
    config["class"] = CLASS_PATH
    config["t5_config"] = textlib.t5_config_dict(t5)
    config["tokenizer_source"] = source
    classifiers = build_classifiers(config, weights=True)
    return VX2Text(copy.deepcopy(config), tokenizer, t5, classifiers)


def _register(preset: str) -> None:
    def builder(overrides: dict | None = None, data_dir: str | os.PathLike | None = None, name: str = preset) -> VX2Text:
        return build_vx2text(overrides, data_dir, name=name)

    builder.__doc__ = _DESCRIPTIONS[preset]
    MODELS.register(preset, default_config=merge_config(BASE_CONFIG, PRESETS[preset]), description=_DESCRIPTIONS[preset],
                    tasks=("caption", "qa", "dialog"))(builder)


for _preset in PRESETS:
    _register(_preset)
