"""Paths and text users hand to vxt: output paths checked in one place, JSON text read so it cannot crash.

- :func:`ensure_dir` / :func:`temp_beside` / :func:`check_writable`: an output folder or file that cannot
  be written (a file or folder in the way, a parent that cannot be made, a read-only place, /proc) is a
  one-line :class:`~vxt.errors.VxtError` naming the path and the reason, never an ``OSError``;
- :func:`decode_utf8`: JSON/JSONL text must be UTF-8 (a BOM is dropped); anything else (a manifest saved
  as Latin-1) is a one-line error naming the file, the line and the byte, never a guess;
- :func:`loads`: ``json.loads`` with lone UTF-16 surrogates (``"\\ud800"``, which JSON allows and UTF-8
  cannot carry) replaced by U+FFFD.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from vxt.errors import DataError, VxtError


def _os_reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (so ``path`` cannot be made), else None."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return None if parent.is_dir() else parent


def ensure_dir(path: str | os.PathLike, what: str = "output folder", *, create: bool = True) -> Path:
    """Make the folder ``path`` (and its parents); a path that cannot be one is a one-line VxtError.

    The one place where an output folder (an experiment dir, a data dir) is checked: a file in the
    way, a parent that cannot be created, a read-only place or /proc each name the path and the reason.
    ``create=False`` only checks (a probe folder is made and removed in the nearest existing parent),
    so a run that stops on a later error leaves no empty folder behind.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise VxtError(f"cannot use this as the {what}: it is a file, not a folder", path=str(path))
    blocker = None if path.exists() else _file_in_the_way(path)
    if blocker is not None:
        raise VxtError(f"cannot create the {what}: {blocker} is a file, not a folder", path=str(path))
    if not create and not path.exists():
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".vxt-probe-", dir=parent))
        except OSError as e:
            raise VxtError(f"cannot create the {what} ({_os_reason(e)})", path=str(path)) from None
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VxtError(f"cannot create the {what} ({_os_reason(e)})", path=str(path)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise VxtError(f"cannot write into the {what} (Permission denied)", path=str(path))
    return path


def temp_beside(path: Path) -> tuple[int, str]:
    """A new temp file in ``path``'s folder (made if need be): the one place an output file's path is
    checked. A folder, a parent that is a file or cannot be made, a read-only place, /proc: a one-line
    VxtError naming the path and the reason, never an OSError."""
    if path.is_dir():
        raise VxtError("cannot write this file: it is a folder (give a file name)", path=str(path))
    blocker = _file_in_the_way(path)
    if blocker is not None:
        raise VxtError(f"cannot write this file: a parent, {blocker}, is a file, not a folder", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VxtError(f"cannot write this file ({_os_reason(e)})", path=str(path)) from None
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise VxtError(f"cannot write this file ({_os_reason(e)})", path=str(path)) from None


def check_writable(path: str | os.PathLike) -> None:
    """Fail now, in one line, if ``path`` could not be written later (before a long decode or scoring)."""
    fd, tmp = temp_beside(Path(path))
    os.close(fd)
    os.unlink(tmp)


def decode_utf8(raw: bytes, path: Path, lineno: int | None = None) -> str:
    """UTF-8 text (a BOM is dropped); anything else is a DataError naming the file, the line and the byte.

    vxt writes its JSON as UTF-8 and the JSON standard requires it: a Latin-1 (or other) file is
    refused rather than guessed at, so a manifest never carries silently garbled text.
    """
    try:
        return raw.decode("utf-8-sig" if not lineno or lineno == 1 else "utf-8")
    except UnicodeDecodeError as e:
        if lineno is None:
            lineno = raw.count(b"\n", 0, e.start) + 1
            col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        else:
            col = e.start + 1
        raise DataError(f"line {lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {col}); "
                        "save the file as UTF-8", path=str(path)) from None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _fix_surrogates(obj: Any) -> Any:
    """Lone UTF-16 surrogates (``"\\ud800"``: JSON allows them, UTF-8 cannot write them) become U+FFFD."""
    if isinstance(obj, str):
        return _LONE_SURROGATE.sub("\ufffd", obj)
    if isinstance(obj, list):
        return [_fix_surrogates(v) for v in obj]
    if isinstance(obj, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in obj.items()}
    return obj


def loads(text: str) -> Any:
    """``json.loads``, with lone surrogates replaced (only looked for when the text escapes one)."""
    obj = json.loads(text)
    if "\\u" in text and re.search(r"\\u[dD][89a-fA-F]", text):
        obj = _fix_surrogates(obj)
    return obj
