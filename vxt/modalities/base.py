"""The modality classifier interface, weight loading, and save/load of pretrained dirs.

In VX2TEXT each continuous modality m (video, audio) goes through a classifier
N_m pretrained on a label space C_m; its probabilities p_m(c|x) over C_m pick
the category names that become text tokens. :class:`ModalityClassifier` is
what the rest of vxt codes against:

- ``forward(x)`` -> logits ``[B, C]``; ``features(x)`` -> the penultimate
  features ``[B, feature_dim]`` (``forward == classify(features(x))``);
- ``log_probs(logits)``: ``log_softmax`` for single-label spaces (Kinetics),
  ``logsigmoid`` for multi-label ones (AudioSet);
- ``preprocess(array)``: one example's raw array -> the model input (no batch dim);
- ``config``: JSON-serialisable, enough to rebuild the classifier;
- ``save_pretrained(dir)`` / ``from_pretrained(dir)``: ``config.json`` +
  ``model.safetensors`` (never pickles).

Checkpoints are compared in *checkpoint key space*: the keys the original
implementation uses (torchvision's ``stem.*, layer1.*, ..., fc.*``; PANNs'
``bn0.*, conv_block1.*, ..., fc_audioset.*``). A subclass that wraps a module
under ``self.net`` sets ``ckpt_prefix = "net."`` and the prefix is added on
load and stripped on save, so a saved ``model.safetensors`` is itself a plain
torchvision/PANNs-layout checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vxt.errors import VxtError
from vxt.files import canonical_safetensors
from vxt.utils import read_json, say_once, atomic_write_bytes, write_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
# config keys that are not hyperparameters of the builder
_META_KEYS = ("name", "modality", "num_classes", "labels")


def _short_list(keys: list[str], n: int = 6) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", ... (+{len(keys) - n} more)" if len(keys) > n else "")


def as_tensor(array: Any) -> Tensor:
    """A tensor view of an array (read-only numpy arrays, e.g. decoded frames, are copied first)."""
    import numpy as np

    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array)


class ModalityClassifier(nn.Module):
    """A classifier N_m over a label space C_m for one continuous modality.

    Subclasses set ``modality``, ``multi_label``, ``head_prefix`` (the
    checkpoint-key prefix of the classification head, e.g. ``"fc."``) and
    implement ``features``, ``classify``, ``reset_head`` and ``preprocess``.
    """

    modality: str = ""
    multi_label: bool = False
    #: checkpoint-key prefix of the classification head (dropped and re-initialised on a class-count mismatch)
    head_prefix: str = "fc."
    #: prefix of this module's own state-dict keys relative to checkpoint keys (e.g. "net.")
    ckpt_prefix: str = ""
    #: checkpoint keys with these prefixes are skipped on load (e.g. PANNs' spectrogram front end)
    ignore_prefixes: tuple[str, ...] = ()

    def __init__(self, labels: list[str], config: dict):
        super().__init__()
        self.labels: list[str] = list(labels)
        self.config: dict = dict(config)
        self.config.update(modality=self.modality, num_classes=len(self.labels), labels=list(self.labels))
        self.feature_dim: int = 0
        self.weights_source: str | None = None
        self._frozen = False
        self._empty = False  # built without initialisation, waiting for weights

    # ------------------------------------------------------------ the model

    @property
    def name(self) -> str:
        return str(self.config.get("name", type(self).__name__))

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Penultimate features ``[B, feature_dim]``."""
        raise NotImplementedError

    def classify(self, feats: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The classification head: features ``[B, feature_dim]`` -> logits ``[B, C]``."""
        raise NotImplementedError

    def reset_head(self) -> None:  # pragma: no cover - abstract
        """Build a fresh, randomly initialised head for ``len(self.labels)`` classes."""
        raise NotImplementedError

    def preprocess(self, array: Any) -> Tensor:  # pragma: no cover - abstract
        """One example's raw array -> model input without the batch dim."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, C]``."""
        return self.classify(self.features(x))

    def log_probs(self, logits: Tensor) -> Tensor:
        """log p(c|x): ``log_softmax`` (single-label) or ``logsigmoid`` (multi-label, each class independent)."""
        if self.multi_label:
            return F.logsigmoid(logits)
        return F.log_softmax(logits, dim=-1)

    def probs(self, logits: Tensor) -> Tensor:
        """p(c|x): softmax (single-label) or sigmoid (multi-label)."""
        return self.log_probs(logits).exp()

    def topk(self, logits: Tensor, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable category names per example, with their probabilities."""
        p = self.probs(logits.detach().float())
        k = min(int(k), p.shape[-1])
        values, indices = p.topk(k, dim=-1)
        return [
            [(self.labels[int(i)], float(v)) for v, i in zip(vs, idx)]
            for vs, idx in zip(values.tolist(), indices.tolist())
        ]

    # ------------------------------------------------------------ freezing

    def freeze(self) -> "ModalityClassifier":
        """No gradients, and eval mode that ``.train()`` of a parent module does not undo.

        VX2TEXT uses the classifiers frozen: BatchNorm statistics and dropout
        must then stay in inference behaviour even while the text model trains.
        """
        self._frozen = True
        for p in self.parameters():
            p.requires_grad_(False)
        return super().train(False)

    def train(self, mode: bool = True) -> "ModalityClassifier":
        if getattr(self, "_frozen", False):
            mode = False
        return super().train(mode)

    # ------------------------------------------------------------ weights

    def checkpoint_state_dict(self) -> dict[str, Tensor]:
        """This classifier's weights under checkpoint keys (``ckpt_prefix`` stripped)."""
        n = len(self.ckpt_prefix)
        out = {}
        for k, v in self.state_dict().items():
            key = k[n:] if n and k.startswith(self.ckpt_prefix) else k
            out[key] = v
        return out

    def load_checkpoint_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> "ModalityClassifier":
        """Load weights given under checkpoint keys, strictly, except for the head.

        Keys under ``ignore_prefixes`` are skipped. When the checkpoint's head
        has a different number of classes than ``self.labels`` the backbone is
        loaded and the head is left freshly initialised, with a notice (the
        fine-tune case). Any other missing, unexpected or mis-shaped key raises
        one :class:`VxtError` line naming them.
        """
        state = dict(state)
        # DDP checkpoints: every key under "module."
        if state and all(k.startswith("module.") for k in state):
            state = {k[len("module."):]: v for k, v in state.items()}
        # a checkpoint saved from this very module (own keys, prefix included)
        if self.ckpt_prefix and state and all(k.startswith(self.ckpt_prefix) for k in state):
            state = {k[len(self.ckpt_prefix):]: v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not (self.ignore_prefixes and k.startswith(self.ignore_prefixes))}
        own = self.checkpoint_state_dict()

        not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
        head_keys = [k for k in own if k.startswith(self.head_prefix)]
        reinit_from: int | None = None  # the checkpoint head's class count (0: no head in it) when re-initialised
        if any(k in state and isinstance(state[k], Tensor) and state[k].shape != own[k].shape for k in head_keys):
            weight = state.get(self.head_prefix + "weight")
            reinit_from = int(weight.shape[0]) if isinstance(weight, Tensor) else -1
            state = {k: v for k, v in state.items() if k not in head_keys}
        elif head_keys and not any(k in state for k in head_keys) and len(state) > 0:
            reinit_from = 0  # a backbone-only checkpoint

        missing = [
            k for k in own
            if k not in state and not k.endswith("num_batches_tracked") and not (reinit_from is not None and k in head_keys)
        ]
        unexpected = [k for k in state if k not in own and k not in not_tensors]
        misshaped = [
            f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
            for k in state
            if k in own and isinstance(state[k], Tensor) and state[k].shape != own[k].shape
        ]
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} keys: {_short_list(missing)}")
        if unexpected:
            problems.append(f"unexpected {len(unexpected)} keys: {_short_list(unexpected)}")
        if misshaped:
            problems.append(f"{len(misshaped)} keys of the wrong shape: {_short_list(misshaped, 4)}")
        if not_tensors:
            problems.append(f"{len(not_tensors)} entries that are not tensors: {_short_list(not_tensors)}")
        if problems:
            raise VxtError(
                f"the checkpoint does not fit the {self.modality} classifier {self.name}: " + "; ".join(problems),
                path=source,
            )

        with torch.no_grad():
            result = self.load_state_dict({self.ckpt_prefix + k: v for k, v in state.items()}, strict=False)
            if self._empty:  # BatchNorm counters the checkpoint does not carry start at 0
                own_now = self.state_dict(keep_vars=True)
                for k in own:
                    if k.endswith("num_batches_tracked") and k not in state:
                        own_now[self.ckpt_prefix + k].zero_()
        assert not result.unexpected_keys, result.unexpected_keys
        if reinit_from is not None:
            self.reset_head()
            head = self.head_prefix.rstrip(".")
            what = f" has no {head}" if reinit_from == 0 else f"'s {head} has {reinit_from} classes"
            say_once(
                f"{source}: the checkpoint{what}, the label space has "
                f"{self.num_classes} classes: loaded the backbone, {head} re-initialised (fine-tuning)"
            )
        self.weights_source = source
        self._empty = False
        return self

    def load_weights(self, path: str | Path) -> "ModalityClassifier":
        """Load local weights: a ``.safetensors`` file, a ``.pth``/``.pt``/``.bin`` state dict
        (``torch.load(weights_only=True)``; ``{"model": sd}`` / ``{"state_dict": sd}`` wrappers
        are unwrapped), or a directory written by :meth:`save_pretrained`."""
        path = Path(path)
        state = read_state_dict(path, expect_name=self.name)
        return self.load_checkpoint_state_dict(state, source=str(path))

    # ------------------------------------------------------------ pretrained dirs

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (checkpoint keys) into ``directory``."""
        from safetensors.torch import save as st_save

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.checkpoint_state_dict().items()}
        atomic_write_bytes(directory / WEIGHTS_NAME,
                           canonical_safetensors(st_save(tensors, metadata={"format": "pt", "vxt": "classifier"})))
        write_json(directory / CONFIG_NAME, self.config)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, labels: list[str] | str | None = None,
                        **overrides: Any) -> "ModalityClassifier":
        """Rebuild a classifier saved by :meth:`save_pretrained` (its labels unless ``labels`` is given)."""
        directory = Path(directory)
        config = read_pretrained_config(directory)
        model = build_classifier(config["name"], labels if labels is not None else config.get("labels"),
                                 merge_hyperparameters(config, overrides), empty=True)
        if cls is not ModalityClassifier and not isinstance(model, cls):
            raise VxtError(f"holds a {type(model).__name__} ({config['name']}), not a {cls.__name__}", path=str(directory))
        return model.load_weights(directory)


# ---------------------------------------------------------------- reading weights


def read_pretrained_config(directory: Path) -> dict:
    cfg_path = directory / CONFIG_NAME
    if not cfg_path.is_file():
        raise VxtError(f"a classifier directory needs {CONFIG_NAME} and {WEIGHTS_NAME} (as save_pretrained writes)",
                       path=str(directory))
    config = read_json(cfg_path)
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise VxtError("not a classifier config (no 'name')", path=str(cfg_path))
    return config


def merge_hyperparameters(config: dict, overrides: dict) -> dict:
    """A saved config's hyperparameters with ``overrides`` on top.

    Only the keys the registry entry knows are taken from the saved config:
    others (meta keys, or keys a caller added, such as a training task's
    ``task``) are left out. ``overrides`` stay checked by :func:`build_classifier`.
    """
    from vxt.registry import CLASSIFIERS

    known = set(CLASSIFIERS.default_config(config["name"])) - set(_META_KEYS)
    out = {k: v for k, v in config.items() if k in known}
    out.update(overrides)
    return out


def _numpy_safe_globals() -> list:
    """Plain numpy arrays/scalars (data, not code), under numpy 1 and numpy 2 names.

    Training checkpoints (PANNs' among them) can carry a sampler's numpy state
    next to the weights; these globals let ``weights_only=True`` read them.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    out: list = [np.ndarray, np.dtype]
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out.append((core.multiarray._reconstruct, f"{mod}._reconstruct"))
        out.append((core.multiarray.scalar, f"{mod}.scalar"))
    for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "bool"):
        out.append(type(np.dtype(t)))
    return out


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``; numpy arrays (found in some training checkpoints) are allowed."""
    import pickle

    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as e:
        raise VxtError(f"cannot read weights ({e.strerror or type(e).__name__})", path=str(path)) from None
    # torch.save writes a zip archive (PK..) or, before torch 1.6, a pickle (0x80 + protocol): anything else
    # (a text file, an empty one) is not a weights file, whatever torch's unpickler would say about it
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise VxtError("cannot read weights: not a weights file (expected .safetensors, or a .pt/.pth file "
                       "written by torch.save)",
                       path=str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        try:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            # not torch's message: it suggests weights_only=False, which runs whatever the file holds
            raise VxtError(
                "cannot read these weights: they hold pickled objects besides tensors, and vxt does not load "
                "pickled code (it reads checkpoints with weights_only=True)",
                path=str(path),
            ) from None
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError) as e:  # a damaged file
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VxtError(f"cannot read weights: {msg}", path=str(path)) from None


def _unwrap(obj: Any, path: Path) -> dict[str, Any]:
    """A state dict out of common checkpoint wrappers: {"model": sd} (PANNs), {"state_dict": sd}, ..."""
    for _ in range(2):
        if isinstance(obj, dict) and not any(isinstance(v, Tensor) for v in obj.values()):
            for key in ("model", "state_dict", "model_state_dict", "module"):
                if isinstance(obj.get(key), dict):
                    obj = obj[key]
                    break
    if not isinstance(obj, dict) or not any(isinstance(v, Tensor) for v in obj.values()):
        keys = list(obj)[:6] if isinstance(obj, dict) else type(obj).__name__
        raise VxtError(f"no state dict of tensors found in this checkpoint (top level: {keys})", path=str(path))
    return dict(obj)


def read_state_dict(path: Path, expect_name: str | None = None) -> dict[str, Any]:
    """The tensors of a weights file or save_pretrained directory, under their stored keys."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise VxtError("no such weights file or directory", path=str(path))
    if path.is_dir():
        config = read_pretrained_config(path)
        if expect_name is not None and config["name"] != expect_name:
            raise VxtError(f"holds a {config['name']} classifier, not {expect_name}", path=str(path))
        st = path / WEIGHTS_NAME
        if not st.is_file():
            raise VxtError(f"no {WEIGHTS_NAME} in this classifier directory", path=str(path))
        path = st
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as e:
            raise VxtError(f"cannot read safetensors weights: {e}", path=str(path)) from None
    return _unwrap(_torch_load(path), path)


# ---------------------------------------------------------------- building


def _generic_labels(n: int) -> list[str]:
    return [f"class_{i}" for i in range(int(n))]


def build_classifier(name: str, labels: list[str] | str | None = None,
                     overrides: dict | None = None, empty: bool = False) -> ModalityClassifier:
    """Build registry entry ``name`` for ``labels`` (random init, no notice).

    ``empty=True`` skips the random initialisation (the module is built on the
    meta device and given uninitialised CPU storage): for weights that are
    loaded right after, which makes loading a large classifier much faster.

    ``labels``: a list of names, a label-space spec for
    :func:`vxt.modalities.labels.load_label_space`, or None for the entry's
    default (``label_space`` in its default config; or ``num_classes``
    generic names when that is overridden). Unknown override keys raise.
    """
    from vxt.modalities.labels import load_label_space
    from vxt.registry import CLASSIFIERS, merge_config

    entry = CLASSIFIERS.get(name)
    defaults = dict(entry.default_config)
    overrides = dict(overrides or {})
    num_classes = overrides.pop("num_classes", None)
    for k in ("name", "modality", "labels"):
        overrides.pop(k, None)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise VxtError(
            f"unknown option(s) {', '.join(unknown)} for the classifier {name} "
            f"(known: {', '.join(sorted(defaults)) or 'none'})"
        )
    config = merge_config(defaults, overrides)
    label_space = config.pop("label_space", None)
    if isinstance(labels, (str, Path)):
        labels = load_label_space(labels)
    if labels is None:
        if num_classes is not None:
            labels = _generic_labels(num_classes)
        elif label_space:
            labels = load_label_space(label_space)
        else:
            raise VxtError(f"the classifier {name} needs labels (or num_classes)")
    labels = [str(x) for x in labels]
    if not labels:
        raise VxtError(f"the classifier {name} needs at least one label")
    if num_classes is not None and int(num_classes) != len(labels):
        raise VxtError(f"num_classes={num_classes} but {len(labels)} labels were given to the classifier {name}")
    if len(set(labels)) != len(labels):
        raise VxtError(f"the labels given to the classifier {name} are not unique")
    config = {"name": name, **config}
    if empty:
        with torch.device("meta"):
            model = entry.builder(labels, config)
        model.to_empty(device="cpu")
        model._empty = True
    else:
        model = entry.builder(labels, config)
    json.dumps(model.config)  # the config must stay JSON-serialisable
    return model


def create_classifier(name: str, labels: list[str] | str | None = None, weights: str | Path | None = None,
                      **overrides: Any) -> ModalityClassifier:
    """Build the classifier ``name`` for ``labels`` and load local ``weights`` (a file or a saved dir).

    Without ``weights`` the classifier stays at random init and vxt says so
    once. A ``weights`` directory written by ``save_pretrained`` also supplies
    the hyperparameters (and the labels, when ``labels`` is None). Nothing is
    ever downloaded.
    """
    if weights is not None and Path(weights).is_dir():
        config = read_pretrained_config(Path(weights))
        if config["name"] != name:
            raise VxtError(f"holds a {config['name']} classifier, not {name}", path=str(weights))
        model = build_classifier(name, labels if labels is not None else config.get("labels"),
                                 merge_hyperparameters(config, overrides), empty=True)
        return model.load_weights(weights)
    if weights is None:
        model = build_classifier(name, labels, overrides)
        say_once(f"{model.modality} classifier {name} built at random init (no --{model.modality}-weights given)")
        return model
    return build_classifier(name, labels, overrides, empty=True).load_weights(weights)
