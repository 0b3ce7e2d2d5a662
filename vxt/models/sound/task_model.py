"""``--task sound``: SpecVQGAN wired to the training loop and ``vxt decode``.

:class:`SoundTaskModel` is what the registry entries ``specvqgan`` and
``specvqgan-tiny`` build. It reads each example's sound itself (22,050 Hz
through :func:`vxt.data.media.read_audio`, the SpecVQGAN front end of
:mod:`~vxt.models.sound.frontend`, kept in memory per clip), so it asks the
loop for no media cache.

Stage ``codebook`` (stage 1): the VQGAN (:mod:`~vxt.models.sound.vqgan`)
trained by the ``gan`` strategy. Generator loss: L1 reconstruction (mean
over bins) + ``perceptual_weight`` x LPAPS + ``codebook_weight`` x the
VQ loss (codebook + 0.25 commitment) + ``d_weight`` x the hinge generator
loss once ``gan_step >= disc_start``; discriminator loss: the hinge loss of
the PatchGAN on real and (detached) reconstructed spectrograms from the
same step, also from ``disc_start`` on. ``d_weight`` is SpecVQGAN's
adaptive weight (the ratio of the reconstruction and adversarial gradient
norms at the decoder's last layer, clamped to ``[min_adapt_weight,
max_adapt_weight]``) times ``disc_weight``; with the paper's clamp [1, 1]
it is 0.8. Validation: ``1-L1``, one minus the mean absolute error of the
reconstruction in [0, 1] units (higher is better).

Stage ``sampler`` (stage 2): the GPT of :mod:`~vxt.models.sound.sampler`
over the clip's visual features (:mod:`~vxt.models.sound.features`) and the
frozen codebook's codes of its spectrogram, column-major; cross-entropy on
the code positions; validation: ``-CE`` (minus the mean teacher-forced
cross-entropy, higher is better). It trains as ``plain`` with the optimizer
of :meth:`SoundTaskModel.optimizer_settings` (SpecVQGAN's AdamW).

Decoding a codebook checkpoint reconstructs the clip's own spectrogram
through the codebook; a sampler checkpoint samples ``samples`` code
sequences per clip from its picture (top-k, temperature) and decodes them
with the codebook's decoder. Either way the wave comes from Griffin-Lim (the
fallback vocoder, labelled as such in ``preds.json``): no MelGAN yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from vxt.errors import DataError, MediaError, VxtError
from vxt.models.sound import frontend as fe
from vxt.models.sound.features import VisualFeatures
from vxt.models.sound.options import DECODE_KEYS, SAMPLER_OPTIM
from vxt.models.sound.sampler import GPT, column_major, from_column_major
from vxt.models.sound.vqgan import VQGAN, PatchDiscriminator, hinge_d_loss, hinge_g_loss

CLASS_PATH = "vxt.models.sound:SoundTaskModel"


def example_media(ex: dict, data_dir: str | Path | None, order: tuple[str, str] = ("video", "audio")) -> Path:
    """The media file of a manifest example: its first of ``order``'s fields, under ``data_dir`` (None: here)."""
    from vxt.data.manifest import resolve_media

    rel = ex.get(order[0]) or ex.get(order[1])
    if not rel:
        raise DataError("no video or audio file", example_id=ex.get("id"))
    return resolve_media(data_dir if data_dir is not None else ".", rel)


def clip_spectrogram(path: str | Path, start: float = 0.0, *, example_id: str | None = None) -> tuple[np.ndarray, bool]:
    """``(the [80, 860] SpecVQGAN spectrogram of the 10 s from start, whether the sound was padded)``."""
    from vxt.data.media import read_audio

    wave = read_audio(path, start=start, end=start + fe.SECONDS, sr=fe.SAMPLE_RATE)
    if wave.size == 0:
        raise MediaError("no audio in the clip's first 10 s", path=str(path))
    fitted, padded = fe.fit_length(wave)
    return fe.melspectrogram(fitted, fe.SAMPLE_RATE), padded


