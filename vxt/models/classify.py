"""``vxt train --task classify``: pre-training a modality classifier on a data dir's label space.

As the paper's classifiers were pre-trained on Kinetics (video) and AudioSet
(audio), the synthetic benchmark's are pre-trained on its motions and sounds.
The saved experiment dir is a classifier dir: pass it as ``video_weights`` /
``audio_weights`` to a VX2TEXT model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from vxt.errors import DataError, VxtError
from vxt.registry import MODELS


class ClassifierModel(nn.Module):
    """A modality classifier with the training loop's collate/forward/predict contract."""

    metric_name = "accuracy"
    task = "classify"

    def __init__(self, classifier, modality: str):
        super().__init__()
        self.classifier = classifier
        self.modality = modality
        self.config = {"task": "classify", "modality": modality, "classifier": dict(classifier.config)}

    # -- data
    def _label_index(self, ex: dict) -> int | None:
        names = (ex.get("labels") or {}).get(self.modality) or []
        if not names:
            return None
        try:
            return self.classifier.labels.index(names[0])
        except ValueError:
            raise DataError(f"label {names[0]!r} is not in the {self.modality} label space", example_id=ex.get("id")) from None

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        xs, owner, labels, ids = [], [], [], []
        for item in items:
            ex, media = item["example"], item["media"]
            arr = media.get(self.modality)
            if arr is None:
                if train:
                    continue  # nothing to learn from: a missing modality is skipped, not a crash
                arr = None
            ids.append(ex["id"])
            y = self._label_index(ex)
            labels.append(-1 if y is None else y)
            if arr is None:
                continue
            x = self.classifier.preprocess(arr)
            if self.modality == "video":
                x = x if x.dim() == 5 else x.unsqueeze(0)  # [N, 3, T, H, W]
            else:
                x = x.unsqueeze(0)  # [1, 1, frames, 64]
            xs.append(x)
            owner.extend([len(ids) - 1] * x.shape[0])
        if not ids:
            raise DataError(f"a batch without any {self.modality} input")
        if xs and self.modality == "audio":
            # pad log-mels of different lengths to the longest (with the log floor)
            tmax = max(x.shape[2] for x in xs)
            xs = [torch.nn.functional.pad(x, (0, 0, 0, tmax - x.shape[2]), value=float(x.min())) for x in xs]
        return {
            "ids": ids,
            "inputs": torch.cat(xs) if xs else torch.zeros(0),
            "owner": torch.tensor(owner, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
        }

    def _pooled_logits(self, batch: dict) -> torch.Tensor:
        logits = self.classifier(batch["inputs"])
        n = len(batch["ids"])
        pooled = torch.zeros(n, logits.shape[1], dtype=logits.dtype, device=logits.device)
        counts = torch.zeros(n, dtype=logits.dtype, device=logits.device)
        pooled.index_add_(0, batch["owner"], logits)
        counts.index_add_(0, batch["owner"], torch.ones_like(batch["owner"], dtype=logits.dtype))
        return pooled / counts.clamp(min=1).unsqueeze(1)

    def forward(self, batch: dict) -> dict:
        logits = self._pooled_logits(batch)
        y = batch["labels"]
        keep = y >= 0
        if not bool(keep.any()):
            raise DataError("no labelled example in the batch")
        if self.classifier.multi_label:
            target = torch.nn.functional.one_hot(y[keep], logits.shape[1]).to(logits.dtype)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], target)
        else:
            loss = torch.nn.functional.cross_entropy(logits[keep], y[keep])
        return {"loss": loss, "logits": logits}

    @torch.no_grad()
    def predict(self, batch: dict, options=None) -> list[dict]:
        logits = self._pooled_logits(batch)
        top = logits.argmax(dim=1).tolist()
        out = []
        for i, ex_id in enumerate(batch["ids"]):
            row = {"id": ex_id, "prediction": self.classifier.labels[top[i]], "choice": top[i]}
            if int(batch["labels"][i]) >= 0:
                row["answer"] = int(batch["labels"][i])
            out.append(row)
        return out

    # -- persistence: the dir is also a classifier dir usable as --video-weights
    def save_pretrained(self, out_dir) -> None:
        out_dir = Path(out_dir)
        self.classifier.save_pretrained(out_dir)
        cfg_path = out_dir / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg.update({"task": "classify", "modality": self.modality,
                    "class": f"{type(self).__module__}:{type(self).__qualname__}"})
        cfg_path.write_text(json.dumps(cfg, indent=2))

    @classmethod
    def from_pretrained(cls, path) -> "ClassifierModel":
        from vxt.modalities import create_classifier

        cfg = json.loads((Path(path) / "config.json").read_text())
        modality = cfg.get("modality")
        if not modality:
            raise VxtError("not a classifier checkpoint (no modality in config.json)", path=str(path))
        clf = create_classifier(cfg["name"], labels=cfg.get("labels"), weights=str(path))
        return cls(clf, modality)


def build_classifier_model(modality: str, data_dir, overrides: dict) -> ClassifierModel:
    """A classifier for ``modality`` over the data dir's label space (labels/<modality>.txt)."""
    from vxt.data.manifest import read_label_space
    from vxt.modalities import create_classifier

    if modality not in ("video", "audio"):
        raise VxtError(f"--modality must be video or audio, got {modality!r}")
    labels = read_label_space(data_dir, modality)
    if not labels:
        raise VxtError(f"no {modality} label space (labels/{modality}.txt) in the data dir", path=str(data_dir))
    name = overrides.get("classifier") or f"tiny-{modality}"
    weights = overrides.get("weights")
    extra = {k: v for k, v in overrides.items() if k not in ("classifier", "weights", "task", "modality")}
    clf = create_classifier(name, labels=labels, weights=weights, **extra)
    return ClassifierModel(clf, modality)


def _build(overrides: dict | None = None, data_dir=None, name: str = "classifier") -> ClassifierModel:
    """A modality classifier (``--set classifier=<a classifier registry name>``, default tiny-<modality>)."""
    overrides = dict(overrides or {})
    return build_classifier_model(overrides.get("modality") or "video", data_dir, overrides)


MODELS.register("classifier", description="a modality classifier over the data's label space (--modality video|audio)",
                tasks=("classify",))(_build)
