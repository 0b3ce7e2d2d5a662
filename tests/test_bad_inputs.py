"""Every command against a table of bad inputs: each is a user error, said in one line, exit 2.

One row: the argv (``{name}`` placeholders are filled from the fixtures' paths), a phrase the one-line
error must contain. No output may hold a traceback or point at ``VXT_DEBUG``: those mean an internal
error where a user error was meant. Nothing here trains beyond one step.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST_DENSE = {"stage": "captioner", "feature_settings": {"frames": 4, "size": 32, "step": 2}, "max_len": 12}


@pytest.fixture(scope="module")
def paths(tiny_synth, tmp_path_factory) -> dict[str, str]:
    """The files and folders the rows name: a data dir, a caption and a dense experiment, broken files."""
    from vxt.train.loop import TrainOptions, train

    root = tmp_path_factory.mktemp("bad-inputs")
    data = root / "data"  # a copy: tokenize and training write into their data dir
    shutil.copytree(tiny_synth, data)
    exp = root / "caption-exp"
    train(TrainOptions(task="caption", data=str(data), out=str(exp), max_steps=1, batch_size=4, evaluate=False,
                       overrides={"text": {"dropout_rate": 0.0}}))
    dense = root / "dense-exp"
    train(TrainOptions(task="dense", model="bmt-tiny", data=str(data), out=str(dense), max_steps=1, batch_size=2,
                       evaluate=False, overrides=json.loads(json.dumps(FAST_DENSE))))

    def manifest_copy(name: str) -> Path:
        d = root / name
        d.mkdir()
        for f in ("train.jsonl", "val.jsonl", "test.jsonl", "dataset.json"):
            shutil.copy(data / f, d / f)
        shutil.copytree(data / "labels", d / "labels")
        if (data / "tokenizer").is_dir():
            shutil.copytree(data / "tokenizer", d / "tokenizer")
        return d

    nomedia = manifest_copy("nomedia")  # manifests whose media files are all missing
    latin = manifest_copy("latin")  # a manifest saved as Latin-1
    for split in ("train", "test"):
        lines = (latin / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        ex = json.loads(lines[1])
        ex["targets"] = ["un café crème"]
        lines[1] = json.dumps(ex, ensure_ascii=False)
        (latin / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="latin-1")

    text = root / "notes.txt"
    text.write_text("these are notes, not weights\n")
    empty = root / "empty.json"
    empty.write_text("")
    folder = root / "a-folder"
    folder.mkdir()
    preds = {"task": "caption", "checkpoint": str(exp),
             "predictions": [{"id": "a", "prediction": "a red circle", "references": ["a red circle moves"]}]}
    good = root / "preds.json"
    good.write_text(json.dumps(preds))
    latin_preds = root / "latin-preds.json"
    latin_preds.write_bytes(json.dumps({**preds, "predictions": [{**preds["predictions"][0],
                                        "prediction": "café"}]}, ensure_ascii=False).encode("latin-1"))
    shapes = {"list.json": [1, 2, 3], "scalar.json": 5, "empty-object.json": {}, "rows-not-list.json":
              {"task": "caption", "predictions": 5}, "no-id.json": {"task": "caption", "predictions": [{"x": 1}]}}
    for name, obj in shapes.items():
        (root / name).write_text(json.dumps(obj))
    (root / "malformed.json").write_text('{"task": "caption", "predictions": [\n  {"id": "a",,}\n]}')
    video = sorted((data / "media").glob("*.mp4"))[0]
    return {"data": str(data), "exp": str(exp), "dense": str(dense), "nomedia": str(nomedia), "latin": str(latin),
            "text": str(text), "empty": str(empty), "folder": str(folder), "preds": str(good),
            "latin_preds": str(latin_preds), "root": str(root), "video": str(video), "missing": str(root / "nothing")}


# argv, a phrase of the one-line message ({name}: paths[name]); the exit code is 2 for every row
TRAIN = ["train", "--task", "caption", "--data", "{data}", "--max-steps", "1", "--out", "{root}/e"]
DENSE = ["train", "--task", "dense", "--model", "bmt-tiny", "--data", "{data}", "--max-steps", "1", "--out", "{root}/d"]
DECODE = ["decode", "{data}", "--task", "caption", "--ckpt", "{exp}", "--out", "{root}/p.json"]
DDECODE = ["decode", "{data}", "--task", "dense", "--ckpt", "{dense}", "--out", "{root}/pd.json"]
PREP = ["prepare", "synth", "--out", "{root}/prep"]
TOK = ["tokenize", "{data}", "--no-tokens"]
TOKW = ["tokenize", "{data}"]
SCORE = ["score", "{preds}", "--no-java"]

NOT_INT = "valid integer"
NOT_NUM = "valid number"
AT_LEAST = "greater than or equal to"


def _num_rows(base: list[str], option: str, bad: list[str], phrase: str) -> list[tuple[list[str], str]]:
    return [([*base, option, v], phrase) for v in bad]


ROWS: list[tuple[list[str], str]] = [
    # ---------------------------------------------------------------- the command line itself
    (["nosuch"], "No such command"),
    (["train", "--bogus"], "No such option: --bogus"),
    (["train"], "Missing option '--task'"),
    (["score"], "no predictions file given"),
    (["decode", "--task", "caption"], "Missing argument"),
    (["prepare", "synth"], "Missing option"),
    (["tokenize", "{data}", "--set", "k_video=-1"], "No such option: --set"),
    # ---------------------------------------------------------------- prepare
    (["prepare", "bogus", "--out", "{root}/prep"], "unknown dataset 'bogus'"),
    (["prepare", "videos", "--out", "{root}/prep"], "needs --root"),
    (["prepare", "videos", "--out", "{root}/prep", "--root", "{missing}"], "no such folder"),
    (["prepare", "synth", "--out", "{text}"], "is a file, not a folder"),
    (["prepare", "synth", "--out", "{text}/sub"], "is a file, not a folder"),
    (["prepare", "synth", "--out", "/proc/vxt"], "cannot create the data dir"),
    (["prepare", "synth", "--out", "/proc/vxt/deeper"], "cannot create the data dir"),
    *_num_rows(PREP, "--workers", ["0", "-1"], AT_LEAST),
    *_num_rows(PREP, "--workers", ["abc", "1.5"], NOT_INT),
    *_num_rows(PREP, "--seed", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--seed", ["abc", "nan"], NOT_INT),
    *_num_rows(PREP, "--n-train", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--n-train", ["abc"], NOT_INT),
    *_num_rows(PREP, "--n-val", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--n-test", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--n-dense-train", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--n-dense-val", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--n-dense-test", ["-1"], AT_LEAST),
    *_num_rows(PREP, "--qa-per-clip", ["0", "-1"], AT_LEAST),
    *_num_rows(PREP, "--qa-per-clip", ["6"], "less than or equal to 5"),
    *_num_rows(PREP, "--num-clips", ["0", "-2"], AT_LEAST),
    *_num_rows(PREP, "--frames", ["0"], AT_LEAST),
    *_num_rows(PREP, "--size", ["0", "-64"], AT_LEAST),
    *_num_rows(PREP, "--fps", ["0", "-1", "nan", "inf"], "must be a finite number > 0"),
    *_num_rows(PREP, "--fps", ["abc"], NOT_NUM),
    # ---------------------------------------------------------------- tokenize
    (["tokenize", "{missing}"], "no train.jsonl here"),
    (["tokenize", "{text}"], "no train.jsonl here"),
    (["tokenize", "{latin}", "--force", "--no-tokens"], "line 2: not UTF-8 text"),
    *_num_rows(TOK, "--vocab-size", ["0", "-1"], AT_LEAST),
    *_num_rows(TOK, "--vocab-size", ["abc"], NOT_INT),
    *_num_rows(TOK, "--k-video", ["0", "-1"], AT_LEAST),
    *_num_rows(TOK, "--k-video", ["abc"], NOT_INT),
    *_num_rows(TOK, "--k-audio", ["0", "-1"], AT_LEAST),
    ([*TOKW, "--video-weights", "{text}"], "not a weights file"),
    ([*TOKW, "--audio-weights", "{text}"], "not a weights file"),
    ([*TOKW, "--video-weights", "{empty}"], "not a weights file"),
    ([*TOKW, "--video-weights", "{missing}"], "no such weights file"),
    ([*TOKW, "--video-weights", "{folder}"], "needs config.json and model.safetensors"),
    ([*TOKW, "--video-classifier", "bogus"], "unknown modality classifier 'bogus'"),
    # ---------------------------------------------------------------- train: options
    *_num_rows(TRAIN, "--epochs", ["0", "-4"], AT_LEAST),
    *_num_rows(TRAIN, "--epochs", ["abc", "1.5"], NOT_INT),
    *_num_rows(TRAIN, "--max-steps", ["0", "-3"], AT_LEAST),
    *_num_rows(TRAIN, "--max-steps", ["abc"], NOT_INT),
    *_num_rows(TRAIN, "--batch-size", ["0", "-1"], AT_LEAST),
    *_num_rows(TRAIN, "--batch-size", ["abc"], NOT_INT),
    *_num_rows(TRAIN, "--lr", ["nan", "-1", "0", "inf", "-inf"], "must be a finite number > 0"),
    *_num_rows(TRAIN, "--lr", ["abc"], NOT_NUM),
    *_num_rows(TRAIN, "--train-fraction", ["0", "-0.5", "1.5", "nan"], "must be a finite number > 0 and <= 1"),
    *_num_rows(TRAIN, "--seed", ["-1"], AT_LEAST),
    *_num_rows(TRAIN, "--seed", ["abc"], NOT_INT),
    *_num_rows(TRAIN, "--save-every", ["-1"], AT_LEAST),
    *_num_rows(TRAIN, "--nproc", ["0", "-2"], AT_LEAST),
    *_num_rows(TRAIN, "--eval-beam", ["0"], AT_LEAST),
    *_num_rows(TRAIN, "--eval-limit", ["-1"], AT_LEAST),
    ([*TRAIN, "--device", "bogus"], "not a device vxt can use"),
    ([*TRAIN, "--device", ""], "not a device vxt can use"),
    ([*TRAIN, "--device", "cuda:x"], "not a device vxt can use"),
    (["train", "--task", "bogus"], "unknown task 'bogus'"),
    ([*TRAIN, "--model", "bogus"], "unknown model 'bogus'"),
    ([*TRAIN, "--model", "bmt-tiny"], "does not serve --task caption"),
    ([*TRAIN, "--tokenization", "bogus"], "tokenization must be one of"),
    ([*TRAIN, "--head", "bogus"], "head must be one of"),
    ([*TRAIN, "--objective", "bogus"], "objective must be one of"),
    ([*TRAIN, "--modalities", "bogus"], "unknown modality bogus"),
    ([*TRAIN, "--video-weights", "{text}"], "not a weights file"),
    ([*TRAIN, "--video-weights", "{missing}"], "no such weights file"),
    # ---------------------------------------------------------------- train: paths and data
    ([*TRAIN, "--out", "{text}"], "is a file, not a folder"),
    ([*TRAIN, "--out", "{text}/exp"], "is a file, not a folder"),
    ([*TRAIN, "--out", "/proc/vxt-exp"], "cannot create the experiment dir"),
    ([*TRAIN, "--data", "{missing}"], "run `vxt prepare` first"),
    ([*TRAIN, "--data", "{text}"], "run `vxt prepare` first"),
    ([*TRAIN, "--data", "{nomedia}"], "none of the 8 train examples has a readable media file"),
    ([*TRAIN, "--data", "{latin}"], "train.jsonl: line 2: not UTF-8 text"),
    (["train", "--task", "qa", "--data", "{data}", "--out", "{exp}", "--resume", "--max-steps", "1"],
     "this experiment was trained for --task caption"),
    # ---------------------------------------------------------------- train: --set
    ([*TRAIN, "--set", "noequals"], "--set expects key=value"),
    ([*TRAIN, "--set", "bogus_key=1"], "unknown option(s) bogus_key"),
    ([*TRAIN, "--set", "text.num_heads=0"], "text.num_heads must be a whole number >= 1"),
    ([*TRAIN, "--set", "text.d_model=-1"], "text.d_model must be a whole number >= 1"),
    ([*TRAIN, "--set", "text.d_ff=abc"], "text.d_ff must be a whole number >= 1"),
    ([*TRAIN, "--set", "text.dropout_rate=1.5"], "text.dropout_rate must be a finite number in [0, 1)"),
    ([*TRAIN, "--set", "text=5"], "text must be a JSON object"),
    ([*TRAIN, "--set", "gumbel_tau=0"], "gumbel_tau must be a finite number > 0"),
    ([*TRAIN, "--set", "gumbel_tau=abc"], "gumbel_tau must be a finite number > 0"),
    ([*TRAIN, "--set", "gumbel_tau=NaN"], "gumbel_tau must be a finite number > 0"),
    ([*TRAIN, "--set", "k_video=-1"], "k_video must be a positive integer"),
    ([*TRAIN, "--set", "k_audio=0"], "k_audio must be a positive integer"),
    ([*TRAIN, "--set", "max_target_tokens=1"], "max_target_tokens must be at least 2"),
    ([*TRAIN, "--set", "classifier_lr_scale=-1"], "classifier_lr_scale must be a number >= 0"),
    ([*TRAIN, "--set", "tokenizer_vocab_size=0"], "tokenizer_vocab_size must be a whole number >= 1"),
    ([*TRAIN, "--set", "head=bogus"], "head must be one of"),
    # ---------------------------------------------------------------- train --task dense: --set
    ([*DENSE, "--stage", "bogus"], "--stage must be one of"),
    ([*DENSE, "--set", "feature_settings.step=0"], "feature_settings.step must be a finite number > 0"),
    ([*DENSE, "--set", "feature_settings.frames=0"], "feature_settings.frames must be a whole number >= 1"),
    ([*DENSE, "--set", "feature_settings.fps=-1"], "feature_settings.fps must be a finite number > 0"),
    ([*DENSE, "--set", "feature_settings.size=abc"], "feature_settings.size must be a whole number >= 1"),
    ([*DENSE, "--set", "feature_settings=3"], "feature_settings must be a JSON object"),
    ([*DENSE, "--set", "top_k=0"], "top_k must be a whole number >= 1"),
    ([*DENSE, "--set", "nms=2"], "nms must be a finite number in (0, 1]"),
    ([*DENSE, "--set", "n_kernels=0"], "n_kernels must be a whole number >= 1"),
    ([*DENSE, "--set", "proposal_dropout=1"], "proposal_dropout must be a finite number in [0, 1)"),
    ([*DENSE, "--set", "proposal_hidden=[0]"], "proposal_hidden must be a list"),
    ([*DENSE, "--set", "heads=0"], "heads must be a whole number >= 1"),
    ([*DENSE, "--set", "dropout=1.5"], "dropout must be a finite number in [0, 1)"),
    ([*DENSE, "--set", "d_model=abc"], "d_model must be a whole number >= 1"),
    # ---------------------------------------------------------------- decode
    *_num_rows(DECODE, "--batch-size", ["0", "-1"], AT_LEAST),
    *_num_rows(DECODE, "--batch-size", ["abc"], NOT_INT),
    *_num_rows(DECODE, "--beam", ["0", "-1"], AT_LEAST),
    *_num_rows(DECODE, "--limit", ["0", "-1"], AT_LEAST),
    *_num_rows(DECODE, "--limit", ["abc"], NOT_INT),
    ([*DECODE, "--out", "{folder}"], "it is a folder"),
    ([*DECODE, "--out", "/proc/x"], "cannot write this file"),
    ([*DECODE, "--out", "{text}/p.json"], "is a file, not a folder"),
    ([*DECODE, "--split", "bogus"], "unknown split 'bogus'"),
    ([*DECODE, "--ckpt", "{missing}"], "no such checkpoint"),
    ([*DECODE, "--ckpt", "{text}"], "a checkpoint is a directory"),
    ([*DECODE, "--ckpt", "{folder}"], "not a checkpoint"),
    ([*DECODE, "--set", "top_k=1"], "apply to --task dense models only"),
    (["decode", "{data}", "--task", "bogus", "--ckpt", "{exp}"], "unknown task 'bogus'"),
    (["decode", "{data}", "--task", "qa", "--ckpt", "{exp}"], "trained for --task caption"),
    (["decode", "{nomedia}", "--task", "caption", "--ckpt", "{exp}", "--out", "{root}/p.json"],
     "none of the 4 test examples has a readable media file"),
    (["decode", "{latin}", "--task", "caption", "--ckpt", "{exp}", "--out", "{root}/p.json"],
     "test.jsonl: line 2: not UTF-8 text"),
    (["decode", "{missing}.mp4", "--task", "caption", "--ckpt", "{exp}"], "no such file"),
    (["decode", "{text}", "--task", "caption", "--ckpt", "{exp}"], "not a media file"),
    (["decode", "{video}", "--task", "qa", "--ckpt", "{exp}"], "--question and --candidates"),
    (["decode", "{video}", "--task", "caption", "--ckpt", "{exp}", "--history", "no separator"], "'question|answer'"),
    # ---------------------------------------------------------------- decode --task dense: --set
    ([*DDECODE, "--set", "top_k=abc"], "top_k must be a whole number >= 1, got 'abc'"),
    ([*DDECODE, "--set", "top_k=0"], "top_k must be a whole number >= 1"),
    ([*DDECODE, "--set", "top_k=1.5"], "top_k must be a whole number >= 1"),
    ([*DDECODE, "--set", "top_k=NaN"], "top_k must be a whole number >= 1"),
    ([*DDECODE, "--set", "nms=2"], "nms must be a finite number in (0, 1]"),
    ([*DDECODE, "--set", "nms=0"], "nms must be a finite number in (0, 1]"),
    ([*DDECODE, "--set", "nms=abc"], "nms must be a finite number in (0, 1]"),
    ([*DDECODE, "--set", "segments=bogus"], "segments must be one of proposals, gt"),
    ([*DDECODE, "--set", "caption_batch=0"], "caption_batch must be a whole number >= 1"),
    ([*DDECODE, "--set", "feature_combine=bogus"], "feature_combine must be one of sum, concat"),
    ([*DDECODE, "--set", "bogus=1"], "unknown dense decode option(s) bogus"),
    ([*DDECODE, "--set", "noequals"], "--set expects key=value"),
    # ---------------------------------------------------------------- score
    (["score", "{missing}", "--no-java"], "no such file"),
    (["score", "{folder}", "--no-java"], "is a folder"),
    (["score", "{empty}", "--no-java"], "is empty"),
    (["score", "{latin_preds}", "--no-java"], "line 1: not UTF-8 text"),
    (["score", "{root}/malformed.json", "--no-java"], "malformed JSON at line 2"),
    (["score", "{root}/list.json", "--no-java"], "not a predictions file"),
    (["score", "{root}/scalar.json", "--no-java"], "not a predictions file"),
    (["score", "{root}/empty-object.json", "--no-java"], "holds no predictions"),
    (["score", "{root}/rows-not-list.json", "--no-java"], "'predictions' must be a list"),
    (["score", "{preds}", "--refs", "{missing}", "--no-java"], "no such file"),
    (["score", "{preds}", "--refs", "{latin}/train.jsonl", "--no-java"], "line 2: not UTF-8 text"),
    *_num_rows(SCORE, "--digits", ["-1"], AT_LEAST),
    *_num_rows(SCORE, "--digits", ["99"], "less than or equal to 12"),
    *_num_rows(SCORE, "--digits", ["abc"], NOT_INT),
    *_num_rows(SCORE, "--max-proposals", ["0", "-1"], AT_LEAST),
    *_num_rows(SCORE, "--workers", ["0"], AT_LEAST),
    *_num_rows(SCORE, "--seed", ["-1"], AT_LEAST),
    *_num_rows(SCORE, "--tious", ["0", "1.5", "nan", ""], "thresholds must lie in (0, 1]"),
    *_num_rows(SCORE, "--tious", ["abc", "0.5,x"], "expected numbers separated by commas"),
    ([*SCORE, "--out", "{folder}"], "it is a folder"),
    ([*SCORE, "--out", "/proc/x.json"], "cannot write this file"),
    ([*SCORE, "--out", "{text}/s.json"], "is a file, not a folder"),
]


def _fill(argv: list[str], paths: dict[str, str]) -> list[str]:
    return [a.format(**paths) for a in argv]


def _check_one_line(code: int, out: str, err: str, phrase: str) -> None:
    for stream in (out, err):
        assert "Traceback" not in stream and "VXT_DEBUG" not in stream, stream
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, err
    assert errors[0].startswith("vxt: error: "), err
    assert phrase in errors[0], err
    assert code == 2, err


def test_the_table_is_large():
    assert len(ROWS) > 150


@pytest.mark.parametrize("argv, phrase", ROWS, ids=[" ".join(r[0])[:90] for r in ROWS])
def test_bad_input_is_one_line_exit_2(run_cli, paths, argv, phrase):
    code, out, err = run_cli(*_fill(argv, paths))
    _check_one_line(code, out, err, phrase.format(**paths))


def test_cuda_without_a_gpu_says_what_is_available(run_cli, paths):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for device in ("cuda", "cuda:0"):
        code, out, err = run_cli(*_fill(TRAIN, paths), "--device", device)
        _check_one_line(code, out, err, "no CUDA device here (torch.cuda.is_available() is False): use --device cpu or auto")


def test_help_shows_the_bounds(run_cli):
    code, out, err = run_cli("train", "--help")
    assert code == 0 and "x>=1" in out and "(> 0)" in out


def test_library_options_are_checked_too():
    from vxt.errors import VxtError
    from vxt.train.options import TrainOptions

    for bad in ({"epochs": 0}, {"batch_size": -1}, {"lr": float("nan")}, {"max_steps": -3}, {"nproc": 0}):
        with pytest.raises(VxtError):
            TrainOptions(task="caption", **bad).validate()
    TrainOptions(task="caption").validate()


def test_some_missing_media_are_skipped_and_counted(run_cli, paths, tmp_path):
    data = tmp_path / "some"
    shutil.copytree(paths["nomedia"], data)
    (data / "media").mkdir()
    for f in sorted(Path(paths["data"], "media").glob("synth-train-0000[0-3].mp4")):
        shutil.copy(f, data / "media" / f.name)
    code, out, err = run_cli("train", "--task", "caption", "--data", data, "--max-steps", "1", "--batch-size", "2",
                             "--out", tmp_path / "exp")
    assert code == 0, err
    assert "skipped 4 of 8 train examples whose media could not be read" in err
    assert "Traceback" not in err and "VXT_DEBUG" not in err


def test_a_lone_surrogate_in_predictions_is_scored(run_cli, tmp_path):
    from vxt.metrics.formats import load_predictions

    pred = tmp_path / "preds.json"
    # JSON allows a lone UTF-16 surrogate escape; UTF-8 (Java's pipe, the scores file) cannot carry it:
    # it is read as U+FFFD, so nothing downstream meets it
    pred.write_text('{"task": "caption", "predictions": [{"id": "a", "prediction": "a red \\ud800 circle", '
                    '"references": ["a red circle \\udfff moves"]}]}')
    loaded = load_predictions(pred)
    assert loaded.preds["a"] == "a red \ufffd circle" and loaded.refs["a"] == ["a red circle \ufffd moves"]
    code, out, err = run_cli("score", pred, "--no-java")
    assert code == 0, err
    assert "Traceback" not in err and (tmp_path / "preds.scores.json").exists()
