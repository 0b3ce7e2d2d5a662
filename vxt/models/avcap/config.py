"""Every config field of the audio-visual captioner, the presets, and the checks on them.

The paper's (Shen et al., 2023) numbers are in :data:`BASE_CONFIG` (``avcap-base``);
``avcap-tiny`` shrinks every width and depth for CPU tests. A field is set
from the command line with ``--set key=value`` (dotted for the sections:
``--set video.frames=8``).
"""

from __future__ import annotations

import copy

from vxt.errors import VxtError
from vxt.registry import merge_config

#: one cross-modal encoder's variants (vxt.models.avcap.fusion.VARIANTS); ``mixed`` is V+A+T's pair of them
VARIANTS = ("merged", "cross", "global", "local_global_merged", "local_global_cross")
FUSIONS = (*VARIANTS, "mixed")
BALANCES = ("none", "mbp", "gblend")
STAGES = ("pretrain", "finetune")
MODALITIES = ("video", "audio", "subtitles")  # V, A, T (the subtitles through the text encoder)
FRONTENDS = ("paper", "cache")
#: torchvision's Video Swin constructors and their output widths
SWIN_WIDTHS = {"swin3d_t": 768, "swin3d_s": 768, "swin3d_b": 1024}

BASE_CONFIG: dict = {
    # ---- what is trained
    "stage": "finetune",               # pretrain (PCC + PNC, balanced) | finetune (PCC only)
    "pnc": True,                       # pre-training adds Predict Next Caption (false: PCC alone, no <next> row)
    "modalities": ["video", "audio"],  # any of video, audio, subtitles (V, A, V+A, V+T, V+A+T)
    "fusion": "local_global_merged",   # merged | cross | global | local_global_merged | local_global_cross | mixed
    # fusion=mixed (V+A+T only): video+audio through mixed_va, video+subtitles through mixed_vt, memories concatenated
    "mixed_va": "local_global_cross",  # the paper's "global cross fusion between video and audio"
    "mixed_vt": "merged",              # the paper's "merged fusion between video and text"
    "balance": "auto",                 # none | mbp | gblend; auto = mbp in pre-training, none in fine-tuning
    "mbp_alpha": 10.0,
    "mbp_beta": 0.99,
    "gblend_holdout": 0.1,             # the held-out slice of the training data G-Blend measures on
    "gblend_window": 0,                # held-out rows per G-Blend measurement (0: the size of the slice)
    "init": None,                      # an avcap checkpoint to start from (pre-trained -> fine-tuned)
    # ---- media
    "frontend": "paper",               # paper: read media here (22,050 Hz mel, TSN frames); cache: the loop's media
    "d_model": 768,
    "dropout": 0.1,
    "video": {
        "backbone": "swin3d_b",        # swin3d_t | swin3d_s | swin3d_b | swin3d (the fields below)
        "weights": None,               # a local Kinetics checkpoint (torchvision key layout); None: random init
        "frames": 16,                  # one frame from each of 16 equal segments
        "size": 224,
        # backbone "swin3d": torchvision's SwinTransformer3d with these fields
        "patch": [2, 4, 4], "embed_dim": 96, "depths": [2, 2, 6, 2], "heads": [3, 6, 12, 24],
        "window": [8, 7, 7],
    },
    "audio": {
        "sample_rate": 22050, "n_fft": 1536, "hop": 588, "n_mels": 64,
        "max_frames": 256,             # shorter: zero-padded (and masked); longer: down-sampled to 256
        "pool": 4,                     # average pooling over time: 256 frames -> 64 tokens
        "layers": 12, "heads": 12, "d_ff": 3072,
        "time_mask": 32, "freq_mask": 128,  # SpecAugment (training only); see frontend.spec_augment
    },
    "text": {"layers": 12, "heads": 12, "d_ff": 3072, "max_tokens": 128},
    "fusion_layers": 3, "fusion_heads": 12, "fusion_d_ff": 3072, "max_positions": 512,
    "decoder": {"layers": 3, "heads": 12, "d_ff": 3072},
    "max_len": 32,                     # caption words per target (</s> and <s> included)
    "smoothing": 0.0,
    "min_word_freq": 1,
}

TINY_CONFIG: dict = merge_config(BASE_CONFIG, {
    "d_model": 32, "dropout": 0.0, "fusion_layers": 2, "fusion_heads": 2, "fusion_d_ff": 64, "max_positions": 128,
    "video": {"backbone": "swin3d", "frames": 8, "size": 32, "patch": [2, 4, 4], "embed_dim": 16,
              "depths": [1, 1], "heads": [2, 2], "window": [2, 4, 4]},
    "audio": {"max_frames": 64, "layers": 1, "heads": 2, "d_ff": 64},
    "text": {"layers": 1, "heads": 2, "d_ff": 64, "max_tokens": 32},
    "decoder": {"layers": 1, "heads": 2, "d_ff": 64},
    "max_len": 24,
})

PRESETS = {"avcap-base": BASE_CONFIG, "avcap-tiny": TINY_CONFIG}
#: keys of config.json that are not model fields
META_KEYS = ("name", "arch", "class", "task", "vocab", "decode", "data_dir", "n_holdout")


