"""vxt.utils: atomic writes."""

from __future__ import annotations

import os
import stat

from vxt.utils import atomic_write_bytes, atomic_write_text, read_json, write_json


def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = stat.S_IMODE(plain.stat().st_mode)  # 0o666 & ~umask
    atomic_write_text(tmp_path / "a.txt", "text")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    write_json(tmp_path / "c.json", {"k": 1})
    for name in ("a.txt", "b.bin", "c.json"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name
    assert (tmp_path / "a.txt").read_text() == "text" and read_json(tmp_path / "c.json") == {"k": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.json", "plain.txt"]
