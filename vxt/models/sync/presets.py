"""The registry entries ``sparsesync`` (the paper's model) and ``sparsesync-tiny`` (tests), for ``--task sync``.

The baseline without selectors is the same entry with ``--set selectors=false``;
the 3-class variant is ``--set n_classes=3 max_offset=1.0``.
"""

from __future__ import annotations

import os
from pathlib import Path

from vxt.errors import VxtError
from vxt.models.sync.config import _FIXED, SYNC_PRESETS, sync_config
from vxt.models.sync.task_model import SyncModel
from vxt.registry import MODELS


def build_sync_model(name: str, overrides: dict | None = None, data_dir: str | os.PathLike | None = None) -> SyncModel:
    """Build the SparseSync preset ``name`` with ``overrides`` (``--set`` keys of :mod:`vxt.models.sync.config`)."""
    overrides = dict(overrides or {})
    task = overrides.pop("task", "sync")
    if task != "sync":
        raise VxtError(f"{name} finds audio-visual offsets: train it with --task sync (not --task {task})")
    source = None
    if overrides.get("init"):
        source, name, overrides = _from_init(str(overrides["init"]), overrides)
    cfg = sync_config(name, overrides)
    if data_dir is not None:
        cfg["data_dir"] = str(Path(data_dir).resolve())
    model = SyncModel(cfg, data_dir=data_dir, load_weights=source is None)
    if source is not None:
        model.load_state_dict(source.state_dict())
    return model


#: what a fine-tuning run may change about a checkpoint it starts from (the rest is its architecture)
_RUN_KEYS = ("init", "audio_jitter", "random_crop", "hflip", "dropout", "video_weights", "audio_weights")


def _from_init(path: str, overrides: dict) -> tuple[SyncModel, str, dict]:
    """The checkpoint at ``path``, its preset name and ``overrides`` on top of its config."""
    from vxt.models import load_checkpoint

    source = load_checkpoint(path)
    if not isinstance(source, SyncModel):
        raise VxtError("--set init= takes a sync checkpoint (a `vxt train --task sync` experiment)", path=path)
    kept = {k: v for k, v in source.config.items() if k in SYNC_PRESETS[source.config["name"]] and k not in _FIXED}
    changed = sorted(k for k, v in overrides.items() if k in kept and k not in _RUN_KEYS and v != kept[k])
    if changed:
        raise VxtError(f"--set init= keeps the checkpoint's architecture: {', '.join(changed)} cannot change", path=path)
    kept.update(overrides)
    return source, source.config["name"], kept


def _register(name: str, preset: dict) -> None:
    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name=name):
        return build_sync_model(_name, overrides, data_dir)

    what = "the paper's S3D + ResNet-18" if name == "sparsesync" else "tiny conv encoders, d 32 (tests, CPU)"
    builder.__doc__ = f"SparseSync (Iashin et al., BMVC 2022): audio-visual offset classes, {what} (--task sync)."
    MODELS.register(name, default_config=dict(preset), description=builder.__doc__, tasks=("sync",))(builder)


for _name, _preset in SYNC_PRESETS.items():
    _register(_name, _preset)