def _known_keys(base: dict, cfg: dict, prefix: str = "") -> list[str]:
    unknown = []
    for k, v in cfg.items():
        if k not in base:
            unknown.append(prefix + k)
        elif isinstance(base[k], dict):
            if not isinstance(v, dict):
                unknown.append(f"{prefix}{k} (a section: set {prefix}{k}.<field>)")
            else:
                unknown += _known_keys(base[k], v, f"{prefix}{k}.")
    return unknown


def resolve_config(name: str, overrides: dict) -> dict:
    """The preset ``name`` merged with ``overrides``, checked; the CLI's own keys mapped to fields."""
    if name not in PRESETS:
        raise VxtError(f"unknown avcap preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    over = copy.deepcopy(dict(overrides))
    over.pop("task", None)
    if over.get("video_weights") is not None:  # `vxt train --video-weights FILE`
        over.setdefault("video", {})["weights"] = over.pop("video_weights")
    over.pop("video_weights", None)
    if over.pop("audio_weights", None) is not None:
        raise VxtError("avcap's audio encoder is a transformer trained from scratch: it takes no --audio-weights")
    meta = {k: over.pop(k) for k in list(over) if k in META_KEYS}
    unknown = _known_keys(BASE_CONFIG, over)
    if unknown:
        raise VxtError(f"unknown avcap config keys: {', '.join(unknown)} (known: {', '.join(sorted(BASE_CONFIG))})")
    cfg = merge_config(PRESETS[name], over)
    cfg.update({k: v for k, v in meta.items() if k in ("vocab", "decode", "data_dir", "n_holdout")})
    cfg["name"] = name
    check_config(cfg)
    return cfg


def check_config(cfg: dict) -> None:
    """One-line errors for values that cannot work."""
    mods = cfg["modalities"]
    if isinstance(mods, str):
        mods = cfg["modalities"] = [m.strip() for m in mods.split(",") if m.strip()]
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise VxtError(f"avcap --modalities takes video, audio and subtitles (V, A, V+A, V+T, V+A+T), got "
                       f"{', '.join(map(str, mods)) or 'none'}")
    cfg["modalities"] = [m for m in MODALITIES if m in mods]
    for key, allowed in (("fusion", FUSIONS), ("stage", STAGES), ("frontend", FRONTENDS)):
        if cfg[key] not in allowed:
            raise VxtError(f"avcap {key} must be one of {', '.join(allowed)}, got {cfg[key]!r}")
    for key in ("mixed_va", "mixed_vt"):
        if cfg[key] not in VARIANTS:
            raise VxtError(f"avcap {key} must be one of {', '.join(VARIANTS)}, got {cfg[key]!r}")
    if cfg["fusion"] == "mixed" and cfg["modalities"] != list(MODALITIES):
        raise VxtError("avcap fusion=mixed is the V+A+T fusion (video+audio through mixed_va, video+subtitles "
                       "through mixed_vt): use it with --modalities video,audio,subtitles, got "
                       f"{','.join(cfg['modalities'])}")
    if not isinstance(cfg["pnc"], bool):
        raise VxtError(f"avcap pnc must be true or false, got {cfg['pnc']!r}")
    if cfg["balance"] not in (*BALANCES, "auto"):
        raise VxtError(f"avcap balance must be one of {', '.join(BALANCES)} (or auto), got {cfg['balance']!r}")
    backbone = cfg["video"]["backbone"]
    if backbone not in (*SWIN_WIDTHS, "swin3d"):
        raise VxtError(f"avcap video.backbone must be one of {', '.join(SWIN_WIDTHS)} or swin3d, got {backbone!r}")
    a = cfg["audio"]
    if int(a["max_frames"]) % int(a["pool"]):
        raise VxtError(f"avcap audio.max_frames ({a['max_frames']}) must be a multiple of audio.pool ({a['pool']})")
    if not 0 <= float(cfg["mbp_beta"]) < 1:
        raise VxtError(f"avcap mbp_beta must be in [0, 1), got {cfg['mbp_beta']}")
    if not 0 < float(cfg["gblend_holdout"]) < 1:
        raise VxtError(f"avcap gblend_holdout must be in (0, 1), got {cfg['gblend_holdout']}")
    for sec, heads_key, width in (("audio", "heads", cfg["d_model"]), ("text", "heads", cfg["d_model"]),
                                  ("decoder", "heads", cfg["d_model"])):
        if int(width) % int(cfg[sec][heads_key]):
            raise VxtError(f"avcap d_model {width} is not divisible by {sec}.{heads_key} {cfg[sec][heads_key]}")
    if int(cfg["d_model"]) % int(cfg["fusion_heads"]):
        raise VxtError(f"avcap d_model {cfg['d_model']} is not divisible by fusion_heads {cfg['fusion_heads']}")


def effective_balance(cfg: dict) -> str | None:
    """The balancer a run uses (None: L alone, no mono-modal losses at all).

    Fine-tuning is never balanced (the paper's MBP is a pre-training objective);
    ``auto`` is MBP in pre-training. Balancing needs both sides, the video and
    the rest (audio and/or subtitles): with one of them only, there is nothing to balance.
    """
    if cfg["stage"] == "finetune":
        if cfg["balance"] not in ("auto", "none"):
            raise VxtError(f"balance={cfg['balance']} is a pre-training objective: use it with --stage pretrain "
                           "(fine-tuning trains on the current caption's loss alone)")
        return None
    mods = cfg["modalities"]
    if "video" not in mods or len(mods) < 2:
        return None
    return "mbp" if cfg["balance"] == "auto" else cfg["balance"]
