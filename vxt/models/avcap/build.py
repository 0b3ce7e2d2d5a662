"""Building ``avcap-tiny`` / ``avcap-base`` for a data dir (vocabulary, checks), and their registry entries."""

from __future__ import annotations

import os
from pathlib import Path

from vxt.errors import DataError, VxtError
from vxt.models.avcap.config import META_KEYS, PRESETS, effective_balance, resolve_config
from vxt.models.avcap.model import NEXT, AVCap, is_heldout
from vxt.registry import MODELS


def caption_vocab(examples: list[dict], use_subtitles: bool, min_freq: int = 1) -> list[str]:
    """``<pad> <s> </s> <unk> <next>`` + the words of the training captions (current and next; the
    subtitles too when they are an input: one vocabulary for the text encoder and the decoder)."""
    from vxt.nn.vocab import SPECIALS, build_vocab
    from vxt.tasks.text import subtitles_text

    texts = []
    for ex in examples:
        texts += [str(t) for t in ex.get("targets") or []]
        texts += [str(t) for t in ex.get("next_targets") or []]
        if use_subtitles:
            texts.append(subtitles_text(ex))
    words = build_vocab(texts, min_freq=min_freq).itos[len(SPECIALS):]
    return [*SPECIALS, NEXT, *[w for w in words if w != NEXT]]


def _from_checkpoint(path: str) -> tuple[dict, AVCap]:
    from vxt.models import load_checkpoint

    model = load_checkpoint(path)
    if not isinstance(model, AVCap):
        raise VxtError("--set init= takes an avcap checkpoint (a `vxt train --model avcap-*` experiment)", path=path)
    return model.config, model


def build_avcap(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> AVCap:
    """The model ``name`` for the captions of ``data_dir`` (``--set init=EXP`` starts from a checkpoint)."""
    from vxt.data.loader import task_examples

    overrides = dict(overrides or {})
    task = overrides.get("task", "caption")
    if task != "caption":
        raise VxtError(f"{name} is a captioner: train it with --task caption (not --task {task})")
    source = None
    if overrides.get("init"):
        ckpt_cfg, source = _from_checkpoint(str(overrides["init"]))
        # the architecture and the vocabulary carry over; what a run trains (stage, balance, pnc) is this run's
        kept = {k: v for k, v in ckpt_cfg.items()
                if (k not in META_KEYS or k == "vocab") and k not in ("stage", "balance", "pnc")}
        from vxt.registry import merge_config

        overrides = merge_config(kept, overrides)
        name = ckpt_cfg.get("name", name)
    cfg = resolve_config(name, overrides)
    train: list[dict] = []
    if data_dir is not None and (Path(data_dir) / "train.jsonl").exists():
        train = task_examples(data_dir, "train", "caption")
        cfg["data_dir"] = str(Path(data_dir).resolve())
    if cfg["stage"] == "pretrain" and cfg["pnc"] and train and not any(ex.get("next_targets") for ex in train):
        raise DataError("--stage pretrain needs `next_targets` (the following clip's caption, for Predict Next "
                        f"Caption) in the manifest, and none of its {len(train)} caption examples has them: "
                        "use a narrated data dir, --set pnc=false (PCC alone) or --stage finetune",
                        path=str(Path(data_dir) / "train.jsonl"))
    if not cfg.get("vocab"):
        if not train:
            raise VxtError(f"{name}: building a new model needs a data dir with captions (for its vocabulary)")
        cfg["vocab"] = caption_vocab(train, "subtitles" in cfg["modalities"], int(cfg["min_word_freq"]))
    if effective_balance(cfg) == "gblend":
        cfg["n_holdout"] = sum(is_heldout(ex["id"], float(cfg["gblend_holdout"])) for ex in train)
    model = AVCap(cfg, _loading=source is not None)
    if source is not None:
        _load_from(model, source)
    return model


def _load_from(model: AVCap, source: AVCap) -> None:
    """Copy a checkpoint's weights into a model built from its config (its balancer state is not carried over);
    parts the checkpoint lacks (an encoder for a new modality) keep their fresh init, and say so."""
    from vxt.utils import say_once

    state = {k: v for k, v in source.state_dict().items() if not k.startswith("balancer.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise VxtError(f"--set init: the checkpoint's weights do not fit this model ({str(e).splitlines()[0]})") from None
    missing = [k for k in missing if not k.startswith("balancer.")]
    if unexpected:
        raise VxtError(f"--set init: the checkpoint has weights this model lacks ({', '.join(unexpected[:3])})")
    if missing:
        parts = sorted({k.split(".")[0] for k in missing})
        say_once(f"avcap parts not in the init checkpoint start fresh: {', '.join(parts)}")


def _register(name: str) -> None:
    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name: str = name):
        return build_avcap(_name, overrides, data_dir)

    builder.__doc__ = (f"Shen et al. (2023) audio-visual captioner, preset {name!r}: Video Swin + audio transformer, "
                       "cross-modal fusion, caption decoder, MBP pre-training (--task caption).")
    MODELS.register(name, default_config=PRESETS[name], description=builder.__doc__.splitlines()[0],
                    tasks=("caption",), strategy="warmup_linear")(builder)


for _name in PRESETS:
    _register(_name)
