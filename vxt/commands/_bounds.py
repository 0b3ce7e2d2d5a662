"""Bounds of the commands' number options, checked by Click where each option is declared.

Whole numbers use ``typer.Option(..., min=N)`` (``--help`` shows ``x>=N``); real numbers use
:func:`real`, a callback that also refuses ``nan`` and ``inf`` (Click's ranges let them through) and
whose bounds the option's help states. A value out of bounds is Click's usage error: one line, exit 2.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import typer


def real(low: Optional[float] = None, high: Optional[float] = None, *, low_open: bool = False,
         high_open: bool = False) -> Callable:
    """A callback accepting a finite number in the interval (``None``, the option left out, passes)."""
    left = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    right = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    want = " and ".join(x for x in (left, right) if x)

    def check(value: Optional[float]) -> Optional[float]:
        if value is None:
            return value
        bad = not math.isfinite(value)
        if low is not None:
            bad = bad or value < low or (low_open and value == low)
        if high is not None:
            bad = bad or value > high or (high_open and value == high)
        if bad:
            raise typer.BadParameter(f"must be a finite number{' ' + want if want else ''}, got {value:g}")
        return value

    return check
