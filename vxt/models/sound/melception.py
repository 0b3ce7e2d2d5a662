"""Melception: SpecVQGAN's sound classifier, whose features and logits score generated sound (FID, KID, IS, MKL).

The network (:class:`MelceptionNet`, preset ``melception``) is torchvision's
Inception3 (``inception_v3(weights=None, aux_logits=False,
init_weights=True)``) changed as SpecVQGAN's
``evaluation/feature_extractors/melception.py``: the first convolution takes
one channel (``BasicConv2d(1, 32, kernel_size=3, stride=2)``, PyTorch's
default init as there) and the first two max-pools are removed (an 80-bin
mel is much shorter than a 299 px image), so a ``80 x 848`` spectrogram
becomes ``2048 x 8 x 104`` before the average pool. Its input is the
SpecVQGAN front end's ``[0, 1]`` spectrogram (:func:`vxt.models.sound.melspectrogram`),
centre crop ``80 x 848``, standardised per mel bin with the training set's
statistics (SpecVQGAN's ``StandardNormalizeAudio``: the mean over clips of
each clip's per-bin mean and standard deviation over time; computed when the
model is built and kept as buffers in the weights). :meth:`MelceptionNet.forward`
returns the 2,048-d pooled ``features``, the ``logits`` and the
``logits_unbiased`` (the logits without the bias, which SpecVQGAN's IS uses).

``melception-tiny`` has the same inputs and outputs with a small conv stack in
place of Inception (``--set d_feat=``): CPU tests. ``vggishish`` is SpecVQGAN's
other classifier, VGGishish (``vggish.yaml``: the VGG-16 conv stack without
batch norm, average-pooled to 5 x 10, two 4,096-wide layers; Kaiming and
N(0, 0.01) init), trained the same way; its conv stack is what LPAPS reads
(:meth:`vxt.models.sound.lpaps.LPAPS.from_vggishish`). ``vggishish-tiny``:
narrower widths (``channels``, ``hidden``), for tests. The task model
(:class:`MelceptionModel`) trains with ``vxt train --task classify --model
melception`` on the data's sound classes (each example's ``label``;
the order of ``labels/audio.txt`` where it lists them all, else sorted).
"""

from __future__ import annotations

from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.errors import DataError, VxtError
from vxt.models.sound import frontend as fe

ARCH = "melception"
CLASS_PATH = "vxt.models.sound.melception:MelceptionModel"
#: the Inception3 stages SpecVQGAN's Melception runs, in order (maxpool1/2 are identities)
STAGES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
          "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
          "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")
PRESETS: dict[str, dict] = {
    "melception": {"net": "inception3", "dropout": 0.5, "d_feat": 2048},
    "melception-tiny": {"net": "tiny", "dropout": 0.0, "d_feat": 32, "channels": [8, 16]},
    # VGGishish (SpecVQGAN's vggish.yaml: the VGG-16 conv stack, no batch norm), whose convs LPAPS reads;
    # channels: the widths at relu1_2 ... relu5_3 (LPAPS's five taps)
    "vggishish": {"net": "vggishish", "channels": [64, 128, 256, 512, 512], "hidden": 4096},
    "vggishish-tiny": {"net": "vggishish", "channels": [4, 8, 8, 16, 16], "hidden": 32},
}
#: spectrograms kept in memory between epochs (about 275 kB each)
CACHE_CLIPS = 4096
#: options of the builder besides the network's (``--set norm_clips=N``: the statistics from N clips)
TASK_KEYS = ("norm_clips",)


