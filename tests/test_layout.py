"""The package layout of DESIGN.md holds: layers, independent systems, no import loops, modules of a readable size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def _graph():
    grimp = pytest.importorskip("grimp")
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph("vxt", include_external_packages=False)
    finally:
        sys.path.remove(str(ROOT))


def test_import_contracts_are_kept():
    """pyproject.toml's import-linter contracts: the layers and the systems' independence."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed")
    res = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def _cycles(adj: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, out = set(), [], []
    counter = 0
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(adj.get(nxt, ())))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_cycle_finder_finds_a_loop():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_in_a_loop():
    """Every import counts, the lazy ones inside functions too."""
    g = _graph()
    adj = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    assert _cycles(adj) == []


def test_modules_stay_readable():
    too_long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "vxt").rglob("*.py"))
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_every_task_has_a_registry_entry_and_a_model():
    from vxt.registry import MODELS, TASKS
    from vxt.tasks import get_task_entry

    assert set(TASKS.names()) >= {"caption", "qa", "dialog", "dense", "classify"}
    for name in TASKS.names():
        task = get_task_entry(name)
        assert task.name == name
        assert MODELS.serving(name), f"no model serves --task {name}"
        if task.default_model is not None:
            assert name in MODELS.get(task.default_model).tasks


def test_the_training_loop_and_front_ends_branch_on_no_task_name():
    """The loop, inference and the commands look tasks up; a task name in a comparison is a regression."""
    import re

    names = ("caption", "qa", "dialog", "dense", "classify")
    pattern = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](%s)["']""" % "|".join(names))
    files = [ROOT / "vxt" / "train" / "loop.py", ROOT / "vxt" / "train" / "evaluate.py",
             ROOT / "vxt" / "inference.py", *sorted((ROOT / "vxt" / "commands").glob("*.py"))]
    hits = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not hits, "\n".join(hits)
