"""The dense captioners' registry entries: ``bmt``, ``bmt-tiny``, ``mdvc``, ``mdvc-tiny``.

Each entry builds the ``--task dense`` model for a data dir (the training
loop's contract: ``builder(overrides=..., data_dir=..., name=...)``), trained
by the ``staged`` strategy (captioner, then proposals); given a ``vocab`` it
builds the bare captioner instead (``MODELS.create(name, config, vocab=vocab)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.errors import VxtError
from vxt.models.dense.bmt import BMT, BMT_PRESETS
from vxt.models.dense.build import build_dense_task
from vxt.models.dense.captioner import DenseCaptioner
from vxt.models.dense.mdvc import MDVC, MDVC_PRESETS
from vxt.models.dense.options import DENSE_PRESETS, STAGE_PLAN
from vxt.registry import MODELS, merge_config

ARCHS: dict[str, type[DenseCaptioner]] = {"bmt": BMT, "mdvc": MDVC}


def build_dense_model(name: str, overrides: dict | None = None, vocab: Any = None) -> DenseCaptioner:
    """Build the registered dense captioner ``name`` (``bmt``, ``bmt-tiny``, ``mdvc``, ``mdvc-tiny``)
    with its preset merged with ``overrides``, for the caption vocabulary ``vocab``."""
    if name not in DENSE_PRESETS:
        raise VxtError(f"unknown dense captioner {name!r} (known: {', '.join(sorted(DENSE_PRESETS))})")
    arch_cls, preset = DENSE_PRESETS[name]
    cfg = merge_config(preset, dict(overrides or {}))
    cfg["name"] = name
    return arch_cls(cfg, vocab)


def load_dense_model(path: str | Path) -> DenseCaptioner:
    """Load a saved BMT or MDVC model dir (picks the class from config.json's ``arch``)."""
    from vxt.utils import read_json

    arch = read_json(Path(path) / "config.json").get("arch")
    if arch not in ARCHS:
        raise VxtError(f"not a BMT/MDVC checkpoint (arch {arch!r})", path=str(path))
    return ARCHS[arch].from_pretrained(path)


def register_presets(arch_cls: type[DenseCaptioner], presets: dict[str, dict]) -> None:
    """Register ``name -> builder`` for each preset in vxt.registry.MODELS (task ``dense``)."""
    for name, preset in presets.items():
        DENSE_PRESETS[name] = (arch_cls, dict(preset))

        def builder(overrides: dict | None = None, vocab: Any = None, data_dir: Any = None, name: str | None = None,
                    _name=name):
            if vocab is not None:
                return build_dense_model(_name, overrides, vocab)
            return build_dense_task(_name, overrides, data_dir)

        builder.__doc__ = f"{arch_cls.__name__} dense captioner, preset {name!r} (--task dense)."
        MODELS.register(name, default_config=dict(preset), description=builder.__doc__, tasks=("dense",),
                        strategy="staged", stages=STAGE_PLAN)(builder)


register_presets(BMT, BMT_PRESETS)
register_presets(MDVC, MDVC_PRESETS)
