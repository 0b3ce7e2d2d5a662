"""``--task dense``: BMT / MDVC (and any captioner) wired to the training loop and to ``vxt decode``.

:class:`DenseTaskModel` is what the registry entries ``bmt``, ``bmt-tiny``,
``mdvc`` and ``mdvc-tiny`` build for the training loop. It holds

* a captioner (:class:`~vxt.models.bmt.BMT` or :class:`~vxt.models.mdvc.MDVC`)
  trained on ground-truth segments: one caption per (video, event);
* optionally a proposal generator (:class:`~vxt.models.proposals.ProposalGenerator`)
  trained per video on the captioner's frozen encoder (BMT's order: captioner
  first, then proposals), or on the raw feature streams when the captioner
  has no encoder to share (VX2TEXT, or none at all);
* optionally a VX2TEXT caption model that captions the proposal segments
  instead (``--set captioner=<a vx2text caption exp>``);
* a :class:`~vxt.data.feature_store.FeatureStore`: the video and audio
  streams, extracted through vxt's own backbones (``features="backbone"``) or
  read from pre-extracted ``.npy`` files in BMT's layout (``features=DIR``),
  optionally standardised per dimension with training statistics
  (``feature_norm``; on for the tiny presets, whose random-init backbone
  features are too small next to the positional encodings, off for the
  papers' presets).

Stages (``overrides["stage"]``; ``vxt train --stage``):

``captioner``
    loss: the captioner's label-smoothed KL on every event of the batch's
    videos; validation: captions of the ground-truth segments scored with the
    dense protocol, METEOR picks the best checkpoint (CIDEr without Java).
``proposals``
    loss: the YOLO-like proposal loss per video with anchors fitted (K-means)
    to the training segments' lengths in grid cells; validation: proposal F1
    averaged over tIoU 0.3/0.5/0.7/0.9 (no captions needed).
``both``
    :func:`train_stages` runs ``captioner`` into ``OUT/captioner`` and then
    ``proposals`` into ``OUT`` on that captioner.

At decode time (:meth:`DenseTaskModel.configure_decode`), the top 100
proposals of each video are captioned in one batch (batched greedy decoding),
see :mod:`vxt.decoding.events`; ``segments=gt`` captions the ground-truth
segments instead (the "on GT segments" numbers of the papers).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vxt.errors import DataError, VxtError

CLASS_PATH = "vxt.models.dense_task:DenseTaskModel"
STAGES = ("captioner", "proposals", "both")

#: options of the dense task (everything else in the overrides configures the captioner)
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
_DECODE_KEYS = ("top_k", "nms", "segments", "captioner", "caption_batch", "feature_combine", "audio_features_dir")


def _java() -> bool:
    from vxt.metrics import java_available

    return bool(java_available())


def _subs_text(example: dict, start: float, end: float) -> str:
    subs = [s for s in example.get("subtitles") or []
            if float(s.get("end", 0.0)) > start and float(s.get("start", 0.0)) < end]
    subs.sort(key=lambda s: float(s.get("start", 0.0)))
    return " ".join(str(s.get("text", "")).strip() for s in subs if str(s.get("text", "")).strip())


# ---------------------------------------------------------------- caption backends


class FeatureCaptioning:
    """Captions segments with a BMT/MDVC captioner on a feature store's streams (batched greedy)."""

    def __init__(self, model, store=None, batch_size: int = 256):
        self.model, self.store, self.batch_size = model, store, int(batch_size)

    def caption(self, requests: list[tuple[int, float, float]], examples: list[dict], feats: list[dict] | None) -> list[str]:
        """Sentences for ``(video index, start, end)`` requests; ``feats``: the videos' streams
        (None, or a store of its own: read them from the store)."""
        device = next(self.model.parameters()).device
        if feats is None or self.store is not None:
            if self.store is None:
                raise VxtError("no features to caption from")
            feats = [self.store.get(ex) for ex in examples]
        out: list[str] = []
        for i in range(0, len(requests), self.batch_size):
            chunk = requests[i: i + self.batch_size]
            batch = segment_batch(self.model, [(feats[b], s, e, examples[b]) for b, s, e in chunk])
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            ids = self.model.generate(batch)
            out += self.model.decode_text(ids)
        return out


