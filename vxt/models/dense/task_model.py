"""``--task dense``: BMT / MDVC (and any captioner) wired to the training loop and to ``vxt decode``.

:class:`DenseTaskModel` is what the registry entries ``bmt``, ``bmt-tiny``,
``mdvc`` and ``mdvc-tiny`` build for the training loop. It holds

* a captioner (:class:`~vxt.models.dense.bmt.BMT` or :class:`~vxt.models.dense.mdvc.MDVC`)
  trained on ground-truth segments: one caption per (video, event);
* optionally a proposal generator (:class:`~vxt.models.dense.proposals.ProposalGenerator`)
  trained per video on the captioner's frozen encoder (BMT's order: captioner
  first, then proposals), or on the raw feature streams when the captioner
  has no encoder to share (VX2TEXT, or none at all);
* optionally a VX2TEXT caption model that captions the proposal segments
  instead (``--set captioner=<a vx2text caption exp>``);
* a :class:`~vxt.modalities.feature_store.FeatureStore`: the video and audio
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
    the ``staged`` training strategy (:mod:`vxt.train.strategies`) runs ``captioner`` into ``OUT/captioner`` and then
    ``proposals`` into ``OUT`` on that captioner.

At decode time (:meth:`DenseTaskModel.configure_decode`), the top 100
proposals of each video are captioned in one batch (batched greedy decoding),
see :mod:`vxt.decoding.events`; ``segments=gt`` captions the ground-truth
segments instead (the "on GT segments" numbers of the papers).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vxt.errors import DataError, VxtError

from vxt.models.dense.backends import FeatureCaptioning, VX2TextCaptioning, load_caption_backend, segment_batch
from vxt.models.dense.options import DECODE_KEYS

CLASS_PATH = "vxt.models.dense:DenseTaskModel"


def _java() -> bool:
    from vxt.metrics import java_available

    return bool(java_available())



class DenseTaskModel(nn.Module):
    """The ``--task dense`` model of the training loop and ``vxt decode`` (see the module docstring)."""

    #: the features come from the feature store, not from the media cache
    needs_media = False

    def __init__(self, config: dict, captioner: nn.Module | None = None, generator: nn.Module | None = None,
                 text_captioner: nn.Module | None = None, data_dir: str | Path | None = None):
        super().__init__()
        from vxt.modalities.feature_store import FeatureStore

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
        from vxt.models.dense.proposals import raw_streams

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
        from vxt.modalities.feature_store import FeatureStore

        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(DECODE_KEYS))
        if unknown:
            raise VxtError(f"unknown dense decode option(s) {', '.join(unknown)} (known: {', '.join(DECODE_KEYS)})")
        from vxt.models.dense.options import check_task_options

        check_task_options(overrides)  # --set top_k=abc, nms=2, ...: one line naming the key and what it takes
        for k in ("top_k", "nms", "segments", "caption_batch"):
            if k in overrides:
                self.config[k] = overrides[k]
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        # a decode writes extracted features into the data dir it was given on the command line, else into
        # the user's cache: never into the data dir a checkpoint names (it only reads that one, if at all)
        from vxt.files import user_cache_dir

        cache_root = Path(data_dir) / "features" if data_dir is not None else user_cache_dir() / "features"
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
        self.store.cache_root = cache_root
        if overrides.get("captioner"):
            self._caption_override = load_caption_backend(overrides["captioner"], self.data_dir,
                                                          int(self.config.get("caption_batch", 256)))
            other = getattr(self._caption_override, "store", None)
            if other is not None:  # another dense exp's store: this decode's media, this decode's cache
                other.data_dir, other.cache_root = self.data_dir, cache_root
        segments = self.config.get("segments", "proposals")
        if segments not in ("proposals", "gt"):
            raise VxtError(f"segments must be 'proposals' or 'gt', got {segments!r}")
        if segments == "proposals" and self.generator is None:
            from vxt.utils import say_once

            say_once("vxt: this dense model has no proposal generator (trained with --stage captioner): "
                     "captioning the ground-truth segments")
            segments = "gt"
        self._decode_mode = segments

    def use_data_dir(self, data_dir: str | Path) -> None:
        """Read (and cache) features in ``data_dir``: the data dir a resumed training run was given."""
        self.data_dir = Path(data_dir)
        self.store.data_dir, self.store.cache_root = self.data_dir, None
        self.config["data_dir"] = str(self.data_dir.resolve())

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

        from vxt.files import canonical_safetensors
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
        atomic_write_bytes(out / "model.safetensors",
                           canonical_safetensors(save(state, metadata={"format": "pt", "arch": "dense-task"})))
        if self.text_captioner is not None:
            self.text_captioner.save_pretrained(out / "captioner")
        return out

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "DenseTaskModel":
        from vxt.models.dense.proposals import ProposalGenerator
        from vxt.nn.weights import load_weights
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
        sub = p / "captioner" / "config.json"
        # captioner/ holds a VX2TEXT captioner saved with this model; the staged strategy's stage-1 experiment
        # dir (OUT/captioner, a dense model with its own run.json) is not part of the model in OUT
        if sub.exists() and not (p / "captioner" / "run.json").exists() and read_json(sub).get("arch") != "dense-task":
            from vxt.models import load_model

            text_captioner = load_model(p / "captioner")
        # the data dir recorded in config.json is where it was trained: decoding names its own
        # (configure_decode), a resumed run its --data (use_data_dir); vxt never writes into the recorded one
        model = cls(cfg, captioner, generator, text_captioner, data_dir=None)
        load_weights(model, p / "model.safetensors", ignore=("text_captioner.",))
        model.eval()
        return model


def _captioner_class(arch: str):
    if arch == "bmt":
        from vxt.models.dense.bmt import BMT

        return BMT
    if arch == "mdvc":
        from vxt.models.dense.mdvc import MDVC

        return MDVC
    raise VxtError(f"unknown dense captioner arch {arch!r} (bmt or mdvc)")
