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
over the clip's visual features (:mod:`~vxt.models.sound.features`;
``sampler.n_feats`` rows, none with ``n_feats`` 0) and the frozen codebook's
codes of its spectrogram in ``sampler.order`` (column-major unless the
checkpoint records ``row``; decoding inverts the same order); cross-entropy
on the code positions; validation: ``-CE`` (minus the mean teacher-forced
cross-entropy, higher is better; ``vxt train --patience N`` stops on it as
SpecVQGAN's early stopping on the validation loss). It trains as ``plain``
with the optimizer of :meth:`SoundTaskModel.optimizer_settings`
(SpecVQGAN's AdamW).

The codebook's loss ablation: ``--set loss.perceptual_weight=0`` trains
without LPAPS (no perceptual network is loaded or needed), ``--set
loss.disc_weight=0`` without the PatchGAN (the discriminator never runs or
steps); both: the VQ losses and L1 only.

Stage ``vocoder``: MelGAN (:mod:`~vxt.models.sound.melgan`) trained by the
``gan`` strategy on random ``segment``-sample pieces of the clips (8,192 in
the paper) and the matching frames of their spectrograms: hinge losses for
the multi-scale discriminator, adversarial plus 10 x feature matching for the
generator, Adam (1e-4, betas 0.5, 0.9; ``--lr`` overrides). Validation:
``1-L1`` between the spectrogram of the whole clip and that of its
resynthesis.

Decoding a codebook checkpoint reconstructs the clip's own spectrogram
through the codebook; a sampler checkpoint samples ``samples`` code
sequences per clip from its picture (top-k, temperature) and decodes them
with the codebook's decoder; a vocoder checkpoint resynthesises the clip's
own spectrogram. Each decoded row carries ``sample_seconds``: the wall time
of making its spectrogram and wave (sampling the codes, the codebook's
decoder, the vocoder), the batch's time shared over its clips. The wave
comes from the MelGAN of ``--set vocoder=EXP`` or
the one the checkpoint was trained with (``vocoder_exp``: ``--stage all``
records it), else from Griffin-Lim (the fallback vocoder, labelled as such in
``preds.json``; ``--set vocoder=griffin-lim`` asks for it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from vxt.errors import DataError, MediaError, VxtError
from vxt.models.sound import frontend as fe
from vxt.models.sound.features import VisualFeatures
from vxt.models.sound.melgan import MelGANGenerator, MultiScaleDiscriminator, discriminator_loss, generator_loss
from vxt.models.sound.decode import SoundDecoding, share_seconds
from vxt.models.sound.options import SAMPLER_OPTIM
from vxt.models.sound.sampler import GPT, flatten_codes, unflatten_codes
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


class SoundTaskModel(SoundDecoding, nn.Module):
    """The ``--task sound`` model of the training loop and ``vxt decode`` (see the module docstring)."""

    #: the model reads its own audio: no media cache
    needs_media = False

    def __init__(self, config: dict, data_dir: str | Path | None = None, perceptual: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.stage = config["stage"]
        if self.stage not in ("codebook", "sampler", "vocoder"):
            raise VxtError(f"a SpecVQGAN model is trained in stage vocoder, codebook or sampler, not {self.stage!r}")
        self.discriminator = self.sampler = self.visual = self.vocoder = self.vqgan = None
        if self.stage == "vocoder":
            self.vocoder = MelGANGenerator(config["vocoder"])
            self.discriminator = MultiScaleDiscriminator(config["vocoder"])
        else:
            self.vqgan = VQGAN(config["codebook"])
        if self.stage == "codebook":
            self.discriminator = PatchDiscriminator(1, int(config["disc"]["ndf"]), int(config["disc"]["n_layers"]))
        elif self.stage == "sampler":
            self.vqgan.requires_grad_(False)  # the codebook of stage 1, frozen
            self.sampler = GPT(config["sampler"])
            if int(config["sampler"]["n_feats"]):  # n_feats 0 ("No Feats"): nothing visual to read
                self.visual = VisualFeatures(config["features"])
        self.data_dir = None if data_dir is None else Path(data_dir)
        self._perceptual = [perceptual]  # a list: frozen, loaded from its own path, not part of the weights
        self._specs: dict[str, tuple[np.ndarray, bool]] = {}
        self._said_padded = False
        self._decode: dict | None = None  # None: validation during training (no vocoder)
        self._waves: dict[str, np.ndarray] = {}  # the vocoder stage's 10 s waves per clip
        self._melgan: list = [None, None]  # decoding: (a loaded MelGAN generator, its label), or Griffin-Lim

    # ------------------------------------------------------------ the loop's hooks

    @property
    def metric_name(self) -> str:
        return "-CE" if self.stage == "sampler" else "1-L1"

    @property
    def code_order(self) -> str:
        """How the sampler lays out a code map (``sampler.order``; checkpoints from before it: column)."""
        return str((self.config.get("sampler") or {}).get("order", "column"))

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
        if self.stage == "vocoder":
            return list(self.vocoder.parameters()), list(self.discriminator.parameters())
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
        """SpecVQGAN's rule: lr = base_lr x batch size; Adam betas (0.5, 0.9). The vocoder: MelGAN's Adam
        (``vocoder.lr`` 1e-4, betas 0.5, 0.9), or ``--lr``."""
        from vxt.utils import say_once

        if self.stage == "vocoder":
            voc = self.config["vocoder"]
            lr = float(opts.lr) if opts.lr_explicit() else float(voc["lr"])
            say_once(f"the MelGAN vocoder trains at lr {lr:g} (Adam, betas {tuple(voc['betas'])}; "
                     f"{'--lr' if opts.lr_explicit() else 'vocoder.lr, MelGAN: --lr X to change it'})")
            return {"lr": lr, "betas": tuple(voc["betas"])}

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

    def clip_wave(self, ex: dict) -> np.ndarray:
        """The example's 10 s wave at 22,050 Hz (zero-padded or trimmed), float32 (read once per clip)."""
        from vxt.data.media import read_audio

        path = self._media(ex)
        start = float(ex.get("start") or 0.0)
        key = f"{path}|{start:.3f}"
        if key not in self._waves:
            wave = read_audio(path, start=start, end=start + fe.SECONDS, sr=fe.SAMPLE_RATE)
            if wave.size == 0:
                raise DataError("no audio in the clip's first 10 s", path=str(path), example_id=ex.get("id"))
            self._waves[key] = fe.fit_length(wave)[0].astype(np.float32)
        return self._waves[key]

    def _vocoder_batch(self, exs: list[dict], train: bool, rng) -> dict:
        """Training: a random ``segment`` of each clip (whole frames) and its spectrogram frames; else the clip."""
        seg = max(1, int(self.config["vocoder"]["segment"]) // fe.HOP)
        mels, waves = [], []
        for ex in exs:
            spec, wave = self.spectrogram(ex), self.clip_wave(ex)
            T = spec.shape[-1]
            n = min(seg, T) if train else T
            f0 = rng.randint(0, T - n) if train and rng is not None else 0
            mels.append(spec[:, f0 : f0 + n])
            waves.append(wave[f0 * fe.HOP : (f0 + n) * fe.HOP])
        return {"mel": torch.from_numpy(np.stack(mels).astype(np.float32)),
                "wave": torch.from_numpy(np.stack(waves)[:, None])}

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        if not items:
            raise DataError("an empty batch")
        exs = [it["example"] for it in items]
        batch: dict[str, Any] = {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)], "examples": exs}
        if self.stage == "vocoder":
            batch.update(self._vocoder_batch(exs, train, rng))
            return batch
        n = int(self.config["sampler"]["n_feats"]) if self.stage == "sampler" else 0
        if n:  # n_feats 0: the sampler sees nothing of the video
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

    def _vocoder_forward(self, batch: dict) -> dict:
        voc = self.config["vocoder"]
        if batch.get("gan_part", "generator") == "discriminator":
            return {"loss": discriminator_loss(self.discriminator(batch["real"]), self.discriminator(batch["fake"]))}
        real = batch["wave"]
        fake = self.vocoder(batch["mel"])[..., : real.shape[-1]]
        with torch.no_grad():
            d_real = self.discriminator(real)
        total, adv, fm = generator_loss(d_real, self.discriminator(fake), int(voc["n_layers_D"]),
                                        float(voc["lambda_feat"]))
        return {"loss": total, "log_adv": adv.detach(), "log_fm": fm.detach(),
                "disc_batch": {"real": real.detach(), "fake": fake.detach()}}

    def forward(self, batch: dict) -> dict:
        if self.stage == "vocoder":
            return self._vocoder_forward(batch)
        x = batch["spec"]
        if self.stage == "sampler":
            with torch.no_grad():
                _, _, codes = self.vqgan.encode(x)
            seq = flatten_codes(codes, self.code_order)
            return {"loss": self.sampler.loss(batch.get("feats"), seq), "n_tokens": torch.tensor(seq.numel())}
        loss = self.config["loss"]
        part = batch.get("gan_part", "generator")
        step = int(batch.get("gan_step", 0))
        # disc_weight 0 (or disc_factor 0): no PatchGAN at all, the discriminator never runs nor steps
        disc_on = (step >= int(loss["disc_start"]) and float(loss["disc_factor"]) > 0
                   and float(loss["disc_weight"]) > 0)
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

    @torch.no_grad()
    def predict(self, batch: dict, options: Any = None) -> list[dict]:
        was_training = self.training
        self.eval()
        try:
            if self.stage == "sampler":
                return self._predict_sampler(batch)
            if self.stage == "vocoder":
                return self._predict_vocoder(batch)
            t0 = time.perf_counter()
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
            if self._decode is not None:
                share_seconds(preds, time.perf_counter() - t0)
            return preds
        finally:
            self.train(was_training)

    def _predict_vocoder(self, batch: dict) -> list[dict]:
        """The whole clip's spectrogram -> MelGAN -> the spectrogram of that wave: ``1-L1`` (and the wave)."""
        t0 = time.perf_counter()
        mel = batch["mel"].to(self._device())
        waves = self.vocoder(mel)[:, 0, : (mel.shape[-1] - 1) * fe.HOP].float().cpu().numpy()
        preds = []
        for i, cid in enumerate(batch["ids"]):
            real = batch["mel"][i].numpy().astype(np.float64)
            again = fe.melspectrogram(waves[i], fe.SAMPLE_RATE, fit=False)[:, : real.shape[-1]]
            l1 = float(np.abs(real[:, : again.shape[-1]] - again).mean())
            p = {"id": cid, "prediction": f"MelGAN resynthesis ({real.shape[-1]} frames)", "l1": l1,
                 "scores": {"1-L1": 1.0 - l1}}
            if self._decode is not None:
                p.update({"wave": waves[i].astype(np.float64), "spec": real, "sample_rate": fe.SAMPLE_RATE,
                          "vocoder": self._melgan[1], "start": 0.0})
            preds.append(p)
        if self._decode is not None:
            share_seconds(preds, time.perf_counter() - t0)
        return preds

    def _predict_sampler(self, batch: dict) -> list[dict]:
        dev = self._device()
        feats = batch["feats"].to(dev) if "feats" in batch else None  # none: n_feats 0
        n = len(batch["ids"])
        if self._decode is None:  # validation: teacher-forced cross-entropy per clip
            _, _, codes = self.vqgan.encode(batch["spec"].to(dev))
            seq = flatten_codes(codes, self.code_order)
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
            t0 = time.perf_counter()
            seq = self.sampler.sample(feats, temperature=d["temperature"], top_k=d["top_k"], generator=gen,
                                      batch_size=n)
            codes = unflatten_codes(seq, h, w, self.code_order)
            specs = fe.from_model(self.vqgan.decode_codes(codes)[:, 0].float().cpu().numpy())
            rows = []
            for i, cid in enumerate(batch["ids"]):
                p = {"id": cid, "sample": k, "prediction": f"sample {k + 1} of {d['samples']} "
                     f"({seq.shape[1]} codes, top-k {d['top_k']}, temperature {d['temperature']:g})"}
                p.update(self._wave_fields(specs[i]))
                rows.append(p)
            share_seconds(rows, time.perf_counter() - t0)
            preds.extend(rows)
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
