"""``--task sync``: SparseSync wired to the training loop and ``vxt decode``.

The model reads its own inputs (``needs_media = False``): ``collate`` takes
each example's 5 s trims straight from its media file
(:mod:`vxt.models.sync.inputs`), at a random offset during training (drawn
with the batch's generator, so ``--resume`` sees the same inputs; the frames
mirrored with probability ``hflip``), at the
example's fixed offset in evaluation, and as the file is when decoding media
files. Loss: cross-entropy over the offset classes; the best checkpoint is
picked on top-1 accuracy (``accuracy_1``).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.errors import DataError, VxtError
from vxt.metrics.sync import offset_grid, offset_to_class
from vxt.models.sync.config import DECODE_KEYS, check_config, min_clip_seconds
from vxt.models.sync.inputs import (Trim, eval_trim, file_trim, file_windows, hflip, log_spectrogram, read_trim,
                                    train_trim)
from vxt.models.sync.net import SparseSyncNet, build_encoders, token_shapes

CLASS_PATH = "vxt.models.sync:SyncModel"


class SyncModel(nn.Module):
    """SparseSync for the training loop and ``vxt decode`` (see the module docstring)."""

    #: the trims are read here, from the media files, not from the media cache
    needs_media = False
    metric_name = "accuracy_1"

    def __init__(self, config: dict, data_dir: str | Path | None = None, load_weights: bool = True):
        super().__init__()
        check_config(config)
        self.config = config
        self.grid = offset_grid(int(config["n_classes"]), float(config["max_offset"]))
        self.video_encoder, self.audio_encoder = build_encoders(config)
        v_shape, a_shape = token_shapes(config)
        config["video_tokens"], config["audio_tokens"] = list(v_shape), list(a_shape)
        self.net = SparseSyncNet(config, v_shape, a_shape, self.video_encoder.out_channels,
                                 self.audio_encoder.out_channels)
        self.register_buffer("mean", torch.tensor(config["video_mean"], dtype=torch.float32).view(1, 3, 1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(config["video_std"], dtype=torch.float32).view(1, 3, 1, 1, 1),
                             persistent=False)
        if load_weights:
            self._load_backbones()
        data = data_dir if data_dir is not None else config.get("data_dir")
        self.data_dir = None if data is None else Path(data)
        self._files_mode = False  # vxt decode of media files: take them as they are
        self._vstart: float | None = None
        self._hop: float | None = None  # media files: the windows' hop (default half a trim) and how many at most
        self._max_windows = 16
        self._durations: dict[str, float] = {}

    def _load_backbones(self) -> None:
        from vxt.utils import say_once

        for key, enc, what in (("video_weights", self.video_encoder, "video"),
                               ("audio_weights", self.audio_encoder, "audio")):
            if self.config.get(key):
                enc.load_weights(self.config[key])
            elif hasattr(enc, "load_weights"):
                say_once(f"{self.config['name']}: the {what} encoder starts at random init "
                         f"(pretrained weights: --set {key}=FILE)")

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def optimizer_settings(self, opts) -> dict:
        """SparseSync's optimizer: Adam at ``base_lr`` (5e-6) x the number of processes unless ``--lr`` is given,
        warmed up linearly from lr / 100 over ``warmup_steps``, then constant."""
        from vxt.utils import say_once

        cfg = self.config
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        base = float(cfg.get("base_lr", 5e-6))
        lr = float(opts.lr) if opts.lr_explicit() else base * world
        warm = int(cfg.get("warmup_steps", 0) or 0)
        how = "--lr" if opts.lr_explicit() else f"base_lr {base:g} x {world} process(es)"
        say_once(f"sync: Adam at lr {lr:g} ({how})"
                 + (f", warmed up from lr / 100 over {warm} steps, then constant" if warm else ", constant"))
        params = [p for p in self.parameters() if p.requires_grad]
        return {"groups": [{"params": params}], "lr": lr, "betas": (0.9, 0.999), "optimizer": "adam",
                "schedule": "warmup" if warm else False, "warmup_steps": max(1, warm), "warmup_from": 0.01}

    # ------------------------------------------------------------ inputs

    def _clip(self, ex: dict) -> tuple[str, float, float]:
        """(media path, clip start in the file, clip length) of an example."""
        from vxt.data.manifest import resolve_media

        if "video" in (ex.get("missing") or []) or "audio" in (ex.get("missing") or []):
            raise DataError("synchronisation needs both video and audio", example_id=ex.get("id"))
        rel = ex.get("video")
        if not rel:
            raise DataError("no video in this example", example_id=ex.get("id"))
        path = str(resolve_media(self.data_dir, rel) if self.data_dir is not None else Path(rel))
        start = float(ex.get("start") or 0.0)
        end = ex.get("end")
        length = float(end) - start if end is not None else None
        if length is None and ex.get("duration") is not None:
            length = float(ex["duration"]) - start
        # the video stream's own length bounds the clip (a container can run on past its last frame)
        if path not in self._durations:
            from vxt.data.media import probe

            info = probe(path)
            d = info.duration or 0.0
            if info.num_frames and info.fps and not info.vfr:
                d = min(d, info.num_frames / info.fps)
            self._durations[path] = float(d)
        file_len = self._durations[path] - start
        length = file_len if length is None else min(length, file_len)
        return path, start, length

    def trims_for(self, ex: dict, train: bool, rng: random.Random | None) -> tuple[list[Trim], str, float]:
        """The inputs of one example: one trim, or for a media file in decode the windows sliding over it."""
        if self._files_mode and ex.get("offset") is None:
            path, start, length = self._clip(ex)
            vstart = self._vstart if self._vstart is not None else ex.get("vstart")
            if vstart is not None:
                return [file_trim(length, self.config, vstart)], path, start
            return file_windows(length, self.config, self._hop, self._max_windows), path, start
        trim, path, start = self.trim_for(ex, train, rng)
        return [trim], path, start

    def trim_for(self, ex: dict, train: bool, rng: random.Random | None) -> tuple[Trim, str, float]:
        """One training or evaluation trim of a manifest example (media files in decode: :meth:`trims_for`)."""
        path, start, length = self._clip(ex)
        cfg = self.config
        need = min_clip_seconds(cfg)
        if length + 0.5 / float(cfg["fps"]) < need:
            raise DataError(f"the clip is {length:.2f} s long: trims at every offset need {need:g} s "
                            "(shorter clips would be padded, which gives the offset away)", example_id=ex.get("id"))
        if train:
            return train_trim(length, self.grid, cfg, rng or random.Random(0)), path, start
        return eval_trim(ex, length, self.grid, cfg), path, start

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        """``[{"example", ...}]`` -> ``video`` uint8 ``[N, T, S, S, 3]``, ``spec`` ``[N, 1, F, T]``, ``target``.

        One row per trim: ``N`` is the number of examples, except for media
        files in decode, which give one row per window (``groups``: each
        example's ``(first row, end row)``).
        """
        if not items:
            raise DataError("an empty batch")
        cfg = self.config
        S, C = int(cfg["size_before_crop"]), int(cfg["crop"])
        frames, specs, targets, trims, groups = [], [], [], [], []
        for it in items:
            ex = it["example"]
            ex_trims, path, start = self.trims_for(ex, train, rng)
            groups.append((len(trims), len(trims) + len(ex_trims)))
            for trim in ex_trims:
                crop_at = None
                if train and cfg["random_crop"] and S > C:
                    crop_at = (rng.randint(0, S - C), rng.randint(0, S - C)) if rng is not None else None
                try:
                    f, w = read_trim(path, trim, start, cfg, crop_at=crop_at)
                except VxtError as e:
                    raise DataError(e.message, path=e.path, example_id=ex.get("id")) from None
                if train:  # old checkpoints' configs have no hflip: they never flipped
                    f = hflip(f, float(cfg.get("hflip", 0.0)), rng)
                frames.append(torch.from_numpy(f))
                specs.append(log_spectrogram(w, cfg))
                targets.append(-100 if trim.offset is None else offset_to_class(trim.offset, self.grid))
                trims.append(trim)
        return {"ids": [str(it["example"].get("id", i)) for i, it in enumerate(items)],
                "video": torch.stack(frames), "spec": torch.stack(specs).unsqueeze(1),
                "target": torch.tensor(targets, dtype=torch.long), "trims": trims, "groups": groups}

    # ------------------------------------------------------------ the network

    def logits(self, batch: dict) -> torch.Tensor:
        video = batch["video"].permute(0, 4, 1, 2, 3).float().div_(255.0)  # [B, 3, T, H, W]
        video = (video - self.mean) / self.std
        v = self.video_encoder(video).permute(0, 2, 3, 4, 1)  # [B, t, h, w, C]
        a = self.audio_encoder(batch["spec"].float()).permute(0, 2, 3, 1)  # [B, f, t, C]
        return self.net(v, a)

    def forward(self, batch: dict) -> dict:
        logits = self.logits(batch)
        target = batch["target"]
        if bool((target < 0).any()):
            raise VxtError("a training batch without target offsets")
        loss = F.cross_entropy(logits.float(), target)
        acc = (logits.argmax(-1) == target).float().mean()
        return {"loss": loss, "log_accuracy_1": acc.detach()}

    #: windows of one media file sent through the network at once (memory: the paper's are 19 MB of frames each)
    WINDOW_CHUNK = 8

    @torch.no_grad()
    def predict(self, batch: dict, options=None) -> list[dict]:
        """One dict per example: ``offset`` (s), ``probs`` over the grid, ``candidates`` (the three likeliest
        offsets), ``target`` (s) where known; a media file read in several windows adds ``windows`` (each one's
        ``vstart``, ``offset``, ``probability``) and ``agreement`` (the share of windows within one class of the
        overall offset, which is the argmax of the windows' mean probabilities: a soft vote that one odd window
        cannot swing)."""
        was = self.training
        self.eval()
        try:
            n = len(batch["trims"])
            parts = [torch.softmax(self.logits({**batch, "video": batch["video"][i : i + self.WINDOW_CHUNK],
                                                "spec": batch["spec"][i : i + self.WINDOW_CHUNK]}).float(), dim=-1)
                     for i in range(0, n, self.WINDOW_CHUNK)]
            probs = torch.cat(parts).cpu().numpy()
        finally:
            self.train(was)
        groups = batch.get("groups") or [(i, i + 1) for i in range(n)]
        out = []
        for i, (a, b) in enumerate(groups):
            win = probs[a:b]
            p = win.mean(axis=0)
            k = int(p.argmax())
            off = float(self.grid[k])
            trims = batch["trims"][a:b]
            top = np.argsort(-p, kind="stable")[:3]
            row = {"id": batch["ids"][i], "prediction": f"{off:+.1f} s", "offset": off,
                   "probs": [round(float(x), 6) for x in p],
                   "candidates": [{"offset": float(self.grid[j]), "probability": round(float(p[j]), 6)} for j in top],
                   "max_offset": float(self.config["max_offset"])}
            if len(trims) == 1:
                row["vstart"] = round(trims[0].vstart, 4)
            else:
                ks = win.argmax(axis=1)
                row["windows"] = [{"vstart": round(t.vstart, 4), "offset": float(self.grid[int(kk)]),
                                   "probability": round(float(w[int(kk)]), 6)} for t, kk, w in zip(trims, ks, win)]
                row["agreement"] = round(float(np.mean(np.abs(ks - k) <= 1)), 4)
                row["clip_seconds"] = float(self.config["clip_seconds"])
            if trims[0].offset is not None:
                row["target"] = float(self.grid[offset_to_class(trims[0].offset, self.grid)])
            out.append(row)
        return out

    # ------------------------------------------------------------ decoding

    def configure_decode(self, data_dir: str | Path | None = None, features: str | Path | None = None,
                         overrides: dict | None = None) -> None:
        """Decode a data dir split (its fixed offsets) or media files (``data_dir=None``: as they are).

        ``overrides``: ``vstart`` (one 5 s trim of each media file, starting
        there), else windows slide over the file every ``hop`` seconds
        (default half a trim), at most ``windows`` of them (default 16, spread
        evenly; ``windows=1``: the one trim in the middle); ``shift`` and
        ``method`` belong to ``--fix``.
        """
        if features is not None:
            raise VxtError("--features does not apply to --task sync (it reads the media files)")
        over = dict(overrides or {})
        unknown = sorted(set(over) - set(DECODE_KEYS))
        if unknown:
            raise VxtError(f"unknown sync decode option(s) {', '.join(unknown)} (known: {', '.join(DECODE_KEYS)})")
        self._files_mode = data_dir is None
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        vstart = over.get("vstart")
        if vstart is not None and (not isinstance(vstart, (int, float)) or isinstance(vstart, bool) or vstart < 0):
            raise VxtError(f"--set vstart= takes seconds >= 0, got {vstart!r}")
        self._vstart = None if vstart is None else float(vstart)
        hop, windows = over.get("hop"), over.get("windows", 16)
        if hop is not None and (not isinstance(hop, (int, float)) or isinstance(hop, bool) or not hop > 0):
            raise VxtError(f"--set hop= takes seconds > 0, got {hop!r}")
        if not isinstance(windows, int) or isinstance(windows, bool) or windows < 1:
            raise VxtError(f"--set windows= takes a whole number >= 1, got {windows!r}")
        self._hop, self._max_windows = (None if hop is None else float(hop)), windows

    def use_data_dir(self, data_dir: str | Path) -> None:
        """Read media under ``data_dir`` (a resumed run's ``--data``)."""
        self.data_dir = Path(data_dir)

    # ------------------------------------------------------------ persistence

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """``config.json`` + ``model.safetensors``."""
        from vxt.nn.weights import save_model_dir

        return save_model_dir(out_dir, self.config, CLASS_PATH, self.state_dict(), "sparsesync")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "SyncModel":
        from vxt.nn.weights import load_weights as load_weight_file, read_model_config

        cfg = read_model_config(path, "sparsesync", "a SparseSync")
        model = cls(cfg, load_weights=False)
        model.data_dir = None  # media: under this run's or decode's data dir, never one a checkpoint records
        load_weight_file(model, Path(path) / "model.safetensors")
        model.eval()
        return model

