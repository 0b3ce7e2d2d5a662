"""Moving a file's audio (``vxt decode --task sync --fix``): video packets byte-identical, audio moved exactly."""

from __future__ import annotations

import numpy as np
import pytest

from syncmedia import lag_samples, video_packets, write_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("fix")
    return write_clip(d / "in.mp4", 6.0, (1.0, 2.2, 3.64, 4.8), noise=0.05, seed=1)


@pytest.mark.parametrize("shift,method", [(0.384, "retime"), (-0.512, "retime"), (0.4, "reencode"),
                                          (-0.2, "reencode"), (0.0, "retime")])
def test_video_is_copied_and_audio_moved_by_the_shift(tmp_path, clip, shift, method):
    from vxt.data.media import read_audio
    from vxt.data.media.remux import shift_audio

    out = tmp_path / "out.mp4"
    done = shift_audio(clip, out, shift)
    assert done["method"] == method  # 0.384 s and 0.512 s are whole 1024-sample AAC frames at 16 kHz
    assert done["samples"] == round(shift * 16000)
    assert video_packets(out) == video_packets(clip)  # bytes, pts and dts of every video packet
    x, y = read_audio(clip, sr=16000), read_audio(out, sr=16000)
    assert lag_samples(x, y, 16000) == round(shift * 16000)
    n = min(len(x), len(y)) - 16000
    if shift >= 0:
        a, b = x[: n], y[round(shift * 16000): round(shift * 16000) + n]
    else:
        a, b = x[-round(shift * 16000): -round(shift * 16000) + n], y[: n]
    # the same sound (not bit-exact: AAC's noise substitution draws its noise afresh after a cut or re-encode)
    assert np.corrcoef(a, b)[0, 1] > 0.95


def test_a_44k_file_and_a_forced_reencode(tmp_path):
    from vxt.data.media import read_audio
    from vxt.data.media.remux import shift_audio

    src = write_clip(tmp_path / "in.mp4", 5.0, (1.0, 3.0), sr=44100, channels=2, noise=0.05)
    shift = 3 * 1024 / 44100
    for method in ("auto", "reencode"):
        done = shift_audio(src, tmp_path / f"{method}.mp4", shift, method=method)
        assert done["method"] == ("retime" if method == "auto" else "reencode")
        assert video_packets(tmp_path / f"{method}.mp4") == video_packets(src)
        lag = lag_samples(read_audio(src), read_audio(tmp_path / f"{method}.mp4"), 8000)
        assert abs(lag - shift * 16000) <= 1


def test_bad_requests_are_one_line_errors(tmp_path, clip):
    from vxt.data.media.remux import shift_audio
    from vxt.errors import MediaError

    with pytest.raises(MediaError, match="not a whole number"):
        shift_audio(clip, tmp_path / "o.mp4", 0.4, method="retime")
    with pytest.raises(MediaError, match="must not overwrite"):
        shift_audio(clip, clip, 0.4)
    silent = tmp_path / "silent.mp4"
    import av

    with av.open(str(clip)) as c, av.open(str(silent), "w") as o:
        v = c.streams.video[0]
        ov = o.add_stream_from_template(v)
        for p in c.demux(v):
            if p.dts is not None:
                p.stream = ov
                o.mux(p)
    with pytest.raises(MediaError, match="no audio stream"):
        shift_audio(silent, tmp_path / "o.mp4", 0.4)
    assert not (tmp_path / "o.mp4").exists()
