"""Small shared helpers: atomic writes, JSON/JSONL, seeding, consoles, progress bars."""

from __future__ import annotations

import contextlib
import json
import os
import random
from pathlib import Path
from typing import Any, Iterable, Iterator

from vxt.errors import DataError, VxtError
from vxt.safeio import check_writable, decode_utf8, ensure_dir, loads, temp_beside  # noqa: F401 - re-exported
from vxt.files import safe_name, user_cache_dir  # noqa: F401 - re-exported (they live in vxt.files)

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
    binary = "b" in mode
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding})) as fh:
            yield fh
            fh.flush()
            # mkstemp makes the file private (0600): give it the mode open() would have
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)
            os.fsync(fh.fileno())
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise VxtError(f"cannot write this file ({e.strerror or type(e).__name__})", path=str(path)) from None
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
    if path.is_dir():
        raise DataError("is a folder, not a JSON file", path=str(path))
    text = decode_utf8(path.read_bytes(), path)
    if not text.strip():
        raise DataError("is empty (expected JSON)", path=str(path))
    try:
        return loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}", path=str(path)) from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the objects of a JSONL file; a bad line raises a DataError naming the line."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=str(path))
    if path.is_dir():
        raise DataError("is a folder, not a JSONL file", path=str(path))
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = decode_utf8(raw, path, lineno).strip()
            if not line:
                continue
            try:
                yield loads(line)
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


_console_class = None


def _new_console(stderr: bool):
    """A rich Console whose messages (strings) are each printed on one line however long.

    Soft wrap is on (a long path, ``COLUMNS=40`` or a log file do not break a message, so logs stay
    greppable); renderables such as tables and progress bars are laid out by rich at the console's
    width, as without soft wrap.
    """
    global _console_class
    if _console_class is None:
        from rich.console import Console
        from rich.text import Text

        class OneLineConsole(Console):
            def print(self, *objects, soft_wrap=None, **kwargs):  # type: ignore[override]
                if soft_wrap is None and not all(isinstance(o, (str, Text)) for o in objects):
                    soft_wrap = False  # a table, a panel, a live display: leave it to rich
                super().print(*objects, soft_wrap=soft_wrap, **kwargs)

            def on_broken_pipe(self) -> None:
                # a closed stdout (`vxt score ... | head -1`) ends the printing, not the run (rich exits 1)
                self.quiet = True
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, self.file.fileno())
                    os.close(devnull)

        _console_class = OneLineConsole
    return _console_class(stderr=stderr, soft_wrap=True)


def console():
    """The rich console for results (stdout); every message is printed on one line."""
    global _console
    if _console is None:
        _console = _new_console(stderr=False)
    return _console


def err_console():
    """The rich console for progress and notices (stderr); every message is printed on one line."""
    global _err_console
    if _err_console is None:
        _err_console = _new_console(stderr=True)
    return _err_console


_said_once: set[str] = set()


def say_once(message: str) -> None:
    """Print a notice to stderr once per process (e.g. 'built at random init')."""
    if message in _said_once:
        return
    _said_once.add(message)
    # one line however long (soft wrap): notices stay greppable in logs
    err_console().print(f"[yellow]vxt:[/] {message}", highlight=False, soft_wrap=True)


def _hms(seconds: float) -> str:
    import datetime

    return str(datetime.timedelta(seconds=max(0, int(seconds))))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


class _PlainTask:
    __slots__ = ("id", "description", "total", "completed", "visible", "initial", "started_at", "last_log_at",
                 "last_logged", "last_bucket", "done_logged", "fields")

    def __init__(self, task_id: int, description: str, total: float | None, completed: float, visible: bool,
                 now: float, fields: dict):
        self.id = task_id
        self.description = description
        self.total = total
        self.completed = completed
        self.visible = visible
        self.fields = fields
        self.restart(now)

    def restart(self, now: float) -> None:
        self.initial = self.completed  # a resumed run counts its rate from here
        self.started_at = now
        self.last_log_at = now
        self.last_logged = self.completed
        self.last_bucket = self._bucket(self.completed)
        self.done_logged = False

    def _bucket(self, completed: float, every: float = 0.1) -> int:
        if not self.total:
            return 0
        return int(min(completed, self.total) / self.total / every + 1e-9)

    @property
    def finished(self) -> bool:
        return self.total is not None and self.completed >= self.total

    @property
    def percentage(self) -> float:
        return 100.0 * min(self.completed, self.total) / self.total if self.total else 0.0


