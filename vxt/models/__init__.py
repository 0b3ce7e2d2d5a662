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

__all__ = ["build_model", "load_model"]


def build_model(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> Any:
    """Build registry model ``name`` (e.g. ``vx2text-tiny``) with ``overrides`` for the data in ``data_dir``."""
    from vxt.registry import MODELS

    return MODELS.get(name).builder(overrides=dict(overrides or {}), data_dir=data_dir, name=name)


def load_model(directory: str | os.PathLike) -> Any:
    """Reload a model saved with ``save_pretrained`` (its ``config.json`` says which class)."""
    from vxt.errors import VxtError
    from vxt.utils import read_json

    d = Path(directory)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise VxtError("not a saved model: no config.json", path=str(d))
    config = read_json(cfg_path)
    cls_path = config.get("class") if isinstance(config, dict) else None
    if not cls_path and isinstance(config, dict) and config.get("arch") == "vx2text":
        cls_path = "vxt.models.vx2text:VX2Text"
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