class VX2TextCaptioning:
    """Captions segments with a VX2TEXT caption model: each segment is decoded as a clip of its own."""

    def __init__(self, model, data_dir: Path | None, batch_size: int = 32):
        self.model, self.data_dir, self.batch_size = model, data_dir, int(batch_size)
        self._memo: dict[tuple, str] = {}

    def _segment_example(self, ex: dict, s: float, e: float) -> dict:
        from vxt.data.manifest import resolve_media

        rel = ex.get("video") or ex.get("audio")
        if rel is None:
            raise DataError("the example names no media file", example_id=ex.get("id"))
        p = Path(rel)
        if not p.is_absolute():
            if self.data_dir is None:
                raise DataError("a relative media path but no data dir", example_id=ex.get("id"))
            p = resolve_media(self.data_dir, rel)
        sub = {"id": f"{ex['id']}@{s:.2f}-{e:.2f}", "task": "caption", "video": str(p), "start": s, "end": max(e, s + 0.05)}
        subs = [x for x in ex.get("subtitles") or [] if float(x.get("end", 0)) > s and float(x.get("start", 0)) < e]
        if subs:
            sub["subtitles"] = subs
        if ex.get("missing"):
            sub["missing"] = list(ex["missing"])
        return sub

    def caption(self, requests: list[tuple[int, float, float]], examples: list[dict], feats=None) -> list[str]:
        from vxt.data.cache import DecodeSettings
        from vxt.decoding import DecodingOptions
        from vxt.inference import load_media

        settings = DecodeSettings.from_dict(self.model.config.get("decode"))
        keys = [(str(examples[b]["id"]), round(s, 2), round(e, 2)) for b, s, e in requests]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        by_id = {str(ex["id"]): ex for ex in examples}
        options = DecodingOptions(beam_size=1, greedy=True, max_length=int(self.model.config.get("max_target_tokens", 32)))
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i: i + self.batch_size]
            items = []
            for vid, s, e in chunk:
                sub = self._segment_example(by_id[vid], s, e)
                items.append({"example": sub, "media": load_media(sub, settings)})
            batch = self.model.collate(items, train=False)
            preds = self.model.predict(batch, options)
            for k, p in zip(chunk, preds):
                self._memo[k] = p["prediction"]
        return [self._memo[k] for k in keys]


