"""SparseSync's settings: the presets ``sparsesync`` (the paper) and ``sparsesync-tiny`` (tests, CPU).

Everything a checkpoint needs to be rebuilt is in its config (``config.json``):

inputs
    ``clip_seconds`` (5), ``fps`` (25), ``size_before_crop`` (256: the
    shorter side), ``crop`` (224: centre crop; random during training when
    ``random_crop``), ``sample_rate`` (16000), ``n_fft`` (512) and ``hop``
    (128) of the log power spectrogram (linear frequency, standardised per
    clip and frequency), ``audio_jitter`` (0.05 s: training only),
    ``hflip`` (0.5: the probability of mirroring a training input's frames
    left to right, SparseSync's ``p_horizontal_flip``; never in evaluation);
offset grid
    ``n_classes`` (21) evenly from ``-max_offset`` to ``+max_offset`` (2 s);
    clips shorter than ``clip_seconds + 2 * max_offset`` (9 s) are skipped,
    so neither stream is ever padded;
encoders
    ``video_encoder``: ``s3d`` (torchvision S3D, Kinetics-400 weights from
    ``video_weights`` when given: 16 x 7 x 7 tokens of 1024) or ``tiny`` (a
    3-layer Conv3d stack of ``tiny_video_channels``); ``audio_encoder``:
    ``resnet18`` (torchvision ResNet-18 with one input channel: 9 x 20 tokens
    of 512, weights from ``audio_weights`` when given) or ``tiny`` (a 5-layer
    Conv2d stack of ``tiny_audio_channels``); both fine-tuned end to end;
transformer
    ``d`` (512), ``heads`` (8), ``layers`` (3: the global transformer),
    ``selector_layers`` (3), ``n_selectors`` (16 per modality), ``dropout``
    (0.1); ``selectors=false`` is the baseline that feeds every token to the
    global transformer;
training
    Adam at ``base_lr`` (5e-6) per GPU unless ``--lr`` is given, warmed up
    linearly from lr / 100 over ``warmup_steps`` (1,000; 100 in the tiny
    preset), then constant; gradients clipped at 1 (``--grad-clip``).
"""

from __future__ import annotations

from vxt.errors import VxtError
from vxt.registry import merge_config

#: torchvision's Kinetics-400 video normalisation (what its S3D weights expect)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)

BASE = {
    "arch": "sparsesync",
    "task": "sync",
    "n_classes": 21,
    "max_offset": 2.0,
    "clip_seconds": 5.0,
    "fps": 25,
    "size_before_crop": 256,
    "crop": 224,
    "random_crop": True,
    "hflip": 0.5,
    "sample_rate": 16000,
    "n_fft": 512,
    "hop": 128,
    "audio_jitter": 0.05,
    "video_mean": list(KINETICS_MEAN),
    "video_std": list(KINETICS_STD),
    "video_encoder": "s3d",
    "audio_encoder": "resnet18",
    "video_weights": None,
    "audio_weights": None,
    # a sync experiment to start from (dense pre-training -> sparse fine-tuning): its weights and architecture
    "init": None,
    "d": 512,
    "heads": 8,
    "layers": 3,
    "selector_layers": 3,
    "n_selectors": 16,
    "selectors": True,
    "dropout": 0.1,
    # training (the paper): Adam at base_lr per GPU (--lr overrides), warmed up from lr / 100 over warmup_steps
    "base_lr": 5e-6,
    "warmup_steps": 1000,
    # the time axes' learned positions start at N(0, 0.02) (random, as SparseSync) or at sinusoids of each token's
    # time in seconds, the same for both streams (time)
    "position_init": "random",
    "tiny_video_channels": [16, 32, 32],
    "tiny_audio_channels": [8, 16, 32, 32, 32],
}

