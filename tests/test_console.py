"""Console output: every message is one line however long; progress is plain lines when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vxt import utils
from vxt.utils import PlainProgress

#: ``vxt ARGS`` in a fresh interpreter (this venv's python, wherever the clone is)
VXT = [sys.executable, "-c", "import sys; from vxt.cli import main; sys.exit(main(sys.argv[1:]))"]

#: one plain progress record
RECORD = re.compile(r"^vxt: .+: \d+/\d+ \(\d+%\) (--|\d+(\.\d+)?) it/s, elapsed \d+:\d\d:\d\d, eta (\d+:\d\d:\d\d|-:--:--)$")


@pytest.fixture(autouse=True)
def fresh_consoles():
    """The consoles are lazily created singletons: each test gets new ones (made under its COLUMNS, stderr)."""
    utils._console = utils._err_console = None
    utils._said_once.clear()
    yield
    utils._console = utils._err_console = None
    utils._said_once.clear()


def _env(**kw) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VXT_NO_PROGRESS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="40", **kw)
    return env


def _write_silent_mp4(path: Path, n: int = 16, size: int = 64) -> None:
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=8)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for _ in range(n):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture
def long_dir(tmp_path) -> Path:
    d = tmp_path / ("a" * 60) / ("b" * 60) / ("c" * 60) / "videos"
    assert len(str(d)) > 200
    d.mkdir(parents=True)
    return d


def _lines_with(text: str, fragment: str) -> list[str]:
    return [line for line in text.splitlines() if fragment in line]


def test_a_command_prints_each_message_on_one_intact_line_under_a_long_path(long_dir, shared_data):
    shutil.copy(shared_data / "videos" / "v_ZNVhz7ctTq0.mp4", long_dir)
    _write_silent_mp4(long_dir / "silent.mp4")
    (long_dir / "broken.mp4").write_text("not a video")
    out = long_dir.parent / "data"
    r = subprocess.run([*VXT, "prepare", "videos", "--root", str(long_dir), "--out", str(out),
                        "--frames", "2", "--size", "32", "--num-clips", "1"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # results (stdout): every line naming the data dir holds the whole path
    named = _lines_with(r.stdout, "a" * 20)
    assert len(named) >= 2, r.stdout
    assert all(str(out) in line for line in named), r.stdout
    assert any(line.startswith("wrote " + str(out) + "/") and line.endswith(" s") for line in named), r.stdout
    assert not any(re.search(r"[abc]{20}", line) and str(out) not in line for line in r.stdout.splitlines())
    # progress (stderr, a pipe): plain one-line records, the last of each task at 100%, no redrawn bar left over
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert err and all(RECORD.match(line) for line in err), r.stderr
    assert not any(line.strip() in ("it/s", "eta") or "\r" in line or "\x1b" in line for line in r.stderr.splitlines())
    assert "vxt: checking media: 3/3 (100%)" in r.stderr and "vxt: caching media: 2/2 (100%)" in r.stderr, r.stderr

    # an error naming the long path (vxt/cli.py: a plain print) is one line too
    missing = long_dir / "no-such-exp"
    r = subprocess.run([*VXT, "decode", str(long_dir / "silent.mp4"), "--task", "caption", "--ckpt", str(missing)],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert [line for line in r.stderr.splitlines() if line.strip()] == _lines_with(r.stderr, str(missing)), r.stderr
    assert len(_lines_with(r.stderr, str(missing))) == 1 and r.stderr.startswith("vxt: error: "), r.stderr

    # a notice naming the long path: the missing-stream notice of `vxt decode` on a media file
    code = ("from pathlib import Path; import sys; from vxt.inference import DecodeRequest, media_example; "
            "media_example(Path(sys.argv[1]), 'caption', DecodeRequest(inputs=[sys.argv[1]], task='caption'))")
    r = subprocess.run([sys.executable, "-c", code, str(long_dir / "silent.mp4")], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"vxt: {long_dir / 'silent.mp4'}: no audio stream; decoding without it"]


def test_messages_and_notices_are_one_line_whatever_columns(monkeypatch, capsys):
    from rich.table import Table

    monkeypatch.setenv("COLUMNS", "40")
    long = "/".join(["folder-" + "x" * 20] * 12) + " ends here"
    assert len(long) > 300
    utils.say_once(f"{long}: a notice")
    utils.say_once(f"{long}: a notice")  # once
    utils.err_console().print(f"[yellow]vxt:[/] {long}: no audio stream; decoding without it")
    utils.err_console().print(f"vxt: epoch 1 val {long}")
    utils.console().print(f"wrote {long}")
    utils.console().print(f"[bold]vxt prepare videos[/] -> {long}", "and more")
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"wrote {long}", f"vxt prepare videos -> {long} and more"]
    assert err.splitlines() == [f"vxt: {long}: a notice", f"vxt: {long}: no audio stream; decoding without it",
                                f"vxt: epoch 1 val {long}"]
    # tables are still laid out by rich at the console width (here 40 columns)
    t = Table("id", "reason")
    t.add_row("silent", long)
    utils.console().print(t)
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) > 5 and max(len(line) for line in out.splitlines()) <= 40


# ---------------------------------------------------------------- plain progress


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _plain(**kw):
    from rich.console import Console

    buf = io.StringIO()
    clock = Clock()
    return PlainProgress(Console(file=buf, width=40), clock=clock, **kw), clock, buf


def test_plain_progress_logs_every_tenth_with_rate_and_eta():
    bar, clock, buf = _plain()
    with bar:
        tid = bar.add_task("train caption", total=400)
        for step in range(400):
            clock.t += 0.5
            bar.update(tid, advance=1, description=f"train caption ep 1/8 loss {2.5 - step / 1000:.3f}")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 10 and all(RECORD.match(line) for line in lines), lines
    assert lines[2] == "vxt: train caption ep 1/8 loss 2.381: 120/400 (30%) 2.00 it/s, elapsed 0:01:00, eta 0:02:20"
    assert lines[-1] == "vxt: train caption ep 1/8 loss 2.101: 400/400 (100%) 2.00 it/s, elapsed 0:03:20, eta 0:00:00"
    assert [int(re.search(r": (\d+)/", line).group(1)) for line in lines] == list(range(40, 401, 40))


def test_plain_progress_logs_at_least_every_30_s_when_it_advanced():
    bar, clock, buf = _plain()
    bar.start()
    tid = bar.add_task("tokens train", total=1000)
    for _ in range(200):
        clock.t += 1.0
        bar.advance(tid)
    assert [int(re.search(r": (\d+)/", line).group(1)) for line in buf.getvalue().splitlines()] == \
        [30, 60, 90, 100, 130, 160, 190, 200]
    n = len(buf.getvalue().splitlines())
    clock.t += 300  # stalled: nothing advanced, nothing logged
    bar.update(tid, description="tokens train (stalled)")
    bar.update(tid, advance=0)
    assert len(buf.getvalue().splitlines()) == n
    clock.t += 10
    bar.advance(tid, 5)
    last = buf.getvalue().splitlines()[-1]
    assert last.startswith("vxt: tokens train (stalled): 205/1000 (20%) ") and ", eta " in last
    bar.stop()  # the last state was logged already
    bar.stop()
    assert len(buf.getvalue().splitlines()) == n + 1


def test_plain_progress_final_line_at_stop_when_not_complete_and_once_when_complete():
    bar, clock, buf = _plain()
    with bar:
        tid = bar.add_task("caching media", total=50)
        for _ in range(7):
            clock.t += 2
            bar.advance(tid)
    lines = buf.getvalue().splitlines()
    assert lines == ["vxt: caching media: 5/50 (10%) 0.50 it/s, elapsed 0:00:10, eta 0:01:30",
                     "vxt: caching media: 7/50 (14%) 0.50 it/s, elapsed 0:00:14, eta 0:01:26"]

    bar, clock, buf = _plain()
    with bar:
        tid = bar.add_task("checking media", total=3)
        for _ in range(5):  # updates past the end log nothing more
            clock.t += 1
            bar.advance(tid)
    assert buf.getvalue().splitlines()[-1] == "vxt: checking media: 3/3 (100%) 1.00 it/s, elapsed 0:00:03, eta 0:00:00"
    assert len(buf.getvalue().splitlines()) == 3


def test_plain_progress_resumed_transient_hidden_disabled():
    # resumed: the rate counts this run's steps only; a task resumed already complete logs nothing
    bar, clock, buf = _plain()
    with bar:
        tid = bar.add_task("train qa", total=400, completed=300)
        done = bar.add_task("train qa", total=400, completed=400)
        for _ in range(100):
            clock.t += 0.25
            bar.update(tid, advance=1)
        bar.update(done, advance=0)
    lines = buf.getvalue().splitlines()
    assert lines[-1] == "vxt: train qa: 400/400 (100%) 4.00 it/s, elapsed 0:00:25, eta 0:00:00" and len(lines) == 3
    # transient: the final line only (also at stop when it did not complete)
    bar, clock, buf = _plain(transient=True)
    with bar:
        tid = bar.add_task("decode val", total=64)
        for _ in range(4):
            clock.t += 20
            bar.update(tid, advance=16)
        t2 = bar.add_task("decode test", total=64)
        clock.t += 40
        bar.update(t2, advance=16)
    assert buf.getvalue().splitlines() == ["vxt: decode val: 64/64 (100%) 0.80 it/s, elapsed 0:01:20, eta 0:00:00",
                                           "vxt: decode test: 16/64 (25%) 0.40 it/s, elapsed 0:00:40, eta 0:02:00"]
    # invisible tasks and a disabled progress (VXT_NO_PROGRESS=1) print nothing
    for kw, visible in (({}, False), ({"disable": True}, True)):
        bar, clock, buf = _plain(**kw)
        with bar:
            tid = bar.add_task("generating synth clips", total=10, visible=visible)
            for _ in range(10):
                clock.t += 40
                bar.advance(tid)
        assert buf.getvalue() == ""


def test_plain_progress_records_are_one_line_and_track_works():
    bar, clock, buf = _plain()
    desc = "tokens " + "y" * 300
    seen = []
    with bar:
        for x in bar.track(range(20), description=desc):
            clock.t += 1
            seen.append(x)
        tid = bar.add_task("no total", total=None)
        clock.t += 31
        bar.advance(tid, 3)
    assert seen == list(range(20))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 11 and all(line.startswith(f"vxt: {desc}: ") for line in lines[:10])
    assert lines[9] == f"vxt: {desc}: 20/20 (100%) 1.00 it/s, elapsed 0:00:20, eta 0:00:00"
    assert lines[10] == "vxt: no total: 3 0.10 it/s, elapsed 0:00:31"
    assert bar.console is not None and bar.finished is False and len(bar.task_ids) == 2


# ---------------------------------------------------------------- rich bar or plain lines


def test_progress_is_a_rich_bar_on_a_terminal_and_plain_lines_otherwise(monkeypatch):
    from rich.progress import Progress

    for var in ("VXT_NO_PROGRESS", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert isinstance(utils.progress(), Progress)
    assert isinstance(utils.progress(transient=True), Progress)
    monkeypatch.setenv("VXT_NO_PROGRESS", "1")
    quiet = utils.progress()
    assert isinstance(quiet, PlainProgress) and quiet.disable

    monkeypatch.delenv("VXT_NO_PROGRESS")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    utils._err_console = None
    plain = utils.progress(transient=True)
    assert isinstance(plain, PlainProgress) and plain.transient and not plain.disable
    assert plain.console is utils.err_console()
    monkeypatch.setenv("FORCE_COLOR", "1")  # colour forced (CI): a log still gets plain lines
    utils._err_console = None
    assert utils.err_console().is_terminal and isinstance(utils.progress(), PlainProgress)
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TERM", "dumb")  # a terminal that cannot redraw
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    utils._err_console = None
    assert isinstance(utils.progress(), PlainProgress)
