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
    """The checkpoint ``--resume`` continues from: ``last/``, else what a run killed while swapping it in left."""
    exp_dir = Path(exp_dir)
    for cand in [exp_dir / "last", *sorted(exp_dir.glob(".last.old-*"))]:
        if (cand / "train_state.pt").exists() and (cand / "config.json").exists():
            return cand
    return None


def load_train_state(ckpt_dir: str | Path) -> dict:
    import torch

    import pickle

    path = Path(ckpt_dir) / "train_state.pt"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests loading with weights_only=False: never do that with a file handed over
        raise VxtError("cannot read the training state: it holds pickled objects besides tensors and plain "
                       "values, and vxt does not load pickled code", path=str(path)) from None
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if "weights_only" in first:
            first = "not a training state vxt wrote"
        raise VxtError(f"cannot read the training state ({type(e).__name__}{': ' + first if first else ''})",
                       path=str(path)) from None


def holds_trained_model(exp_dir: str | Path) -> bool:
    """Whether ``exp_dir`` already holds a model trained by vxt (a checkpoint in it, best/, last/ or epoch-NNN/)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        return False
    cands = [exp_dir, exp_dir / "best", exp_dir / "last", *exp_dir.glob("epoch-[0-9][0-9][0-9]")]
    return any((c / "config.json").is_file() and any(c.glob("*.safetensors")) for c in cands)


#: what a training run writes at an experiment dir's top level besides the files of last/ (mirrored there)
RUN_FILES = ("config.json", "model.safetensors", "train_state.pt", "train_summary.json", "metrics.jsonl", "run.json")


def clear_experiment(exp_dir: str | Path) -> None:
    """Remove the checkpoints of an earlier run from ``exp_dir`` (``vxt train --overwrite``); other files
    (predictions, notes) stay."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        return
    names = set(RUN_FILES)
    if (exp_dir / "last").is_dir():
        names |= {f.name for f in (exp_dir / "last").iterdir() if f.is_file()}
    for name in sorted(names):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (exp_dir / name).unlink()
    dirs = [exp_dir / "best", exp_dir / "last", *exp_dir.glob("epoch-[0-9][0-9][0-9]"),
            *exp_dir.glob(".best.*"), *exp_dir.glob(".last.*"), *exp_dir.glob(".epoch-[0-9][0-9][0-9].*")]
    for d in dirs:
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # called before this run writes anything: a file with our pid is a dead run's (pid reused)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process (or not a pid we can judge): leave its files alone
    return True


def clear_dead_temps(exp_dir: str | Path) -> list[Path]:
    """Remove what runs killed mid-write left in ``exp_dir``: ``.<dir>.tmp-<pid>`` folders and ``.<file>.link-tmp``
    files of processes that no longer run, and ``.<dir>.old-<pid>`` ones once their dir exists again
    (a ``.last.old-<pid>`` without ``last/`` is what ``--resume`` reads). Call it before the run writes.
    Returns what was removed."""
    import re

    exp_dir = Path(exp_dir)
    removed: list[Path] = []
    if not exp_dir.is_dir():
        return removed
    pat = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")
    for p in exp_dir.iterdir():
        if p.name.startswith(".") and p.name.endswith(".link-tmp") and p.is_file():
            p.unlink(missing_ok=True)  # a mirror_to_top cut short (one run writes an experiment dir at a time)
            removed.append(p)
            continue
        m = pat.match(p.name)
        if m is None or not p.is_dir() or _pid_alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and not (exp_dir / m["name"]).is_dir():
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


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