SYNC_PRESETS: dict[str, dict] = {
    "sparsesync": dict(BASE),
    # a CPU step well under a second: small frames (same fps and length, so the same timing), conv stacks, d 32
    "sparsesync-tiny": merge_config(BASE, {
        "video_encoder": "tiny", "audio_encoder": "tiny", "size_before_crop": 72, "crop": 64,
        "d": 32, "heads": 2, "layers": 1, "selector_layers": 1, "n_selectors": 4, "dropout": 0.0, "warmup_steps": 100,
        "tiny_video_channels": [8, 16, 32], "tiny_audio_channels": [4, 8, 16, 16, 32],
    }),
}

#: keys of the ``--set`` options of ``vxt decode --task sync`` (the model ignores those the task reads)
DECODE_KEYS = ("shift", "method", "vstart", "hop", "windows")
#: keys that never come from --set (they describe the checkpoint)
_FIXED = ("arch", "task", "name", "data_dir", "class")


def sync_config(name: str, overrides: dict | None = None) -> dict:
    """The preset ``name`` merged with ``overrides`` (unknown keys are a one-line error), checked."""
    if name not in SYNC_PRESETS:
        raise VxtError(f"unknown SparseSync preset {name!r} (known: {', '.join(sorted(SYNC_PRESETS))})")
    over = {k: v for k, v in dict(overrides or {}).items() if k not in ("task", "data_dir")}
    unknown = sorted(set(over) - set(BASE))
    if unknown:
        raise VxtError(f"unknown {name} option(s) {', '.join(unknown)} (known: {', '.join(sorted(BASE))})")
    bad = sorted(k for k in over if k in _FIXED)
    if bad:
        raise VxtError(f"{', '.join(bad)} cannot be set")
    cfg = merge_config(SYNC_PRESETS[name], over)
    cfg["name"] = name
    check_config(cfg)
    return cfg


def check_config(cfg: dict) -> None:
    n = cfg["n_classes"]
    if not isinstance(n, int) or n < 3 or n % 2 == 0:
        raise VxtError(f"n_classes must be an odd number >= 3 (0 s in the middle), got {n!r}")
    for k in ("max_offset", "clip_seconds", "fps", "sample_rate"):
        if not isinstance(cfg[k], (int, float)) or isinstance(cfg[k], bool) or not cfg[k] > 0:
            raise VxtError(f"{k} must be a positive number, got {cfg[k]!r}")
    step = 2 * float(cfg["max_offset"]) / (n - 1)
    if not 0 <= float(cfg["audio_jitter"]) <= step / 2:
        raise VxtError(f"audio_jitter must lie in [0, {step / 2:g}] s (half a class), got {cfg['audio_jitter']!r}")
    p = cfg.get("hflip", 0.0)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise VxtError(f"hflip is a probability in [0, 1], got {p!r}")
    if cfg["crop"] > cfg["size_before_crop"]:
        raise VxtError(f"crop ({cfg['crop']}) must not exceed size_before_crop ({cfg['size_before_crop']})")
    if cfg["video_encoder"] not in ("s3d", "tiny"):
        raise VxtError(f"video_encoder must be s3d or tiny, got {cfg['video_encoder']!r}")
    if cfg["audio_encoder"] not in ("resnet18", "tiny"):
        raise VxtError(f"audio_encoder must be resnet18 or tiny, got {cfg['audio_encoder']!r}")
    if cfg["d"] % cfg["heads"]:
        raise VxtError(f"d ({cfg['d']}) must be divisible by heads ({cfg['heads']})")
    if cfg.get("position_init", "random") not in ("random", "time"):
        raise VxtError(f"position_init must be random or time, got {cfg.get('position_init')!r}")
    if not isinstance(cfg["selectors"], bool):
        raise VxtError(f"selectors must be true or false, got {cfg['selectors']!r}")


def min_clip_seconds(cfg: dict) -> float:
    """The shortest clip a trim fits in at every offset without padding: 5 + 2 x 2 = 9 s."""
    return float(cfg["clip_seconds"]) + 2 * float(cfg["max_offset"])
