"""Media layer: probe, clip sampling, frames folders, audio, log-mel, the bad-media corpus."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import frame_image, frame_index, make_bad_corpus, make_test_video  # noqa: E402

from vxt.data import media  # noqa: E402
from vxt.data.media import (  # noqa: E402
    clip_starts,
    find_sidecar_subtitles,
    log_mel,
    probe,
    read_audio,
    read_clips,
    read_frame_folder_clips,
)
from vxt.errors import MediaError  # noqa: E402


def indices(clips: np.ndarray) -> list[list[int]]:
    return [[frame_index(f) for f in clip] for clip in clips]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("badmedia")
    return d, make_bad_corpus(d)


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> Path:
    """4 s at 30 fps (frames 0..119), key frame every 12 frames, stereo 44.1 kHz sine."""
    return make_test_video(tmp_path_factory.mktemp("known") / "known.mp4", seconds=4, fps=30, gop=12)


@pytest.fixture(scope="module")
def bframes(tmp_path_factory) -> Path:
    """8 s at 30 fps with B-frames (presentation order != decode order), key frame every 12 frames."""
    return make_test_video(
        tmp_path_factory.mktemp("bf") / "bf.mp4", seconds=8, fps=30, gop=12, preset="medium", audio=False
    )


# --------------------------------------------------------------------------- probe, real videos

REAL = {
    # name: (duration, fps, width, height, audio channels, frames)
    "v_GGSY1Qvo990": (18.2, 19.62, 320, 240, 1, 355),
    "v_ZNVhz7ctTq0": (14.0, 30.0, 480, 360, 1, 420),
    "women_long_jump": (35.1, 24.83, 480, 360, 2, 871),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_probe_real_videos(shared_data, name):
    duration, fps, w, h, channels, frames = REAL[name]
    info = probe(shared_data / "videos" / f"{name}.mp4")
    assert info.duration == pytest.approx(duration, abs=0.1)
    assert info.fps == pytest.approx(fps, abs=0.01)
    assert (info.width, info.height, info.rotation) == (w, h, 0)
    assert info.has_video and info.has_audio
    assert (info.video_codec, info.audio_codec, info.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (info.audio_rate, info.audio_channels) == (44100, channels)
    assert info.num_frames == frames
    # The README calls v_GGSY1Qvo990 "variable ~19.6 fps": its rate is unusual (981/50) but
    # its timestamps are perfectly regular (every 50 ticks of 1/981 s), so it is not VFR.
    assert info.vfr is False
    assert not info.truncated


def test_real_video_clips(shared_data):
    path = shared_data / "videos" / "women_long_jump.mp4"
    clips = read_clips(path, 3, 8, 32)
    assert clips.shape == (3, 8, 32, 32, 3) and clips.dtype == np.uint8
    assert clips.std() > 10  # real pictures, not padding
    # Sampling at 2 fps: 4 frames 0.5 s apart are different pictures.
    at2 = read_clips(path, 2, 4, 32, fps=2.0, start=10, end=20)
    assert at2.shape == (2, 4, 32, 32, 3)
    assert all(np.abs(at2[0, k].astype(int) - at2[0, k + 1]).mean() > 1 for k in range(3))
    # The two strategies (seeking to key frames vs one pass) and the threading give the same frames.
    ref = read_clips(path, 4, 4, 32)
    assert np.array_equal(read_clips(path, 4, 4, 32, seek=False), ref)
    assert np.array_equal(read_clips(path, 4, 4, 32, threads=1), ref)


# --------------------------------------------------------------------------- sampling, known content


def test_clip_starts_uniform_and_random():
    assert clip_starts(0, 4, 1, 4) == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert clip_starts(0, 10, 2, 1) == pytest.approx([4.0])  # one clip: the middle
    assert clip_starts(2, 3, 5, 3) == [2.0, 2.0, 2.0]  # clip longer than the range
    a = clip_starts(0, 100, 1, 5, mode="random", rng=np.random.default_rng(7))
    b = clip_starts(0, 100, 1, 5, mode="random", rng=np.random.default_rng(7))
    c = clip_starts(0, 100, 1, 5, mode="random", rng=random.Random(7))
    assert a == b and a == sorted(a) and all(0 <= s <= 99 for s in a + c)
    assert a != clip_starts(0, 100, 1, 5, mode="random", rng=np.random.default_rng(8))
    with pytest.raises(ValueError, match="unknown clip mode"):
        clip_starts(0, 1, 1, 1, mode="dense")


def test_uniform_native_frames_are_the_expected_ones(known):
    # 4 clips of 8 frames (8/30 s) centred in the four 1 s segments:
    # starts 0.5 - 4/30 = 0.367 s -> frame 11, then 41, 71, 101.
    clips = read_clips(known, 4, 8, 16)
    assert clips.shape == (4, 8, 16, 16, 3)
    assert indices(clips) == [list(range(s, s + 8)) for s in (11, 41, 71, 101)]


def test_fps_sampling_picks_nearest_frames(known):
    # 5 fps, 4 frames: clips of 0.8 s centred in each second -> starts 0.1, 1.1, 2.1, 3.1 s.
    clips = read_clips(known, 4, 4, 16, fps=5.0)
    assert indices(clips) == [[3, 9, 15, 21], [33, 39, 45, 51], [63, 69, 75, 81], [93, 99, 105, 111]]
    # Above the native rate frames repeat (nearest frame to each time).
    fast = read_clips(known, 1, 6, 16, fps=60.0, start=1.01, end=1.11)
    assert indices(fast) == [[30, 31, 31, 32, 32, 33]]


def test_seeking_skips_decoding_and_gives_the_same_frames(bframes, monkeypatch):
    decoded = []
    orig = media._VideoSource.next

    def counting(self):
        f = orig(self)
        if f is not None:
            decoded.append(f.t)
        return f

    monkeypatch.setattr(media._VideoSource, "next", counting)
    for fps in (None, 7.0):
        decoded.clear()
        sought = read_clips(bframes, 3, 4, 16, fps=fps)
        n_seek = len(decoded)
        decoded.clear()
        one_pass = read_clips(bframes, 3, 4, 16, fps=fps, seek=False)
        assert np.array_equal(sought, one_pass)
        assert n_seek < len(decoded) / 2, (n_seek, len(decoded))
    # Expected frames with B-frames: centres 1.33, 4, 6.67 s at 7 fps (clip 4/7 s).
    assert indices(sought) == [[31, 36, 40, 44], [111, 116, 120, 124], [191, 196, 200, 204]]
    # One pass stops after the last clip instead of decoding the whole file.
    decoded.clear()
    read_clips(bframes, 1, 4, 16, start=0, end=2, seek=False)
    assert max(decoded) < 1.5


def test_end_padding_and_random_mode(known):
    near_end = read_clips(known, 1, 8, 16, start=3.9)
    assert indices(near_end) == [[117, 118, 119, 119, 119, 119, 119, 119]]
    a = read_clips(known, 3, 4, 16, mode="random", rng=np.random.default_rng(3))
    b = read_clips(known, 3, 4, 16, mode="random", rng=np.random.default_rng(3))
    c = read_clips(known, 3, 4, 16, mode="random", rng=np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    ia = indices(a)
    assert all(clip == list(range(clip[0], clip[0] + 4)) for clip in ia)
    assert [clip[0] for clip in ia] == sorted(clip[0] for clip in ia)


def test_frame_folder_clips(tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "s01e01_seg02_clip_00"
    folder.mkdir()
    for i in range(30):  # 10 s at 3 fps
        Image.fromarray(frame_image(i, 96, 64)).save(folder / f"{i + 1:05d}.jpg", quality=95)
    opened = []
    orig = media._load_image
    monkeypatch.setattr(media.frames, "_load_image", lambda p, s: (opened.append(p.name), orig(p, s))[1])
    clips = read_frame_folder_clips(folder, 3.0, 2, 4, 24)
    # clips of 4/3 s centred at 2.5 and 7.5 s -> start 1.83 s -> frame round(5.5) = 6, then 21.
    assert clips.shape == (2, 4, 24, 24, 3) and clips.dtype == np.uint8
    assert indices(clips) == [[6, 7, 8, 9], [21, 22, 23, 24]]
    assert len(opened) == 8  # only the frames used
    at1 = read_frame_folder_clips(folder, 3.0, 1, 3, 24, fps=1.0, start=0, end=3)
    assert indices(at1) == [[0, 3, 6]]
    tail = read_frame_folder_clips(folder, 3.0, 1, 4, 24, start=9.5)
    assert indices(tail) == [[29, 29, 29, 29]]
    with pytest.raises(MediaError, match="frames folder not found"):
        read_frame_folder_clips(tmp_path / "nope", 3.0, 1, 1, 8)


# --------------------------------------------------------------------------- audio


def test_audio_range_stereo_44k_to_16k_mono(shared_data):
    path = shared_data / "videos" / "women_long_jump.mp4"  # AAC stereo 44.1 kHz
    part = read_audio(path, start=10.0, end=12.5)
    assert part.dtype == np.float32 and part.shape == (40000,)
    full = read_audio(path)
    assert len(full) == pytest.approx(35.155 * 16000, abs=16000 * 0.05)
    # Seeking for the range gives exactly the samples of a full read.
    assert np.array_equal(part, full[160000:200000])
    assert 0.01 < np.abs(part).max() <= 1.0


def test_audio_is_unit_gain_mono_and_time_aligned(known):
    y = read_audio(known, start=0.5, end=1.0)  # a 0.3-amplitude 440 Hz sine on both channels
    assert y.shape == (8000,)
    assert np.abs(y).max() == pytest.approx(0.3, abs=0.01)  # averaged, not summed (0.42)
    t = 0.5 + np.arange(8000) / 16000
    assert np.corrcoef(y, np.sin(2 * np.pi * 440 * t))[0, 1] > 0.999  # no time offset
    assert read_audio(known, start=2.0, end=1.0).shape == (0,)


def test_real_wav_32k_resampled(shared_data):
    import av

    path = shared_data / "audio" / "R9_ZSCveAHg_7s.wav"
    y = read_audio(path)
    assert y.dtype == np.float32 and y.shape == (112000,)
    with av.open(str(path)) as c:
        raw = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]).astype(np.float32) / 32768
    assert len(raw) == 224000
    # Speech is mostly below 8 kHz: every other 32 kHz sample is close to the 16 kHz signal.
    assert np.corrcoef(y, raw[::2])[0, 1] > 0.95
    assert y[5000:].std() == pytest.approx(raw[10000::2].std(), rel=0.1)


def _slaney_mel_reference(sr=16000, n_fft=512, n_mels=64, fmin=50.0, fmax=8000.0) -> np.ndarray:
    """librosa.filters.mel(htk=False, norm='slaney') written out in numpy."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]