class _TinyNet(nn.Module):
    """A small conv stack with Melception's interface (tests)."""

    def __init__(self, channels: list[int], d_feat: int):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for c in [*channels, d_feat]:
            layers += [nn.Conv2d(cin, int(c), 3, stride=2, padding=1), nn.BatchNorm2d(int(c)), nn.ReLU()]
            cin = int(c)
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MelceptionNet(nn.Module):
    """``[B, 80, T]`` spectrograms in [0, 1] -> ``{"features": [B, d_feat], "logits", "logits_unbiased"}``."""

    def __init__(self, config: dict, n_classes: int):
        super().__init__()
        self.kind = config["net"]
        if self.kind == "inception3":
            from torchvision.models import inception_v3
            from torchvision.models.inception import BasicConv2d

            net = inception_v3(weights=None, aux_logits=False, init_weights=True, num_classes=int(n_classes),
                               dropout=float(config["dropout"]))
            net.Conv2d_1a_3x3 = BasicConv2d(1, 32, kernel_size=3, stride=2)  # one channel: a mel, not RGB
            net.maxpool1, net.maxpool2 = nn.Identity(), nn.Identity()
            self.inception = net
            d_feat = 2048
        elif self.kind == "tiny":
            d_feat = int(config["d_feat"])
            self.body = _TinyNet(list(config["channels"]), d_feat)
            self.dropout = nn.Dropout(float(config["dropout"]))
            self.fc = nn.Linear(d_feat, int(n_classes))
        elif self.kind == "vggishish":
            from vxt.models.sound.lpaps import vggishish_features

            chans, hidden = [int(c) for c in config["channels"]], int(config["hidden"])
            self.features = nn.Sequential(*vggishish_features(tuple(chans)))
            self.avgpool = nn.AdaptiveAvgPool2d((5, 10))
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(chans[4] * 5 * 10, hidden), nn.ReLU(),
                                      nn.Linear(hidden, hidden), nn.ReLU())
            self.fc = nn.Linear(hidden, int(n_classes))
            for m in self.modules():  # VGGishish.reset_parameters
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)
            d_feat = hidden
        else:
            raise VxtError(f"a Melception net is inception3, tiny or vggishish, not {self.kind!r}")
        self.d_feat = d_feat
        # per-bin standardisation (SpecVQGAN's StandardNormalizeAudio), filled from the training set
        self.register_buffer("norm_mean", torch.zeros(fe.N_MELS))
        self.register_buffer("norm_std", torch.ones(fe.N_MELS))

    def _fc(self) -> nn.Linear:
        return self.inception.fc if self.kind == "inception3" else self.fc

    def forward(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (spec - self.norm_mean[:, None]) / self.norm_std[:, None]
        x = x.unsqueeze(1)
        if self.kind == "inception3":
            net = self.inception
            for name in STAGES:
                x = getattr(net, name)(x)
            x = torch.flatten(net.dropout(net.avgpool(x)), 1)
        elif self.kind == "vggishish":
            x = self.body(self.avgpool(self.features(x)))
        else:
            x = torch.flatten(self.dropout(F.adaptive_avg_pool2d(self.body(x), 1)), 1)
        fc = self._fc()
        unbiased = x @ fc.weight.T
        return {"features": x, "logits": unbiased + fc.bias, "logits_unbiased": unbiased}


def spectrogram_stats(specs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(per-bin mean, per-bin std) as SpecVQGAN's StandardNormalizeAudio: each clip's over time, averaged over clips."""
    if not specs:
        raise DataError("no training spectrograms to take the input statistics from")
    means = np.mean([s.mean(axis=1) for s in specs], axis=0)
    stds = np.mean([s.std(axis=1) for s in specs], axis=0)
    return means, np.maximum(stds, 1e-5)  # a constant bin (silence) would divide by zero


def sound_class_examples(rows: list[dict]) -> list[dict]:
    """The manifest rows Melception learns from: those with a sound class (``label``) and sound, one per clip;
    where a split has ``sound`` examples (SpecVQGAN's 22.05 kHz clips), those only."""
    rows = [r for r in rows if isinstance(r.get("label"), str) and r["label"]
            and (r.get("video") or r.get("audio")) and "audio" not in (r.get("missing") or [])]
    if any(r.get("task") == "sound" for r in rows):
        rows = [r for r in rows if r.get("task") == "sound"]
    seen: set = set()
    out = []
    for r in rows:
        key = (r.get("audio") or r.get("video"), float(r.get("start") or 0.0))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


class MelceptionModel(nn.Module):
    """The ``classify`` task model of Melception (the training loop's collate/forward/predict contract)."""

    metric_name = "accuracy"
    task = "classify"
    #: the model reads its own audio (22,050 Hz): no media cache
    needs_media = False

    def __init__(self, config: dict, data_dir: str | Path | None = None):
        super().__init__()
        self.config = config
        self.labels = list(config["labels"])
        self.net = MelceptionNet(config["network"], len(self.labels))
        self.data_dir = None if data_dir is None else Path(data_dir)
        self._specs: dict[str, np.ndarray] = {}

    def use_data_dir(self, data: str | Path) -> None:
        self.data_dir = Path(data)

    def _media(self, ex: dict) -> Path:
        from vxt.models.sound.task_model import example_media

        return example_media(ex, self.data_dir, ("audio", "video"))

    def spectrogram(self, ex: dict) -> np.ndarray:
        """The example's full ``[80, 860]`` spectrogram (computed once per clip)."""
        from vxt.models.sound.task_model import clip_spectrogram

        path = self._media(ex)
        start = float(ex.get("start") or 0.0)
        key = f"{path}|{start:.3f}"
        spec = self._specs.get(key)
        if spec is None:
            spec = clip_spectrogram(path, start, example_id=ex.get("id"))[0].astype(np.float32)
            if len(self._specs) < CACHE_CLIPS:
                self._specs[key] = spec
        return spec

    def _label(self, ex: dict) -> int:
        name = ex.get("label")
        if not name:
            return -1
        if name not in self.labels:
            raise DataError(f"sound class {name!r} is not in Melception's label space", example_id=ex.get("id"))
        return self.labels.index(name)

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        if not items:
            raise DataError("an empty batch")
        exs = [it["example"] for it in items]
        specs = np.stack([fe.centre_crop(self.spectrogram(ex)) for ex in exs]).astype(np.float32)
        return {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)], "spec": torch.from_numpy(specs),
                "labels": torch.tensor([self._label(ex) for ex in exs], dtype=torch.long)}

    def forward(self, batch: dict) -> dict:
        out = self.net(batch["spec"])
        y = batch["labels"]
        keep = y >= 0
        if not bool(keep.any()):
            raise DataError("no labelled example in the batch")
        return {"loss": F.cross_entropy(out["logits"][keep].float(), y[keep]), "logits": out["logits"]}

    @torch.no_grad()
    def predict(self, batch: dict, options=None) -> list[dict]:
        top = self.net(batch["spec"])["logits"].argmax(1).tolist()
        rows = []
        for i, cid in enumerate(batch["ids"]):
            row = {"id": cid, "prediction": self.labels[top[i]], "choice": top[i]}
            if int(batch["labels"][i]) >= 0:
                row["answer"] = int(batch["labels"][i])
            rows.append(row)
        return rows

    @torch.no_grad()
    def embed(self, specs: np.ndarray, batch_size: int = 16) -> dict[str, np.ndarray]:
        """Features and logits of ``[N, 80, 848]`` spectrograms in [0, 1] (eval mode, the model's device)."""
        was = self.training
        self.eval()
        dev = next(self.parameters()).device
        parts: dict[str, list] = {}
        try:
            for i in range(0, len(specs), batch_size):
                x = torch.as_tensor(np.asarray(specs[i : i + batch_size], dtype=np.float32), device=dev)
                for k, v in self.net(x).items():
                    parts.setdefault(k, []).append(v.double().cpu().numpy())
        finally:
            self.train(was)
        return {k: np.concatenate(v) for k, v in parts.items()}

    # ------------------------------------------------------------ persistence

    def save_pretrained(self, out_dir: str | Path) -> Path:
        from vxt.nn.weights import save_model_dir

        return save_model_dir(out_dir, self.config, CLASS_PATH, self.state_dict(), ARCH)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "MelceptionModel":
        from vxt.nn.weights import load_weights, read_model_config

        cfg = read_model_config(path, ARCH, "a Melception")
        model = cls(cfg)
        load_weights(model, Path(path) / "model.safetensors")
        model.eval()
        return model


def label_space(data_dir: str | Path, train: list[dict]) -> list[str]:
    """The sound classes: ``labels/audio.txt`` where it lists every training ``label``, else the sorted labels."""
    from vxt.data.manifest import read_label_space

    names = sorted({ex["label"] for ex in train})
    listed = read_label_space(data_dir, "audio") or []
    if listed and set(names) <= set(listed):
        return list(listed)
    return names


def build_melception(name: str, overrides: dict | None = None, data_dir: str | Path | None = None) -> MelceptionModel:
    """Melception (``name``: ``melception`` or ``melception-tiny``) for the sound classes of ``data_dir``."""
    from vxt.data.manifest import load_split
    from vxt.registry import check_values, merge_config, whole
    from vxt.utils import say_once

    over = dict(overrides or {})
    task = over.pop("task", "classify")
    if task != "classify":
        raise VxtError(f"{name} is a sound classifier: train it with --task classify (not --task {task})")
    over.pop("modality", None)  # --task classify's: Melception is the audio classifier
    if over.pop("weights", None):
        raise VxtError(f"{name} starts from random init (--audio-weights is for the modality classifiers)")
    if data_dir is None:
        raise VxtError(f"{name} learns the data's sound classes: give --data")
    task_opts = {k: over.pop(k) for k in TASK_KEYS if k in over}
    check_values(task_opts, {"norm_clips": whole(1, null=True)})
    known = set(PRESETS[name])
    unknown = sorted(set(over) - known)
    if unknown:
        raise VxtError(f"unknown {name} option(s) {', '.join(unknown)} (known: {', '.join(sorted(known | set(TASK_KEYS)))})")
    network = merge_config(PRESETS[name], over)
    train = sound_class_examples(load_split(data_dir, "train"))
    if not train:
        raise DataError("no training examples with a sound class ('label') and sound", path=str(Path(data_dir) / "train.jsonl"))
    labels = label_space(data_dir, train)
    config = {"arch": ARCH, "task": "classify", "name": name, "network": network, "labels": labels,
              "input": {"frontend": "specvqgan", "crop": fe.CROP_FRAMES, "n_mels": fe.N_MELS}}
    model = MelceptionModel(config, data_dir=data_dir)
    n = task_opts.get("norm_clips")
    picked = train if not n or n >= len(train) else [train[i * len(train) // n] for i in range(n)]
    mean, std = spectrogram_stats([model.spectrogram(ex) for ex in picked])
    model.net.norm_mean.copy_(torch.from_numpy(mean).float())
    model.net.norm_std.copy_(torch.from_numpy(std).float())
    say_once(f"{name}: {len(labels)} sound classes; inputs standardised per mel bin with the statistics of "
             f"{len(picked)} training clip(s)")
    return model


def load_melception(path: str | Path) -> MelceptionModel:
    """A trained Melception from an experiment dir (``best/``, else ``last/``) or a model dir; one line otherwise."""
    p = Path(path)
    if not p.is_dir():
        raise DataError("no such Melception checkpoint (a folder of vxt train --task classify --model melception)",
                        path=str(p))
    for cand in (p / "best", p / "last", p):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return MelceptionModel.from_pretrained(cand)
    raise DataError("not a Melception checkpoint: no config.json and model.safetensors here", path=str(p))
