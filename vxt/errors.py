"""One exception type for everything a user can get wrong.

A :class:`VxtError` is turned into a single line on stderr and a non-zero exit
by :func:`vxt.cli.main`; it should name the file, the example id (when there
is one) and what is wrong.
"""

from __future__ import annotations


class VxtError(Exception):
    """A user-facing error: bad input, bad option, missing file."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, example_id: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.example_id = example_id
        super().__init__(self.format())

    def format(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.example_id:
            where.append(f"example {self.example_id}")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class MediaError(VxtError):
    """A media file that cannot be opened or decoded."""


class DataError(VxtError):
    """A manifest, annotation or prediction file that is malformed."""


class Interrupted(VxtError):
    """Ctrl-C: said in one line (``vxt: interrupted ...``), exit 130 as shells expect."""

    exit_code = 130
