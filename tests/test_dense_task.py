"""--task dense end to end: BMT on a tiny synthetic data dir, both stages, decode, score, features, VX2TEXT captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

#: small, fast backbone features for the tests (4 frames of 32 px per 2 s stack)
FAST = ["--set", "feature_settings.frames=4", "--set", "feature_settings.size=32", "--set", "feature_settings.step=2",
        "--set", "max_len=12"]


def _main(*args) -> int:
    import vxt.cli as cli

    names = tuple(dict.fromkeys([*cli.COMMANDS, "prepare", "train", "decode", "score"]))
    old, cli.COMMANDS = cli.COMMANDS, names
    try:
        return cli.main([str(a) for a in args])
    finally:
        cli.COMMANDS = old


@pytest.fixture
def vxt(run_cli, monkeypatch):
    """``vxt ARGS`` in-process, with the train/decode/score commands registered."""
    import vxt.cli as cli

    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys([*cli.COMMANDS, "prepare", "train", "decode", "score"])))
    return run_cli


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from vxt.data.prepare import prepare

    out = tmp_path_factory.mktemp("dense") / "synth"
    prepare("synth", out, options={"n_train": 4, "n_val": 2, "n_test": 2, "n_dense_train": 6, "n_dense_val": 2,
                                   "n_dense_test": 2, "seed": 0}, workers=2, cache=False, progress=False)
    return out


@pytest.fixture(scope="module")
def exp(data, no_java, tmp_path_factory) -> Path:
    """bmt-tiny trained with ``vxt train --task dense`` (both stages, a few steps)."""
    out = tmp_path_factory.mktemp("exp") / "bmt"
    code = _main("train", "--task", "dense", "--model", "bmt-tiny", "--data", data, "--out", out,
                 "--max-steps", 3, "--batch-size", 3, "--lr", "1e-3", *FAST)
    assert code == 0
    return out


def test_train_runs_both_stages(exp):
    cap = json.loads((exp / "captioner" / "best" / "metric.json").read_text())
    prop = json.loads((exp / "best" / "metric.json").read_text())
    assert cap["metric"] == "CIDEr" and prop["metric"] == "F1"  # METEOR when Java is there
    assert 0.0 <= prop["value"] <= 1.0
    cfg = json.loads((exp / "best" / "config.json").read_text())
    assert cfg["class"] == "vxt.models.dense:DenseTaskModel" and cfg["task"] == "dense"
    assert cfg["stage"] == "proposals" and cfg["proposals_on"] == "encoder"
    assert cfg["captioner_config"]["arch"] == "bmt" and cfg["generator_config"]["stream_dims"]
    # the proposals stage kept the captioner's weights (frozen) and did not train them
    from safetensors.torch import load_file

    a = load_file(str(exp / "captioner" / "best" / "model.safetensors"))
    b = load_file(str(exp / "best" / "model.safetensors"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a if k.startswith("captioner."))
    assert any(k.startswith("generator.") for k in b)
    # the features were extracted once, in BMT's layout
    feats = list((Path(cfg["data_dir"]) / "features").glob("*/synth-train-dense-0000_video.npy"))
    assert len(feats) == 1 and np.load(feats[0]).shape[0] == 10  # 20 s in 2 s stacks


def test_decode_split_writes_events_and_score_reads_them(vxt, data, exp, tmp_path):
    preds_path = tmp_path / "preds.json"
    code, out, err = vxt("decode", data, "--task", "dense", "--split", "test", "--ckpt", exp, "--out", preds_path)
    assert code == 0, err
    preds = json.loads(preds_path.read_text())
    assert preds["task"] == "dense" and len(preds["predictions"]) == 2
    for row in preds["predictions"]:
        evs = row["events"]
        assert 0 < len(evs) <= 100
        assert all(0.0 <= e["start"] <= e["end"] <= 20.0 and isinstance(e["sentence"], str) for e in evs)
        scores = [e["score"] for e in evs]
        assert scores == sorted(scores, reverse=True)  # best first: the protocol keeps the first 100
        assert row["reference_events"] and row["duration"] == 20.0
    assert "synth-test-dense-0000-dense" in out  # the timeline table
    code, out, err = vxt("score", preds_path, "--no-java")
    assert code == 0, err
    scores = json.loads(preds_path.with_suffix(".scores.json").read_text())["metrics"]
    assert {"Precision", "Recall", "F1", "CIDEr", "Bleu_4"} <= set(scores)
    assert 0 <= scores["F1"] <= 1


def test_decode_on_ground_truth_segments(vxt, data, exp, tmp_path):
    preds_path = tmp_path / "gt.json"
    code, _, err = vxt("decode", data, "--task", "dense", "--split", "val", "--ckpt", exp, "--set", "segments=gt",
                       "--out", preds_path)
    assert code == 0, err
    for row in json.loads(preds_path.read_text())["predictions"]:
        assert [(e["start"], e["end"]) for e in row["events"]] == [(e["start"], e["end"]) for e in row["reference_events"]]
        assert all(isinstance(e["sentence"], str) for e in row["events"])
    code, _, err = vxt("decode", data, "--task", "dense", "--split", "val", "--ckpt", exp, "--set", "segmnts=gt")
    assert code == 2 and "unknown dense decode option(s) segmnts" in err


def test_decode_top_k_and_nms(vxt, data, exp, tmp_path):
    from vxt.decoding.events import segment_tiou

    preds_path = tmp_path / "nms.json"
    code, _, err = vxt("decode", data, "--task", "dense", "--split", "test", "--ckpt", exp, "--set", "top_k=8",
                       "--set", "nms=0.5", "--out", preds_path)
    assert code == 0, err
    for row in json.loads(preds_path.read_text())["predictions"]:
        segs = np.array([[e["start"], e["end"]] for e in row["events"]])
        assert 0 < len(segs) <= 8
        iou = segment_tiou(segs, segs)
        assert (iou[np.triu_indices(len(segs), 1)] < 0.5).all()


def test_missing_audio_video_decodes(vxt, exp, tmp_path):
    """A dense video without an audio stream decodes: the audio is a masked stream, not noise or a crash."""
    from vxt.data import synth

    spec = synth.dense_spec(0, "test", 7)
    frames = synth.render_video(spec, np.random.default_rng(0))
    video = tmp_path / "silent.mp4"
    synth.write_mp4(video, frames[:250])  # 10 s, no audio track
    code, out, err = vxt("decode", video, "--task", "dense", "--ckpt", exp, "--out", tmp_path / "p.json")
    assert code == 0, err
    assert "no audio stream" in err and "silent" in out
    row = json.loads((tmp_path / "p.json").read_text())["predictions"][0]
    assert row["events"] and all(e["end"] <= 10.1 for e in row["events"])


def test_missing_audio_is_masked_not_noise(data, exp):
    """Decoding a manifest example that lacks audio gives the same events as one whose audio stream is absent."""
    import torch

    from vxt.data.loader import task_examples
    from vxt.models import load_model

    model = load_model(exp / "best")
    model.configure_decode(data_dir=data)
    ex = dict(task_examples(data, "test", "dense")[0], missing=["audio"])
    batch = model.collate([{"example": ex, "media": None}], train=False)
    assert "audio" not in batch and batch["feats"][0]["audio"] is None
    noisy = dict(batch, audio=torch.randn(1, 21, 32) * 100, audio_mask=torch.zeros(1, 21, dtype=torch.bool))
    assert model.predict(batch)[0]["events"] == model.predict(noisy)[0]["events"]


def test_features_cached_once_and_deterministic(data, exp, monkeypatch):
    from vxt.modalities.feature_store import FeatureStore
    from vxt.data.loader import task_examples
    from vxt.utils import read_json

    cfg = read_json(exp / "best" / "config.json")["features"]
    ex = task_examples(data, "val", "dense")[0]
    cached = FeatureStore.from_config(cfg, data).get(ex)
    monkeypatch.setattr(FeatureStore, "extract", lambda *a, **k: pytest.fail("re-extracted a cached video"))
    again = FeatureStore.from_config(cfg, data).get(ex)
    assert np.array_equal(cached["video"], again["video"]) and np.array_equal(cached["audio"], again["audio"])
    monkeypatch.undo()
    fresh = FeatureStore.from_config(cfg, None).extract(data / ex["video"], 20.0)  # no cache, new classifiers
    assert np.allclose(fresh["video"], cached["video"], atol=1e-5)  # seeded random init: same features
    assert fresh["audio"].shape == cached["audio"].shape == (21, 32)  # one row per 0.96 s


def test_backbone_weights_from_a_classifier_dir(data, tmp_path):
    """--video-weights (e.g. a `vxt train --task classify` dir) changes the features and the cache key."""
    import torch

    from vxt.modalities.feature_store import FeatureStore
    from vxt.data.loader import task_examples
    from vxt.modalities import create_classifier

    settings = {"frames": 4, "size": 32, "step": 2}
    torch.manual_seed(123)
    clf = create_classifier("tiny-video", labels=["a", "b"])
    clf.save_pretrained(tmp_path / "video-clf")
    plain = FeatureStore("backbone", data_dir=data, settings=settings)
    tuned = FeatureStore("backbone", data_dir=data, settings={**settings, "video_weights": str(tmp_path / "video-clf")})
    assert plain.cache_dir != tuned.cache_dir
    ex = task_examples(data, "test", "dense")[0]
    a, b = plain.get(ex), tuned.get(ex)
    assert a["video"].shape == b["video"].shape and not np.allclose(a["video"], b["video"])
    assert np.array_equal(a["audio"], b["audio"])  # same (seeded) audio backbone
    clf.eval()
    from vxt.data.media import read_clips

    clips = read_clips(data / ex["video"], 10, 4, 32, start=0.0, end=20.0, fps=8.0, mode="uniform")
    with torch.no_grad():
        direct = clf.features(clf.preprocess(clips)).numpy()
    assert np.allclose(direct, b["video"], atol=1e-5)


def test_pre_extracted_features(vxt, data, shared_data, no_java, tmp_path):
    """BMT-layout .npy features via --features: train on them, then decode BMT's women_long_jump sample."""
    from vxt.data.loader import task_examples

    feats = tmp_path / "feats"
    feats.mkdir()
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for ex in task_examples(data, split, "dense"):
            name = Path(ex["video"]).stem
            for kind, shape in (("rgb", (8, 1024)), ("flow", (8, 1024)), ("vggish", (21, 128))):
                np.save(feats / f"{name}_{kind}.npy", rng.normal(size=shape).astype(np.float32))
    (feats / "synth-train-dense-0001_vggish.npy").unlink()  # a video without audio features: masked
    out = tmp_path / "exp"
    code, _, err = vxt("train", "--task", "dense", "--model", "bmt-tiny", "--data", data, "--out", out,
                       "--features", feats, "--max-steps", 2, "--batch-size", 3, "--lr", "1e-3")
    assert code == 0, err
    cfg = json.loads((out / "best" / "config.json").read_text())
    assert cfg["features"]["source"] == "files" and cfg["captioner_config"]["d_video"] == 1024
    video = shared_data / "videos" / "women_long_jump.mp4"
    code, stdout, err = vxt("decode", video, "--task", "dense", "--ckpt", out, "--features", shared_data / "features",
                            "--out", tmp_path / "wlj.json")
    assert code == 0, err
    assert "women_long_jump" in stdout
    evs = json.loads((tmp_path / "wlj.json").read_text())["predictions"][0]["events"]
    assert evs and all(0 <= e["start"] <= e["end"] <= 35.2 for e in evs)
    code, _, err = vxt("decode", video, "--task", "dense", "--ckpt", out, "--features", shared_data / "features",
                       "--set", "feature_combine=concat", "--out", tmp_path / "x.json")
    assert code == 2 and "video features have 2048 dims" in err and "1024" in err


