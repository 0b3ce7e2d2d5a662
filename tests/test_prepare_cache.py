"""The media cache: keyed by decode settings, shared per media range, resumable, safe with several writers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from vxt.data import cache as cache_mod
from vxt.data.cache import DecodeSettings, MediaCache

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import frame_index, make_test_video  # noqa: E402

SMALL = DecodeSettings(num_clips=2, frames=4, size=32, fps=5.0)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("cachemedia")
    (d / "media").mkdir()
    make_test_video(d / "media" / "a.mp4", seconds=2.0, fps=10, size=(64, 48))
    make_test_video(d / "media" / "b.mp4", seconds=2.0, fps=10, size=(64, 48), audio=False)
    make_test_video(d / "media" / "c.mp4", seconds=2.0, fps=10, size=(64, 48))
    (d / "media" / "broken.mp4").write_bytes(b"not a video" * 100)
    return d


def _ex(i, video, **kw):
    return {"id": f"e{i}", "task": "caption", "video": video, **kw}


@pytest.fixture
def counting(monkeypatch):
    calls = []
    real = cache_mod.decode_job

    def fake(job):
        calls.append(job["path"])
        return real(job)

    monkeypatch.setattr(cache_mod, "decode_job", fake)
    return calls


def _fresh(tmp_path, media):
    import shutil

    d = tmp_path / "data"
    shutil.copytree(media, d)
    return d


def test_settings_key():
    a = DecodeSettings()
    assert a.key() == DecodeSettings().key() and a.key().startswith("c4-f8-s64-fps8-sr16000-")
    keys = {a.key(), DecodeSettings(num_clips=2).key(), DecodeSettings(frames=4).key(), DecodeSettings(size=32).key(),
            DecodeSettings(fps=None).key(), DecodeSettings(audio_sr=8000).key()}
    assert len(keys) == 6
    assert DecodeSettings.from_dict({**SMALL.to_dict(), "other": 1}) == SMALL
    assert DecodeSettings.from_dict({"fps": 6}).fps == 6.0


def test_build_get_and_share(tmp_path, media, counting):
    d = _fresh(tmp_path, media)
    exs = [
        _ex(0, "media/a.mp4", start=0.0, end=2.0),
        _ex(1, "media/a.mp4", start=0.0, end=2.0, task="qa"),  # same media range: one entry
        _ex(2, "media/a.mp4", start=1.0, end=2.0),  # another range: its own entry
        _ex(3, "media/b.mp4", missing=["audio"]),
        _ex(4, "media/broken.mp4"),
    ]
    c = MediaCache(d, SMALL)
    stats = c.build(exs, progress=False)
    assert stats["ok"] == 3 and list(stats["failed"]) == [c.media_key(exs[4])] and stats["failed"][c.media_key(exs[4])]
    assert len(counting) == 4
    assert (d / "cache" / SMALL.key() / "index.json").exists() and list((d / "cache" / SMALL.key()).glob("shard-*.safetensors"))
    m0, m2, m3 = c.get(exs[0]), c.get(exs[2]), c.get(exs[3])
    assert m0["video"].shape == (2, 4, 32, 32, 3) and m0["video"].dtype == np.uint8
    assert m0["audio"].dtype == np.float32 and m0["audio"].shape[1] == 64 and abs(m0["audio"].shape[0] - 200) < 10
    assert abs(m2["audio"].shape[0] - 100) < 10  # audio of [start, end] only
    assert frame_index(m2["video"][0, 0]) >= 9  # the range starts at 1 s (frame 10)
    assert m3["audio"] is None and m3["video"] is not None
    assert c.get(exs[4]) == {"video": None, "audio": None}
    assert c.get(exs[1])["video"].tobytes() == m0["video"].tobytes()
    assert len(counting) == 4  # reads never decode what was built


def test_rerun_keeps_entries_and_new_settings_rebuild(tmp_path, media, counting):
    d = _fresh(tmp_path, media)
    exs = [_ex(0, "media/a.mp4"), _ex(1, "media/b.mp4"), _ex(2, "media/c.mp4")]
    MediaCache(d, SMALL, shard_size=1).build(exs[:2], progress=False)
    shards = {p: p.stat().st_mtime_ns for p in (d / "cache" / SMALL.key()).glob("*.safetensors")}
    assert len(shards) == 2  # one shard per entry at shard_size=1, index updated after each
    counting.clear()
    stats = MediaCache(d, SMALL).build(exs, progress=False)
    assert counting == [str(d / "media" / "c.mp4")] and stats["ok"] == 3
    assert all(p.stat().st_mtime_ns == t for p, t in shards.items())
    other = DecodeSettings(num_clips=1, frames=2, size=16, fps=5.0)
    counting.clear()
    c2 = MediaCache(d, other)
    assert c2.get(exs[0])["video"].shape == (1, 2, 16, 16, 3)  # a miss decodes...
    c2.close()  # ...and is stored
    assert len(counting) == 1 and MediaCache(d, other).entry_info(exs[0])["video"] is True
    assert MediaCache(d, SMALL).get(exs[0])["video"].shape == (2, 4, 32, 32, 3)


def test_two_writers_merge_their_entries(tmp_path, media):
    d = _fresh(tmp_path, media)
    a, b = MediaCache(d, SMALL), MediaCache(d, SMALL)
    a.get(_ex(0, "media/a.mp4"))
    b.get(_ex(1, "media/c.mp4"))
    a.close()
    b.close()
    c = MediaCache(d, SMALL)
    assert _ex(0, "media/a.mp4") in c and _ex(1, "media/c.mp4") in c


def test_orphan_shard_and_foreign_index_are_ignored(tmp_path, media):
    d = _fresh(tmp_path, media)
    c = MediaCache(d, SMALL)
    c.build([_ex(0, "media/a.mp4")], progress=False)
    # a shard written by a run killed before its index update: not referenced, not used
    (c.dir / "shard-orphan.safetensors").write_bytes(b"partial")
    assert MediaCache(d, SMALL).get(_ex(0, "media/a.mp4"))["video"] is not None
    (c.dir / "index.json").write_text("{not json")
    c3 = MediaCache(d, SMALL)
    assert _ex(0, "media/a.mp4") not in c3
    assert c3.get(_ex(0, "media/a.mp4"))["video"].shape == (2, 4, 32, 32, 3)
