"""Building TAVT for a data dir: features, statistics, the auditory clusters, the vocabulary; or adapting a checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from vxt.errors import DataError, VxtError
from vxt.models.tavt.features import example_units
from vxt.models.tavt.model import TAVT
from vxt.models.tavt.options import BUILD_DEFAULTS, DEFAULTS, PRESETS, STAGES, STRATEGY_KEYS, ablation_switches

MEDIA_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".wav", ".mp3", ".flac", ".m4a", ".ogg")


def domain_list(value) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]``; None stays None."""
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(d).strip() for d in items if str(d).strip()]


def split_options(name: str, overrides: dict) -> tuple[dict, dict]:
    """(model hyperparameters, builder options) of preset ``name`` with ``overrides``; unknown keys raise."""
    from vxt.registry import merge_config

    if name not in PRESETS:
        raise VxtError(f"unknown TAVT preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    merged = merge_config(merge_config({**DEFAULTS, **BUILD_DEFAULTS}, PRESETS[name]), overrides)
    unknown = sorted(set(merged) - set(DEFAULTS) - set(BUILD_DEFAULTS) - set(STRATEGY_KEYS))
    if unknown:
        known = sorted({*DEFAULTS, *BUILD_DEFAULTS, *STRATEGY_KEYS} - {"task"})
        raise VxtError(f"unknown option(s) {', '.join(unknown)} for the model {name} (known: {', '.join(known)})")
    model = {k: merged[k] for k in DEFAULTS}
    build = {k: merged[k] for k in BUILD_DEFAULTS}
    build["source_domains"] = domain_list(merged.get("source_domains"))
    return model, build


def _store_config(build: dict) -> dict:
    from vxt.modalities.feature_store import BackboneSettings

    settings = dict(build["feature_settings"] or {})
    for k in ("video_weights", "audio_weights"):
        if build.get(k) is not None:
            settings[k] = str(Path(build[k]).resolve())
    return {"source": "backbone", **BackboneSettings.from_dict(settings).to_dict()}


def _audio_units(store, examples: list[dict], cfg: dict) -> np.ndarray:
    rows = []
    for ex in examples:
        u = example_units(store.get(ex), ex, float(cfg["clip_seconds"]), int(cfg["max_units"]), int(cfg["max_frames"]))
        if u["audio"] is not None:
            rows.append(u["audio"])
    return np.concatenate(rows) if rows else np.zeros((0, int(cfg["d_audio"])), dtype=np.float32)


def _cluster_examples(source: str) -> tuple[list[dict], Path | None]:
    """The examples of ``cluster_audio``: a data dir's train split, or every media file of a folder."""
    from vxt.data.loader import task_examples

    p = Path(source)
    if (p / "train.jsonl").exists():
        return task_examples(p, "train", "caption"), p
    if not p.is_dir():
        raise DataError("cluster_audio names no data dir or folder of media files", path=str(p))
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in MEDIA_SUFFIXES)
    if not files:
        raise DataError("no media files to fit the audio clusters on", path=str(p))
    return [{"id": f.stem, "video": str(f.resolve())} for f in files], None


def fit_clusters(units: np.ndarray, k: int, seed: int, iters: int) -> torch.Tensor:
    from vxt.nn.kmeans import kmeans

    if units.shape[0] == 0:
        raise DataError("no audio to fit TAVT's auditory clusters on (no training example has audio): "
                        "name a folder with --set cluster_audio=DIR")
    return kmeans(torch.from_numpy(units), k, seed=seed, iters=iters)


