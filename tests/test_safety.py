"""What a user made is never lost, files handed over cannot choose where vxt writes, and the probe's other finds.

Hostile dataset.json / config.json files, refusing to train over a trained model, decode straight after
each kind of training run, subtitles in legacy encodings and huge ones, `vxt score | head -1`, byte-identical
safetensors, one-line messages for pickles, shape mismatches, Ctrl-C and file names that start with '-'.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vxt.errors import VxtError

REPO = Path(__file__).resolve().parents[1]
#: small, fast backbone features for the dense runs (as tests/test_dense_task.py)
FAST = ["--set", "feature_settings.frames=4", "--set", "feature_settings.size=32", "--set", "feature_settings.step=2",
        "--set", "max_len=12"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def vxt(run_cli, monkeypatch):
    """``vxt ARGS`` in-process, every stage registered."""
    import vxt.cli as cli

    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys([*cli.COMMANDS, "prepare", "train", "decode", "score"])))
    return run_cli


def _main(*args) -> int:
    import vxt.cli as cli

    old = cli.COMMANDS
    cli.COMMANDS = tuple(dict.fromkeys([*old, "prepare", "train", "decode", "score"]))
    try:
        return cli.main([str(a) for a in args])
    finally:
        cli.COMMANDS = old


def _env(**extra) -> dict:
    env = {**os.environ, "VXT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _new_outside(before: set[str], after: set[str], *allowed: str) -> list[str]:
    return sorted(p for p in after - before if not any(p == a or p.startswith(a + os.sep) for a in allowed))


@pytest.fixture(scope="module")
def user_cache(tmp_path_factory):
    """vxt's user cache (``VXT_CACHE``) in a temp dir for this module."""
    d = tmp_path_factory.mktemp("user-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("VXT_CACHE", str(d))
    yield d
    mp.undo()


@pytest.fixture(scope="module")
def dense_data(tmp_path_factory) -> Path:
    """Dense training videos but no dense validation video: a dense run has no best/."""
    from vxt.data.prepare import prepare

    out = tmp_path_factory.mktemp("safety-dense") / "synth"
    prepare("synth", out, options={"n_train": 2, "n_val": 1, "n_test": 1, "n_dense_train": 3, "n_dense_val": 0,
                                   "n_dense_test": 1, "seed": 0}, workers=1, cache=False, progress=False)
    return out


@pytest.fixture(scope="module")
def dense_exp(dense_data, no_java, user_cache, tmp_path_factory) -> Path:
    """bmt-tiny trained with the default ``vxt train --task dense --out E`` (both stages)."""
    out = tmp_path_factory.mktemp("safety-dense-exp") / "E"
    code = _main("train", "--task", "dense", "--model", "bmt-tiny", "--data", dense_data, "--out", out,
                 "--max-steps", 2, "--batch-size", 3, *FAST)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def caption_exp(tiny_synth, no_java, tmp_path_factory) -> Path:
    """vx2text-tiny trained for a few steps with validation (so it has a best/)."""
    out = tmp_path_factory.mktemp("safety-cap") / "E"
    code = _main("train", "--task", "caption", "--data", tiny_synth, "--out", out, "--max-steps", 2,
                 "--batch-size", 4, "--eval-limit", 2, "--lr", "1e-3")
    assert code == 0
    return out


def _clip(data: Path, dense: bool = False) -> Path:
    return sorted((data / "media").glob("synth-test-dense-*.mp4" if dense else "synth-test-0*.mp4"))[0]


# ---------------------------------------------------------------- 3. a trained model is never lost


def test_training_over_a_trained_model_is_refused(vxt, tiny_synth, caption_exp, tmp_path):
    exp = tmp_path / "E"
    shutil.copytree(caption_exp, exp)
    weights = (exp / "best" / "model.safetensors").read_bytes()
    code, _, err = vxt("train", "--task", "caption", "--data", tiny_synth, "--out", exp, "--max-steps", 1,
                       "--batch-size", 4)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "already holds a trained model" in line
    assert "--resume" in line and "--overwrite" in line and "--out" in line
    assert (exp / "best" / "model.safetensors").read_bytes() == weights

    (exp / "notes.txt").write_text("mine")
    code, _, err = vxt("train", "--task", "caption", "--data", tiny_synth, "--out", exp, "--max-steps", 1,
                       "--batch-size", 4, "--eval-limit", 1, "--overwrite")
    assert code == 0, err
    assert json.loads((exp / "train_summary.json").read_text())["steps"] == 1
    assert (exp / "notes.txt").read_text() == "mine"  # --overwrite replaces checkpoints, not the user's files


def test_a_staged_run_is_refused_too(vxt, dense_data, dense_exp):
    before = (dense_exp / "captioner" / "model.safetensors").read_bytes()
    code, _, err = vxt("train", "--task", "dense", "--model", "bmt-tiny", "--data", dense_data, "--out", dense_exp,
                       "--max-steps", 1, "--batch-size", 3, *FAST)
    assert code == 2 and "already holds a trained model" in err
    assert (dense_exp / "captioner" / "model.safetensors").read_bytes() == before


# ---------------------------------------------------------------- 3. hostile files choose no path


@pytest.mark.parametrize("decode", [{"num_clips": "1/../../../../../escaped"}, {"fps": "../../../../escaped"},
                                    "../../../escaped"])
def test_a_hostile_dataset_json_writes_nothing_outside(vxt, tiny_synth, tmp_path, decode):
    root = tmp_path / "a" / "b"
    data = root / "data"
    shutil.copytree(tiny_synth, data, ignore=shutil.ignore_patterns("cache"))
    meta = json.loads((data / "dataset.json").read_text())
    meta["decode"] = decode if isinstance(decode, str) else {**meta["decode"], **decode}
    (data / "dataset.json").write_text(json.dumps(meta))
    before = _tree(tmp_path)
    code, _, err = vxt("train", "--task", "caption", "--data", data, "--out", root / "E", "--max-steps", 1)
    assert code == 2 and "\n" not in err.strip() and "dataset.json" in err
    assert _new_outside(before, _tree(tmp_path), "a/b/E") == []
    assert not any("escaped" in p for p in _tree(tmp_path))


def test_a_hostile_checkpoint_config_writes_nothing_outside(vxt, tiny_synth, caption_exp, tmp_path):
    root = tmp_path / "a" / "b"
    ckpt = root / "ckpt"
    shutil.copytree(caption_exp / "best", ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["decode"] = {**cfg.get("decode", {}), "num_clips": "1/../../../../../escaped"}
    (ckpt / "config.json").write_text(json.dumps(cfg))
    data = root / "data"
    shutil.copytree(tiny_synth, data, ignore=shutil.ignore_patterns("cache"))
    before = _tree(tmp_path)
    code, _, err = vxt("decode", data, "--task", "caption", "--split", "test", "--ckpt", ckpt, "--out", root / "p.json")
    assert code == 2 and "\n" not in err.strip() and "config.json" in err
    code, _, err = vxt("decode", _clip(tiny_synth), "--task", "caption", "--ckpt", ckpt, "--out", root / "q.json")
    assert code == 2 and "num_clips" in err
    assert _new_outside(before, _tree(tmp_path)) == []


def test_settings_keys_are_safe_folder_names():
    from vxt.data.cache import DecodeSettings
    from vxt.modalities.feature_store import BackboneSettings
    from vxt.files import safe_name

    assert DecodeSettings().key() == safe_name(DecodeSettings().key())  # normal keys are unchanged
    root = Path("/data/features")
    key = BackboneSettings(video_classifier="../../../../x", audio_classifier="a/b").key()
    for name in (key, *(safe_name(bad) for bad in ("..", ".", "", "a/../../b", "/abs", "x" * 300))):
        assert name and "/" not in name and not name.startswith(".") and len(name) <= 96
        assert Path(os.path.normpath(root / name)).parent == root  # one component, right under root
    with pytest.raises(VxtError, match="num_clips must be a positive whole number"):
        DecodeSettings.from_dict({"num_clips": "../x"})


def test_dense_decode_never_writes_into_the_checkpoints_data_dir(vxt, dense_exp, dense_data, user_cache, tmp_path):
    """A dense checkpoint names the data dir it was trained on: decoding a clip writes features into the
    user's cache, never there (nor into a folder a hostile config.json names)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    ckpt = tmp_path / "ckpt"
    shutil.copytree(dense_exp / "last", ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    assert Path(cfg["data_dir"]) == dense_data.resolve()
    cfg["data_dir"] = str(victim)
    (ckpt / "config.json").write_text(json.dumps(cfg))
    data_before = _tree(dense_data)
    clip = tmp_path / "clip.mp4"
    shutil.copy(_clip(dense_data, dense=True), clip)
    for c in (ckpt, dense_exp):
        code, _, err = vxt("decode", clip, "--task", "dense", "--ckpt", c, "--out", tmp_path / "p.json")
        assert code == 0, err
    assert list(victim.iterdir()) == []
    assert _tree(dense_data) == data_before
    assert list((user_cache / "features").glob("*/clip_video.npy"))


# ---------------------------------------------------------------- 4. decode straight after each kind of run


def test_decode_after_a_staged_dense_run_without_best(vxt, dense_exp, dense_data, tmp_path):
    from vxt.models import resolve_checkpoint

    assert not (dense_exp / "best").exists()
    assert resolve_checkpoint(dense_exp) == dense_exp / "last"
    clip = _clip(dense_data, dense=True)
    code, out, err = vxt("decode", clip, "--task", "dense", "--ckpt", dense_exp, "--out", tmp_path / "p.json")
    assert code == 0, err
    assert json.loads((tmp_path / "p.json").read_text())["predictions"][0]["events"]
    # the stage-1 dir is an experiment of its own, and decodes as one (ground-truth segments: none for a clip)
    code, _, err = vxt("decode", dense_data, "--task", "dense", "--split", "test", "--ckpt", dense_exp / "captioner",
                       "--out", tmp_path / "c.json")
    assert code == 0, err


def test_decode_after_a_plain_run_with_and_without_validation(vxt, tiny_synth, caption_exp, tmp_path):
    from vxt.models import resolve_checkpoint
    from vxt.train.loop import TrainOptions, train

    assert resolve_checkpoint(caption_exp) == caption_exp / "best"
    code, _, err = vxt("decode", _clip(tiny_synth), "--task", "caption", "--ckpt", caption_exp, "--greedy",
                       "--out", tmp_path / "a.json")
    assert code == 0, err
    no_val = tmp_path / "noval"
    train(TrainOptions(task="caption", data=str(tiny_synth), out=str(no_val), max_steps=1, batch_size=4,
                       evaluate=False))
    assert not (no_val / "best").exists() and resolve_checkpoint(no_val) == no_val / "last"
    code, _, err = vxt("decode", tiny_synth, "--task", "caption", "--split", "test", "--ckpt", no_val, "--greedy",
                       "--limit", 2)
    assert code == 0, err
    assert (no_val / "preds_test.json").exists()  # beside the experiment, not inside last/


# ---------------------------------------------------------------- 4. subtitles


#: real sentences, in the legacy code pages such subtitles are usually saved in
LEGACY_SUBS = {
    "fr": (("cp1252", "iso8859_15"), ["Je voudrais une crème brûlée, s'il vous plaît.",
                                      "Il est déjà parti à l'hôtel avec le garçon.", "Où est la gare ? Noël approche."]),
    "de": (("cp1252",), ["Ich möchte ein großes Stück Käse.", "Die Brücke über den Fluss ist schön.",
                         "Wir müssen früh aufstehen, der Zug fährt um fünf Uhr."]),
    "es": (("cp1252",), ["¿Dónde está la estación?", "El niño comió una manzana el año pasado.",
                         "¡Qué sorpresa! La canción de mañana será más larga."]),
    "pt": (("cp1252",), ["Não sei onde está o coração da cidade.", "A lição de português é às três horas.",
                         "Ele é órfão, mas está feliz."]),
    "pl": (("cp1250", "iso8859_2"), ["Zażółć gęślą jaźń.", "Dzień dobry, czy mówisz po polsku?",
                                     "Święta są w grudniu, a żółw idzie powoli przez łąkę."]),
    "ru": (("cp1251", "koi8_r"), ["Привет, как дела?", "Я не знаю, где находится вокзал.",
                                  "Сегодня очень холодно, поэтому мы останемся дома."]),
}


@pytest.mark.parametrize("lang", sorted(LEGACY_SUBS))
def test_legacy_encoded_subtitles_read_right(lang, tmp_path):
    from vxt.data.subtitles import decode_text, read_subtitles

    encodings, lines = LEGACY_SUBS[lang]
    srt = "".join(f"{i + 1}\r\n00:00:0{i},000 --> 00:00:0{i},900\r\n{t}\r\n\r\n" for i, t in enumerate(lines))
    for enc in encodings:
        path = tmp_path / f"{lang}.{enc}.srt"
        path.write_bytes(srt.encode(enc))
        assert [c["text"] for c in read_subtitles(path)] == lines, enc
        for line in lines:  # one short cue alone, the hard case for a detector
            one = f"1\n00:00:01,000 --> 00:00:02,000\n{line}\n".encode(enc)
            if any(ord(c) > 127 for c in line):
                assert line in decode_text(one), (enc, line)


def test_a_huge_sidecar_srt_costs_its_parse_not_more(caption_exp, tiny_synth, tmp_path):
    """200k cues beside a 4 s clip: the cues of the clip are kept, the text is cut to the token budget before
    it is tokenized, so time and memory stay small (before: minutes and gigabytes)."""
    clip = tmp_path / "clip.mp4"
    shutil.copy(_clip(tiny_synth), clip)

    def stamp(t: float) -> str:
        return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d},{int(round(t * 1000)) % 1000:03d}"

    with open(tmp_path / "clip.srt", "w") as fh:
        for i in range(200_000):
            fh.write(f"{i + 1}\n{stamp(i * 0.5)} --> {stamp(i * 0.5 + 0.4)}\ncue {i} says a few words here\n\n")
    script = f"""
import resource, sys, time
from pathlib import Path
from vxt.inference import DecodeRequest, media_example
from vxt.models import load_checkpoint
model = load_checkpoint({str(caption_exp)!r})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.time()
ex = media_example(Path({str(clip)!r}), "caption", DecodeRequest(inputs=[], task="caption"))
batch = model.collate([{{"example": ex, "media": {{}}}}], train=False)
print(len(ex["subtitles"]), int(batch["seg.subtitles.len"][0]), round(time.time() - t, 2),
      (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=180)
    assert res.returncode == 0, res.stderr
    n_cues, n_tokens, seconds, grown_mb = res.stdout.split()[-4:]
    assert 0 < int(n_cues) <= 10  # the clip's 4 s, not 200k cues
    assert int(n_tokens) > 0
    assert float(seconds) < 20 and int(grown_mb) < 300


def test_subtitles_cut_to_the_budget_give_the_same_tokens(caption_exp):
    """Joining cues only until the text is surely longer than the token budget gives the tokens of the whole."""
    from vxt.models import load_checkpoint
    from vxt.models.vx2text.batching import encode_texts
    from vxt.tasks import subtitles_text

    model = load_checkpoint(caption_exp)
    max_seg = int(model.config["max_segment_tokens"])
    long_ex = {"id": "x", "subtitles": [{"start": i, "end": i + 0.5, "text": f"look, it's iris's {i} triangle"}
                                        for i in range(20_000)]}
    short_ex = {"id": "y", "subtitles": [{"start": 0.0, "end": 1.0, "text": "look, this is iris's"}]}
    odd_ex = {"id": "z", "subtitles": [{"start": i, "end": i + 0.5, "text": "a" * 700} for i in range(50)]}
    t = time.time()
    batch = model.collate([{"example": e, "media": {}} for e in (long_ex, short_ex, odd_ex)], train=False)
    assert time.time() - t < 5
    for i, ex in enumerate((long_ex, short_ex, odd_ex)):
        full = encode_texts(model, [subtitles_text(ex)], max_seg)[0]
        n = int(batch["seg.subtitles.len"][i])
        assert batch["seg.subtitles"][i, :n].tolist() == full


# ---------------------------------------------------------------- 4. score | head, bytes, messages


def test_score_into_a_closed_pipe_writes_the_scores(tmp_path):
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"task": "caption", "predictions": [
        {"id": f"c{i}", "prediction": "a red circle moves left", "references": ["a red circle moves left slowly"]}
        for i in range(4)]}))
    cmd = f"{sys.executable} -m vxt.cli score {preds} --no-java | head -1; exit ${{PIPESTATUS[0]}}"
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 1
    assert json.loads((tmp_path / "preds.scores.json").read_text())["metrics"]


