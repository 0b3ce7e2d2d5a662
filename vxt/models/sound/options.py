"""SpecVQGAN's presets (``specvqgan``: the paper's VGGSound codebook and MelGAN; ``specvqgan-tiny``: the same
geometry, CPU-sized) and the stage plan of ``vxt train --task sound``."""

from __future__ import annotations

import copy

from vxt.errors import VxtError

#: configs/vggsound_codebook.yaml
CODEBOOK = {
    "in_channels": 1, "out_ch": 1, "resolution": 848, "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2,
    "attn_resolutions": [53], "z_channels": 256, "embed_dim": 256, "n_embed": 1024, "beta": 0.25,
    "norm_groups": 32, "dropout": 0.0,
}
#: VQLPAPSWithDiscriminator's settings in that file (d_weight clamped to [1, 1] then x 0.8: a fixed 0.8)
LOSS = {
    "codebook_weight": 1.0, "pixel_weight": 1.0, "perceptual_weight": 1.0, "disc_weight": 0.8, "disc_factor": 1.0,
    "disc_start": 30001, "min_adapt_weight": 1.0, "max_adapt_weight": 1.0,
}
DISC = {"ndf": 64, "n_layers": 3}
#: the sampler's optimizer (cond_transformer.py's configure_optimizers; base_learning_rate 5e-6 x batch size):
#: AdamW (0.9, 0.95), weight decay 0.01 on Linear weights only
SAMPLER_OPTIM = {"base_lr": 5e-6, "betas": [0.9, 0.95], "weight_decay": 0.01}
#: configs/vggsound_transformer.yaml (GPTFeats: 24 layers, 16 heads, 1,024 wide; 212 feature rows; the ColumnMajor
#: permuter: ``order`` column) and the sampling settings of evaluation/configs/sampler.yaml (temperature 1, top-k 100).
#: The ablations: ``--set sampler.n_feats=0|1|5|212`` (0: "No Feats", nothing visual: :mod:`~vxt.models.sound.sampler`)
#: and ``--set sampler.order=row`` (the 53 time codes of each frequency row together)
SAMPLER = {"n_layer": 24, "n_head": 16, "n_embd": 1024, "pdrop": 0.1, "n_feats": 212, "order": "column",
           "vocab_size": None, "top_k": 100, "temperature": 1.0, **SAMPLER_OPTIM}
#: the most feature rows there are: the centre 212 of SpecVQGAN's 215 (:mod:`~vxt.models.sound.features`)
MAX_FEATS = 212
SAMPLER_ORDERS = ("column", "row")
#: the visual features when no --features folder is given: ImageNet ResNet-50, 2,048-d, 21.5 fps
VISUAL = {"arch": "resnet50", "size": 224}

#: the MelGAN vocoder (SpecVQGAN's vocoder/ settings: :mod:`~vxt.models.sound.melgan`); lr and betas are MelGAN's Adam
VOCODER = {"ngf": 32, "ratios": [8, 8, 2, 2], "n_residual": 3, "num_D": 3, "ndf": 16, "n_layers_D": 4,
           "downsampling": 4, "lambda_feat": 10.0, "segment": 8192, "lr": 1e-4, "betas": [0.5, 0.9]}

PRESETS: dict[str, dict] = {
    "specvqgan": {
        "codebook": CODEBOOK, "loss": LOSS, "disc": DISC,
        # lr = base_lr x batch size (SpecVQGAN's rule), Adam betas (0.5, 0.9)
        "base_lr": 4.5e-6, "betas": [0.5, 0.9],
        "sampler": SAMPLER, "visual": VISUAL, "vocoder": VOCODER,
    },
    "specvqgan-tiny": {
        "codebook": {**CODEBOOK, "ch": 8, "num_res_blocks": 1, "z_channels": 16, "embed_dim": 16, "n_embed": 64,
                     "norm_groups": 4},
        "loss": {**LOSS, "disc_start": 1},
        "disc": {"ndf": 8, "n_layers": 3},
        "base_lr": 1e-4, "betas": [0.5, 0.9],
        "sampler": {**SAMPLER, "n_layer": 2, "n_head": 2, "n_embd": 32, "n_feats": 5},
        "visual": {"arch": "resnet18", "size": 64},
        "vocoder": {**VOCODER, "ngf": 4, "n_residual": 1, "num_D": 2, "ndf": 4, "n_layers_D": 2, "segment": 2048},
    },
}

