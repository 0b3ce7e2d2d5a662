"""Model weights on disk, the one way every system writes and reads ``model.safetensors``.

Equal tensors give equal bytes (the header is canonical), files are written
atomically, and a file that does not fit the model is one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from vxt.errors import DataError
from vxt.files import canonical_safetensors, check_weight_shapes


def save_weights(path: str | os.PathLike, state: dict, metadata: dict | None = None) -> None:
    """A model's ``state_dict()`` as a safetensors file, atomically, with the same bytes for the same tensors."""
    from safetensors.torch import save

    from vxt.utils import atomic_write_bytes

    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    atomic_write_bytes(path, canonical_safetensors(save(tensors, metadata={"format": "pt", **(metadata or {})})))


def load_weights(model, path: str | os.PathLike, state: dict | None = None, ignore: tuple[str, ...] = ()) -> None:
    """Load a safetensors file into ``model`` (``state``: its tensors, when already read); a missing file, tensors
    of other shapes, or missing/unexpected names (except those under the ``ignore`` prefixes) are one line."""
    p = Path(path)
    if not p.is_file():
        raise DataError("no model.safetensors here", path=str(p.parent))
    if state is None:
        from safetensors.torch import load_file

        state = load_file(str(p))
    check_weight_shapes({k: v.shape for k, v in model.state_dict().items()}, {k: v.shape for k, v in state.items()}, p)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(ignore)] if ignore else list(missing)
    if missing or unexpected:
        first = (missing or unexpected)[0]
        raise DataError(f"the weights do not fit the config: {len(missing)} tensor(s) missing, {len(unexpected)} "
                        f"unexpected, the first {first}", path=str(p))


def save_model_dir(out_dir: str | os.PathLike, config: dict, class_path: str, state: dict, arch: str,
                   indent: int | None = 2) -> Path:
    """A model dir: ``config.json`` (``config`` plus the ``class`` that reloads it) and ``model.safetensors``."""
    import copy

    from vxt.utils import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(config)
    cfg["class"] = class_path
    write_json(out / "config.json", cfg, indent=indent)
    save_weights(out / "model.safetensors", state, {"arch": arch})
    return out


def read_model_config(model_dir: str | os.PathLike, arch: str, what: str) -> dict:
    """The ``config.json`` of a model dir, checked to be of ``arch`` (else one line: not ``what`` checkpoint, e.g. what="an avcap")."""
    from vxt.utils import read_json

    p = Path(model_dir)
    cfg = read_json(p / "config.json")
    if cfg.get("arch") != arch:
        raise DataError(f"not {what} checkpoint (arch {cfg.get('arch')!r})", path=str(p))
    return cfg