def test_saved_weights_are_byte_identical_across_processes_and_0644(caption_exp, dense_exp, tmp_path):
    script = """
import sys
from pathlib import Path
from vxt.models import load_model
out = Path(sys.argv[1])
load_model(sys.argv[2]).save_pretrained(out / "vx2text")
load_model(sys.argv[3]).save_pretrained(out / "dense")
"""
    outs = []
    for name, seed in (("one", "1"), ("two", "2")):
        out = tmp_path / name
        res = subprocess.run([sys.executable, "-c", script, str(out), str(caption_exp / "best"), str(dense_exp / "last")],
                             capture_output=True, text=True, env=_env(PYTHONHASHSEED=seed), timeout=180)
        assert res.returncode == 0, res.stderr
        outs.append(out)
    umask = os.umask(0o022)
    os.umask(umask)
    for sub in ("vx2text", "dense"):
        a, b = (o / sub / "model.safetensors" for o in outs)
        assert a.read_bytes() == b.read_bytes(), sub
        for f in (outs[0] / sub).iterdir():
            assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f
    # and what training wrote reads back the same
    from safetensors.torch import load_file

    import torch

    x, y = load_file(str(caption_exp / "best" / "model.safetensors")), load_file(str(outs[0] / "vx2text" / "model.safetensors"))
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


