"""Label spaces of the modality classifiers: ordered category names.

A classifier's output index ``i`` means ``labels[i]``, so a label space is an
ordered list of unique names. Two are built in and shipped as package data
(``vxt/modalities/labels/*.txt``):

- ``kinetics400``: the 400 Kinetics action classes in the usual index order
  (the order torchvision's Kinetics-400 weights and the VMZ/IG65M R(2+1)D
  checkpoints use; "abseiling" first).
- ``audioset``: the 527 AudioSet event classes in PANNs' index order
  (``class_labels_indices.csv``; "Speech" first).

Any other label space is a file: ``.txt`` with one name a line, or ``.csv`` in
AudioSet's ``index,mid,display_name`` layout.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from vxt.errors import DataError, VxtError

#: built-in label spaces: spec -> packaged file name
BUILTIN_LABEL_SPACES: dict[str, str] = {
    "kinetics400": "kinetics400.txt",
    "audioset": "audioset.txt",
}


def _check_unique(names: list[str], path: str) -> list[str]:
    if not names:
        raise DataError("the label space is empty", path=path)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(f"label {name!r} appears twice (entries {seen[name] + 1} and {i + 1})", path=path)
        seen[name] = i
    return names


def _read_txt(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=str(path)) from None
    return _check_unique([line.strip() for line in text.splitlines() if line.strip()], str(path))


def _read_csv(path: Path) -> list[str]:
    """AudioSet's ``class_labels_indices.csv``: a header with ``display_name`` (and ``index``)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
            fields = rows and list(rows[0].keys())
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=str(path)) from None
    except csv.Error as e:
        raise DataError(f"malformed CSV: {e}", path=str(path)) from None
    if not rows:
        raise DataError("the label space is empty", path=str(path))
    if "display_name" not in fields:
        raise DataError(
            f"a label-space CSV needs a 'display_name' column (AudioSet's index,mid,display_name); "
            f"found columns {fields}",
            path=str(path),
        )
    if "index" in fields:
        try:
            indices = [int(r["index"]) for r in rows]
        except (TypeError, ValueError):
            raise DataError("the 'index' column holds a value that is not an integer", path=str(path)) from None
        if sorted(indices) != list(range(len(rows))):
            raise DataError(f"the 'index' column is not 0..{len(rows) - 1}, each once", path=str(path))
        rows = [r for _, r in sorted(zip(indices, rows), key=lambda t: t[0])]
    names = [(r["display_name"] or "").strip() for r in rows]
    for lineno, name in enumerate(names, 2):
        if not name:
            raise DataError(f"line {lineno}: empty display_name", path=str(path))
    return _check_unique(names, str(path))


def builtin_label_space(name: str) -> list[str]:
    """One of the packaged label spaces (``kinetics400``, ``audioset``)."""
    fname = BUILTIN_LABEL_SPACES[name]
    text = resources.files("vxt.modalities").joinpath("labels", fname).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_label_space(spec: str | Path) -> list[str]:
    """The ordered names of a label space.

    ``spec`` is a built-in name (``"kinetics400"``, ``"audioset"``; case does
    not matter) or a path to a ``.txt`` (one name a line, blank lines skipped)
    or a ``.csv`` (AudioSet's ``index,mid,display_name``, ordered by ``index``).
    Names must be unique: index ``i`` of a classifier's output means name ``i``.
    """
    key = str(spec).strip()
    if key.lower() in BUILTIN_LABEL_SPACES:
        return builtin_label_space(key.lower())
    path = Path(key)
    if not path.is_file():
        known = ", ".join(BUILTIN_LABEL_SPACES)
        raise VxtError(
            f"no such label space (give a built-in one: {known}; or a .txt / .csv file)",
            path=str(path),
        )
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_txt(path)