def segment_batch(captioner, rows: list[tuple[dict, float, float, dict]], sentences: list[str] | None = None) -> dict:
    """A captioner batch of segments: ``rows`` = (features of the video, start, end, example).

    Video and audio rows overlapping [start, end] (at least one step each),
    padded with masks (a missing stream: an all-False mask); for MDVC the
    words of the subtitles overlapping the segment as ``speech``; with
    ``sentences`` the caption ids (``<s> .. </s>``, cut to ``max_len``).
    """
    from vxt.data.features import pad_streams, segment_features

    cfg = captioner.config
    batch: dict[str, Any] = {}
    for m in ("video", "audio"):
        dim = int(cfg[f"d_{m}"])
        seg_rows = []
        for f, s, e, _ in rows:
            arr = f.get(m)
            seg_rows.append(None if arr is None else segment_features(arr, float(f[f"{m}_step"]), s, e))
        if all(r is None for r in seg_rows):
            continue  # absent from the batch: the model masks it
        x, mask = pad_streams(seg_rows, dim)
        batch[m], batch[f"{m}_mask"] = x, mask
    if "speech" in (cfg.get("modalities") or []):
        sv = captioner.speech_vocab
        ids = [sv.encode(_subs_text(ex, s, e), max_len=200, add_bos_eos=False) for _, s, e, ex in rows]
        length = max([1, *(len(r) for r in ids)])
        speech = torch.full((len(rows), length), sv.pad_id, dtype=torch.long)
        for i, r in enumerate(ids):
            if r:
                speech[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        batch["speech"], batch["speech_mask"] = speech, speech != sv.pad_id
    if sentences is not None:
        ids, mask = captioner.vocab.encode_batch(sentences, max_len=int(cfg["max_len"]) + 1)
        batch["caption_ids"], batch["caption_mask"] = ids, mask
    return batch


# ---------------------------------------------------------------- the task model


class DenseTaskModel(nn.Module):
    """The ``--task dense`` model of the training loop and ``vxt decode`` (see the module docstring)."""

    #: the features come from the feature store, not from the media cache
    needs_media = False

    def __init__(self, config: dict, captioner: nn.Module | None = None, generator: nn.Module | None = None,
                 text_captioner: nn.Module | None = None, data_dir: str | Path | None = None):
        super().__init__()
        from vxt.data.feature_store import FeatureStore

        self.config = config
        self.captioner = captioner
        self.generator = generator
        self.text_captioner = text_captioner
        if text_captioner is not None:
            text_captioner.requires_grad_(False)
        self.stage = config["stage"]
        if self.stage not in ("captioner", "proposals"):
            raise VxtError(f"a dense model is trained in stage captioner or proposals, not {self.stage!r}")
        if self.stage == "proposals":
            if generator is None:
                raise VxtError("the proposals stage needs a proposal generator")
            if captioner is not None:
                captioner.requires_grad_(False)
        elif captioner is None:
            raise VxtError("the captioner stage needs a captioner (bmt or mdvc)")
        data = data_dir if data_dir is not None else config.get("data_dir")
        self.data_dir = None if data is None else Path(data)
        self.store = FeatureStore.from_config(config["features"], self.data_dir)
        self.store.norm = config.get("feature_stats") or None
        self._decode_mode: str | None = None  # None: validation during training
        self._caption_override = None

    # ------------------------------------------------------------ modes and metric

    @property
    def metric_name(self) -> str:
        if self.stage == "proposals":
            return "F1"
        return "METEOR" if _java() else "CIDEr"

    def train(self, mode: bool = True) -> "DenseTaskModel":
        super().train(mode)
        if self.stage == "proposals" and self.captioner is not None:
            self.captioner.eval()  # frozen: no dropout in the encoder the generator reads
        if self.text_captioner is not None:
            self.text_captioner.eval()
        return self

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    # ------------------------------------------------------------ batching

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        """``[{"example", "media"}]`` -> a batch (the media are not used: the feature store gives the streams).

        Training the captioner, the batch holds one row per event of its
        videos; training proposals and at inference, one row per video.
        """
        from vxt.data.features import pad_streams

        if not items:
            raise DataError("an empty batch")
        exs = [it["example"] for it in items]
        feats = [self.store.get(ex) for ex in exs]
        batch: dict[str, Any] = {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)], "examples": exs,
                                 "feats": feats,
                                 "duration": torch.tensor([float(f["duration"]) for f in feats], dtype=torch.float32)}
        if train and self.stage == "captioner":
            rows, sentences = [], []
            for ex, f in zip(exs, feats):
                for ev in ex.get("events") or []:
                    if str(ev.get("sentence", "")).strip():
                        rows.append((f, float(ev["start"]), float(ev["end"]), ex))
                        sentences.append(str(ev["sentence"]))
            batch["n_events"] = len(rows)
            if rows:
                batch.update(segment_batch(self.captioner, rows, sentences))
            return batch
        # whole-video streams (proposals)
        for m in ("video", "audio"):
            arrays = [f.get(m) for f in feats]
            if all(a is None for a in arrays):
                continue
            dim = next(a.shape[1] for a in arrays if a is not None)
            x, mask = pad_streams(arrays, dim)
            batch[m], batch[f"{m}_mask"] = x, mask
        if train:
            batch["segments"] = [[(float(ev["start"]), float(ev["end"])) for ev in ex.get("events") or []] for ex in exs]
        return batch

    # ------------------------------------------------------------ training

    def _proposal_streams(self, batch: dict) -> tuple[dict, dict]:
        if self.config.get("proposals_on") == "encoder":
            self.captioner.eval()
            with torch.no_grad():
                streams, masks = self.captioner.encode_streams(batch)
            return ({m: streams[m] for m in ("video", "audio") if m in streams},
                    {m: masks[m] for m in ("video", "audio") if m in masks})
        from vxt.models.proposals import raw_streams

        return raw_streams(batch)

    def forward(self, batch: dict) -> dict:
        if self.stage == "captioner":
            if not batch.get("n_events"):
                zero = sum(p.sum() for p in self.captioner.parameters() if p.requires_grad) * 0.0
                return {"loss": zero, "n_tokens": torch.tensor(0)}
            return self.captioner(batch)
        streams, masks = self._proposal_streams(batch)
        return self.generator.loss(self.generator(streams, masks, batch["duration"]), batch["segments"])

    # ------------------------------------------------------------ inference

    def configure_decode(self, data_dir: str | Path | None = None, features: str | Path | None = None,
                         overrides: dict | None = None) -> None:
        """Set up decoding: where relative media live, pre-extracted features, decode options.

        ``overrides``: ``top_k``, ``nms``, ``segments`` (proposals | gt),
        ``captioner`` (another caption model: a VX2TEXT caption exp, or a
        dense exp whose captioner to use), ``caption_batch``,
        ``feature_combine``, ``audio_features_dir``.
        """
        from vxt.data.feature_store import FeatureStore

        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(_DECODE_KEYS))
        if unknown:
            raise VxtError(f"unknown dense decode option(s) {', '.join(unknown)} (known: {', '.join(_DECODE_KEYS)})")
        for k in ("top_k", "nms", "segments", "caption_batch"):
            if k in overrides:
                self.config[k] = overrides[k]
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        fcfg = dict(self.config["features"])
        if features is not None:
            fcfg = {"source": "files", "dir": str(features),
                    "combine": overrides.get("feature_combine", fcfg.get("combine", "sum")),
                    "audio_dir": overrides.get("audio_features_dir", fcfg.get("audio_dir"))}
        elif fcfg.get("source") == "files":
            for k, ck in (("feature_combine", "combine"), ("audio_features_dir", "audio_dir")):
                if k in overrides:
                    fcfg[ck] = overrides[k]
        self.store = FeatureStore.from_config(fcfg, self.data_dir)
        self.store.norm = self.config.get("feature_stats") or None
        if overrides.get("captioner"):
            self._caption_override = load_caption_backend(overrides["captioner"], self.data_dir,
                                                          int(self.config.get("caption_batch", 256)))
        segments = self.config.get("segments", "proposals")
        if segments not in ("proposals", "gt"):
            raise VxtError(f"segments must be 'proposals' or 'gt', got {segments!r}")
        if segments == "proposals" and self.generator is None:
            from vxt.utils import say_once

            say_once("vxt: this dense model has no proposal generator (trained with --stage captioner): "
                     "captioning the ground-truth segments")
            segments = "gt"
        self._decode_mode = segments

    def _caption_backend(self):
        if self._caption_override is not None:
            return self._caption_override
        batch_size = int(self.config.get("caption_batch", 256))
        if self.text_captioner is not None:
            return VX2TextCaptioning(self.text_captioner, self.data_dir, min(batch_size, 64))
        if self.captioner is not None:
            return FeatureCaptioning(self.captioner, None, batch_size)
        raise VxtError("this dense model has no captioner: pass one with --set captioner=<a caption exp dir>")

    @torch.no_grad()
    def predict(self, batch: dict, options=None) -> list[dict]:
        """One dict per video: ``id``, ``events`` (best first), ``prediction`` (a one-line timeline)."""
        from vxt.decoding.events import proposals_to_events, select_proposals, timeline_text

        was_training = self.training
        self.eval()
        try:
            exs, feats = batch["examples"], batch["feats"]
            mode = self._decode_mode
            if mode is None:  # validation during training
                mode = "gt" if self.stage == "captioner" else "proposals-only"
            top_k, nms = int(self.config.get("top_k", 100)), self.config.get("nms")
            if mode == "gt":
                for ex in exs:
                    if not ex.get("events"):
                        why = ("" if self.generator is not None else
                               " (this model has no proposal generator: train one with --stage proposals)")
                        raise DataError("no ground-truth segments to caption" + why, example_id=ex.get("id"))
                props = [[{"start": float(e["start"]), "end": float(e["end"]), "score": 1.0}
                          for e in ex.get("events") or []] for ex in exs]
            else:
                dev = self._device()
                b = {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                streams, masks = self._proposal_streams(b)
                # every candidate worth keeping (NMS needs a pool beyond the top k); selection is events.py's
                pool = top_k if nms is None else max(20 * top_k, 2000)
                props = self.generator.propose(streams, masks, b["duration"].cpu(), top_k=pool, nms=None)
            nms = None if nms is None or mode == "gt" else float(nms)
            if mode == "proposals-only":
                events = [[{"start": round(p["start"], 3), "end": round(p["end"], 3), "score": round(p["score"], 6)}
                           for p in select_proposals(ps, top_k, nms)] for ps in props]
            else:
                backend = self._caption_backend()
                events = proposals_to_events(props, lambda reqs: backend.caption(reqs, exs, feats),
                                             top_k=top_k, nms=nms)
            return [{"id": str(ex["id"]), "prediction": timeline_text(evs), "events": evs}
                    for ex, evs in zip(exs, events)]
        finally:
            self.train(was_training)

    # ------------------------------------------------------------ persistence

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """``config.json`` + ``model.safetensors`` (+ ``vocab.json``; a VX2TEXT captioner in ``captioner/``)."""
        from safetensors.torch import save

        from vxt.utils import atomic_write_bytes, write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        cfg = copy.deepcopy(self.config)
        cfg["class"] = CLASS_PATH
        if self.captioner is not None:
            cfg["captioner_config"] = self.captioner.config
            self.captioner.vocab.save(out / "vocab.json")
        if self.generator is not None:
            cfg["generator_config"] = self.generator.config
        write_json(out / "config.json", cfg)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()
                 if not k.startswith("text_captioner.")}
        atomic_write_bytes(out / "model.safetensors", save(state, metadata={"format": "pt", "arch": "dense-task"}))
        if self.text_captioner is not None:
            self.text_captioner.save_pretrained(out / "captioner")
        return out

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "DenseTaskModel":
        from safetensors.torch import load_file

        from vxt.models.proposals import ProposalGenerator
        from vxt.utils import read_json

        p = Path(path)
        cfg = read_json(p / "config.json")
        if cfg.get("arch") != "dense-task":
            raise VxtError("not a dense task checkpoint", path=str(p))
        captioner = None
        if cfg.get("captioner_config"):
            captioner = _captioner_class(cfg["captioner_config"]["arch"])(cfg["captioner_config"], None, _loading=True)
        generator = None
        if cfg.get("generator_config"):
            g = cfg["generator_config"]
            keys = ("stream_dims", "anchors", "kernel_sizes", "hidden", "dropout", "layer_norm", "steps",
                    "obj_coeff", "noobj_coeff", "min_length")
            generator = ProposalGenerator(**{k: g[k] for k in keys if k in g})
        text_captioner = None
        if (p / "captioner" / "config.json").exists():
            from vxt.models import load_model

            text_captioner = load_model(p / "captioner")
        data_dir = cfg.get("data_dir")
        if data_dir is not None and not Path(data_dir).is_dir():
            data_dir = None
        model = cls(cfg, captioner, generator, text_captioner, data_dir=data_dir)
        weights = p / "model.safetensors"
        if not weights.exists():
            raise VxtError("no model.safetensors here", path=str(p))
        state = load_file(str(weights))
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("text_captioner.")]
        if missing or unexpected:
            raise VxtError(f"weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})",
                           path=str(weights))
        model.eval()
        return model


