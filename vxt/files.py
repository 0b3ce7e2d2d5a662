"""Paths vxt builds from what files say, and files it hands on: safe folder names, the user's cache,
canonical safetensors bytes, weights that do not fit, a stdout that closes."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

from vxt.errors import DataError

_SAFE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_=")


def safe_name(text: str, max_len: int = 96) -> str:
    """One path component made from ``text`` (a settings key, a stem read from a file): characters outside
    ``[A-Za-z0-9.+-_=]`` become ``_``, leading dots too, and a long or rewritten name ends with a hash of
    ``text``; so a value read from a file someone handed over cannot climb out of (or hide in) the folder."""
    import hashlib

    out = "".join(c if c in _SAFE_CHARS else "_" for c in str(text))
    stripped = out.lstrip(".")
    out = "_" * (len(out) - len(stripped)) + stripped
    if out != text or len(out) > max_len or not out:
        digest = hashlib.sha1(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        out = f"{out[: max_len - 9]}-{digest}"
    return out


def user_cache_dir() -> Path:
    """vxt's own cache folder: ``$VXT_CACHE``, else ``$XDG_CACHE_HOME/vxt``, else ``~/.cache/vxt``
    (what a decode extracts from media it was given, never written into a data dir it only reads)."""
    if os.environ.get("VXT_CACHE"):
        return Path(os.environ["VXT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vxt"


def canonical_safetensors(blob: bytes) -> bytes:
    """The same safetensors file with its header's keys sorted: safetensors writes its metadata map in an
    order that changes from process to process, and equal tensors must give equal bytes (checksums)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8: 8 + n])
    if isinstance(header.get("__metadata__"), dict):
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as safetensors writes it
    return len(text).to_bytes(8, "little") + text + blob[8 + n:]


@contextlib.contextmanager
def stdout_may_close() -> Iterator[None]:
    """Printing that ends quietly when stdout is closed (``vxt score ... | head -1``): the rest of the run
    goes on, and the interpreter's last flush finds a sink instead of a broken pipe."""
    import sys

    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def check_weight_shapes(expected: dict, found: dict, path: str | os.PathLike) -> None:
    """A one-line error when tensors of a weights file (``found``: name -> shape) have other shapes than the
    model built from its config (``expected``): how many, and the first one."""
    bad = [k for k in sorted(found) if k in expected and tuple(found[k]) != tuple(expected[k])]
    if bad:
        k = bad[0]
        raise DataError(f"the weights do not fit the config: {len(bad)} tensor(s) of another shape, the first "
                        f"{k} ({list(found[k])} in the file, {list(expected[k])} in the model)", path=str(path))


def safetensors_shapes(path: str | os.PathLike) -> dict:
    """name -> shape of each tensor in a safetensors file (the header only)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def check_positive(value, what: str, whole: bool = True, none: bool = False) -> None:
    """A one-line error unless ``value`` (read from a file) is a positive number (``whole``: integral; ``none``:
    or null)."""
    if value is None and none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
    if not ok or (whole and not float(value).is_integer()):
        kind = "a positive whole number" if whole else "a positive number" + (" or null" if none else "")
        raise DataError(f"{what} must be {kind}, got {value!r}")


def json_object(value, what: str) -> dict:
    """``value`` (read from a file) as a dict: ``{}`` for null, a one-line error for anything but an object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value