class PlainProgress:
    """Progress logged as plain one-line records on stderr, for logs (stderr not a terminal).

    The interface of ``rich.progress.Progress`` that vxt uses (a context manager; ``start``, ``stop``,
    ``add_task``, ``update``, ``advance``, ``track``, ``reset``, ``remove_task``, ``console``, ``print``).
    A visible task logs a line each time it passes a multiple of ``every`` of its total, or when
    ``interval`` seconds have passed since its last line and it advanced, and a final line when it
    completes (or at ``stop`` if it advanced but did not complete)::

        vxt: train caption ep 1/8 loss 2.345: 120/400 (30%) 2.43 it/s, elapsed 0:00:49, eta 0:01:55

    A ``transient`` progress logs the final line only. ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(self, console=None, *, transient: bool = False, every: float = 0.1, interval: float = 30.0,
                 clock=None, disable: bool = False):
        import time

        self._console = console
        self.transient = transient
        self.every = every
        self.interval = interval
        self.clock = clock or time.monotonic
        self.disable = disable
        self._tasks: dict[int, _PlainTask] = {}
        self._next_id = 0
        self._started = False

    # -- rich.progress.Progress's interface

    @property
    def console(self):
        if self._console is None:
            self._console = err_console()
        return self._console

    def print(self, *args, **kwargs) -> None:
        self.console.print(*args, **kwargs)

    def log(self, *args, **kwargs) -> None:
        self.console.log(*args, **kwargs)

    @property
    def tasks(self) -> list[_PlainTask]:
        return list(self._tasks.values())

    @property
    def task_ids(self) -> list[int]:
        return list(self._tasks)

    @property
    def finished(self) -> bool:
        return all(t.finished for t in self._tasks.values())

    def __enter__(self) -> "PlainProgress":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._started = True

    def stop(self) -> None:
        """Log the last state of every task that advanced since its last line and did not log its final line."""
        for t in self._tasks.values():
            if t.visible and not t.done_logged and t.completed != t.initial and t.completed != t.last_logged:
                self._emit(t, final=True)
        self._started = False

    def refresh(self) -> None:
        pass

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, completed: float = 0,
                 visible: bool = True, **fields) -> int:
        task_id = self._next_id
        self._next_id += 1
        self._tasks[task_id] = _PlainTask(task_id, description, total, completed, visible, self.clock(), fields)
        return task_id

    def start_task(self, task_id: int) -> None:
        pass

    def stop_task(self, task_id: int) -> None:
        pass

    def remove_task(self, task_id: int) -> None:
        self._tasks.pop(task_id, None)

    def reset(self, task_id: int, *, start: bool = True, total: float | None = None, completed: float = 0,
              visible: bool | None = None, description: str | None = None, **fields) -> None:
        t = self._tasks[task_id]
        if total is not None:
            t.total = total
        if visible is not None:
            t.visible = visible
        if description is not None:
            t.description = description
        t.fields.update(fields)
        t.completed = completed
        t.restart(self.clock())

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(self, task_id: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, visible: bool | None = None,
               refresh: bool = False, **fields) -> None:
        t = self._tasks[task_id]
        if total is not None:
            t.total = total
        if completed is not None:
            t.completed = completed
        if advance is not None:
            t.completed += advance
        if description is not None:
            t.description = description
        if visible is not None:
            t.visible = visible
        t.fields.update(fields)
        self._maybe_log(t)

    def track(self, sequence, total: float | None = None, completed: int = 0, task_id: int | None = None,
              description: str = "Working...", update_period: float = 0.1):
        if total is None:
            try:
                total = float(len(sequence))
            except TypeError:
                total = None
        if task_id is None:
            task_id = self.add_task(description, total=total, completed=completed)
        else:
            self.update(task_id, total=total, completed=completed)
        for value in sequence:
            yield value
            self.advance(task_id, 1)

    # -- the log lines

    def _maybe_log(self, t: _PlainTask) -> None:
        if not t.visible or t.done_logged:
            return
        if t.finished:
            if t.completed != t.initial:  # finished in this run (not resumed already finished)
                self._emit(t, final=True)
            return
        if self.transient or t.completed == t.last_logged:
            return
        now = self.clock()
        bucket = t._bucket(t.completed, self.every)
        if bucket > t.last_bucket or now - t.last_log_at >= self.interval:
            self._emit(t, now=now)

    def format_line(self, t: _PlainTask, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(0.0, now - t.started_at)
        done = t.completed - t.initial
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        count = f"{_num(t.completed)}/{_num(t.total)} ({int(t.percentage)}%)" if t.total else _num(t.completed)
        speed = "-- it/s" if rate is None else (f"{rate:.2f} it/s" if rate < 100 else f"{rate:.0f} it/s")
        line = f"vxt: {t.description}: {count} {speed}, elapsed {_hms(elapsed)}"
        if t.total:
            if t.finished:
                line += ", eta 0:00:00"
            elif rate:
                line += f", eta {_hms((t.total - t.completed) / rate)}"
            else:
                line += ", eta -:--:--"
        return line

    def _emit(self, t: _PlainTask, now: float | None = None, final: bool = False) -> None:
        now = self.clock() if now is None else now
        t.last_log_at = now
        t.last_logged = t.completed
        t.last_bucket = t._bucket(t.completed, self.every)
        if final:
            t.done_logged = True
        if self.disable:
            return
        self.console.print(self.format_line(t, now), markup=False, highlight=False, soft_wrap=True)


def _stderr_is_terminal(con) -> bool:
    """Whether progress may be drawn as a live bar: stderr is a terminal (rich's rules) that really redraws."""
    if con.is_jupyter:
        return True
    if not con.is_terminal or con.is_dumb_terminal:
        return False
    if os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    # FORCE_COLOR (set by many CI systems) makes rich call a pipe a terminal: a log still gets plain lines
    isatty = getattr(con.file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


def progress(transient: bool = False):
    """Progress on stderr: a rich bar with a count, a rate and an ETA on a terminal; plain one-line records
    (:class:`PlainProgress`) when stderr is not a terminal; nothing with ``VXT_NO_PROGRESS=1``."""
    disable = os.environ.get("VXT_NO_PROGRESS") == "1"
    con = err_console()
    if disable or not _stderr_is_terminal(con):
        return PlainProgress(con, transient=transient, disable=disable)
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
        console=con,
        transient=transient,
    )
