"""The registry entries ``sparsesync`` (the paper's model) and ``sparsesync-tiny`` (tests), for ``--task sync``.

The baseline without selectors is the same entry with ``--set selectors=false``;
the 3-class variant is ``--set n_classes=3 max_offset=1.0``.
"""

from __future__ import annotations

import os
from pathlib import Path

from vxt.errors import VxtError
from vxt.models.sync.config import SYNC_PRESETS, sync_config
from vxt.models.sync.task_model import SyncModel
from vxt.registry import MODELS


def build_sync_model(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> SyncModel:
    """Build the SparseSync preset ``name`` with ``overrides`` (``--set`` keys of :mod:`vxt.models.sync.config`)."""
    overrides = dict(overrides or {})
    task = overrides.pop("task", "sync")
    if task != "sync":
        raise VxtError(f"{name} finds audio-visual offsets: train it with --task sync (not --task {task})")
    cfg = sync_config(name, overrides)
    if data_dir is not None:
        cfg["data_dir"] = str(Path(data_dir).resolve())
    return SyncModel(cfg, data_dir=data_dir)


def _register(name: str, preset: dict) -> None:
    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name=name):
        return build_sync_model(_name, overrides, data_dir)

    what = "the paper's S3D + ResNet-18" if name == "sparsesync" else "tiny conv encoders, d 32 (tests, CPU)"
    builder.__doc__ = f"SparseSync (Iashin et al., BMVC 2022): audio-visual offset classes, {what} (--task sync)."
    MODELS.register(name, default_config=dict(preset), description=builder.__doc__, tasks=("sync",))(builder)


for _name, _preset in SYNC_PRESETS.items():
    _register(_name, _preset)
