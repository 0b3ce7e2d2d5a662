"""The audio-visual captioner of Shen et al. (2023): encoders, cross-modal fusion, caption decoder, balancing.

Batches (from :meth:`AVCap.collate`; masks are bool, True = valid)::

    {"ids": [str], "video": [B, 3, F, S, S], "video_mask": [B],
     "audio": [B, frames, mels], "audio_mask": [B, frames],
     "text": [B, L] word ids, "text_mask": [B, L],
     "caption_ids": [B, L] (<s> w.. </s>), "next_ids": [B, L] (<next> w.. </s>), "next_valid": [B],
     "heldout": [B]}                                 # G-Blend's held-out rows (training only)

Pre-training (``stage=pretrain``) trains two tasks on every clip, each
started by its own BOS token: Predict Current Caption (``<s>``, the manifest's
``targets``) and Predict Next Caption (``<next>``, ``next_targets``); the loss
L is the sum of the two per-token means. With ``pnc=false`` pre-training
trains Predict Current Caption alone (no ``<next>`` row, L its per-token
mean: the paper's "without PNC"). Fine-tuning trains the current caption
alone. In pre-training the balancer (:mod:`vxt.models.avcap.balance`) adds
the mono-modal losses: L_a with the video embeddings set to zeros, L_v with
the other streams (audio, subtitles) set to zeros.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import random
from pathlib import Path

import torch
import torch.nn as nn

from vxt.decoding.beam import beam_search
from vxt.decoding.greedy import greedy_decode
from vxt.errors import DataError, VxtError
from vxt.models.avcap import frontend as fe
from vxt.models.avcap.balance import make_balancer
from vxt.models.avcap.config import effective_balance
from vxt.models.avcap.decoder import CaptionDecoder
from vxt.models.avcap.encoders import AudioEncoder, TextEncoder, VideoEncoder
from vxt.models.avcap.fusion import build_fusion
from vxt.nn.vocab import WordVocab

#: the BOS token of Predict Next Caption (Predict Current Caption starts with the vocabulary's <s>)
NEXT = "<next>"


def is_heldout(example_id: str, fraction: float) -> bool:
    """G-Blend's held-out slice: a fixed fraction of the training examples, chosen by a hash of the id."""
    h = int(hashlib.sha1(str(example_id).encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


def stage_examples(examples: list[dict], stage: str) -> list[dict]:
    """A stage's own examples where a split holds both kinds: pre-training (``next_targets`` present: the
    narration of a step and of the next one) for ``pretrain``, the others (describing captions) for
    ``finetune``; a split of one kind is used whole."""
    marked = [ex for ex in examples if "next_targets" in ex]
    if not marked or len(marked) == len(examples):
        return examples
    return marked if stage == "pretrain" else [ex for ex in examples if "next_targets" not in ex]


class AVCap(nn.Module):
    """Video Swin + audio transformer (+ subtitles) -> cross-modal encoder -> caption decoder."""

    ARCH = "avcap"
    metric_name = "CIDEr"
    warmup_fraction = 0.1  # the warmup_linear strategy's warm-up

    def __init__(self, config: dict, _loading: bool = False):
        super().__init__()
        cfg = copy.deepcopy(dict(config))
        cfg["arch"], cfg["task"] = self.ARCH, "caption"
        if not cfg.get("vocab"):
            raise VxtError("avcap needs a caption vocabulary (built from the training data)")
        self.vocab = WordVocab(list(cfg["vocab"]))
        if NEXT not in self.vocab.stoi:
            raise VxtError(f"avcap's vocabulary lacks the {NEXT} token")
        self.next_id = self.vocab.stoi[NEXT]
        self.config = cfg
        mods, d, drop = cfg["modalities"], int(cfg["d_model"]), float(cfg["dropout"])
        self.video = VideoEncoder(cfg["video"], d) if "video" in mods else None
        self.audio = AudioEncoder(cfg["audio"], d, drop) if "audio" in mods else None
        self.text = TextEncoder(cfg["text"], len(self.vocab), d, drop) if "subtitles" in mods else None
        self.fusion = build_fusion(cfg)
        dc = cfg["decoder"]
        self.decoder = CaptionDecoder(len(self.vocab), d, int(dc["heads"]), int(dc["d_ff"]), int(dc["layers"]), drop)
        for part in (self.audio, self.text, self.fusion, self.decoder):
            if part is not None:
                _xavier_linears(part)
        if self.video is not None:
            nn.init.xavier_uniform_(self.video.proj.weight)
        name = effective_balance(cfg)
        self.balancer = make_balancer(name, cfg) if name else None
        if not _loading and self.video is not None:
            from vxt.utils import say_once

            if cfg["video"].get("weights"):
                self.video.load_backbone(cfg["video"]["weights"])
            else:
                say_once(f"avcap's video backbone {cfg['video']['backbone']} starts at random init "
                         "(give Kinetics weights with --video-weights FILE)")
        self._data_dir = fe.data_dir_of(cfg)

    # ------------------------------------------------------------ the loop's contract

    @property
    def needs_media(self) -> bool:
        """The paper's front end reads its own media (22,050 Hz audio, TSN frames); ``cache`` uses the loop's."""
        return self.config["frontend"] == "cache"

    @property
    def stage(self) -> str:
        return self.config["stage"]

    @property
    def trains_pnc(self) -> bool:
        """Whether training adds Predict Next Caption: pre-training with ``pnc`` on (the default)."""
        return self.stage == "pretrain" and bool(self.config.get("pnc", True))

    def use_data_dir(self, data_dir) -> None:
        """Read media under ``data_dir`` (a resumed run's ``--data``)."""
        self._data_dir = Path(data_dir)

    def configure_decode(self, data_dir=None, features=None, overrides=None) -> None:
        """``vxt decode``: where a data dir split's media paths are relative to; avcap takes no decode options."""
        if features or overrides:
            raise VxtError("avcap takes no --features or --set at decode time")
        if data_dir is not None:
            self._data_dir = Path(data_dir)

    # ------------------------------------------------------------ batching

    def _media(self, item: dict, train: bool, rng) -> dict:
        ex = item["example"]
        if self.config["frontend"] == "paper":
            m = fe.read_example_media(ex, self._data_dir, self.config, train=train, rng=rng)
        else:
            m = fe.cached_media(item.get("media") or {}, self.config, rng=rng if train else None)
        if m["errors"]:
            from vxt.utils import say_once

            for mod, why in m["errors"].items():
                say_once(f"{ex.get('id')}: no {mod} ({why}); it is a masked stream")
        return m

    def _caption_ids(self, texts: list[str | None], bos: int):
        L = int(self.config["max_len"])
        rows = []
        for t in texts:
            ids = self.vocab.encode(t or "", max_len=L)
            ids[0] = bos
            rows.append(ids)
        out = torch.full((len(rows), max(len(r) for r in rows)), self.vocab.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out

    def collate(self, items: list[dict], train: bool = False, rng: random.Random | None = None) -> dict:
        from vxt.tasks.text import subtitles_text

        cfg = self.config
        rng = rng if rng is not None else random.Random(0)
        exs = [it["example"] for it in items]
        B = len(exs)
        batch: dict = {"ids": [str(ex["id"]) for ex in exs]}
        media = [self._media(it, train, rng if train else None) for it in items]
        if self.video is not None:
            size = int(cfg["video"]["size"])
            F = int(cfg["video"]["frames"])
            video = torch.zeros(B, 3, F, size, size)
            vmask = torch.zeros(B, dtype=torch.bool)
            for i, m in enumerate(media):
                if m["video"] is not None:
                    video[i] = fe.video_tensor(m["video"], size)
                    vmask[i] = True
            batch["video"], batch["video_mask"] = video, vmask
        if self.audio is not None:
            a = cfg["audio"]
            T, M = int(a["max_frames"]), int(a["n_mels"])
            audio = torch.zeros(B, T, M)
            amask = torch.zeros(B, T, dtype=torch.bool)
            for i, m in enumerate(media):
                if m["audio"] is None or len(m["audio"]) == 0:
                    continue
                x, mk = fe.fit_frames(m["audio"], T)
                if train:
                    x = fe.spec_augment(x, int(mk.sum()), a, rng)
                audio[i], amask[i] = x, mk
            batch["audio"], batch["audio_mask"] = audio, amask
        if self.text is not None:
            n = int(cfg["text"]["max_tokens"])
            ids, mask = self.vocab.encode_batch([subtitles_text(ex) for ex in exs], max_len=n, add_bos_eos=False)
            batch["text"], batch["text_mask"] = ids, mask
        if train:
            from vxt.tasks.text import get_task

            spec = get_task("caption")
            caps = [spec.target(ex, rng) for ex in exs]
            lacking = [ex["id"] for ex, c in zip(exs, caps) if c is None]
            if lacking:
                raise DataError(f"example {lacking[0]}: no caption in `targets` to train on")
            batch["caption_ids"] = self._caption_ids(caps, self.vocab.bos_id)
            if self.trains_pnc:
                nxt = []
                for ex in exs:
                    refs = [str(t) for t in ex.get("next_targets") or [] if str(t).strip()]
                    nxt.append(refs[rng.randrange(len(refs))] if refs else None)
                batch["next_ids"] = self._caption_ids(nxt, self.next_id)
                batch["next_valid"] = torch.tensor([t is not None for t in nxt], dtype=torch.bool)
            if self.balancer is not None and self.balancer.needs_holdout:
                frac = float(cfg["gblend_holdout"])
                batch["heldout"] = torch.tensor([is_heldout(ex["id"], frac) for ex in exs], dtype=torch.bool)
        return batch

    # ------------------------------------------------------------ the network

    def encode(self, batch: dict) -> dict:
        """``{modality: (tokens [B, N, D], mask [B, N])}``; a missing stream is all masked (its tokens zeroed)."""
        streams = {}
        if self.video is not None:
            x = self.video(batch["video"])
            mask = batch["video_mask"].bool()[:, None].expand(-1, x.shape[1])
            streams["video"] = (x * mask.unsqueeze(-1).to(x.dtype), mask)
        if self.audio is not None:
            x, mask = self.audio(batch["audio"], batch["audio_mask"])
            streams["audio"] = (x * mask.unsqueeze(-1).to(x.dtype), mask)
        if self.text is not None:
            x, mask = self.text(batch["text"], batch["text_mask"])
            streams["subtitles"] = (x * mask.unsqueeze(-1).to(x.dtype), mask)
        return streams

    def _row_losses(self, streams: dict, batch: dict) -> dict:
        """Per-row token-loss sums and counts of each task: {"pcc": (sum [B], n [B]), "pnc": ...}."""
        memory, mem_mask = self.fusion(streams)
        out = {}
        pad, smooth = self.vocab.pad_id, float(self.config["smoothing"])
        for task, key in (("pcc", "caption_ids"), ("pnc", "next_ids")):
            ids = batch.get(key)
            if ids is None or (task == "pnc" and not self.trains_pnc):
                continue
            mask = ids != pad
            logp = self.decoder(memory, mem_mask, ids[:, :-1], mask[:, :-1])
            tgt = ids[:, 1:].masked_fill(~mask[:, 1:], pad)
            if task == "pnc":  # a clip without a next caption has no PNC row
                tgt = tgt.masked_fill(~batch["next_valid"].bool()[:, None], pad)
            per_token = token_kl(logp, tgt, pad, smooth)
            out[task] = (per_token.sum(1), (tgt != pad).sum(1).to(per_token.dtype))
        return out

    @staticmethod
    def _reduce(rows: dict, sel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """L over the selected rows: the sum of each task's per-token mean; and the token count."""
        total, n_all = 0.0, 0.0
        w = sel.to(torch.float32)
        for s, n in rows.values():
            n_sel = (n * w).sum()
            total = total + (s * w).sum() / n_sel.clamp(min=1)
            n_all = n_all + n_sel
        return total, torch.as_tensor(n_all)

    def forward(self, batch: dict) -> dict:
        """Teacher-forced training loss; in pre-training balanced with the mono-modal losses."""
        streams = self.encode(batch)
        B = len(batch["ids"])
        device = next(iter(streams.values()))[0].device
        held = batch.get("heldout")
        held = held.to(device).bool() if held is not None else torch.zeros(B, dtype=torch.bool, device=device)
        train_rows = ~held
        rows = self._row_losses(streams, batch)
        L, n_tok = self._reduce(rows, train_rows)
        out = {"n_tokens": n_tok.detach(), "log_loss_av": float(L.detach())}
        if self.stage == "pretrain":  # each task's share of L (no loss_pnc without PNC)
            for task, r in rows.items():
                out[f"log_loss_{task}"] = float(self._reduce({task: r}, train_rows)[0].detach())
        if self.balancer is None:
            out["loss"] = L
            return out
        bal = self.balancer
        zero_v = {m: (torch.zeros_like(x) if m == "video" else x, k) for m, (x, k) in streams.items()}
        zero_a = {m: (x if m == "video" else torch.zeros_like(x), k) for m, (x, k) in streams.items()}
        grad = contextlib.nullcontext() if bal.backprop_mono else torch.no_grad()
        with grad:
            rows_a = self._row_losses(zero_v, batch)  # audio (and subtitles) alone
            rows_v = self._row_losses(zero_a, batch)  # video alone
            L_a, _ = self._reduce(rows_a, train_rows)
            L_v, _ = self._reduce(rows_v, train_rows)
        any_train = bool(train_rows.any())
        losses = {"av": float(L.detach()), "a": float(L_a.detach()), "v": float(L_v.detach())} if any_train else None
        heldout, n_held = None, int(held.sum())
        if n_held:
            with torch.no_grad():
                heldout = {k: float(self._reduce(r, held)[0]) for k, r in (("av", rows), ("a", rows_a),
                                                                           ("v", rows_v))}
        # the balancer's state moves on training steps only (a forward in eval mode reads the weights)
        w = bal.step(losses, heldout, n_held) if self.training else bal.step(None)
        loss = bal.combine(L, L_a, L_v, w)
        if not any_train:  # only held-out rows in this batch: nothing to learn from (a zero gradient)
            loss = loss * 0.0
        out.update({"loss": loss, "log_loss_a": float(L_a.detach()), "log_loss_v": float(L_v.detach()),
                    "log_w_a": w["a"], "log_w_v": w["v"]})
        if bal.name == "gblend":
            out["log_w_av"] = w["av"]
        return out

    @torch.no_grad()
    def predict(self, batch: dict, options) -> list[dict]:
        """Captions: beam search (width ``options.beam_size``) or greedy, from ``<s>`` (the current caption)."""
        streams = self.encode(batch)
        memory, mem_mask = self.fusion(streams)
        B, device = memory.shape[0], memory.device
        v = self.vocab
        max_len = int(options.max_length)

        never = torch.tensor([v.pad_id, v.bos_id, self.next_id], device=device)  # not words of a caption

        def step(ys, rows):
            logp = self.decoder(memory[rows], mem_mask[rows], ys)[:, -1]
            return logp.index_fill(1, never, -math.inf)

        if options.use_greedy:
            every = torch.arange(B, device=device)
            ids = greedy_decode(lambda ys: step(ys, every), B, max_len, v.bos_id, v.eos_id, v.pad_id, device)
        else:
            ids, _ = beam_search(step, B, int(options.beam_size), max_len, v.bos_id, v.eos_id, v.pad_id, device,
                                 length_penalty=float(options.length_penalty))
        return [{"id": i, "prediction": v.decode(row)} for i, row in zip(batch["ids"], ids.tolist())]

    # ------------------------------------------------------------ persistence

    def training_examples(self, examples: list[dict], split: str) -> list[dict]:
        """What a run of this stage trains and validates on (:func:`stage_examples`), the rest said once."""
        kept = stage_examples(examples, self.stage)
        if len(kept) < len(examples):
            from vxt.utils import say_once

            what = "narrated pre-training (next_targets)" if self.stage == "finetune" else "caption (no next_targets)"
            say_once(f"avcap --stage {self.stage}: skipped {len(examples) - len(kept)} {split} {what} examples")
        return kept

    def select_examples(self, examples: list[dict]) -> list[dict]:
        """The examples ``vxt decode`` decodes: this stage's own (:func:`stage_examples`)."""
        return stage_examples(examples, self.stage)

    def save_pretrained(self, out_dir) -> None:
        from vxt.nn.weights import save_model_dir

        save_model_dir(out_dir, self.config, f"{type(self).__module__}:{type(self).__qualname__}", self.state_dict(),
                       self.ARCH, indent=None)

    @classmethod
    def from_pretrained(cls, path) -> "AVCap":
        from vxt.nn.weights import load_weights, read_model_config

        cfg = read_model_config(path, cls.ARCH, "an avcap")
        model = cls(cfg, _loading=True)
        model._data_dir = None  # media: under this run's or decode's data dir, never one a checkpoint records
        load_weights(model, Path(path) / "model.safetensors")
        return model


def token_kl(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int, smoothing: float) -> torch.Tensor:
    """Per-token KL(label-smoothed target || model) [B, t], 0 at ``<pad>`` targets: the terms that
    :func:`vxt.nn.losses.label_smoothing_kl` sums (``smoothing = 0``: cross-entropy)."""
    V = log_probs.shape[-1]
    lp = log_probs.float()
    lp_t = lp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    if smoothing > 0:
        eps = smoothing / max(V - 2, 1)
        const = (1 - smoothing) * math.log(1 - smoothing) + (V - 2) * eps * math.log(eps)
        loss = const - ((1 - smoothing) * lp_t + eps * (lp.sum(-1) - lp_t - lp[..., pad_id]))
    else:
        loss = -lp_t
    return loss * (target != pad_id).to(loss.dtype)


def _xavier_linears(module: nn.Module) -> None:
    """Xavier-uniform for the weight matrices of linear layers (embeddings and learned tokens keep theirs)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