def build_tavt(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> TAVT:
    """Build the TAVT preset ``name`` for the data in ``data_dir`` (``stage=meta``), or load ``ckpt`` and set it
    up for fine-tuning on ``target_domain`` (``stage=adapt``)."""
    from vxt.data.loader import task_examples

    overrides = dict(overrides or {})
    task = overrides.get("task", "caption")
    if task != "caption":
        raise VxtError(f"{name} is a captioner: train it with --task caption (not --task {task})")
    if data_dir is None:
        raise VxtError(f"{name}: building TAVT needs a data dir (features, clusters, vocabulary)")
    data = Path(data_dir)
    model_cfg, build = split_options(name, overrides)
    if build["stage"] not in STAGES:
        raise VxtError(f"--stage must be one of {', '.join(STAGES)} for TAVT, got {build['stage']!r}")
    train = task_examples(data, "train", "caption")
    val = task_examples(data, "val", "caption") if (data / "val.jsonl").exists() else []
    if build["stage"] == "adapt":
        return _adapt(name, overrides, build, data, train, val)
    if not train:
        raise DataError("no caption training examples", path=str(data / "train.jsonl"))
    from vxt.modalities.feature_store import FeatureStore, feature_stats
    from vxt.nn.vocab import build_vocab

    sources = build["source_domains"]
    fit = [ex for ex in train if sources is None or ex.get("domain") in sources]
    if not fit:
        raise DataError(f"no training example of the source domains {', '.join(sources)}", path=str(data))
    store = FeatureStore.from_config(_store_config(build), data)
    store.prepare(train + val)
    dv, da = store.dims(train)
    model_cfg["d_video"], model_cfg["d_audio"] = int(dv), int(da)
    stats = feature_stats(store, fit) if build["feature_norm"] else None
    store.norm = stats or None
    switches = ablation_switches(model_cfg)
    if not switches["use_avmm"]:  # w/o AVMM, w/o audio: no reconstruction, so no auditory space to fit
        clusters, units = None, np.zeros((0, int(model_cfg["d_audio"])), dtype=np.float32)
    elif build["cluster_audio"]:
        exs, cdir = _cluster_examples(str(build["cluster_audio"]))
        cstore = FeatureStore.from_config(_store_config(build), cdir)
        cstore.norm = stats or None
        units = _audio_units(cstore, exs, model_cfg)
    else:
        units = _audio_units(store, fit, model_cfg)
    if switches["use_avmm"]:
        clusters = fit_clusters(units, int(model_cfg["n_clusters"]), int(build["cluster_seed"]),
                                int(build["kmeans_iters"]))
    # the caption vocabulary of every training caption (all domains: a shared word list, no pairing leaks)
    vocab = build_vocab([t for ex in train for t in ex.get("targets") or []], min_freq=int(build["min_word_freq"]))
    config = {
        **model_cfg, "name": name, "task": "caption", "stage": "meta",
        "features": store.to_config(), "feature_stats": stats or None, "data_dir": str(data.resolve()),
        "source_domains": sources,
        "cluster_source": str(build["cluster_audio"] or "train") if switches["use_avmm"] else None,
        "n_cluster_units": int(units.shape[0]), "freeze_avmm": False,
    }
    with torch.random.fork_rng(devices=[]):
        model = TAVT(config, vocab, clusters, data_dir=data)
    model.store = store
    return model


def _adapt(name: str, overrides: dict, build: dict, data: Path, train: list[dict], val: list[dict]) -> TAVT:
    """``--stage adapt``: the meta-trained ``ckpt``, its AVMM frozen when the target has no audio."""
    from vxt.models import load_checkpoint

    if not build["ckpt"]:
        raise VxtError("--stage adapt fine-tunes a meta-trained TAVT: give it with --ckpt (or --set ckpt=DIR)")
    target = build["target_domain"]
    if not target:
        raise VxtError("--stage adapt needs --set target_domain=NAME (the domain to fine-tune on)")
    arch = sorted(k for k in overrides if k in DEFAULTS)
    if arch:
        raise VxtError(f"--stage adapt keeps the architecture of --ckpt: drop {', '.join(arch)}")
    model = load_checkpoint(build["ckpt"])
    if not isinstance(model, TAVT):
        raise VxtError("--ckpt is not a TAVT checkpoint", path=str(build["ckpt"]))
    target_train = [ex for ex in train if ex.get("domain") == target]
    if not target_train:
        raise DataError(f"no caption training example of the target domain {target!r}", path=str(data / "train.jsonl"))
    model.configure_decode(data_dir=data)
    model.store.prepare(target_train + [ex for ex in val if ex.get("domain") == target])
    freeze = build["freeze_avmm"]
    if freeze == "auto":
        freeze = not any(example_units(model.store.get(ex), ex, 1.0, 1, 1)["audio"] is not None for ex in target_train)
    model.set_avmm_frozen(bool(freeze))
    model.config.update({"stage": "adapt", "target_domain": target, "trained_from": str(build["ckpt"]),
                         "data_dir": str(data.resolve()), "name": name})
    model.train()
    return model