#: the stages of ``--stage all``, in order: the codebook into OUT/codebook, the MelGAN vocoder into OUT/vocoder,
#: then the sampler on the codebook into OUT, recording the vocoder its samples go through
STAGES = ("codebook", "vocoder", "sampler")
STAGE_PLAN = [{"stage": "codebook", "subdir": "codebook", "set": {}},
              {"stage": "vocoder", "subdir": "vocoder", "set": {}},
              {"stage": "sampler", "subdir": "", "set": {"codebook_exp": "{codebook}", "vocoder_exp": "{vocoder}"}}]

#: task-level options (``--set key=value``) that are not part of the network presets: the LPAPS folder
#: (codebook), the trained codebook (sampler: ``--set codebook=EXP``), the trained vocoder the decoded
#: spectrograms go through (``--set vocoder_exp=EXP``; ``--stage all`` passes its own), ``--features DIR``,
#: ImageNet weights of the visual backbone (a local torchvision checkpoint)
TASK_DEFAULTS = {"stage": "codebook", "perceptual": None, "codebook_exp": None, "vocoder_exp": None,
                 "features": None, "visual_weights": None}
#: ``vxt decode --set``: ``vocoder=EXP`` (a ``--stage vocoder`` experiment) or ``vocoder=griffin-lim``
DECODE_KEYS = ("griffin_lim_iters", "seed", "samples", "top_k", "temperature", "vocoder")


def resolve(name: str, overrides: dict) -> dict:
    """The config of preset ``name`` with ``overrides`` merged (``--set codebook.ch=16``, ``--set perceptual=DIR``)."""
    from vxt.registry import merge_config

    if name not in PRESETS:
        raise VxtError(f"unknown SpecVQGAN preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    over = dict(overrides)
    over.pop("task", None)
    if isinstance(over.get("codebook"), str):  # --set codebook=EXP: the trained codebook of the sampler stage
        over["codebook_exp"] = over.pop("codebook")
    known = set(PRESETS[name]) | set(TASK_DEFAULTS)
    unknown = sorted(k for k in over if k not in known)
    if unknown:
        raise VxtError(f"unknown {name} option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    cfg = merge_config({**copy.deepcopy(PRESETS[name]), **TASK_DEFAULTS}, over)
    if cfg["stage"] not in STAGES:
        raise VxtError(f"--stage must be one of {', '.join((*STAGES, 'all'))}, got {cfg['stage']!r}")
    sc = cfg["sampler"]
    if sc.get("order", "column") not in SAMPLER_ORDERS:
        raise VxtError(f"sampler.order must be column or row, got {sc.get('order')!r}")
    nf = sc.get("n_feats")
    if isinstance(nf, bool) or not isinstance(nf, int) or not 0 <= nf <= MAX_FEATS:
        raise VxtError(f"sampler.n_feats must be a whole number from 0 (no visual features) to {MAX_FEATS}, "
                       f"got {nf!r}")
    for key in ("perceptual_weight", "disc_weight"):
        w = cfg["loss"].get(key)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            raise VxtError(f"loss.{key} must be a number >= 0 (0: without that loss), got {w!r}")
    cb = cfg["codebook"]
    down = 2 ** (len(cb["ch_mult"]) - 1)
    if 80 % down or cb["resolution"] % down:
        raise VxtError(f"codebook.ch_mult gives {down}x down-sampling, which does not divide 80 x {cb['resolution']}")
    return cfg
