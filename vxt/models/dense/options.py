"""The options of ``--task dense`` (everything else in the overrides configures the captioner)."""

from __future__ import annotations

from typing import Any

STAGES = ("captioner", "proposals", "both")

#: options of the dense task
TASK_DEFAULTS: dict[str, Any] = {
    "stage": "captioner",
    "features": "backbone",       # "backbone" (vxt's classifiers on raw media) or a folder of .npy features
    "feature_combine": "sum",     # I3D RGB + flow: "sum" (1024-d, BMT) or "concat" (2048-d)
    "audio_features_dir": None,   # VGGish files kept apart (BMT's vggish_npy/): <name>.npy
    "feature_settings": {},       # BackboneSettings fields: frames, step, size, fps, seed, ...
    "video_classifier": None,     # shortcuts into feature_settings
    "audio_classifier": None,
    "video_weights": None,
    "audio_weights": None,
    "captioner": None,            # a trained captioner (dense exp, BMT/MDVC dir or VX2TEXT caption exp)
    "proposals_on": "auto",       # encoder | features | auto (the captioner's encoder when it has one)
    "n_anchors_video": 128,       # BMT: 128 visual and 48 audio anchors
    "n_anchors_audio": 48,
    "n_kernels": 10,              # BMT: 10 heads per modality (kernel sizes from K-means)
    "proposal_hidden": [512, 512],
    "proposal_dropout": 0.1,
    "obj_coeff": 1.0,
    "noobj_coeff": 100.0,
    "min_length": 0.2,
    "top_k": 100,
    "nms": None,
    "segments": "proposals",      # at decode: proposals | gt
    "min_word_freq": 1,
    "caption_batch": 256,
    "anchor_seed": 0,
    "feature_norm": False,        # standardise each feature dimension with training statistics (not in the papers)
}
TASK_PRESETS: dict[str, dict] = {
    "bmt": {"feature_settings": {"video_classifier": "r2plus1d_34", "audio_classifier": "cnn14", "frames": 32,
                                 "step": 2.56, "size": 112, "fps": 12.5}},
    "mdvc": {"feature_settings": {"video_classifier": "r2plus1d_34", "audio_classifier": "cnn14", "frames": 32,
                                  "step": 2.56, "size": 112, "fps": 12.5}},
    "bmt-tiny": {"n_anchors_video": 16, "n_anchors_audio": 8, "n_kernels": 4, "proposal_hidden": [32, 32],
                 "feature_norm": True},
    "mdvc-tiny": {"n_anchors_video": 16, "n_anchors_audio": 8, "n_kernels": 4, "proposal_hidden": [32, 32],
                  "feature_norm": True},
}
DECODE_KEYS = ("top_k", "nms", "segments", "captioner", "caption_batch", "feature_combine", "audio_features_dir")



def task_options(name: str, overrides: dict) -> tuple[dict, dict]:
    """Split ``overrides`` into the dense task's options (:data:`TASK_DEFAULTS` + the preset's) and the captioner's."""
    from vxt.registry import merge_config

    task = merge_config(TASK_DEFAULTS, TASK_PRESETS.get(name, {}))
    cap: dict = {}
    for k, v in overrides.items():
        if k in TASK_DEFAULTS:
            task[k] = merge_config(task[k], v) if isinstance(v, dict) and isinstance(task[k], dict) else v
        else:
            cap[k] = v
    return task, cap


#: preset name -> (captioner class, preset config), filled by :mod:`vxt.models.dense.presets`
DENSE_PRESETS: dict[str, tuple[type, dict]] = {}

#: the staged training of ``--stage both`` (BMT's order): the captioner into OUT/captioner, then the
#: proposal generator on that captioner's frozen encoder into OUT (see vxt.train.strategies)
STAGE_PLAN: tuple[dict, ...] = (
    {"stage": "captioner", "subdir": "captioner", "set": {}},
    {"stage": "proposals", "subdir": "", "set": {"captioner": "{prev}"}},
)
