"""Shared fixtures: where ../shared/data is, a CLI runner, deterministic seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VXT_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("VXT_NO_PROGRESS", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs the suite in one process per core: each, and every recipe it starts, computes on one
    # thread, or the processes' intra-op threads fight over the cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"the shared sample data is missing at {SHARED_DATA} (set VXT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core box their spinning workers
    slow everything down: a test module that trains or runs tiny models uses one thread
    (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory):
    """vxt's user cache (features a decode extracts from media files) in a temp dir, not ~/.cache/vxt."""
    mp = pytest.MonkeyPatch()
    if not os.environ.get("VXT_CACHE"):
        mp.setenv("VXT_CACHE", str(tmp_path_factory.mktemp("vxt-user-cache")))
    yield
    mp.undo()


@pytest.fixture
def run_cli(capsys):
    """Run ``vxt ARGS`` in-process; returns (exit_code, stdout, stderr)."""
    from vxt.cli import main

    def _run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """A small synthetic data dir (8/4/4 clips, 2/1/1 dense videos), media cache built; shared, do not modify."""
    from vxt.data.prepare import prepare

    out = tmp_path_factory.mktemp("tiny-synth") / "synth"
    prepare("synth", out, options={"n_train": 8, "n_val": 4, "n_test": 4, "n_dense_train": 2, "n_dense_val": 1,
                                   "n_dense_test": 1, "seed": 0}, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def coco_meteor():
    """pycocoevalcap's own METEOR wrapper (the jar in -stdio mode), started once per session (Java needed)."""
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Java is not installed (apt-get install default-jre-headless)")
    from pycocoevalcap.meteor.meteor import Meteor

    m = Meteor()
    yield m
    m.meteor_p.stdin.close()
    m.meteor_p.kill()
    m.meteor_p.wait()


@pytest.fixture(scope="module")
def no_java():
    """Scoring without Java in this module: CIDEr picks checkpoints, no METEOR process (fast)."""
    mp = pytest.MonkeyPatch()
    mp.setattr("vxt.metrics.java_available", lambda: False)
    yield
    mp.undo()


#: the longest test files, longest first (seconds on the 2-core machine, measured with --durations): `make test`
#: hands files to its processes in collection order (--no-loadscope-reorder), so these start first, side by side
SLOW_FILES = ("test_recipe_synth.py", "test_recipes.py", "test_recipe_tavt.py", "test_recipe_avcap_real.py",
              "test_recipe_sound_real.py", "test_recipe_sync.py", "test_recipe_sync_real.py", "test_recipe_avcap.py",
              "test_recipe_sound.py", "test_recipe_tavt_real.py", "test_recipe_anet.py")


def pytest_collection_modifyitems(session, config, items):
    """The end-to-end recipe tests (a minute or more each) first, the longest first, then the rest in their order:
    with the suite split over processes, the long files then run side by side, not last on one."""
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))