def test_log_mel_matches_panns_front_end(shared_data):
    wave = read_audio(shared_data / "audio" / "R9_ZSCveAHg_7s.wav", end=2.0)
    mel = log_mel(wave)
    assert mel.shape == (len(wave) // 160 + 1, 64) and str(mel.dtype) == "torch.float32"
    # Reference: periodic Hann, reflect-padded centred STFT, power 2, Slaney mel, 10*log10(max(x, 1e-10)).
    padded = np.pad(wave.astype(np.float64), 256, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)
    frames = np.stack([padded[i * 160 : i * 160 + 512] * window for i in range(len(wave) // 160 + 1)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    ref = 10 * np.log10(np.maximum(power @ _slaney_mel_reference().T, 1e-10))
    assert np.abs(mel.numpy() - ref).max() < 0.05
    tiny = log_mel(np.zeros(100, dtype=np.float32))
    assert tiny.shape == (1, 64) and float(tiny.max()) == pytest.approx(-100.0)


# --------------------------------------------------------------------------- the bad-media corpus


SKIP_MESSAGES = {
    "empty.mp4": "empty file (0 bytes)",
    "not_media.mp4": "not a media file FFmpeg can read",
    "truncated.mp4": "truncated MP4: the file ends inside its 'mdat' box",
}


def test_bad_corpus_behaviour(corpus):
    d, expected = corpus
    assert set(expected) >= {
        "empty.mp4", "truncated.mp4", "not_media.mp4", "audio_only.m4a", "video_only.mp4", "single_frame.mp4",
        "rotated.mp4", "yuv420p10le.mp4", "yuv444p.mp4", "vfr.mp4", "uhd_3840x2160.mp4", "latin1.mp4",
    }
    for name, status in expected.items():
        path = d / name
        if status == "skipped":
            for fn in (probe, lambda p: read_clips(p, 1, 2, 8), read_audio):
                with pytest.raises(MediaError) as err:
                    fn(path)
                assert err.value.path == str(path)
                assert SKIP_MESSAGES[name] in err.value.message
            continue
        info = probe(path)
        if status == "degraded:video":
            assert not info.has_video and info.has_audio
            with pytest.raises(MediaError, match="no video stream"):
                read_clips(path, 1, 2, 8)
        else:
            assert info.has_video
            clips = read_clips(path, 2, 4, 16)
            assert clips.shape == (2, 4, 16, 16, 3)
        if status == "degraded:audio":
            assert not info.has_audio
            with pytest.raises(MediaError, match="no audio stream"):
                read_audio(path)
        else:
            assert info.has_audio and read_audio(path).size > 0


def test_bad_corpus_details(corpus):
    d, _ = corpus
    single = read_clips(d / "single_frame.mp4", 2, 5, 16)
    assert indices(single) == [[0] * 5, [0] * 5]

    rot = probe(d / "rotated.mp4")  # coded 64x32, display matrix: turn 90 degrees clockwise
    assert (rot.width, rot.height, rot.rotation) == (32, 64, 90)
    frame = read_clips(d / "rotated.mp4", 1, 1, 16)[0, 0].astype(int)
    # The coded picture is blue on its right half; turned clockwise that is the bottom half.
    assert frame[:6, :, 2].mean() < 40 and frame[-6:, :, 2].mean() > 200
    plain = read_clips(d / "latin1.mp4", 1, 1, 16)[0, 0].astype(int)
    assert plain[:, :6, 2].mean() < 40 and plain[:, -6:, 2].mean() > 200

    for name, fmt in (("yuv420p10le.mp4", "yuv420p10le"), ("yuv444p.mp4", "yuv444p")):
        assert probe(d / name).pix_fmt == fmt
        assert indices(read_clips(d / name, 1, 3, 16, start=0, end=0.3)) == [[0, 1, 2]]

    uhd = probe(d / "uhd_3840x2160.mp4")
    assert (uhd.width, uhd.height, uhd.num_frames) == (3840, 2160, 5)
    assert indices(read_clips(d / "uhd_3840x2160.mp4", 1, 5, 32)) == [[0, 1, 2, 3, 4]]

    vfr = probe(d / "vfr.mp4")
    assert vfr.vfr and vfr.num_frames == 20
    # Frames at 0, 40, 80, 200, 240, 440, 480, 520, 640, ... ms: sampling at 7 fps takes the nearest.
    pts = np.cumsum([0] + [[40, 40, 120, 40, 200][i % 5] for i in range(19)]) / 1000
    got = indices(read_clips(d / "vfr.mp4", 1, 8, 16, fps=7.0, start=0, end=8 / 7))
    want = [int(np.argmin(np.abs(pts - k / 7))) for k in range(8)]
    assert got == [want] and want == [0, 3, 4, 5, 7, 9, 10, 12]  # "shown at t" would give 0, 2, 3, 4, ...
    assert not probe(d / "latin1.mp4").vfr

    cut = probe(d / "truncated_faststart.mp4")  # index first, data cut: readable prefix
    assert cut.truncated and cut.has_video
    got = indices(read_clips(d / "truncated_faststart.mp4", 1, 20, 16, start=0, end=2))[0]
    assert got[0] == 0 and got[-1] < 19 and got == sorted(got)  # what decodes, then the last frame repeated

    assert find_sidecar_subtitles(d / "latin1.mp4") == d / "latin1.srt"
    assert find_sidecar_subtitles(d / "vfr.mp4") is None


def test_errors_are_one_clear_media_error(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="is a directory"):
        read_clips(tmp_path, 1, 1, 8)
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MediaError, match="not a media file FFmpeg can read") as err:
        read_audio(junk)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(junk))


def test_sidecar_subtitles_found_by_stem(tmp_path):
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"x")
    assert find_sidecar_subtitles(video) is None
    (tmp_path / "talk.vtt").write_text("WEBVTT\n")
    assert find_sidecar_subtitles(video) == tmp_path / "talk.vtt"
    (tmp_path / "talk.srt").write_text("")
    assert find_sidecar_subtitles(video) == tmp_path / "talk.srt"  # .srt preferred
    (tmp_path / "other.srt").write_text("")
    assert find_sidecar_subtitles(tmp_path / "other2.mp4") is None
    (tmp_path / "film [1].en.vtt").write_text("WEBVTT\n")  # language tag, glob characters in the name
    assert find_sidecar_subtitles(tmp_path / "film [1].mkv") == tmp_path / "film [1].en.vtt"