class _Evil:
    """A pickled object: vxt never unpickles it."""


def test_a_pickled_train_state_is_refused_in_one_line(vxt, tiny_synth, caption_exp, tmp_path):
    import torch

    exp = tmp_path / "E"
    shutil.copytree(caption_exp, exp)
    for d in (exp / "last", exp):
        torch.save({"step": 1, "evil": _Evil()}, d / "train_state.pt")
    code, _, err = vxt("train", "--task", "caption", "--data", tiny_synth, "--out", exp, "--max-steps", 3,
                       "--batch-size", 4, "--resume")
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "does not load pickled code" in line and "train_state.pt" in line
    assert "weights_only=False" not in line and "will likely succeed" not in line


def test_a_shape_mismatch_is_one_line(vxt, tiny_synth, caption_exp, dense_exp, tmp_path):
    cap = tmp_path / "cap"
    shutil.copytree(caption_exp / "best", cap)
    cfg = json.loads((cap / "config.json").read_text())
    cfg["t5_config"]["d_ff"] = int(cfg["t5_config"]["d_ff"]) * 2
    (cap / "config.json").write_text(json.dumps(cfg))
    code, _, err = vxt("decode", _clip(tiny_synth), "--task", "caption", "--ckpt", cap, "--out", tmp_path / "p.json")
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "tensor(s) of another shape" in line and "DenseReluDense" in line

    dense = tmp_path / "dense"
    shutil.copytree(dense_exp / "last", dense)
    cfg = json.loads((dense / "config.json").read_text())
    cfg["generator_config"]["hidden"] = [int(h) + 3 for h in cfg["generator_config"]["hidden"]]
    (dense / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(VxtError) as exc:
        from vxt.models import load_model

        load_model(dense)
    assert "\n" not in str(exc.value) and "tensor(s) of another shape" in str(exc.value)


# ---------------------------------------------------------------- 4./5. Ctrl-C, killed runs, '-' file names


def test_ctrl_c_says_interrupted_and_how_to_resume_and_a_resumed_run_clears_dead_temps(dense_data, dense_exp, tmp_path):
    out = tmp_path / "E"
    cmd = [sys.executable, "-m", "vxt.cli", "train", "--task", "dense", "--model", "bmt-tiny", "--stage", "captioner",
           "--data", str(dense_data), "--out", str(out), "--max-steps", "100000", "--save-every", "1",
           "--batch-size", "3", *FAST]
    # a shell starts background jobs with SIGINT ignored, and a child inherits that (Python then installs no
    # KeyboardInterrupt handler): give the run the default disposition, as a terminal's Ctrl-C finds it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(VXT_CACHE=tmp_path / "cache"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while not (out / "last" / "train_state.pt").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("vxt: interrupted") and "--resume" in last and str(out) in last

    # a run killed with SIGKILL mid-save leaves its temp dir: the resumed run removes it (a live run's it keeps)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / f".last.tmp-{dead.pid}").mkdir()
    (out / f".last.tmp-{dead.pid}" / "model.safetensors").write_bytes(b"half")
    alive = out / f".last.tmp-{os.getppid()}"
    alive.mkdir()
    code = _main("train", "--task", "dense", "--model", "bmt-tiny", "--stage", "captioner", "--data", dense_data,
                 "--out", out, "--max-steps", 1, "--batch-size", 3, "--resume", *FAST)
    assert code == 0
    assert not (out / f".last.tmp-{dead.pid}").exists() and alive.exists()


def test_a_file_name_starting_with_a_dash_gets_a_one_line_hint(vxt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = vxt("decode", "-1pRmoJIGQc_10000_20000.mp4", "--task", "caption")
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "./-1pRmoJIGQc_10000_20000.mp4" in line and "--" in line
    # an option's value may start with '-': no hint, the usual path (here: no such file)
    code, _, err = vxt("decode", "nope.mp4", "--task", "caption", "--out", "-x.json")
    assert "starts with '-'" not in err