def test_vx2text_captions_the_proposals(vxt, data, exp, no_java, tmp_path):
    """The proposal generator works with any captioner: VX2TEXT captions each proposal segment."""
    cap = tmp_path / "vx2text"
    code, _, err = vxt("train", "--task", "caption", "--model", "vx2text-tiny", "--data", data, "--out", cap,
                       "--max-steps", 1, "--batch-size", 2, "--eval-limit", 1)
    assert code == 0, err
    preds_path = tmp_path / "p.json"
    code, _, err = vxt("decode", data, "--task", "dense", "--split", "test", "--ckpt", exp, "--limit", 1,
                       "--set", f"captioner={cap}", "--set", "top_k=3", "--out", preds_path)
    assert code == 0, err
    evs = json.loads(preds_path.read_text())["predictions"][0]["events"]
    assert len(evs) == 3 and all(isinstance(e["sentence"], str) for e in evs)
    # a proposal generator trained for a VX2TEXT captioner (on the raw feature streams)
    out = tmp_path / "prop"
    code, _, err = vxt("train", "--task", "dense", "--model", "bmt-tiny", "--data", data, "--stage", "proposals",
                       "--set", f"captioner={cap}", "--out", out, "--max-steps", 1, "--batch-size", 3, *FAST)
    assert code == 0, err
    assert (out / "best" / "captioner" / "config.json").exists()
    cfg = json.loads((out / "best" / "config.json").read_text())
    assert cfg["proposals_on"] == "features" and cfg["captioner_arch"] == "vx2text"
    code, _, err = vxt("decode", data, "--task", "dense", "--split", "test", "--ckpt", out, "--limit", 1,
                       "--set", "top_k=2", "--out", tmp_path / "q.json")
    assert code == 0, err
    assert len(json.loads((tmp_path / "q.json").read_text())["predictions"][0]["events"]) == 2