def _captioner_class(arch: str):
    if arch == "bmt":
        from vxt.models.bmt import BMT

        return BMT
    if arch == "mdvc":
        from vxt.models.mdvc import MDVC

        return MDVC
    raise VxtError(f"unknown dense captioner arch {arch!r} (bmt or mdvc)")


def load_caption_backend(path: str | Path, data_dir: Path | None, batch_size: int = 256):
    """A caption backend from a checkpoint: a VX2TEXT caption exp, a dense exp (its captioner), or a BMT/MDVC dir."""
    from vxt.models.dense_common import DenseCaptioner
    from vxt.train.checkpoint import load_checkpoint

    model = load_checkpoint(path)
    model.eval()
    if isinstance(model, DenseTaskModel):
        if model.captioner is not None:
            return FeatureCaptioning(model.captioner, model.store, batch_size)
        if model.text_captioner is not None:
            return VX2TextCaptioning(model.text_captioner, data_dir)
        raise VxtError("this dense model holds no captioner", path=str(path))
    if isinstance(model, DenseCaptioner):
        raise VxtError("a bare BMT/MDVC dir does not say which features it was trained on: pass a dense exp dir",
                       path=str(path))
    if getattr(model, "config", {}).get("arch") == "vx2text":
        if model.config.get("task") != "caption":
            raise VxtError(f"a VX2TEXT captioner must be trained with --task caption (this one: {model.config.get('task')})",
                           path=str(path))
        return VX2TextCaptioning(model, data_dir)
    raise VxtError("not a caption model (expected a VX2TEXT caption exp or a dense exp)", path=str(path))


