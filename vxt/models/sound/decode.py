"""Decoding with a SpecVQGAN checkpoint: the decode options, the vocoder a spectrogram goes through (the
MelGAN of ``--set vocoder=EXP`` or of the checkpoint, else Griffin-Lim, the labelled fallback), and the wave
fields of a prediction row. :class:`SoundDecoding` is a part of :class:`~vxt.models.sound.task_model.SoundTaskModel`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vxt.errors import DataError, VxtError
from vxt.models.sound import frontend as fe
from vxt.models.sound.features import VisualFeatures, resolve_feature_dirs
from vxt.models.sound.options import DECODE_KEYS


def share_seconds(preds: list[dict], seconds: float) -> None:
    """``sample_seconds`` of each row: a batch's wall time shared over its clips."""
    for p in preds:
        p["sample_seconds"] = round(seconds / max(1, len(preds)), 4)


class SoundDecoding:
    """``vxt decode``'s side of the sound task model (it sets ``_decode`` and ``_melgan``, read by ``predict``)."""

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
        if self.stage in ("codebook", "vocoder"):
            if features is not None:
                raise VxtError(f"--features conditions the sampler, which this {self.stage} checkpoint does not have")
            if self._decode["samples"] > 1:
                raise VxtError(f"a {self.stage} checkpoint reconstructs each clip once: --samples needs a sampler "
                               "checkpoint (--stage sampler)")
        elif features is not None and not int(self.config["sampler"]["n_feats"]):
            say_once("this sampler is conditioned on no visual features (sampler.n_feats=0): --features is not used")
        elif features is not None:
            self.visual = VisualFeatures({"source": "files", "dir": resolve_feature_dirs(features)})
        if self.stage == "vocoder":
            self._melgan = [self.vocoder, "MelGAN (this checkpoint)"]
            say_once("this is a vocoder checkpoint: decoding resynthesises each clip's own spectrogram with it")
            return
        self._melgan = self._load_vocoder(overrides.get("vocoder"))
        what = ("this checkpoint has the codebook only (no sampler): decoding reconstructs each clip's own sound "
                "through the codebook; " if self.stage == "codebook" else "")
        say_once(f"{what}the wave comes from {self._melgan[1] or fe.FALLBACK_LABEL}")

    def _load_vocoder(self, asked) -> list:
        """``[generator, label]`` of ``--set vocoder=EXP`` or of the recorded ``vocoder_exp``; ``[None, None]``
        for Griffin-Lim (asked for with ``vocoder=griffin-lim``, or no vocoder known, or the recorded one gone)."""
        from vxt.utils import say_once

        if asked == "griffin-lim":
            return [None, None]
        path = asked if asked is not None else self.config.get("vocoder_exp")
        if path is None:
            return [None, None]
        if not (Path(path) / "config.json").is_file():
            if asked is None:  # recorded at training time, since moved: say so, fall back
                say_once(f"the vocoder this checkpoint was trained with is not at {path} any more "
                         "(--set vocoder=EXP to give it)")
                return [None, None]
            raise VxtError("--set vocoder= takes a `vxt train --task sound --stage vocoder` experiment "
                           "(or griffin-lim)", path=str(path))
        from vxt.models import load_checkpoint

        other = load_checkpoint(path)
        if not isinstance(other, type(self)) or other.stage != "vocoder":
            raise VxtError("--set vocoder= takes a SpecVQGAN experiment of --stage vocoder", path=str(path))
        return [other.vocoder.eval(), f"MelGAN ({Path(path).resolve()})"]

    def _vocode(self, spec: np.ndarray) -> np.ndarray:
        """A ``[80, T]`` spectrogram in [0, 1] -> ``(T - 1) x 256`` samples through the MelGAN."""
        net = self._melgan[0].to(self._device())
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(spec, dtype=np.float32))[None].to(self._device())
            wave = net(x)[0, 0].float().cpu().numpy()
        return wave[: (spec.shape[-1] - 1) * fe.HOP].astype(np.float64)

    def _wave_fields(self, spec: np.ndarray, start_frame: int | None = None) -> dict:
        d = self._decode
        if self._melgan[0] is not None:
            wave, label = self._vocode(spec), self._melgan[1]
        else:
            wave, label = fe.griffin_lim(spec, n_iter=d["griffin_lim_iters"], seed=d["seed"]), fe.FALLBACK_LABEL
        # the crop starts 6 frames (~70 ms) into the clip: where the wave belongs on the clip's timeline
        first = fe.crop_offset() if start_frame is None else start_frame
        return {"wave": wave, "spec": spec, "sample_rate": fe.SAMPLE_RATE, "vocoder": label,
                "start": round(first * fe.HOP / fe.SAMPLE_RATE, 6)}
