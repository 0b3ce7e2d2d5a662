"""VX2TEXT's configuration: every field with the tiny preset's values, the presets, and their checks.

Also the pieces that both building and reloading need (the classifiers and
label spaces a config names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from vxt.errors import VxtError
from vxt.models.vx2text.tokenization import TOKENIZATIONS
from vxt.tasks import CONTINUOUS, get_task, resolve_modalities

CLASS_PATH = "vxt.models.vx2text:VX2Text"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
HEADS = ("generative", "discriminative")
OBJECTIVES = ("standard", "qa+qg", "cycle")

#: every field of a VX2TEXT config, with the tiny preset's values
BASE_CONFIG: dict[str, Any] = {
    "arch": "vx2text",
    "task": "caption",
    # continuous modalities -> tokens
    "tokenization": "gumbel",
    "k_video": 12,
    "k_audio": 6,
    "gumbel_tau": 1.0,
    "classifier_lr_scale": 1.0,  # the classifiers' learning rate, relative to --lr (end-to-end fine-tuning)
    "modalities": None,  # None: every input the task can use; else a list (ablations)
    "video_classifier": "tiny-video",
    "audio_classifier": "tiny-audio",
    "video_options": {},  # hyperparameter overrides of the classifiers
    "audio_options": {},
    "video_weights": None,  # local weights (file or classifier dir)
    "audio_weights": None,
    "video_label_space": "kinetics400",
    "audio_label_space": "audioset",
    "labels_from_data": True,  # use DATA/labels/{video,audio}.txt when a data dir is given
    "video_labels": None,  # resolved label names (filled in at build)
    "audio_labels": None,
    # text
    "text_backbone": None,  # None: a T5 built from `text`; else a local dir or a cached hub id
    "text": {"d_model": 128, "d_ff": 512, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4, "d_kv": 32,
             "dropout_rate": 0.1, "feed_forward_proj": "relu"},
    "tokenizer": None,  # a tokenizer dir; None: the backbone's, else DATA/tokenizer (trained on first use)
    "tokenizer_vocab_size": 2000,
    "max_segment_tokens": 128,
    "max_input_tokens": 512,
    "max_target_tokens": 32,
    # heads and objectives
    "head": "generative",
    "objective": "standard",
}
#: keys filled in at build time (not user options)
_DERIVED = ("name", "class", "t5_config", "tokenizer_source", "decode")

PRESETS: dict[str, dict[str, Any]] = {
    "vx2text-tiny": {},
    "vx2text-small": {
        "video_classifier": "r2plus1d_18",
        "audio_classifier": "cnn14",
        "labels_from_data": False,
        "text_backbone": "google-t5/t5-small",
        "max_segment_tokens": 256,
    },
    "vx2text-base": {
        "video_classifier": "r2plus1d_34",
        "audio_classifier": "cnn14",
        "labels_from_data": False,
        "text_backbone": "google-t5/t5-base",
        "max_segment_tokens": 256,
    },
}
_DESCRIPTIONS = {
    "vx2text-tiny": "VX2TEXT, tiny: tiny classifiers + 2+2-layer T5 (d 128), tokenizer trained on the data (CPU)",
    "vx2text-small": "VX2TEXT, small: R(2+1)D-18 + CNN14 + t5-small",
    "vx2text-base": "VX2TEXT, base (the paper's): R(2+1)D-34 + CNN14 + t5-base",
}


def build_classifiers(config: dict, weights: bool) -> dict[str, nn.Module]:
    from vxt.modalities.base import build_classifier, create_classifier

    spec = get_task(config["task"])
    mods = resolve_modalities(spec, config.get("modalities"))
    out = {}
    for m in CONTINUOUS:
        if m not in mods:
            continue
        name, labels, opts = config[f"{m}_classifier"], config[f"{m}_labels"], dict(config.get(f"{m}_options") or {})
        w = config.get(f"{m}_weights") if weights else None
        if weights:
            out[m] = create_classifier(name, labels=labels, weights=w, **opts)
        else:
            out[m] = build_classifier(name, labels, opts)
        if out[m].modality != m:
            raise VxtError(f"{m}_classifier={name!r} is a {out[m].modality} classifier")
    return out


def resolve_labels(config: dict, data_dir: Path | None) -> None:
    from vxt.data.manifest import read_label_space
    from vxt.modalities import load_label_space

    for m in CONTINUOUS:
        if config.get(f"{m}_labels"):
            config[f"{m}_labels"] = [str(x) for x in config[f"{m}_labels"]]
            continue
        names = None
        if data_dir is not None and config.get("labels_from_data"):
            names = read_label_space(data_dir, m)
        if names is None:
            names = load_label_space(config[f"{m}_label_space"])
        config[f"{m}_labels"] = list(names)


def validate(config: dict, name: str) -> None:
    known = set(BASE_CONFIG) | set(_DERIVED)
    unknown = sorted(set(config) - known)
    if unknown:
        raise VxtError(f"unknown option(s) {', '.join(unknown)} for the model {name} (known: {', '.join(sorted(BASE_CONFIG))})")
    checks = [("tokenization", TOKENIZATIONS), ("head", HEADS), ("objective", OBJECTIVES)]
    for key, allowed in checks:
        if config[key] not in allowed:
            raise VxtError(f"{key} must be one of {', '.join(allowed)}, got {config[key]!r}")
    resolve_modalities(get_task(config["task"]), config.get("modalities"))
    for key in ("k_video", "k_audio", "max_segment_tokens", "max_input_tokens", "max_target_tokens"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise VxtError(f"{key} must be a positive integer, got {config[key]!r}")
    if config["max_target_tokens"] < 2:
        raise VxtError("max_target_tokens must be at least 2 (a token and </s>)")
    if config["head"] == "discriminative" and config["task"] != "qa":
        raise VxtError("head=discriminative is a multiple-choice baseline: it needs --task qa")
    if config["objective"] != "standard" and (config["task"] != "qa" or config["head"] != "generative"):
        raise VxtError(f"objective={config['objective']} needs --task qa with the generative head")
    from vxt.registry import FRACTION, Bound, check_values, number, whole

    check_values(config, {"gumbel_tau": number(0, low_open=True), "tokenizer_vocab_size": whole(1),
                          "labels_from_data": Bound("bool")})
    lr_scale = config["classifier_lr_scale"]
    if isinstance(lr_scale, bool) or not number(0).ok(lr_scale):
        raise VxtError(f"classifier_lr_scale must be a number >= 0, got {lr_scale!r}")
    if not isinstance(config["text"], dict):
        raise VxtError(f"text must be a JSON object of T5 settings, got {config['text']!r}")
    check_values(config["text"], {**{k: whole(1) for k in ("d_model", "d_ff", "num_layers", "num_decoder_layers",
                                                            "num_heads", "d_kv")}, "dropout_rate": FRACTION},
                 prefix="text.")
