"""recipes/vggsound/run.sh, then recipes/vas/run.sh on its codebook, Melception, MelGAN and LPAPS (the paper's best
VAS rows), end to end on tiny roots of the real VGGSound and VAS clips in ../shared/data, specvqgan-tiny."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from recipe_tools import markdown_table, recipe_env  # noqa: E402
from roots import vggsound_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAST = ["--model", "specvqgan-tiny", "--melception_model", "melception-tiny", "--max_steps", "2", "--workers", "1",
        "--melception_batch_size", "2", "--codebook_batch_size", "1", "--sampler_batch_size", "1", "--samples", "2",
        "--python", sys.executable]
VAS_VALID = ("dog/video_02677", "drum/video_02480")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(recipe: str, cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *args], env=recipe_env(), cwd=cwd,
                         capture_output=True, text=True, timeout=500)
    if ok:
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


def _vas_root(shared_data: Path, root: Path) -> Path:
    """A VAS root: the 10 real sample clips (videos/<class>/), 2 of them in vas_valid.txt (FID/KID need 2
    real clips; each of their classes also has a training clip), the other 8 in vas_train.txt. Only one of the
    sample clips is on SpecVQGAN's own validation list, hence lists of our own, in its format."""
    root.mkdir(parents=True)
    (root / "videos").symlink_to(shared_data / "vas" / "videos")
    keys = sorted(p.relative_to(shared_data / "vas" / "videos").with_suffix("").as_posix()
                  for p in (shared_data / "vas" / "videos").glob("*/*.mp4"))
    (root / "vas_valid.txt").write_text("\n".join(VAS_VALID) + "\n")
    (root / "vas_train.txt").write_text("\n".join(k for k in keys if k not in VAS_VALID) + "\n")
    return root


def _numbers(row: list[str], n: int) -> list[float]:
    return [float(x) for x in row[:n]]  # ValueError on "not run" or an empty cell


def _config(exp: Path) -> dict:
    return json.loads((exp / "config.json").read_text())


