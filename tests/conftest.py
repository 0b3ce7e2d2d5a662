"""Shared fixtures: where ../shared/data is, a CLI runner, deterministic seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VXT_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("VXT_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"the shared sample data is missing at {SHARED_DATA} (set VXT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def run_cli(capsys):
    """Run ``vxt ARGS`` in-process; returns (exit_code, stdout, stderr)."""
    from vxt.cli import main

    def _run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run
