"""The sampler reads SpecVQGAN's own visual feature folders as they are: VGGSound's <clip>.npy, VAS's per-class
folders written as SpecVQGAN's configs write them (features/*/feature_resnet50_dim2048_21.5fps), its pickles
(arrays only), and BN-Inception's RGB and flow folders concatenated per frame."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from vxt.errors import DataError
from vxt.models.sound.features import VisualFeatures, load_feature_file, resolve_feature_dirs

KIND = "feature_resnet50_dim2048_21.5fps"


def _files(spec) -> VisualFeatures:
    return VisualFeatures({"source": "files", "dir": resolve_feature_dirs(spec)})


def test_the_shared_vggsound_features_are_read_by_clip_name(shared_data):
    feats = shared_data / "vggsound" / KIND
    ex = {"id": "vggsound-0nib7bMm8BA_15000_25000-sound", "video": "media/0nib7bMm8BA_15000_25000.mp4",
          "label": "dog barking"}
    raw = _files(feats).raw(ex)
    np.testing.assert_array_equal(raw, np.load(feats / "0nib7bMm8BA_15000_25000.npy"))
    assert raw.shape == (215, 2048) and raw.dtype == np.float32
    assert _files(feats).rows(ex, 212).shape == (212, 2048)


def test_vas_class_folders_and_pickles(tmp_path):
    dog, drum = (np.random.default_rng(i).standard_normal((215, 8)).astype(np.float32) for i in (0, 1))
    for label, arr in (("dog", dog), ("drum", drum)):
        d = tmp_path / "features" / label / KIND
        d.mkdir(parents=True)
        with open(d / "video_00001.pkl", "wb") as fh:  # the same clip name in two classes
            pickle.dump(arr, fh)
    spec = f"{tmp_path}/features/*/{KIND}"
    assert resolve_feature_dirs(spec) == f"{tmp_path.resolve()}/features/{{label}}/{KIND}"
    vf = _files(spec)
    for label, arr in (("dog", dog), ("drum", drum)):
        ex = {"id": f"vas-{label}-video_00001", "video": f"videos/{label}/video_00001.mp4", "label": label}
        np.testing.assert_array_equal(vf.raw(ex), arr)
    with pytest.raises(DataError, match="no visual features for this example") as e:
        vf.raw({"id": "vas-cat-video_00001", "video": "videos/cat/video_00001.mp4", "label": "cat"})
    assert e.value.example_id == "vas-cat-video_00001"


def test_rgb_and_flow_folders_are_concatenated_per_frame(tmp_path):
    rgb, flow = tmp_path / "rgb", tmp_path / "flow"
    rgb.mkdir(), flow.mkdir()
    a, b = np.ones((215, 3), np.float32), np.full((214, 2), 2.0, np.float32)  # cut to the shorter
    np.save(rgb / "clip.npy", a)
    np.save(flow / "clip.npy", b)
    raw = _files(f"{rgb}{os.pathsep}{flow}").raw({"id": "x", "video": "media/clip.mp4"})
    np.testing.assert_array_equal(raw, np.concatenate([a[:214], b], axis=1))


def test_a_pickle_of_anything_but_an_array_is_refused_unread(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    f = tmp_path / "clip.pkl"
    f.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(DataError, match="not a numpy array"):
        load_feature_file(f)
    assert not (tmp_path / "pwned").exists()
    f.write_bytes(pickle.dumps(np.zeros(4)))  # an array, but not [frames, dim]
    with pytest.raises(DataError, match=r"\[frames, dim\]"):
        load_feature_file(f)
    f.write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match="cannot read the visual features"):
        load_feature_file(f)


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(DataError, match="no such features folder"):
        resolve_feature_dirs(tmp_path / "nope")
    with pytest.raises(DataError, match="no such features folder"):
        resolve_feature_dirs(f"{tmp_path}/nope/*/{KIND}")
    with pytest.raises(DataError, match="whole folder name"):
        resolve_feature_dirs(f"{tmp_path}/x{{label}}/{KIND}")