def test_option_errors_are_one_line(tmp_path):
    res = _run("vggsound", tmp_path, "--root", str(tmp_path), "--cells", "bninception", ok=False)
    assert res.returncode == 2 and "--bninception_rgb DIR" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _run("vas", tmp_path, "--root", str(tmp_path), "--codebook", "vggsound", ok=False)
    assert res.returncode == 2 and "--vggsound_exp EXP" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_vggsound_then_vas_on_its_codebook(shared_data, tmp_path):
    import numpy as np
    import torch

    feats = shared_data / "vggsound" / "feature_resnet50_dim2048_21.5fps"
    vgg = vggsound_root(shared_data, tmp_path / "vggsound")
    out = _run("vggsound", tmp_path, "--root", str(vgg), "--features", str(feats), "--disc_start", "1",
               "--lpaps_channels", "4,8,8,16,16", *FAST)
    exp = tmp_path / "exp" / "vggsound-specvqgan"
    text = (exp / "RESULTS.md").read_text()
    assert text in out.stdout + "\n"
    sampling = markdown_table(text, "## Sampling")
    scores = json.loads((exp / "sampler-resnet50" / "preds_test.scores.json").read_text())["metrics"]
    fid, mkl, kid, is_ = _numbers(sampling["ResNet-50"], 4)
    assert (fid, mkl, kid, is_) == tuple(round(scores[k], 2) for k in ("FID", "MKL", "KID", "IS"))
    assert fid >= 0 and mkl >= 0 and is_ >= 1 - 1e-6
    assert sampling["ResNet-50"][4:] == ["10.5", "6.9"]
    bn = sampling["BN-Inception (RGB + flow)"]
    assert bn[0] == "not run" and bn[4:] == ["9.6", "6.8"]
    assert sampling["no features"][4:] == ["13.5", "9.7"]
    recon = markdown_table(text, "## Codebook reconstruction")
    full = recon["VQ + PatchGAN + LPAPS"]
    assert len(_numbers(full, 4)) == 4 and full[4:] == ["1.0", "0.8"]
    doc = json.loads((exp / "results.json").read_text())
    assert doc["top_k"] == 512 and doc["n_feats"] == 212 and set(doc["sampling"]) == {"resnet50"}

    # the LPAPS SpecVQGAN's code ran: init weights, the scaling from the Melception's training statistics
    from vxt.models import load_checkpoint
    from vxt.models.sound.lpaps import LPAPS

    lp, mel = LPAPS.load(exp / "lpaps"), load_checkpoint(exp / "melception")
    assert json.loads((exp / "lpaps" / "lpaps.json").read_text())["channels"] == [4, 8, 8, 16, 16]
    torch.testing.assert_close(lp.scaling_layer.shift.reshape(-1), 2 * mel.net.norm_mean.reshape(-1) - 1)
    torch.testing.assert_close(lp.scaling_layer.scale.reshape(-1), 2 * mel.net.norm_std.reshape(-1))
    cb = _config(exp / "codebook")
    assert cb["stage"] == "codebook" and cb["perceptual"] == str((exp / "lpaps").resolve())
    assert cb["loss"]["disc_start"] == 1 and cb["loss"]["perceptual_weight"] == 1.0
    rows = [json.loads(x) for x in (exp / "codebook" / "metrics.jsonl").read_text().splitlines()]
    assert any("lpaps" in r for r in rows)  # the perceptual loss was on
    # the sampler read SpecVQGAN's own ResNet-50 features (2,048-d) from their folder as it is, 212 rows of them
    samp = _config(exp / "sampler-resnet50")
    assert samp["sampler"]["n_feats"] == 212 and samp["sampler"]["d_feat"] == 2048
    assert samp["features"] == {"source": "files", "dir": str(feats.resolve())}
    assert samp["trained_from"] == str((exp / "codebook").resolve())
    assert samp["vocoder_exp"] == str((exp / "vocoder").resolve())
    assert not (tmp_path / "data" / "vggsound" / "features").exists()  # nothing linked or copied
    preds = json.loads((exp / "sampler-resnet50" / "preds_test.json").read_text())["predictions"]
    assert len(preds) == 2 * 2 and all("top-k 512" in p["prediction"] for p in preds)
    assert all(p["vocoder"].startswith("MelGAN (") for p in preds)
    spec = np.load(tmp_path / preds[0]["spectrogram"])
    assert spec.shape == (80, 848)

    vas = _vas_root(shared_data, tmp_path / "vas")
    vas_args = ["--root", str(vas), "--vggsound_exp", str(exp), "--codebook", "vggsound",
                "--cells", "resnet50 no-feats"]
    out = _run("vas", tmp_path, *vas_args, *FAST)
    vexp = tmp_path / "exp" / "vas-specvqgan"
    text = (vexp / "RESULTS.md").read_text()
    sampling = markdown_table(text, "## Sampling")
    scores = json.loads((vexp / "sampler-resnet50" / "preds_test.scores.json").read_text())
    assert tuple(_numbers(sampling["ResNet-50"], 2)) == (round(scores["metrics"]["FID"], 2),
                                                         round(scores["metrics"]["MKL"], 2))
    assert sampling["ResNet-50"][4:] == ["20.8", "6.2"]
    assert sampling["BN-Inception (RGB + flow)"][4:] == ["20.5", "6.0"]
    assert "## Codebook reconstruction" not in text  # no VAS codebook was trained
    assert len(_numbers(sampling["no features"], 4)) == 4 and sampling["no features"][4:] == ["33.7", "9.6"]
    nofeats = _config(vexp / "sampler-no-feats")
    assert nofeats["sampler"]["n_feats"] == 0 and nofeats["features"]["source"] == "none"
    assert scores["settings"]["classifier"] == str((exp / "melception").resolve())  # VGGSound's Melception
    samp = _config(vexp / "sampler-resnet50")
    assert samp["trained_from"] == str((exp / "codebook").resolve())
    assert samp["vocoder_exp"] == str((exp / "vocoder").resolve())
    assert samp["sampler"]["base_lr"] == 1e-6 and samp["sampler"]["n_feats"] == 212
    assert samp["sampler"]["vocab_size"] == cb["codebook"]["n_embed"]
    assert samp["features"]["source"] == "resnet"  # no features folder: extracted from the clips
    preds = json.loads((vexp / "sampler-resnet50" / "preds_test.json").read_text())["predictions"]
    assert sorted({p["id"] for p in preds}) == sorted(f"vas-{k.replace('/', '-')}" for k in VAS_VALID)
    assert len(preds) == 2 * 2 and all("top-k 512" in p["prediction"] for p in preds)  # 512 on the VGGSound codebook
    for name in ("melception", "codebook", "vocoder", "lpaps"):
        assert not (vexp / name).exists()  # all taken from the VGGSound run
    assert "using the codebook of" in out.stderr
    # a rerun skips every finished stage
    again = _run("vas", tmp_path, *vas_args, *FAST)
    assert again.stderr.count("skip (exists") >= 7



