"""Helpers of the recipe tests: the environment a recipe runs in, and reading its RESULTS.md tables."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def recipe_env(**extra: str) -> dict:
    """The test's venv first on PATH, ``$VXT`` its vxt, no progress bars, one torch thread, plus ``extra``."""
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update({"PATH": bindir + os.pathsep + env.get("PATH", ""), "VXT": str(Path(bindir) / "vxt"),
                "VXT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", **extra})
    return env


def markdown_table(text: str, heading: str) -> dict[str, list[str]]:
    """The rows (first column -> the others) of the Markdown table under ``heading`` in a RESULTS.md."""
    lines = text.split(heading, 1)[1].splitlines()[1:]
    rows = []
    for x in lines:
        if x.startswith("## "):
            break
        if x.startswith("|"):
            rows.append([c.strip() for c in x.strip("|").split("|")])
    return {r[0]: r[1:] for r in rows[2:]}


def load_report(recipe: str):
    """``recipes/<recipe>/report.py`` as a module."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "recipes" / recipe / "report.py"
    spec = importlib.util.spec_from_file_location(f"{recipe.replace('-', '_')}_report", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
