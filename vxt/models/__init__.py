"""Models: VX2TEXT (and the other registry entries), built by name and reloaded from a directory.

    from vxt.models import build_model, load_model

    model = build_model("vx2text-tiny", {"task": "qa", "tokenization": "frozen"}, data_dir="data/synth")
    model.save_pretrained("exp/x")          # config.json + model.safetensors + tokenizer files
    model = load_model("exp/x")

Every entry of ``vxt.registry.MODELS`` is a builder called as
``builder(overrides=..., data_dir=..., name=...)``; a saved directory's
``config.json`` names the class that reloads it (``"class": "module:Class"``,
a ``from_pretrained(dir)`` classmethod). Importing this package is light.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from vxt.errors import VxtError

__all__ = ["build_model", "checkpoint_task", "load_checkpoint", "load_model", "resolve_checkpoint"]

#: class paths that older vxt versions wrote into config.json, and where those classes live now
MOVED_CLASSES = {
    "vxt.models.dense_task:DenseTaskModel": "vxt.models.dense:DenseTaskModel",
    "vxt.models.bmt:BMT": "vxt.models.dense.bmt:BMT",
    "vxt.models.mdvc:MDVC": "vxt.models.dense.mdvc:MDVC",
}


def build_model(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> Any:
    """Build registry model ``name`` (e.g. ``vx2text-tiny``) with ``overrides`` for the data in ``data_dir``."""
    from vxt.registry import MODELS

    return MODELS.get(name).builder(overrides=dict(overrides or {}), data_dir=data_dir, name=name)


def load_model(directory: str | os.PathLike) -> Any:
    """Reload a model saved with ``save_pretrained`` (its ``config.json`` says which class)."""
    from vxt.utils import read_json

    d = Path(directory)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise VxtError("not a saved model: no config.json", path=str(d))
    config = read_json(cfg_path)
    cls_path = config.get("class") if isinstance(config, dict) else None
    if not cls_path and isinstance(config, dict) and config.get("arch") == "vx2text":
        cls_path = "vxt.models.vx2text:VX2Text"
    cls_path = MOVED_CLASSES.get(cls_path, cls_path)
    if not isinstance(cls_path, str) or ":" not in cls_path or not cls_path.startswith("vxt."):
        raise VxtError("config.json does not name a vxt model class ('class': 'vxt.models.<module>:<Class>')",
                       path=str(cfg_path))
    mod, _, qual = cls_path.partition(":")
    try:
        obj: Any = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise VxtError(f"unknown model class {cls_path!r}", path=str(cfg_path)) from None
    return obj.from_pretrained(d)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The model dir to load for ``path``, the same way for every task: an experiment dir's ``best/`` if any,
    else its ``last/`` (a run without validation), else ``path`` itself (a model dir)."""
    p = Path(path)
    if not p.exists():
        raise VxtError("no such checkpoint", path=str(p))
    if not p.is_dir():
        raise VxtError("a checkpoint is a directory (an experiment dir or a saved model dir)", path=str(p))
    for cand in (p / "best", p / "last", p):
        if (cand / "config.json").exists() and any(cand.glob("*.safetensors")):
            return cand
    raise VxtError("not a checkpoint: no config.json and model.safetensors here", path=str(p))


def load_checkpoint(path: str | os.PathLike):
    """Load the model saved at ``path`` (experiment dir or model dir)."""
    return load_model(resolve_checkpoint(path))


def checkpoint_task(path: str | os.PathLike) -> str | None:
    from vxt.utils import read_json

    ckpt = resolve_checkpoint(path)
    cfg = read_json(ckpt / "config.json")
    return cfg.get("task")
