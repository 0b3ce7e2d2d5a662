"""Registries: name -> builder (+ default config).

One generic :class:`Registry` serves every pluggable kind of thing in vxt
(models, dataset adapters, modality classifiers, metrics, tasks). Entries are
added with a decorator, timm style::

    from vxt.registry import MODELS

    @MODELS.register("vx2text-tiny", default_config={...})
    def build_vx2text(config): ...

and looked up by name (``MODELS.get(name)``, ``MODELS.create(name, **overrides)``).

Registries are filled by importing the modules that define entries; each
registry knows those modules (``modules=``) and imports them on first lookup, so
importing this file stays free of heavy dependencies.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from vxt.errors import VxtError


@dataclass
class Entry:
    name: str
    builder: Callable[..., Any]
    default_config: dict = field(default_factory=dict)
    description: str = ""
    #: models: the tasks this entry serves (``vxt train --task T --model M`` checks it)
    tasks: tuple[str, ...] = ()
    #: models: the training strategy that trains it (``vxt.train.strategies``; None = the task's default)
    strategy: str | None = None
    #: anything else an entry declares (e.g. a staged strategy's stage plan)
    meta: dict = field(default_factory=dict)


class Registry:
    def __init__(self, kind: str, modules: tuple[str, ...] = ()):
        self.kind = kind
        self._modules = modules
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, default_config: dict | None = None, description: str = "",
                 tasks: tuple[str, ...] | list[str] = (), strategy: str | None = None, **meta):
        def deco(fn):
            if name in self._entries and self._entries[name].builder is not fn:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = description or (fn.__doc__ or "").strip().splitlines()[0:1]
            if isinstance(doc, list):
                doc = doc[0] if doc else ""
            self._entries[name] = Entry(name, fn, dict(default_config or {}), doc, tuple(tasks), strategy, dict(meta))
            return fn

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        import importlib.util

        for mod in self._modules:
            # Modules not written yet (or removed) are skipped; errors inside an
            # existing module propagate.
            try:
                spec = importlib.util.find_spec(mod)
            except ModuleNotFoundError:
                spec = None
            if spec is not None:
                importlib.import_module(mod)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def get(self, name: str) -> Entry:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise VxtError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def default_config(self, name: str) -> dict:
        return copy.deepcopy(self.get(name).default_config)

    def create(self, name: str, *args, **kwargs):
        return self.get(name).builder(*args, **kwargs)

    def serving(self, task: str) -> list[str]:
        """The names of the entries that declare ``task`` among their tasks."""
        self._load()
        return sorted(n for n, e in self._entries.items() if task in e.tasks)


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``--set key=value`` pairs; values are JSON when they parse, else strings.

    Dotted keys (``text.d_model=256``) become nested dicts.
    """
    import json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise VxtError(f"--set expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


@dataclass(frozen=True)
class Bound:
    """What one config field (``--set key=value``, a config.json field) may hold; see :func:`check_values`.

    ``kind``: ``int`` (a whole number, never a bool), ``num`` (a finite number), ``choice`` (one of
    ``choices``) or ``bool``; ``null``: None is allowed too.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    null: bool = False

    def describe(self) -> str:
        if self.kind == "choice":
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "bool":
            text = "true or false"
        else:
            text = "a whole number" if self.kind == "int" else "a finite number"
            if self.low is not None and self.high is not None:
                text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text += f" {'<' if self.high_open else '<='} {self.high:g}"
        return text + (" or null" if self.null else "")

    def ok(self, value: Any) -> bool:
        import math

        if value is None:
            return self.null
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True


def whole(low: int | None = 1, high: int | None = None, *, null: bool = False) -> Bound:
    return Bound("int", low, high, null=null)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False,
           null: bool = False) -> Bound:
    return Bound("num", low, high, low_open, high_open, null=null)


def one_of(*choices: Any, null: bool = False) -> Bound:
    return Bound("choice", choices=tuple(choices), null=null)


#: a probability of dropping (dropout, label smoothing): [0, 1)
FRACTION = number(0, 1, high_open=True)


def check_values(values: dict, bounds: dict[str, Bound], *, prefix: str = "") -> None:
    """Check the fields of ``values`` that ``bounds`` names: one line per bad value, naming the key,
    what it may hold and what it got (``--set top_k=abc``: "top_k must be a whole number >= 1, got 'abc'")."""
    for key, bound in bounds.items():
        if key in values and not bound.ok(values[key]):
            raise VxtError(f"{prefix}{key} must be {bound.describe()}, got {values[key]!r}")


def bounds_like(defaults: dict, *, fractions: tuple[str, ...] = ()) -> dict[str, Bound]:
    """Bounds inferred from a config's defaults: a whole-number default is a size or count (>= 1), a real
    one a non-negative number, a bool a bool; ``fractions`` lie in [0, 1); a None default of a width
    (``d_*``, ``*_hidden``) is a size or null."""
    out: dict[str, Bound] = {}
    for key, default in defaults.items():
        if key in fractions:
            out[key] = FRACTION
        elif isinstance(default, bool):
            out[key] = Bound("bool")
        elif isinstance(default, int):
            out[key] = whole(1)
        elif isinstance(default, float):
            out[key] = number(0)
        elif default is None and (key.startswith("d_") or key.endswith("_hidden")):
            out[key] = whole(1, null=True)
    return out


def merge_config(base: dict, overrides: dict) -> dict:
    """Recursively merge ``overrides`` into a copy of ``base``."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_config(out[k], v)
        else:
            out[k] = v
    return out


# The registries of vxt. Modules listed here are imported on first lookup.
MODELS = Registry("model", modules=("vxt.models.vx2text", "vxt.models.dense", "vxt.models.classify",
                                   "vxt.models.avcap", "vxt.models.tavt", "vxt.models.sync",
                                   "vxt.models.sound"))
ADAPTERS = Registry("dataset", modules=("vxt.data.adapters",))
CLASSIFIERS = Registry("modality classifier", modules=("vxt.modalities.video", "vxt.modalities.audio",
                                                       "vxt.modalities.frames", "vxt.modalities.vggish"))
TASKS = Registry("task", modules=("vxt.tasks.text", "vxt.tasks.dense", "vxt.tasks.classify", "vxt.tasks.sync",
                                 "vxt.tasks.sound"))
STRATEGIES = Registry("training strategy", modules=("vxt.train.strategies", "vxt.train.warmup", "vxt.train.meta"))