def test_registry_builder_contract(data, no_java):
    from vxt.registry import MODELS

    for name in ("bmt", "bmt-tiny", "mdvc", "mdvc-tiny"):
        assert name in MODELS.names()
    model = MODELS.get("mdvc-tiny").builder(overrides={"task": "dense", "feature_settings": {"frames": 4, "size": 32, "step": 2}},
                                            data_dir=str(data), name="mdvc-tiny")
    assert model.metric_name == "CIDEr" and model.captioner.ARCH == "mdvc"
    assert "speech" in model.captioner.modalities  # synth subtitles -> MDVC's speech modality
    from vxt.data.loader import task_examples, with_media

    items = with_media(task_examples(data, "train", "dense")[:2], None)
    batch = model.collate(items, train=True)
    n_events = sum(len(it["example"]["events"]) for it in items)
    assert batch["caption_ids"].shape[0] == n_events == batch["video"].shape[0] and batch["speech"].shape[0] == n_events
    out = model(batch)
    out["loss"].backward()
    preds = model.predict(model.collate(items, train=False))
    assert [len(p["events"]) for p in preds] == [len(it["example"]["events"]) for it in items]  # GT segments
    from vxt.errors import VxtError

    with pytest.raises(VxtError, match="train it with --task dense"):
        MODELS.get("bmt-tiny").builder(overrides={"task": "caption"}, data_dir=str(data), name="bmt-tiny")