class SoundTaskModel(nn.Module):
    """The ``--task sound`` model of the training loop and ``vxt decode`` (see the module docstring)."""

    #: the model reads its own audio: no media cache
    needs_media = False

    def __init__(self, config: dict, data_dir: str | Path | None = None, perceptual: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.stage = config["stage"]
        if self.stage not in ("codebook", "sampler"):
            raise VxtError(f"a SpecVQGAN model is trained in stage codebook or sampler, not {self.stage!r}")
        self.vqgan = VQGAN(config["codebook"])
        self.discriminator = self.sampler = self.visual = None
        if self.stage == "codebook":
            self.discriminator = PatchDiscriminator(1, int(config["disc"]["ndf"]), int(config["disc"]["n_layers"]))
        else:
            self.vqgan.requires_grad_(False)  # the codebook of stage 1, frozen
            self.sampler = GPT(config["sampler"])
            self.visual = VisualFeatures(config["features"])
        self.data_dir = None if data_dir is None else Path(data_dir)
        self._perceptual = [perceptual]  # a list: frozen, loaded from its own path, not part of the weights
        self._specs: dict[str, tuple[np.ndarray, bool]] = {}
        self._said_padded = False
        self._decode: dict | None = None  # None: validation during training (no vocoder)

    # ------------------------------------------------------------ the loop's hooks

    @property
    def metric_name(self) -> str:
        return "1-L1" if self.stage == "codebook" else "-CE"

    def train(self, mode: bool = True) -> "SoundTaskModel":
        super().train(mode)
        if self.stage == "sampler":
            self.vqgan.eval()
        return self

    def use_data_dir(self, data: str | Path) -> None:
        self.data_dir = Path(data)
        self.config["data_dir"] = str(Path(data).resolve())

    def gan_parameters(self) -> tuple[list, list]:
        """(generator, discriminator) parameters; the sampler stage has no discriminator (it trains as plain)."""
        if self.stage == "sampler":
            return list(self.sampler.parameters()), []
        return list(self.vqgan.parameters()), list(self.discriminator.parameters())

    def optimizer_settings(self, opts) -> dict | None:
        """The sampler's optimizer, SpecVQGAN's (taming's ``configure_optimizers``): AdamW, betas (0.9, 0.95),
        weight decay 0.01 on the weight matrices of the Linear layers only (none on biases, LayerNorm, the code
        embedding, the position embedding, or the feature projection, which is SpecVQGAN's 1x1 Conv1d), a
        constant lr = ``sampler.base_lr`` (5e-6) x batch size unless ``--lr`` is given. None for the codebook
        (the ``gan`` strategy's two Adams)."""
        from vxt.nn.optim import decay_groups
        from vxt.utils import say_once

        if self.stage != "sampler":
            return None
        sc = self.config["sampler"]
        base = float(sc.get("base_lr", SAMPLER_OPTIM["base_lr"]))
        if opts.lr_explicit():
            lr = float(opts.lr)
            say_once(f"the sampler trains at --lr {lr:g} (AdamW; without --lr: {base:g} x batch size)")
        else:
            lr = base * int(opts.batch_size)
            say_once(f"the sampler trains at lr = sampler.base_lr {base:g} x batch size {opts.batch_size} = {lr:g} "
                     "(SpecVQGAN's rule; --lr X to choose it); AdamW, weight decay on Linear weights only")
        groups = decay_groups(self.sampler, float(sc.get("weight_decay", SAMPLER_OPTIM["weight_decay"])),
                              no_decay=("feat_emb",))
        return {"groups": groups, "lr": lr, "betas": sc.get("betas", SAMPLER_OPTIM["betas"]), "optimizer": "adamw",
                "schedule": False}

    def gan_settings(self, opts) -> dict:
        """SpecVQGAN's rule: lr = base_lr x batch size; Adam betas (0.5, 0.9)."""
        from vxt.utils import say_once

        lr = float(self.config["base_lr"]) * int(opts.batch_size)
        say_once(f"the codebook trains at lr = base_lr {self.config['base_lr']:g} x batch size "
                 f"{opts.batch_size} = {lr:g} (SpecVQGAN's rule; --set base_lr=X to change it; --lr is not used)")
        return {"lr": lr, "betas": tuple(self.config["betas"])}

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _perceptual_net(self) -> nn.Module | None:
        p = self.config.get("perceptual")
        if self._perceptual[0] is None and p not in (None, "none"):
            from vxt.models.sound.lpaps import LPAPS

            self._perceptual[0] = LPAPS.load(p)
        net = self._perceptual[0]
        if net is not None:
            net.to(self._device())
        return net

    # ------------------------------------------------------------ data

    def _media(self, ex: dict) -> Path:
        return example_media(ex, self.data_dir, ("video", "audio"))

    def spectrogram(self, ex: dict) -> np.ndarray:
        """The example's full ``[80, 860]`` spectrogram in [0, 1] (computed once per clip)."""
        from vxt.utils import say_once

        path = self._media(ex)
        key = f"{path}|{float(ex.get('start') or 0.0):.3f}"
        if key not in self._specs:
            self._specs[key] = clip_spectrogram(path, float(ex.get("start") or 0.0), example_id=ex.get("id"))
        spec, padded = self._specs[key]
        if padded and not self._said_padded:
            self._said_padded = True
            say_once(f"{path.name}: the sound is shorter than SpecVQGAN's 10 s window: zero-padded to 10 s"
                     " (said for the first such clip only)")
        return spec

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        if not items:
            raise DataError("an empty batch")
        exs = [it["example"] for it in items]
        batch: dict[str, Any] = {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)], "examples": exs}
        if self.stage == "sampler":
            n = int(self.config["sampler"]["n_feats"])
            batch["feats"] = torch.from_numpy(np.stack([self.visual.rows(ex, n, self._media(ex)) for ex in exs]))
        if train or self.stage == "codebook" or self._decode is None:  # sampling needs no spectrogram
            specs = np.stack([fe.to_model(fe.centre_crop(self.spectrogram(ex))) for ex in exs])
            batch["spec"] = torch.from_numpy(specs[:, None].astype(np.float32))
        return batch

    # ------------------------------------------------------------ training

    def _adaptive_weight(self, nll: torch.Tensor, g_loss: torch.Tensor) -> torch.Tensor:
        loss = self.config["loss"]
        lo, hi = float(loss["min_adapt_weight"]), float(loss["max_adapt_weight"])
        if lo == hi or not torch.is_grad_enabled():
            return torch.tensor(lo * float(loss["disc_weight"]), device=nll.device)
        last = self.vqgan.last_layer()
        g1 = torch.autograd.grad(nll, last, retain_graph=True)[0]
        g2 = torch.autograd.grad(g_loss, last, retain_graph=True)[0]
        w = (g1.norm() / (g2.norm() + 1e-4)).clamp(lo, hi).detach()
        return w * float(loss["disc_weight"])

    def forward(self, batch: dict) -> dict:
        x = batch["spec"]
        if self.stage == "sampler":
            with torch.no_grad():
                _, _, codes = self.vqgan.encode(x)
            seq = column_major(codes)
            return {"loss": self.sampler.loss(batch["feats"], seq), "n_tokens": torch.tensor(seq.numel())}
        loss = self.config["loss"]
        part = batch.get("gan_part", "generator")
        step = int(batch.get("gan_step", 0))
        disc_on = step >= int(loss["disc_start"]) and float(loss["disc_factor"]) > 0
        if part == "discriminator":
            real, fake = batch["real"], batch["fake"]
            d = hinge_d_loss(self.discriminator(real), self.discriminator(fake)) * float(loss["disc_factor"])
            return {"loss": d}
        xrec, qloss, _ = self.vqgan(x)
        rec = (x - xrec).abs().mean() * float(loss["pixel_weight"])
        nll = rec
        out: dict[str, Any] = {"log_l1": rec.detach(), "log_vq": qloss.detach()}
        net = self._perceptual_net() if float(loss["perceptual_weight"]) > 0 else None
        if net is not None:
            p = net(x, xrec).mean()
            nll = nll + float(loss["perceptual_weight"]) * p
            out["log_lpaps"] = p.detach()
        total = nll + float(loss["codebook_weight"]) * qloss
        if disc_on:
            g = hinge_g_loss(self.discriminator(xrec))
            w = self._adaptive_weight(nll, g)
            total = total + w * float(loss["disc_factor"]) * g
            out["log_g_loss"] = g.detach()
            out["disc_batch"] = {"real": x.detach(), "fake": xrec.detach(), "spec": x.detach()}
        out["loss"] = total
        return out

    # ------------------------------------------------------------ inference

    def configure_decode(self, data_dir: str | Path | None = None, features: str | Path | None = None,
                         overrides: dict | None = None) -> None:
        """Decoding writes waves. Options (``--set``): ``samples`` (1), ``top_k`` (the preset's: 100),
        ``temperature`` (1.0), ``seed`` (0), ``griffin_lim_iters`` (32); ``--features DIR``: the
        sampler's visual features from files."""
        from vxt.utils import say_once

        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(DECODE_KEYS))
        if unknown:
            raise VxtError(f"unknown sound decode option(s) {', '.join(unknown)} (known: {', '.join(DECODE_KEYS)})")
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        sc = self.config.get("sampler") or {}
        self._decode = {"griffin_lim_iters": int(overrides.get("griffin_lim_iters", 32)),
                        "seed": int(overrides.get("seed", 0)), "samples": int(overrides.get("samples", 1)),
                        "top_k": overrides.get("top_k", sc.get("top_k", 100)),
                        "temperature": float(overrides.get("temperature", sc.get("temperature", 1.0)))}
        if self._decode["samples"] < 1:
            raise VxtError(f"samples must be a whole number >= 1, got {overrides.get('samples')!r}")
        if self.stage == "codebook":
            if features is not None:
                raise VxtError("--features conditions the sampler, which this codebook-only checkpoint does not have")
            if self._decode["samples"] > 1:
                raise VxtError("a codebook-only checkpoint reconstructs each clip once: --samples needs a sampler "
                               "checkpoint (--stage sampler)")
            say_once("this checkpoint has the codebook only (no sampler): decoding reconstructs each clip's own "
                     f"sound through the codebook; no MelGAN vocoder: the wave comes from {fe.FALLBACK_LABEL}")
        else:
            if features is not None:
                if not Path(features).is_dir():
                    raise DataError("no such features folder", path=str(features))
                self.visual = VisualFeatures({"source": "files", "dir": str(Path(features).resolve())})
            say_once(f"no MelGAN vocoder yet: the wave comes from {fe.FALLBACK_LABEL}")

    def _wave_fields(self, spec: np.ndarray) -> dict:
        d = self._decode
        return {"wave": fe.griffin_lim(spec, n_iter=d["griffin_lim_iters"], seed=d["seed"]), "spec": spec,
                "sample_rate": fe.SAMPLE_RATE, "vocoder": fe.FALLBACK_LABEL,
                # the crop starts 6 frames (~70 ms) into the clip: where the wave belongs on the clip's timeline
                "start": round(fe.crop_offset() * fe.HOP / fe.SAMPLE_RATE, 6)}

    @torch.no_grad()
    def predict(self, batch: dict, options: Any = None) -> list[dict]:
        was_training = self.training
        self.eval()
        try:
            if self.stage == "sampler":
                return self._predict_sampler(batch)
            x = batch["spec"].to(self._device())
            xrec, _, codes = self.vqgan(x)
            real = fe.from_model(x[:, 0].cpu().numpy())
            fake = fe.from_model(xrec[:, 0].float().cpu().numpy())
            preds = []
            for i, cid in enumerate(batch["ids"]):
                l1 = float(np.abs(real[i] - fake[i]).mean())
                p = {"id": cid, "prediction": f"codebook reconstruction ({codes.shape[1]} x {codes.shape[2]} codes)",
                     "l1": l1, "scores": {"1-L1": 1.0 - l1}}
                if self._decode is not None:
                    p.update(self._wave_fields(fake[i]))
                preds.append(p)
            return preds
        finally:
            self.train(was_training)

    def _predict_sampler(self, batch: dict) -> list[dict]:
        dev = self._device()
        feats = batch["feats"].to(dev)
        if self._decode is None:  # validation: teacher-forced cross-entropy per clip
            _, _, codes = self.vqgan.encode(batch["spec"].to(dev))
            seq = column_major(codes)
            logits = self.sampler(feats, seq).float()
            ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), seq, reduction="none").mean(1)
            return [{"id": cid, "prediction": f"cross-entropy {float(c):.4f}", "scores": {"-CE": -float(c)}}
                    for cid, c in zip(batch["ids"], ce)]
        d = self._decode
        gen = torch.Generator(device=dev).manual_seed(d["seed"])
        h = int(self.config["codebook"].get("n_mels", 80)) // self.vqgan.down_factor
        w = int(self.config["codebook"]["resolution"]) // self.vqgan.down_factor
        preds = []
        for k in range(d["samples"]):
            seq = self.sampler.sample(feats, temperature=d["temperature"], top_k=d["top_k"], generator=gen)
            specs = fe.from_model(self.vqgan.decode_codes(from_column_major(seq, h, w))[:, 0].float().cpu().numpy())
            for i, cid in enumerate(batch["ids"]):
                p = {"id": cid, "sample": k, "prediction": f"sample {k + 1} of {d['samples']} "
                     f"({seq.shape[1]} codes, top-k {d['top_k']}, temperature {d['temperature']:g})"}
                p.update(self._wave_fields(specs[i]))
                preds.append(p)
        return sorted(preds, key=lambda p: batch["ids"].index(p["id"]))  # a clip's samples together

    # ------------------------------------------------------------ persistence

    def save_pretrained(self, out_dir: str | Path) -> Path:
        from vxt.nn.weights import save_model_dir

        return save_model_dir(out_dir, self.config, CLASS_PATH, self.state_dict(), "specvqgan")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "SoundTaskModel":
        from vxt.nn.weights import load_weights, read_model_config

        cfg = read_model_config(path, "specvqgan", "a SpecVQGAN")
        model = cls(cfg)  # media are found under the data dir of this run or decode, never a recorded one
        load_weights(model, Path(path) / "model.safetensors")
        model.eval()
        return model
