"""Small shared helpers: atomic writes, JSON/JSONL, seeding, consoles, progress bars."""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from vxt.errors import DataError

# ---------------------------------------------------------------- atomic I/O


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: the process umask, read once (os.umask can only be read by setting it)
_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Open a temp file beside ``path``; on success fsync and rename it over ``path``.

    A crash (or kill -9) leaves either the old file or the new one, never a
    partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding})) as fh:
            yield fh
            fh.flush()
            # mkstemp makes the file private (0600): give it the mode open() would have
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb", encoding=None) as fh:
        fh.write(data)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=str(path))
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise DataError(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}", path=str(path)) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=str(path)) from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the objects of a JSONL file; a bad line raises a DataError naming the line."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=str(path))
    with open(path, encoding="utf-8", errors="strict") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"line {lineno}: malformed JSON ({e.msg})", path=str(path)) from None


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    with atomic_open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- seeding


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch."""
    import sys

    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


# ---------------------------------------------------------------- console


_console = None
_err_console = None


def console():
    """The rich console for results (stdout)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console()
    return _console


def err_console():
    """The rich console for progress and notices (stderr)."""
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True)
    return _err_console


_said_once: set[str] = set()


def say_once(message: str) -> None:
    """Print a notice to stderr once per process (e.g. 'built at random init')."""
    if message in _said_once:
        return
    _said_once.add(message)
    # one line however long (soft wrap): notices stay greppable in logs
    err_console().print(f"[yellow]vxt:[/] {message}", highlight=False, soft_wrap=True)


def progress(transient: bool = False):
    """A rich progress bar with a count, a rate and an ETA, drawn on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task):  # type: ignore[override]
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("-- it/s", style="progress.data.speed")
            return Text(f"{speed:.2f} it/s" if speed < 100 else f"{speed:.0f} it/s", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=transient,
        disable=os.environ.get("VXT_NO_PROGRESS") == "1",
    )
