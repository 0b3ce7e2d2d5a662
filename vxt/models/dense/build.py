"""Building the ``--task dense`` model for a data dir: features, vocabulary, captioner, anchors."""

from __future__ import annotations

import os
from pathlib import Path

from vxt.errors import DataError, VxtError
from vxt.models.dense.options import DENSE_PRESETS, STAGES, task_options
from vxt.models.dense.task_model import DenseTaskModel


def feature_config(task: dict) -> dict:
    """The :class:`~vxt.modalities.feature_store.FeatureStore` config the task options ask for (backbone or files)."""
    feats = task["features"]
    if feats in (None, "", "backbone"):
        settings = dict(task.get("feature_settings") or {})
        for k in ("video_classifier", "audio_classifier", "video_weights", "audio_weights"):
            if task.get(k) is not None:
                settings[k] = task[k]
        from vxt.modalities.feature_store import BackboneSettings

        return {"source": "backbone", **BackboneSettings.from_dict(settings).to_dict()}
    if isinstance(feats, dict):
        return dict(feats)
    p = Path(str(feats))
    if not p.is_dir():
        raise DataError("no such features folder", path=str(p))
    return {"source": "files", "dir": str(p.resolve()), "combine": task.get("feature_combine", "sum"),
            "audio_dir": None if not task.get("audio_features_dir") else str(Path(task["audio_features_dir"]).resolve())}


def _speech_vocab(train: list[dict]):
    from vxt.nn.vocab import build_vocab

    texts = [str(s.get("text", "")) for ex in train for s in ex.get("subtitles") or []]
    return build_vocab(texts) if any(t.strip() for t in texts) else None


