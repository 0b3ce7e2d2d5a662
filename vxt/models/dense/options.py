"""The options of ``--task dense`` (everything else in the overrides configures the captioner)."""

from __future__ import annotations

from typing import Any

from vxt.registry import FRACTION, Bound, check_values, number, one_of, whole

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

#: what each numeric or choice option may hold (checked in task_options and, for decode options, configure_decode)
TASK_BOUNDS = {
    "stage": one_of(*STAGES),
    "feature_combine": one_of("sum", "concat"),
    "proposals_on": one_of("encoder", "features", "auto"),
    "n_anchors_video": whole(1),
    "n_anchors_audio": whole(1),
    "n_kernels": whole(1),
    "proposal_dropout": FRACTION,
    "obj_coeff": number(0),
    "noobj_coeff": number(0),
    "min_length": number(0),
    "top_k": whole(1),
    "nms": number(0, 1, low_open=True, null=True),
    "segments": one_of("proposals", "gt"),
    "min_word_freq": whole(1),
    "caption_batch": whole(1),
    "anchor_seed": whole(0),
    "feature_norm": Bound("bool"),
}


def check_task_options(task: dict) -> None:
    """The dense task's options (``--set``, a checkpoint's config): a bad value is a one-line VxtError."""
    from vxt.errors import VxtError

    check_values(task, TASK_BOUNDS)
    hidden = task.get("proposal_hidden")
    if "proposal_hidden" in task and (not isinstance(hidden, list) or not all(whole(1).ok(h) for h in hidden)):
        raise VxtError(f"proposal_hidden must be a list of whole numbers >= 1, got {hidden!r}")
    for key in ("feature_settings",):
        if key in task and not isinstance(task[key], dict):
            raise VxtError(f"{key} must be a JSON object of feature settings, got {task[key]!r}")



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
    check_task_options(task)
    return task, cap


#: preset name -> (captioner class, preset config), filled by :mod:`vxt.models.dense.presets`
DENSE_PRESETS: dict[str, tuple[type, dict]] = {}

#: the staged training of ``--stage both`` (BMT's order): the captioner into OUT/captioner, then the
#: proposal generator on that captioner's frozen encoder into OUT (see vxt.train.strategies)
STAGE_PLAN: tuple[dict, ...] = (
    {"stage": "captioner", "subdir": "captioner", "set": {}},
    {"stage": "proposals", "subdir": "", "set": {"captioner": "{prev}"}},
)