# ---------------------------------------------------------------- proposals -> events, baseline, scoring


def test_proposals_to_events_captions_everything_in_one_call():
    from vxt.decoding.events import proposals_to_events, select_proposals

    props = [[{"start": 0, "end": 2, "score": 0.2}, {"start": 1, "end": 5, "score": 0.9}, {"start": 1.1, "end": 5, "score": 0.8}],
             [{"start": 3, "end": 4, "score": 0.5}]]
    calls = []

    def caption(reqs):
        calls.append(list(reqs))
        return [f"v{b} {s:g}-{e:g}" for b, s, e in reqs]

    events = proposals_to_events(props, caption, top_k=2)
    assert len(calls) == 1 and len(calls[0]) == 3
    assert [e["sentence"] for e in events[0]] == ["v0 1-5", "v0 1.1-5"] and events[1][0]["score"] == 0.5
    assert [p["start"] for p in select_proposals(props[0], top_k=5, nms=0.5)] == [1, 0]


def test_random_baseline_is_seeded_and_in_range():
    from vxt.decoding.events import random_segments_baseline
    from vxt.metrics.dense_examples import score_dense_predictions

    train = [{"id": "t", "events": [{"start": 0, "end": 1, "sentence": "a b"}, {"start": 1, "end": 2, "sentence": "a b"},
                                    {"start": 2, "end": 3, "sentence": "c"}]}]
    test = [{"id": "x", "duration": 10.0, "events": [{"start": 1.0, "end": 4.0, "sentence": "a b c"}]}]
    a = random_segments_baseline(test, train, n=50, seed=3)
    assert a == random_segments_baseline(test, train, n=50, seed=3) != random_segments_baseline(test, train, n=50, seed=4)
    evs = a[0]["events"]
    assert len(evs) == 50 and all(0 <= e["start"] <= e["end"] <= 10 and e["sentence"] == "a b" for e in evs)
    det = score_dense_predictions(test, [{"id": "x", "events": [{k: e[k] for k in ("start", "end")} for e in evs]}])
    full = score_dense_predictions(test, a, java=False)
    assert set(det) == {"Precision", "Recall", "F1"}
    assert det["Precision"] == pytest.approx(full["Precision"]) and det["Recall"] == pytest.approx(full["Recall"])
