"""Building the ``--task sound`` model of a stage for a data dir: the vocoder, the codebook, or the sampler on a
trained codebook."""

from __future__ import annotations

from pathlib import Path

from vxt.errors import DataError, VxtError
from vxt.models.sound import frontend as fe
from vxt.models.sound.task_model import SoundTaskModel

FRONTEND = {"sample_rate": fe.SAMPLE_RATE, "n_fft": fe.N_FFT, "hop": fe.HOP, "n_mels": fe.N_MELS,
            "f_min": fe.F_MIN, "f_max": fe.F_MAX, "frames": fe.N_FRAMES, "crop": fe.CROP_FRAMES}


def build_sound_task(name: str, overrides: dict | None = None, data_dir: str | Path | None = None) -> SoundTaskModel:
    """Build the ``--task sound`` model ``name`` (``specvqgan``, ``specvqgan-tiny``) for ``data_dir``.

    Codebook stage: the LPAPS network is loaded now (or the run stops with
    one line; ``--set perceptual=none`` trains without it and says so); with
    ``--set loss.perceptual_weight=0`` none is needed (the "VQ" and
    "VQ + PatchGAN" codebooks of the loss ablation; ``loss.disc_weight=0``
    leaves the PatchGAN out).
    Sampler stage: the codebook of ``--set codebook=EXP`` (``--stage all``
    passes the codebook it just trained), the visual features of
    ``--features DIR`` or of the visual backbone; with ``--set
    sampler.n_feats=0`` none (no visual condition).
    """
    from vxt.models.sound.options import resolve

    overrides = dict(overrides or {})
    task = overrides.pop("task", "sound")
    if task != "sound":
        raise VxtError(f"{name} makes sound for video: train it with --task sound (not --task {task})")
    cfg = resolve(name, overrides)
    base = {"arch": "specvqgan", "task": "sound", "name": name, "frontend": FRONTEND,
            "data_dir": None if data_dir is None else str(Path(data_dir).resolve())}
    if cfg.get("vocoder_exp"):
        cfg["vocoder_exp"] = str(Path(cfg["vocoder_exp"]).resolve())
    if cfg["stage"] == "sampler":
        return _build_sampler(name, cfg, base, data_dir)
    if cfg["stage"] == "vocoder":
        return SoundTaskModel({**base, "stage": "vocoder", "vocoder": cfg["vocoder"]}, data_dir=data_dir)
    return _build_codebook(cfg, base, data_dir)


def _build_codebook(cfg: dict, base: dict, data_dir) -> SoundTaskModel:
    from vxt.utils import say_once

    perceptual = None
    if float(cfg["loss"]["perceptual_weight"]) == 0:
        if cfg["perceptual"] not in (None, "none"):
            say_once("loss.perceptual_weight=0: the codebook trains without LPAPS; --set perceptual= is not used")
        cfg["perceptual"] = "none"
    elif cfg["perceptual"] is None:
        raise VxtError("the codebook's perceptual loss needs the LPAPS network: --set perceptual=DIR "
                       "(a folder with lpaps.safetensors), or --set perceptual=none to train without it")
    if cfg["perceptual"] == "none" and float(cfg["loss"]["perceptual_weight"]) > 0:
        say_once("training the codebook without the LPAPS perceptual loss (--set perceptual=none): "
                 "L1 + codebook + adversarial losses only; SpecVQGAN's codebook uses it")
    elif cfg["perceptual"] != "none":
        from vxt.models.sound.lpaps import LPAPS

        cfg["perceptual"] = str(Path(cfg["perceptual"]).resolve())
        perceptual = LPAPS.load(cfg["perceptual"])
    if float(cfg["loss"]["disc_weight"]) == 0:
        say_once("loss.disc_weight=0: the codebook trains without the PatchGAN (its discriminator never runs)")
    for k in ("sampler", "visual", "codebook_exp", "features", "visual_weights", "vocoder"):
        cfg.pop(k, None)
    return SoundTaskModel({**base, **cfg}, data_dir=data_dir, perceptual=perceptual)


def _first_train_example(data_dir) -> dict:
    from vxt.data.loader import task_examples

    if data_dir is None:
        raise VxtError("the sampler stage reads its feature size from the data: give --data")
    exs = [ex for ex in task_examples(data_dir, "train", "sound") if "audio" not in (ex.get("missing") or [])]
    if not exs:
        raise DataError("no --task sound training examples with sound", path=str(Path(data_dir) / "train.jsonl"))
    return exs[0]


def _build_sampler(name: str, cfg: dict, base: dict, data_dir) -> SoundTaskModel:
    from vxt.models import load_checkpoint
    from vxt.models.sound.features import VisualFeatures, resolve_feature_dirs

    if not cfg.get("codebook_exp"):
        raise VxtError("the sampler stage needs a trained codebook: --set codebook=EXP "
                       "(an experiment of --stage codebook), or train both with --stage all")
    codebook = load_checkpoint(cfg["codebook_exp"])
    if not isinstance(codebook, SoundTaskModel) or codebook.stage != "codebook":
        raise VxtError("--set codebook= takes a SpecVQGAN experiment of --stage codebook", path=str(cfg["codebook_exp"]))
    feats = cfg.get("features")
    visual = None
    if not int(cfg["sampler"]["n_feats"]):
        from vxt.utils import say_once

        say_once("sampler.n_feats=0: the sampler is conditioned on nothing visual (a learned start row: "
                 "SpecVQGAN's 'No Feats')" + ("; --features is not used" if feats else ""))
        fcfg, d_feat = {"source": "none"}, 0
    elif feats:
        fcfg = {"source": "files", "dir": resolve_feature_dirs(feats)}
    else:
        fcfg = {"source": "resnet", **cfg["visual"], "weights": cfg.get("visual_weights")}
    if fcfg["source"] != "none":
        visual = VisualFeatures(fcfg)
        d_feat = visual.dim(_first_train_example(data_dir)) if fcfg["source"] == "files" else visual.dim()
    cb = codebook.config["codebook"]
    down = codebook.vqgan.down_factor
    sampler = {**cfg["sampler"], "d_feat": int(d_feat), "n_codes": (fe.N_MELS // down) * (int(cb["resolution"]) // down),
               "vocab_size": int(cb["n_embed"])}
    config = {**base, "stage": "sampler", "codebook": cb, "sampler": sampler, "features": fcfg,
              "trained_from": str(Path(cfg["codebook_exp"]).resolve()), "base_lr": cfg["base_lr"],
              "betas": cfg["betas"], "vocoder_exp": cfg.get("vocoder_exp") or codebook.config.get("vocoder_exp")}
    model = SoundTaskModel(config, data_dir=data_dir)
    model.vqgan.load_state_dict(codebook.vqgan.state_dict())
    if visual is not None:
        model.visual = visual  # keep what it has read
    return model
