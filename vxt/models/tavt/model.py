"""TAVT (Lin, Jin, Wang, et al., ACL 2023): the captioner of the training loop and ``vxt decode``.

The parts (see :mod:`vxt.models.tavt.layers`, :mod:`vxt.models.tavt.losses`):

- the *universal auditory semantic space*: K cluster centres of audio units
  (K-means at build time, a buffer of the AVMM, saved with the model);
- the **AVMM**: clip means -> visual prefix tokens ``p_i`` -> cluster weights
  -> ``A_rec``; ``L_rec = MSE(A_rec, A)``;
- the **audio-visual encoder** on ``V' = [p_1..p_l, v_1..v_m]`` and the audio
  units, giving ``x_av`` and ``x_va``; the **gated decoder** (eqs. 4-5);
- **DCCL**: ``L_dis`` (eq. 6) on A / A+ / A- and ``L_dep`` (eq. 7) on the
  dependence scores psi computed with each of them;
- **W_ma** (eqs. 8-9): per-word running means of psi weighting the tokens' CE.

``L = L_cap + L_rec + lambda L_dis + mu L_dep``; ``forward`` returns it with
``log_loss_cap``, ``log_loss_rec``, ``log_loss_dis``, ``log_loss_dep``.
An example without audio feeds ``A_rec`` in place of its audio (and adds
nothing to L_rec, L_dis, L_dep).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vxt.errors import DataError, VxtError
from vxt.models.tavt import losses as L
from vxt.models.tavt.features import example_units
from vxt.models.tavt.layers import AVEncoder, AVMM, GatedDecoder
from vxt.nn.attention import xavier_init
from vxt.nn.positions import sinusoidal_positions
from vxt.nn.vocab import WordVocab, as_vocab

CLASS_PATH = "vxt.models.tavt.model:TAVT"


class TAVT(nn.Module):
    """The TAVT captioner (see the module docstring); ``config`` holds everything that rebuilds it."""

    ARCH = "tavt"
    #: the features come from the model's feature store, not from the media cache
    needs_media = False
    metric_name = "CIDEr"

    def __init__(self, config: dict, vocab: Any, clusters: torch.Tensor | None = None,
                 data_dir: str | Path | None = None):
        super().__init__()
        from vxt.modalities.feature_store import FeatureStore

        cfg = copy.deepcopy(dict(config))
        self.vocab: WordVocab = as_vocab(vocab) or as_vocab(cfg.get("vocab"))
        if self.vocab is None:
            raise VxtError("TAVT needs a caption vocabulary")
        cfg["vocab"] = self.vocab.itos
        cfg["arch"] = self.ARCH
        self.config = cfg
        d, h, ff, drop = int(cfg["d_model"]), int(cfg["heads"]), int(cfg["d_ff"]), float(cfg["dropout"])
        dv, da, k = int(cfg["d_video"]), int(cfg["d_audio"]), int(cfg["n_clusters"])
        if clusters is None:
            clusters = torch.zeros(k, da)
        if tuple(clusters.shape) != (k, da):
            raise VxtError(f"the clusters have shape {list(clusters.shape)}, the config asks for [{k}, {da}]")
        self.video_in = nn.Linear(dv, d)
        self.audio_in = nn.Linear(da, d)
        self.segment = nn.Embedding(2, d)  # 0: a prefix token p_i, 1: a frame v_j
        self.avmm = AVMM(dv, d, h, ff, int(cfg["avmm_layers"]), drop, clusters)
        self.encoder = AVEncoder(d, h, ff, int(cfg["enc_layers"]), int(cfg["cross_layers"]), drop)
        self.decoder = GatedDecoder(len(self.vocab), d, h, ff, int(cfg["dec_layers"]), drop)
        xavier_init(self)
        # W_ma's running sums (eq. 8): per vocabulary word, the sum and count of alpha_av / alpha_va
        self.register_buffer("wma_sum", torch.zeros(len(self.vocab)))
        self.register_buffer("wma_count", torch.zeros(len(self.vocab)))
        self.set_avmm_frozen(bool(cfg.get("freeze_avmm", False)))
        # the data dir named on the command line (training, decode, a resumed run): never one a checkpoint
        # records, so a handed checkpoint cannot choose where features are cached
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.store = FeatureStore.from_config(cfg["features"], self.data_dir)
        self.store.norm = cfg.get("feature_stats") or None
        self._domains: list[str] | None = None

    # ------------------------------------------------------------ modes

    def set_avmm_frozen(self, frozen: bool) -> None:
        """Freeze the AVMM (a target domain without audio: nothing to learn the reconstruction from)."""
        self.config["freeze_avmm"] = bool(frozen)
        self.avmm.requires_grad_(not frozen)

    def train(self, mode: bool = True) -> "TAVT":
        super().train(mode)
        if self.config.get("freeze_avmm"):
            self.avmm.eval()
        return self

    def _device(self) -> torch.device:
        return self.video_in.weight.device

    # ------------------------------------------------------------ batching

    def collate(self, items: list[dict], train: bool, rng=None) -> dict:
        """``[{"example", "media"}]`` -> a batch (the media are unused: the feature store gives the streams)."""
        if not items:
            raise DataError("an empty batch")
        cfg = self.config
        exs = [it["example"] for it in items]
        units = [example_units(self.store.get(ex), ex, float(cfg["clip_seconds"]), int(cfg["max_units"]),
                               int(cfg["max_frames"])) for ex in exs]
        B = len(exs)
        n_l = max(len(u["bounds"]) for u in units)
        n_m = max([len(u["frames"]) for u in units if u["frames"] is not None] + [1])
        dv, da = int(cfg["d_video"]), int(cfg["d_audio"])
        frames, frame_mask = torch.zeros(B, n_m, dv), torch.zeros(B, n_m, dtype=torch.bool)
        clips, audio = torch.zeros(B, n_l, dv), torch.zeros(B, n_l, da)
        unit_mask, has_audio = torch.zeros(B, n_l, dtype=torch.bool), torch.zeros(B, dtype=torch.bool)
        for i, u in enumerate(units):
            n = len(u["bounds"])
            unit_mask[i, :n] = True
            for name, dst, width in (("frames", frames, dv), ("clips", clips, dv), ("audio", audio, da)):
                arr = u[name]
                if arr is None:
                    continue
                if arr.shape[1] != width:
                    raise DataError(f"the {name} features have {arr.shape[1]} dims, the model expects {width}",
                                    example_id=exs[i].get("id"))
                dst[i, : len(arr)] = torch.from_numpy(arr)
            if u["frames"] is not None:
                frame_mask[i, : len(u["frames"])] = True
            has_audio[i] = u["audio"] is not None
        batch: dict[str, Any] = {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)], "examples": exs,
                                 "frames": frames, "frame_mask": frame_mask, "clips": clips, "audio": audio,
                                 "unit_mask": unit_mask, "has_audio": has_audio}
        if train:
            caps = []
            for ex in exs:
                refs = [str(t) for t in ex.get("targets") or [] if str(t).strip()]
                if not refs:
                    raise DataError("a training example without a target caption", example_id=ex.get("id"))
                caps.append(refs[rng.randrange(len(refs))] if rng is not None else refs[0])
            ids, mask = self.vocab.encode_batch(caps, max_len=int(cfg["max_len"]) + 2)
            batch["caption_ids"], batch["caption_mask"] = ids, mask
        return batch

    # ------------------------------------------------------------ the network

    def prefix(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(prefix tokens p [B, L, d], cluster weights w [B, L, K], A_rec [B, L, Da])."""
        p = self.avmm.prefix(batch["clips"], batch["unit_mask"])
        w = self.avmm.weights(p)
        return p, w, self.avmm.reconstruct(w)

    def audio_input(self, batch: dict, a_rec: torch.Tensor) -> torch.Tensor:
        """The audio units the encoder sees: the real ones, ``A_rec`` for an example without audio."""
        has = batch["has_audio"].view(-1, 1, 1)
        return torch.where(has, batch["audio"].to(a_rec.dtype), a_rec)

    def encode(self, batch: dict, p: torch.Tensor, audio: torch.Tensor) -> dict:
        """The memories ``x_av`` (over V' = [p; v]) and ``x_va`` (over the audio units), with their masks."""
        d = p.shape[-1]
        v = self.video_in(batch["frames"])
        pos = sinusoidal_positions(max(p.shape[1], v.shape[1]), d, v.device, v.dtype)
        seg = self.segment.weight
        vp = torch.cat([p + pos[: p.shape[1]] + seg[0], v + pos[: v.shape[1]] + seg[1]], dim=1)
        vp_mask = torch.cat([batch["unit_mask"], batch["frame_mask"]], dim=1)
        a = self.audio_in(audio) + pos[: audio.shape[1]]
        a_mask = batch["unit_mask"]
        x_av, x_va = self.encoder(vp, vp_mask, a, a_mask)
        return {"x_av": x_av, "mask_av": vp_mask, "x_va": x_va, "mask_va": a_mask}

    def decode(self, memory: dict, ys: torch.Tensor, ys_mask: torch.Tensor | None = None):
        """(logits [B, t, V], alpha_av [B, t], alpha_va [B, t]) for the prefixes ``ys``."""
        if ys_mask is None:
            ys_mask = torch.ones_like(ys, dtype=torch.bool)
        return self.decoder(ys, ys_mask, memory["x_av"], memory["mask_av"], memory["x_va"], memory["mask_va"])

    # ------------------------------------------------------------ training

    def forward(self, batch: dict) -> dict:
        cfg = self.config
        ids, mask = batch["caption_ids"], batch["caption_mask"].bool()
        inp, inp_mask = ids[:, :-1], mask[:, :-1]
        tgt, tok_mask = ids[:, 1:], mask[:, 1:]
        p, w, a_rec = self.prefix(batch)
        audio = batch["audio"].to(a_rec.dtype)
        real = batch["unit_mask"] & batch["has_audio"].view(-1, 1)  # units with real audio
        logits, av, va = self.decode(self.encode(batch, p, self.audio_input(batch, a_rec)), inp, inp_mask)
        psi = L.dependence_scores(av.float(), va.float())
        if cfg.get("use_wma", True):
            weights = L.token_weights(self.wma_sum, self.wma_count, tgt, tok_mask, bool(cfg.get("wma_normalize", True)))
        else:
            weights = tok_mask.float()
        loss_cap = L.weighted_caption_loss(logits, tgt, weights, tok_mask)
        loss_rec = L.reconstruction_loss(a_rec, audio, real)
        perms = L.counterfactual_perms(int(cfg["n_clusters"]), int(cfg["n_negatives"]), device=w.device)
        if perms:
            a_negs = torch.stack([self.avmm.reconstruct(w, pm) for pm in perms], dim=2)  # [B, L, J, Da]
        else:
            a_negs = a_rec.new_zeros(a_rec.shape[0], a_rec.shape[1], 0, a_rec.shape[2])
        loss_dis = L.discrimination_loss(audio, a_rec, a_negs, real, float(cfg["tau"]))
        rows = batch["has_audio"]
        mu = float(cfg["mu"])
        if mu > 0 and bool(rows.any()) and perms:
            def psi_with(a):
                _, a_v, v_a = self.decode(self.encode(batch, p, torch.where(rows.view(-1, 1, 1), a, a_rec)),
                                          inp, inp_mask)
                return L.dependence_scores(a_v.float(), v_a.float())

            psi_pos = psi_with(a_rec)
            psi_negs = [psi_with(a_negs[:, :, j]) for j in range(min(int(cfg["dep_negatives"]), len(perms)))]
            loss_dep = L.dependence_loss(psi, psi_pos, psi_negs, tok_mask, rows, float(cfg["tau"]))
        else:
            loss_dep = loss_cap * 0.0
        loss = loss_cap + float(cfg["rec_weight"]) * loss_rec + float(cfg["lambda"]) * loss_dis + mu * loss_dep
        if self.training:
            self._update_wma(tgt, psi, tok_mask)
        return {"loss": loss, "log_loss_cap": loss_cap.detach(), "log_loss_rec": loss_rec.detach(),
                "log_loss_dis": loss_dis.detach(), "log_loss_dep": loss_dep.detach()}

    def _update_wma(self, tgt: torch.Tensor, psi: torch.Tensor, tok_mask: torch.Tensor) -> None:
        """Add this batch's words to W_ma's running table; under DDP every rank adds every rank's words (the
        increments are summed over the ranks), so the table is the one a single process would hold."""
        inc_sum, inc_count = torch.zeros_like(self.wma_sum), torch.zeros_like(self.wma_count)
        L.update_token_table(inc_sum, inc_count, tgt, psi, tok_mask)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(inc_sum)
            torch.distributed.all_reduce(inc_count)
        self.wma_sum += inc_sum
        self.wma_count += inc_count

    # ------------------------------------------------------------ inference

    def configure_decode(self, data_dir: str | Path | None = None, features: str | Path | None = None,
                         overrides: dict | None = None) -> None:
        """``vxt decode``: where the media live; ``--set domain=NAME[,NAME]`` decodes those domains only."""
        from vxt.modalities.feature_store import FeatureStore

        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - {"domain"})
        if unknown:
            raise VxtError(f"unknown TAVT decode option(s) {', '.join(unknown)} (known: domain)")
        if features is not None:
            raise VxtError("TAVT extracts its own features (--features is for --task dense models)")
        if data_dir is not None:
            self.data_dir = Path(data_dir)
            self.store = FeatureStore.from_config(self.config["features"], self.data_dir)
            self.store.norm = self.config.get("feature_stats") or None
        dom = overrides.get("domain")
        self._domains = None if dom is None else [d.strip() for d in str(dom).split(",") if d.strip()]

    def use_data_dir(self, data_dir: str | Path) -> None:
        """Read the features of ``data_dir`` (a resumed run's ``--data``)."""
        self.configure_decode(data_dir=data_dir)

    def select_examples(self, examples: list[dict]) -> list[dict]:
        """The examples ``vxt decode`` decodes: those of the ``--set domain=`` domains (all without it)."""
        if self._domains is None:
            return examples
        return [ex for ex in examples if ex.get("domain") in self._domains]

    @torch.no_grad()
    def predict(self, batch: dict, options=None) -> list[dict]:
        """Greedy captions; ``explain``: alpha_av / alpha_va at the step that generated each word."""
        from vxt.decoding.greedy import greedy_decode

        if options is not None and getattr(options, "beam_size", 1) > 1 and not getattr(options, "greedy", False):
            from vxt.utils import say_once

            say_once("vxt: TAVT decodes greedily (--beam is not used)")
        was = self.training
        self.eval()
        try:
            dev = self._device()
            b = {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            p, _, a_rec = self.prefix(b)
            memory = self.encode(b, p, self.audio_input(b, a_rec))
            alphas: list[tuple[torch.Tensor, torch.Tensor]] = []

            def step(ys):
                logits, av, va = self.decode(memory, ys)
                alphas.append((av[:, -1].float().cpu(), va[:, -1].float().cpu()))
                return torch.log_softmax(logits[:, -1].float(), dim=-1)

            B = b["frames"].shape[0]
            out = greedy_decode(step, B, int(self.config["max_len"]), self.vocab.bos_id, self.vocab.eos_id,
                                self.vocab.pad_id, dev).cpu().tolist()
            rows = []
            for i, (eid, seq) in enumerate(zip(b["ids"], out)):
                words = []
                for t, tok in enumerate(seq):
                    if tok in (self.vocab.eos_id, self.vocab.pad_id):
                        break
                    if tok == self.vocab.bos_id:  # not a word (the caption's text skips it too)
                        continue
                    av, va = float(alphas[t][0][i]), float(alphas[t][1][i])
                    words.append({"word": self.vocab.itos[tok] if tok < len(self.vocab) else "<unk>",
                                  "alpha_av": round(av, 4), "alpha_va": round(va, 4)})
                rows.append({"id": eid, "prediction": self.vocab.decode(seq),
                             "explain": {"words": words, "audio": "real" if bool(b["has_audio"][i]) else "A_rec"}})
            return rows
        finally:
            self.train(was)

    # ------------------------------------------------------------ persistence

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """``config.json`` + ``model.safetensors`` (clusters and W_ma's sums included) + ``vocab.json``."""
        from vxt.nn.weights import save_model_dir

        out = save_model_dir(out_dir, self.config, CLASS_PATH, self.state_dict(), self.ARCH, indent=None)
        self.vocab.save(out / "vocab.json")
        return out

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "TAVT":
        from safetensors.torch import load_file

        from vxt.nn.weights import load_weights as load_weight_file, read_model_config

        cfg = read_model_config(path, cls.ARCH, "a TAVT")
        weights = Path(path) / "model.safetensors"
        state = load_file(str(weights))
        model = cls(cfg, cfg.get("vocab"), clusters=state.get("avmm.clusters"))
        load_weight_file(model, weights, state)
        model.eval()
        return model