# ---------------------------------------------------------------- building


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


def feature_config(task: dict) -> dict:
    """The :class:`~vxt.data.feature_store.FeatureStore` config the task options ask for (backbone or files)."""
    feats = task["features"]
    if feats in (None, "", "backbone"):
        settings = dict(task.get("feature_settings") or {})
        for k in ("video_classifier", "audio_classifier", "video_weights", "audio_weights"):
            if task.get(k) is not None:
                settings[k] = task[k]
        from vxt.data.feature_store import BackboneSettings

        return {"source": "backbone", **BackboneSettings.from_dict(settings).to_dict()}
    if isinstance(feats, dict):
        return dict(feats)
    p = Path(str(feats))
    if not p.is_dir():
        raise DataError("no such features folder", path=str(p))
    return {"source": "files", "dir": str(p.resolve()), "combine": task.get("feature_combine", "sum"),
            "audio_dir": None if not task.get("audio_features_dir") else str(Path(task["audio_features_dir"]).resolve())}


def _speech_vocab(train: list[dict]):
    from vxt.models.dense_common import build_vocab

    texts = [str(s.get("text", "")) for ex in train for s in ex.get("subtitles") or []]
    return build_vocab(texts) if any(t.strip() for t in texts) else None


def build_dense_task(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> DenseTaskModel:
    """Build the dense task model ``name`` (bmt, bmt-tiny, mdvc, mdvc-tiny) for the data in ``data_dir``.

    Extracts (or loads) the features of the train and val videos first, builds
    the caption vocabulary from the training events (captioner stage) or loads
    the captioner and fits the anchors (proposals stage).
    """
    from vxt.data.feature_store import FeatureStore, feature_stats
    from vxt.data.loader import task_examples
    from vxt.models.dense_common import DENSE_PRESETS, build_vocab
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
                       "(or vxt.models.dense_task.train_stages)")
    train = [ex for ex in task_examples(data, "train", "dense") if ex.get("events")]
    if not train:
        raise DataError("no dense training examples with events", path=str(data / "train.jsonl"))
    val = task_examples(data, "val", "dense") if (data / "val.jsonl").exists() else []

    captioner = text_captioner = source_model = None
    if stage == "proposals" and task.get("captioner"):
        from vxt.train.checkpoint import load_checkpoint

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
    from vxt.models.proposals import ProposalGenerator, fit_anchors

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


# ---------------------------------------------------------------- the two stages in one command


def train_stages(opts, train_fn) -> dict:
    """Run ``opts`` (a :class:`~vxt.train.loop.TrainOptions` of ``--task dense``) stage by stage.

    ``stage=both`` (the default of ``vxt train --task dense``): the captioner
    into ``OUT/captioner``, then the proposal generator on its frozen encoder
    into ``OUT``, in the order BMT trains them. Other stages: one run.
    """
    import dataclasses

    from vxt.train.loop import default_out

    stage = opts.overrides.get("stage", "both")
    if stage not in STAGES:
        raise VxtError(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if stage != "both":
        return train_fn(opts)
    out = Path(opts.out or default_out(opts))
    first = dataclasses.replace(opts, out=str(out / "captioner"), overrides={**opts.overrides, "stage": "captioner"})
    s1 = train_fn(first)
    over = {**opts.overrides, "stage": "proposals", "captioner": str(out / "captioner")}
    second = dataclasses.replace(opts, out=str(out), overrides=over)
    s2 = train_fn(second)
    if s2 is not None and s1:
        s2 = {**s2, "captioner": s1}
    return s2