def build_dense_task(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> DenseTaskModel:
    """Build the dense task model ``name`` (bmt, bmt-tiny, mdvc, mdvc-tiny) for the data in ``data_dir``.

    Extracts (or loads) the features of the train and val videos first, builds
    the caption vocabulary from the training events (captioner stage) or loads
    the captioner and fits the anchors (proposals stage).
    """
    from vxt.modalities.feature_store import FeatureStore, feature_stats
    from vxt.data.loader import task_examples
    from vxt.nn.vocab import build_vocab
    from vxt.registry import merge_config

    overrides = dict(overrides or {})
    task_name = overrides.pop("task", "dense")
    if task_name != "dense":
        raise VxtError(f"{name} is a dense captioner: train it with --task dense (not --task {task_name})")
    if name not in DENSE_PRESETS:
        raise VxtError(f"unknown dense model {name!r} (known: {', '.join(sorted(DENSE_PRESETS))})")
    if data_dir is None:
        raise VxtError(f"{name}: building a dense task model needs a data dir (for the vocabulary and the features)")
    data = Path(data_dir)
    task, cap_over = task_options(name, overrides)
    stage = task["stage"]
    if stage not in STAGES:
        raise VxtError(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if stage == "both":
        raise VxtError("stage 'both' runs two trainings: use `vxt train --task dense --stage both` "
                       "(the staged strategy of vxt.train.strategies)")
    train = [ex for ex in task_examples(data, "train", "dense") if ex.get("events")]
    if not train:
        raise DataError("no dense training examples with events", path=str(data / "train.jsonl"))
    val = task_examples(data, "val", "dense") if (data / "val.jsonl").exists() else []

    captioner = text_captioner = source_model = None
    if stage == "proposals" and task.get("captioner"):
        from vxt.models import load_checkpoint

        source_model = load_checkpoint(task["captioner"])
    if isinstance(source_model, DenseTaskModel) and "features" not in overrides:
        store_cfg = dict(source_model.config["features"])  # the encoder reads what it was trained on
    else:
        store_cfg = feature_config(task)
    store = FeatureStore.from_config(store_cfg, data)
    store.prepare(train + val)
    dv, da = store.dims(train + val)
    if dv is None and da is None:
        raise DataError("no video or audio features for any training video", path=str(data))
    if isinstance(source_model, DenseTaskModel):
        stats = source_model.config.get("feature_stats")  # what its encoder was trained on
    else:
        stats = feature_stats(store, train) if task["feature_norm"] else None
    store.norm = stats or None

    if stage == "captioner":
        arch_cls, preset = DENSE_PRESETS[name]
        cfg = merge_config(preset, cap_over)
        cfg["name"] = name
        cfg["d_video"], cfg["d_audio"] = int(dv or cfg["d_video"]), int(da or cfg["d_audio"])
        vocab = build_vocab([ev["sentence"] for ex in train for ev in ex["events"] if ev.get("sentence")],
                            min_freq=int(task["min_word_freq"]))
        if arch_cls.ARCH == "mdvc" and "speech" in cfg.get("modalities", []) and cfg.get("speech_vocab") is None:
            sv = _speech_vocab(train)
            if sv is None:
                from vxt.utils import say_once

                say_once("vxt: no training video has subtitles: MDVC runs without its speech modality")
                cfg["modalities"] = [m for m in cfg["modalities"] if m != "speech"]
            else:
                cfg["speech_vocab"] = sv.itos
        captioner = arch_cls(cfg, vocab)
        generator = None
        proposals_on = None
    else:
        # captioner options (--set d_model=..) belong to the captioner stage: a proposals run keeps its captioner
        if isinstance(source_model, DenseTaskModel):
            captioner, text_captioner = source_model.captioner, source_model.text_captioner
        elif source_model is not None and getattr(source_model, "config", {}).get("arch") == "vx2text":
            if source_model.config.get("task") != "caption":
                raise VxtError("a VX2TEXT captioner must be trained with --task caption", path=str(task["captioner"]))
            text_captioner = source_model
        elif source_model is not None:
            raise VxtError("--set captioner= takes a dense exp (--stage captioner) or a VX2TEXT caption exp",
                           path=str(task["captioner"]))
        proposals_on = task["proposals_on"]
        if proposals_on == "auto":
            proposals_on = "encoder" if captioner is not None else "features"
        if proposals_on not in ("encoder", "features"):
            raise VxtError(f"proposals_on must be encoder, features or auto, got {proposals_on!r}")
        if proposals_on == "encoder" and captioner is None:
            raise VxtError("proposals_on=encoder needs a BMT/MDVC captioner (--set captioner=<dense exp>)")
        generator = _build_generator(task, store, train, captioner if proposals_on == "encoder" else None, dv, da)

    config = {
        "arch": "dense-task", "task": "dense", "name": name, "stage": stage,
        "captioner_arch": (captioner.ARCH if captioner is not None else
                           "vx2text" if text_captioner is not None else None),
        "proposals_on": proposals_on,
        "features": store.to_config(),
        "data_dir": str(data.resolve()),
        **{k: task[k] for k in ("top_k", "nms", "segments", "caption_batch", "n_anchors_video", "n_anchors_audio",
                                "n_kernels", "proposal_hidden", "min_word_freq", "anchor_seed")},
        "trained_from": None if not task.get("captioner") else str(task["captioner"]),
        "feature_stats": stats or None,
    }
    model = DenseTaskModel(config, captioner, generator, text_captioner, data_dir=data)
    model.store = store  # keep the warmed-up store
    return model


def _build_generator(task: dict, store, train: list[dict], encoder, dv, da):
    """A proposal generator with anchors fitted to the training segments' lengths in grid cells."""
    from vxt.models.dense.proposals import ProposalGenerator, fit_anchors

    lengths: dict[str, list[float]] = {"video": [], "audio": []}
    for ex in train:
        f = store.get(ex)
        for m in ("video", "audio"):
            if f.get(m) is None:
                continue
            cell = float(f["duration"]) / len(f[m])
            lengths[m] += [(float(ev["end"]) - float(ev["start"])) / cell for ev in ex["events"]
                           if float(ev["end"]) > float(ev["start"])]
    if encoder is not None:
        if encoder.ARCH == "bmt":
            widths = {"video": int(encoder.config["d_model_video"]), "audio": int(encoder.config["d_model_audio"])}
        else:
            widths = {m: int(w) for m, w in encoder.widths.items() if m in ("video", "audio")}
    else:
        widths = {"video": dv, "audio": da}
    dims, anchors, kernels = {}, {}, {}
    for m in ("video", "audio"):
        if not lengths[m] or not widths.get(m):
            continue
        n = int(task[f"n_anchors_{m}"])
        a, k = fit_anchors(lengths[m], n, seed=int(task["anchor_seed"]), n_kernels=int(task["n_kernels"]))
        dims[m], anchors[m], kernels[m] = int(widths[m]), a, k
    if not dims:
        raise DataError("no training segment to fit proposal anchors to")
    return ProposalGenerator(dims, anchors, kernels, hidden=[int(h) for h in task["proposal_hidden"]],
                             dropout=float(task["proposal_dropout"]), steps=None,
                             obj_coeff=float(task["obj_coeff"]), noobj_coeff=float(task["noobj_coeff"]),
                             min_length=float(task["min_length"]))
