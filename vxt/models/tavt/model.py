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

The paper's architecture ablations are switches of the config (documented in
:mod:`vxt.models.tavt.options`): ``use_avmm=false`` (no prefix tokens, no
reconstruction: ``A_rec`` is None and an audio-absent example's audio is
masked out), ``use_audio=false`` (a video-only captioner: no audio stream, no
AVMM, no ``x_va``), ``use_real_audio=false`` (the encoder is always fed
``A_rec``). A loss a variant does not have is not logged.
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
from vxt.models.tavt.options import ablation_switches
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
        cfg.update(ablation_switches(cfg))  # the effective switches (use_audio=false: no AVMM, no W_ma)
        self.config = cfg
        self.use_audio, self.use_avmm = bool(cfg["use_audio"]), bool(cfg["use_avmm"])
        self.use_real_audio = bool(cfg["use_real_audio"])
        d, h, ff, drop = int(cfg["d_model"]), int(cfg["heads"]), int(cfg["d_ff"]), float(cfg["dropout"])
        dv, da, k = int(cfg["d_video"]), int(cfg["d_audio"]), int(cfg["n_clusters"])
        if self.use_avmm:
            if clusters is None:
                clusters = torch.zeros(k, da)
            if tuple(clusters.shape) != (k, da):
                raise VxtError(f"the clusters have shape {list(clusters.shape)}, the config asks for [{k}, {da}]")
        # (the modules are built in the same order whatever the switches: a seeded TAVT keeps its initial weights)
        self.video_in = nn.Linear(dv, d)
        self.audio_in = nn.Linear(da, d) if self.use_audio else None
        self.segment = nn.Embedding(2, d)  # 0: a prefix token p_i, 1: a frame v_j
        self.avmm = AVMM(dv, d, h, ff, int(cfg["avmm_layers"]), drop, clusters) if self.use_avmm else None
        self.encoder = AVEncoder(d, h, ff, int(cfg["enc_layers"]), int(cfg["cross_layers"]), drop, self.use_audio)
        self.decoder = GatedDecoder(len(self.vocab), d, h, ff, int(cfg["dec_layers"]), drop, self.use_audio)
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
        """Freeze the AVMM (a target domain without audio: nothing to learn the reconstruction from); a model
        without one (``use_avmm=false``) records false."""
        self.config["freeze_avmm"] = bool(frozen) and self.avmm is not None
        if self.avmm is not None:
            self.avmm.requires_grad_(not frozen)

    def train(self, mode: bool = True) -> "TAVT":
        super().train(mode)
        if self.config.get("freeze_avmm") and self.avmm is not None:
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

    def prefix(self, batch: dict) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(prefix tokens p [B, L, d], cluster weights w [B, L, K], A_rec [B, L, Da]); all None without an AVMM."""
        if self.avmm is None:
            return None, None, None
        p = self.avmm.prefix(batch["clips"], batch["unit_mask"])
        w = self.avmm.weights(p)
        return p, w, self.avmm.reconstruct(w)

    def audio_input(self, batch: dict, a_rec: torch.Tensor | None) -> torch.Tensor | None:
        """The audio units the encoder sees: the real ones, ``A_rec`` for an example without audio;
        ``use_real_audio=false``: ``A_rec`` for every example; no AVMM: the real ones (an absent example's
        are zeros, which :meth:`audio_mask` hides); no audio: None."""
        if not self.use_audio:
            return None
        if a_rec is None:
            return batch["audio"].to(self.video_in.weight.dtype)
        if not self.use_real_audio:
            return a_rec
        has = batch["has_audio"].view(-1, 1, 1)
        return torch.where(has, batch["audio"].to(a_rec.dtype), a_rec)

    def audio_mask(self, batch: dict) -> torch.Tensor:
        """The audio units the encoder and the decoder attend to: every clip's, but without an AVMM (nothing
        stands in for a missing sound) only those of the examples that have audio."""
        if self.avmm is None:
            return batch["unit_mask"] & batch["has_audio"].view(-1, 1)
        return batch["unit_mask"]

    def encode(self, batch: dict, p: torch.Tensor | None, audio: torch.Tensor | None) -> dict:
        """The memories ``x_av`` (over V' = [p; v], or the frames alone without an AVMM) and ``x_va`` (over the
        audio units; None without audio), with their masks."""
        v = self.video_in(batch["frames"])
        d = v.shape[-1]
        n_units = batch["unit_mask"].shape[1]
        pos = sinusoidal_positions(max(n_units, v.shape[1]), d, v.device, v.dtype)
        seg = self.segment.weight
        if p is None:
            vp, vp_mask = v + pos[: v.shape[1]] + seg[1], batch["frame_mask"]
        else:
            vp = torch.cat([p + pos[: p.shape[1]] + seg[0], v + pos[: v.shape[1]] + seg[1]], dim=1)
            vp_mask = torch.cat([batch["unit_mask"], batch["frame_mask"]], dim=1)
        if audio is None:
            x_av, _ = self.encoder(vp, vp_mask)
            return {"x_av": x_av, "mask_av": vp_mask, "x_va": None, "mask_va": None}
        a = self.audio_in(audio) + pos[: audio.shape[1]]
        a_mask = self.audio_mask(batch)
        x_av, x_va = self.encoder(vp, vp_mask, a, a_mask)
        return {"x_av": x_av, "mask_av": vp_mask, "x_va": x_va, "mask_va": a_mask}

    def decode(self, memory: dict, ys: torch.Tensor, ys_mask: torch.Tensor | None = None):
        """(logits [B, t, V], alpha_av [B, t], alpha_va [B, t] (None without audio)) for the prefixes ``ys``."""
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
        logits, av, va = self.decode(self.encode(batch, p, self.audio_input(batch, a_rec)), inp, inp_mask)
        psi = None if va is None else L.dependence_scores(av.float(), va.float())
        if cfg.get("use_wma", True):
            weights = L.token_weights(self.wma_sum, self.wma_count, tgt, tok_mask, bool(cfg.get("wma_normalize", True)))
        else:
            weights = tok_mask.float()
        loss_cap = L.weighted_caption_loss(logits, tgt, weights, tok_mask)
        if a_rec is None:  # no AVMM (use_avmm=false, use_audio=false): no L_rec, L_dis, L_dep
            if self.training and psi is not None:
                self._update_wma(tgt, psi, tok_mask)
            return {"loss": loss_cap, "log_loss_cap": loss_cap.detach()}
        audio = batch["audio"].to(a_rec.dtype)
        real = batch["unit_mask"] & batch["has_audio"].view(-1, 1)  # units with real audio
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

            # use_real_audio=false: psi is already the score with A_rec (the anchor is the positive)
            psi_pos = psi_with(a_rec) if self.use_real_audio else psi
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
        """Captions by beam search (``--beam``, length penalty ``--length-penalty``; greedy at beam 1 or
        ``--greedy``); ``explain``: alpha_av / alpha_va at the step that generated each word, read by running the
        decoder over the chosen caption (its prefixes are the ones search scored)."""
        from vxt.decoding.beam import beam_search
        from vxt.decoding.greedy import greedy_decode

        was = self.training
        self.eval()
        try:
            dev = self._device()
            b = {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            p, _, a_rec = self.prefix(b)
            memory = self.encode(b, p, self.audio_input(b, a_rec))
            B, max_len = b["frames"].shape[0], int(self.config["max_len"])
            bos, eos, pad = self.vocab.bos_id, self.vocab.eos_id, self.vocab.pad_id

            def step(ys, rows):  # the hypotheses' log-probs, each against its own example's memory
                mem = {k: None if v is None else v[rows] for k, v in memory.items()}
                return torch.log_softmax(self.decode(mem, ys)[0][:, -1].float(), dim=-1)

            if options is None or options.use_greedy:
                every = torch.arange(B, device=dev)
                out_t = greedy_decode(lambda ys: step(ys, every), B, max_len, bos, eos, pad, dev)
            else:
                out_t, _ = beam_search(step, B, int(options.beam_size), max_len, bos, eos, pad, dev,
                                       length_penalty=float(options.length_penalty))
            out = out_t.cpu().tolist()
            # the gates at each generated word: the decoder over <s> + the caption, teacher-forced
            ys = torch.cat([torch.full((B, 1), bos, dtype=torch.long, device=dev), out_t.to(dev)], dim=1)[:, :-1]
            _, av_all, va_all = self.decode(memory, ys, ys != pad)
            av_all = av_all.float().cpu()
            va_all = torch.zeros_like(av_all) if va_all is None else va_all.float().cpu()
            rows = []
            for i, (eid, seq) in enumerate(zip(b["ids"], out)):
                words = []
                for t, tok in enumerate(seq):
                    if tok in (eos, pad):
                        break
                    if tok == bos:  # not a word (the caption's text skips it too)
                        continue
                    av, va = float(av_all[i, t]), float(va_all[i, t])
                    words.append({"word": self.vocab.itos[tok] if tok < len(self.vocab) else "<unk>",
                                  "alpha_av": round(av, 4), "alpha_va": round(va, 4)})
                rows.append({"id": eid, "prediction": self.vocab.decode(seq),
                             "explain": {"words": words, "audio": self._audio_label(bool(b["has_audio"][i]))}})
            return rows
        finally:
            self.train(was)

    def _audio_label(self, has_audio: bool) -> str:
        """What the encoder was fed for an example's audio (``--explain``)."""
        if not self.use_audio:
            return "none"
        if self.avmm is None:
            return "real" if has_audio else "masked"
        return "real" if has_audio and self.use_real_audio else "A_rec"

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
