"""Experiment dirs: atomic checkpoints, resume state, loading a model back.

Layout of ``exp/NAME/``::

    config.json model.safetensors tokenizer files   the latest checkpoint (hard links into last/)
    train_state.pt                                  optimizer, scheduler, RNG, step (weights_only=True)
    last/                                           the same, swapped in atomically as a whole (what --resume reads)
    best/                                           the best checkpoint on the validation metric
    epoch-NNN/                                      one per epoch (the newest --keep-epochs kept)
    metrics.jsonl                                   one line per logged step / evaluation
    run.json                                        the options of the run (task, data, seed, ...)

A checkpoint directory is written into a temp dir beside its target and
renamed into place, so a crash leaves the previous one intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from vxt.errors import VxtError
from vxt.models import checkpoint_task, load_checkpoint, resolve_checkpoint  # noqa: F401 - re-exported
from vxt.utils import write_json


def _class_path(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def save_model_dir(model, target: str | Path, extra_state: dict | None = None) -> Path:
    """Save ``model`` (and optionally ``train_state.pt``) into ``target`` atomically."""
    import torch

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp)
    cfg_path = tmp / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    cfg.setdefault("class", _class_path(model))
    write_json(cfg_path, cfg)
    if extra_state is not None:
        torch.save(extra_state, tmp / "train_state.pt")
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    return target


def mirror_to_top(src: str | Path, exp_dir: str | Path) -> None:
    """Hard-link (or copy) the files of checkpoint dir ``src`` into the experiment dir's top level."""
    src, exp_dir = Path(src), Path(exp_dir)
    for f in src.iterdir():
        if not f.is_file():
            continue
        tmp = exp_dir / f".{f.name}.link-tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(f, tmp)
        except OSError:
            shutil.copy2(f, tmp)
        os.replace(tmp, exp_dir / f.name)


def find_resume_dir(exp_dir: str | Path) -> Path | None:
    exp_dir = Path(exp_dir)
    for cand in [exp_dir / "last", *sorted(exp_dir.glob(".last.old-*"))]:
        if (cand / "train_state.pt").exists() and (cand / "config.json").exists():
            return cand
    return None


def load_train_state(ckpt_dir: str | Path) -> dict:
    import torch

    path = Path(ckpt_dir) / "train_state.pt"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise VxtError(f"cannot read the training state ({type(e).__name__}: {e})", path=str(path)) from None


def latest_experiment(task: str, root: str | Path = "exp") -> Path | None:
    """The most recently updated experiment under ``root`` trained for ``task``."""
    root = Path(root)
    if not root.exists():
        return None
    best: tuple[float, Path] | None = None
    for run in root.rglob("run.json"):
        try:
            info = json.loads(run.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if info.get("task") != task:
            continue
        exp = run.parent
        try:
            resolve_checkpoint(exp)
        except VxtError:
            continue
        mtime = max((f.stat().st_mtime for f in exp.iterdir()), default=0.0)
        if best is None or mtime > best[0]:
            best = (mtime, exp)
    return None if best is None else best[1]