def test_vas_reads_specvqgans_per_class_feature_folders(tmp_path):
    """Given the folder above SpecVQGAN's per-class VAS features, each sampler reads them where they are (a dry
    run: VXT=true logs each command and runs nothing)."""
    kinds = {"resnet50": "feature_resnet50_dim2048_21.5fps", "rgb": "feature_rgb_bninception_dim1024_21.5fps",
             "flow": "feature_flow_bninception_dim1024_21.5fps"}
    for kind in kinds.values():
        (tmp_path / "features" / "dog" / kind).mkdir(parents=True)
    f = tmp_path / "features"
    res = subprocess.run(["bash", str(REPO / "recipes" / "vas" / "run.sh"), "--stage", "6", "--stop-stage", "6",
                          "--vggsound_exp", str(tmp_path / "vgg"), "--codebook", "vggsound", "--cells",
                          "resnet50 bninception", "--features", str(f), "--bninception_rgb", str(f),
                          "--bninception_flow", str(f)], env={**recipe_env(), "VXT": "true"}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    runs = [x for x in res.stderr.splitlines() if "$ true train" in x]
    assert len(runs) == 2
    assert f"--features {f}/*/{kinds['resnet50']} " in runs[0]
    assert f"--features {f}/*/{kinds['rgb']}:{f}/*/{kinds['flow']} " in runs[1]


def test_lpaps_from_a_vggishish_trained_on_the_sound_classes(shared_data, tmp_path):
    """--lpaps vggishish: the LPAPS SpecVQGAN meant (a VGGishish trained on the clips' classes, its convs read)."""
    import torch

    from vxt.models import load_checkpoint
    from vxt.models.sound.lpaps import LPAPS

    vgg = vggsound_root(shared_data, tmp_path / "vggsound")
    _run("vggsound", tmp_path, "--root", str(vgg), "--lpaps", "vggishish", "--vggishish_model", "vggishish-tiny",
         "--vggishish_batch_size", "2", "--stop-stage", "3", *FAST)
    exp = tmp_path / "exp" / "vggsound-specvqgan"
    clf = load_checkpoint(exp / "vggishish")
    assert clf.config["network"]["net"] == "vggishish" and len(clf.config["labels"]) == 2  # the train clips' classes
    run = json.loads((exp / "vggishish" / "run.json").read_text())
    assert run["lr"] == 3e-4 and run["patience"] == 3
    lp = LPAPS.load(exp / "lpaps")
    conv = next(m for m in clf.net.features if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(lp.net.slice1[0].weight, conv.weight)
    meta = json.loads((exp / "lpaps" / "lpaps.json").read_text())
    assert meta["vggishish"] == str((exp / "vggishish").resolve()) and meta["channels"] == [4, 8, 8, 16, 16]
