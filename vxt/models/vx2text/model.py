"""VX2TEXT (Lin et al., CVPR 2021): video + audio + text -> text with one T5.

Pipeline (one forward pass):

1. each continuous modality m (video, audio) goes through its classifier
   N_m; its categories become tokens (:mod:`vxt.models.vx2text.tokenization`:
   ``gumbel`` -- differentiable, the default; ``frozen``; ``feature``);
2. the encoder input is ``e_task e_sep V... e_sep A... e_sep text_1 e_sep text_2 ... </s>``
   (the task's text modalities in :mod:`vxt.tasks` order: subtitles/speech,
   dialog history, question, answer candidates). A modality an example lacks
   contributes no tokens but keeps its separator; a modality dropped with
   ``modalities`` (ablations) is left out with its separator;
3. T5's encoder fuses the sequence and T5's decoder generates the output,
   trained with teacher-forced cross-entropy over the target's tokens.

Multiple-choice QA is answered generatively: the decoder scores every
candidate (sum of token log-probs by default, see
:class:`vxt.decoding.DecodingOptions`), the best is the answer. Baselines:
``head="discriminative"`` (a linear score on the mean-pooled encoding of
input + candidate_i, cross-entropy over the candidates; no decoder),
``objective="qa+qg"`` (adds question generation; the two losses are
averaged) and ``objective="cycle"`` (cycle consistency; the QA, QG,
answer-consistency and question-consistency losses are averaged).

Presets (``vxt.registry.MODELS``): ``vx2text-tiny`` (tiny classifiers, a
2+2-layer T5 of width 128, a tokenizer trained on the data), ``vx2text-small``
(R(2+1)D-18, CNN14, t5-small) and ``vx2text-base`` (the paper's: R(2+1)D-34,
CNN14, t5-base). Build with :func:`vxt.models.build_model`, any field
overridable; reload a saved model with :meth:`VX2Text.from_pretrained`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vxt.decoding.options import DecodingOptions
from vxt.errors import DataError, VxtError
from vxt.models.vx2text import text as textlib
from vxt.models.vx2text.batching import _pad_2d, collate, encode_texts, fit_lengths
from vxt.models.vx2text.config import CLASS_PATH, CONFIG_NAME, WEIGHTS_NAME, build_classifiers
from vxt.models.vx2text.tokenization import (
    CategoryEmbedding,
    FeatureEmbedding,
    select_categories,
    straight_through_one_hot,
)
from vxt.tasks import CONTINUOUS, QG, get_task, resolve_modalities
from vxt.utils import read_json, write_json


class VX2Text(nn.Module):
    """The VX2TEXT model: modality classifiers + tokenization + T5 (see the module docstring)."""

    def __init__(self, config: dict, tokenizer, t5, classifiers: dict[str, nn.Module]):
        super().__init__()
        self.config = config
        self.task: str = config["task"]
        self.spec = get_task(self.task)
        self.metric_name = self.spec.metric
        self.modalities = resolve_modalities(self.spec, config.get("modalities"))
        self.continuous = tuple(m for m in self.modalities if m in CONTINUOUS)
        self.text_segments = tuple(m for m in self.modalities if m not in CONTINUOUS)
        self.tokenization: str = config["tokenization"]
        self.head: str = config["head"]
        self.objective: str = config["objective"]
        self.tokenizer = tokenizer
        self.t5 = t5
        self.classifiers = nn.ModuleDict({m: classifiers[m] for m in self.continuous})
        self.k = {"video": int(config["k_video"]), "audio": int(config["k_audio"])}

        tk = tokenizer
        self.pad_id = int(tk.pad_token_id)
        self.eos_id = int(tk.eos_token_id)
        self.sep_id = int(tk.convert_tokens_to_ids(textlib.SEP))
        self.task_token_ids = {k: int(tk.convert_tokens_to_ids(v)) for k, v in textlib.TASK_TOKENS.items()}
        if tk.unk_token_id is not None and (self.sep_id == tk.unk_token_id or tk.unk_token_id in self.task_token_ids.values()):
            raise VxtError("the tokenizer lacks vxt's task/separator tokens (see vxt.models.text.add_special_tokens)")

        dim = t5.config.d_model
        if self.tokenization in ("gumbel", "frozen"):
            emb = t5.get_input_embeddings()
            self.category_embeddings = nn.ModuleDict(
                {m: CategoryEmbedding(list(self.classifiers[m].labels), tk, emb) for m in self.continuous}
            )
        elif self.tokenization == "feature":
            self.feature_embeddings = nn.ModuleDict(
                {m: FeatureEmbedding(len(self.classifiers[m].labels), dim) for m in self.continuous}
            )
        if self.tokenization == "frozen":
            for clf in self.classifiers.values():
                if hasattr(clf, "freeze"):
                    clf.freeze()
                else:  # pragma: no cover - every ModalityClassifier has freeze()
                    clf.requires_grad_(False)
                    clf.eval()
        if self.head == "discriminative":
            self.score_head = nn.Linear(dim, 1)
            # no decoder: the classification head reads the encoder only
            self.t5.decoder = None

    # ------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> "VX2Text":
        super().train(mode)
        if self.tokenization == "frozen":
            for clf in self.classifiers.values():
                clf.train(False)
        return self

    @property
    def needs_qg(self) -> bool:
        return self.task == "qa" and self.objective in ("qa+qg", "cycle")

    # ------------------------------------------------------------ batching

    def _encode_texts(self, texts: list[str], max_len: int, keep: str = "start") -> list[list[int]]:
        return encode_texts(self, texts, max_len, keep)

    def collate(self, items: list[dict], train: bool, rng: random.Random | None = None) -> dict:
        """Turn ``[{"example", "media"}]`` into a batch of plain tensors (see :func:`.batching.collate`)."""
        return collate(self, items, train, rng)

    # ------------------------------------------------------------ continuous modalities -> tokens

    def _classifier_log_probs(self, m: str, batch: dict) -> tuple[Tensor, Tensor, Tensor] | None:
        """``(rows, log_p [P, N, C], clip_mask [P, N])`` for the examples that have modality ``m``."""
        clf = self.classifiers[m]
        grad = self.tokenization != "frozen" and torch.is_grad_enabled()
        with torch.set_grad_enabled(grad):
            if m == "video":
                mask = batch.get("video.mask")
                if mask is None or "video" not in batch or not bool(mask.any()):
                    return None
                rows = mask.any(dim=1).nonzero()[:, 0]
                clip_mask = mask[rows]
                x = batch["video"][rows]
                logits = clf(x[clip_mask])
                log_p = clf.log_probs(logits.float())
                full = log_p.new_full((*clip_mask.shape, log_p.shape[-1]), float("-inf"))
                full = full.masked_scatter(clip_mask[..., None].expand_as(full), log_p)
                return rows, full, clip_mask
            lens = batch.get("audio.len")
            if lens is None or "audio" not in batch or not bool((lens > 0).any()):
                return None
            rows = (lens > 0).nonzero()[:, 0]
            out = None
            for length in sorted(set(lens[rows].tolist())):
                sel = rows[lens[rows] == length]
                log_p = clf.log_probs(clf(batch["audio"][sel][..., :length, :]).float())
                if out is None:
                    out = log_p.new_zeros(len(rows), log_p.shape[-1])
                out = out.index_copy(0, torch.searchsorted(rows, sel), log_p)
            return rows, out[:, None, :], torch.ones(len(rows), 1, dtype=torch.bool, device=rows.device)

    def continuous_tokens(self, batch: dict, stochastic: bool | None = None
                          ) -> tuple[dict[str, list[Tensor]], dict[str, list[list[str]]]]:
        """Per modality, one ``[n_b, D]`` token tensor per example (``[0, D]`` when missing), and the
        names of the categories used (in sequence order)."""
        stochastic = self.training if stochastic is None else stochastic
        b_size = len(batch["task_ids"])
        emb_w = self.t5.get_input_embeddings().weight
        tokens: dict[str, list[Tensor]] = {}
        names: dict[str, list[list[str]]] = {}
        for m in self.continuous:
            labels = self.classifiers[m].labels
            toks = [emb_w.new_zeros(0, emb_w.shape[1]) for _ in range(b_size)]
            nm: list[list[str]] = [[] for _ in range(b_size)]
            res = self._classifier_log_probs(m, batch)
            if res is not None:
                rows, log_p, clip_mask = res
                noise = stochastic and self.tokenization == "gumbel"
                idx, pooled, scores = select_categories(log_p, clip_mask, self.k[m], noise=noise)  # pooled: [P, C]
                if self.tokenization == "feature":
                    out = self.feature_embeddings[m](pooled.exp())
                    per = [out[i] for i in range(out.shape[0])]
                else:
                    one_hot = None
                    if self.tokenization == "gumbel" and torch.is_grad_enabled():
                        one_hot = straight_through_one_hot(idx, scores, float(self.config["gumbel_tau"]))
                    per = self.category_embeddings[m](one_hot, idx)
                for r, t, ix in zip(rows.tolist(), per, idx.tolist()):
                    toks[r] = t
                    nm[r] = [labels[i] for i in ix]
            tokens[m] = toks
            names[m] = nm
        return tokens, names

    def category_tokens(self, batch: dict) -> list[dict[str, list[str]]]:
        """The top-K category names each classifier gives each example (evaluation mode: no noise, clips pooled)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                _, names = self.continuous_tokens(batch, stochastic=False)
        finally:
            self.train(was_training)
        return [{m: names[m][i] for m in self.continuous} for i in range(len(batch["task_ids"]))]

    # ------------------------------------------------------------ encoder input

    def segments(self, batch: dict, replace: dict[str, tuple[Tensor, Tensor]] | None = None,
                 names: tuple[str, ...] | None = None) -> list[tuple[Tensor, Tensor, bool]]:
        """``(ids, lens, keep_end)`` per text segment (``keep_end``: truncate from the front, for the history)."""
        replace = replace or {}
        out = []
        for seg in names if names is not None else self.text_segments:
            ids, lens = replace[seg] if seg in replace else (batch[f"seg.{seg}"], batch[f"seg.{seg}.len"])
            out.append((ids, lens, seg == "history"))
        return out

    def encode(self, task_ids: Tensor, cont: dict[str, list[Tensor]], segments: list[tuple[Tensor, Tensor, bool]]):
        """Assemble ``e_task e_sep V e_sep A (e_sep text)* </s>`` per example and run T5's encoder.

        An input longer than ``max_input_tokens`` is cut in its text segments,
        longest first (each keeps at least the share of the others), so no
        segment -- e.g. the answer candidates after long subtitles -- is lost.
        """
        from vxt.decoding.search import EncoderOut

        emb = self.t5.get_input_embeddings()
        w = emb.weight
        sep = w[self.sep_id][None]
        eos = w[self.eos_id][None]
        task_e = emb(task_ids)
        seg_e = [(emb(ids), lens.tolist(), keep_end) for ids, lens, keep_end in segments]
        max_len = int(self.config["max_input_tokens"])
        seqs = []
        for b in range(task_ids.shape[0]):
            parts = [task_e[b : b + 1]]
            for m in self.continuous:
                parts += [sep, cont[m][b].to(w.dtype)]
            fixed = sum(len(p) for p in parts) + len(seg_e) + 1
            caps = fit_lengths([lens[b] for _, lens, _ in seg_e], max_len - fixed)
            for (e, lens, keep_end), cap in zip(seg_e, caps):
                n = lens[b]
                parts += [sep, e[b, n - cap : n] if keep_end else e[b, :cap]]
            seq = torch.cat(parts, dim=0)[: max_len - 1]
            seqs.append(torch.cat([seq, eos], dim=0))
        lengths = torch.tensor([len(s) for s in seqs], device=w.device)
        inputs = nn.utils.rnn.pad_sequence(seqs, batch_first=True)
        mask = (torch.arange(inputs.shape[1], device=w.device)[None] < lengths[:, None]).long()
        hidden = self.t5.encoder(inputs_embeds=inputs, attention_mask=mask).last_hidden_state
        return EncoderOut(hidden, mask)

    def _lm_loss(self, enc, target: Tensor) -> Tensor:
        from transformers.modeling_outputs import BaseModelOutput

        labels = target.masked_fill(target == self.pad_id, -100)
        if not bool((labels != -100).any()):
            raise DataError("a training batch without any target text")
        out = self.t5(encoder_outputs=BaseModelOutput(last_hidden_state=enc.hidden), attention_mask=enc.mask,
                      labels=labels, use_cache=False)
        return out.loss

    def _strip(self, rows: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Token lists -> a padded segment ``(ids, lens)`` on the model's device."""
        dev = self.t5.get_input_embeddings().weight.device
        ids = _pad_2d(rows, self.pad_id).to(dev)
        return ids, torch.tensor([len(r) for r in rows], dtype=torch.long, device=dev)

    def _greedy(self, enc, max_length: int) -> list[list[int]]:
        from vxt.decoding.search import EncoderOut, GreedyDecoder

        det = EncoderOut(enc.hidden.detach(), enc.mask)
        return [h.tokens for h in GreedyDecoder(DecodingOptions(greedy=True, max_length=max_length)).decode(self.t5, det)]

    # ------------------------------------------------------------ training

    def param_groups(self, lr: float) -> list[dict]:
        """Optimizer parameter groups: the classifiers at ``lr * classifier_lr_scale``, the rest at ``lr``.

        A scale below 1 keeps pre-trained classifiers close to what they were
        trained to predict while the text model learns to read their tokens.
        """
        scale = float(self.config.get("classifier_lr_scale", 1.0))
        clf = {id(p) for p in self.classifiers.parameters()}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in clf]
        mine = [p for p in self.classifiers.parameters() if p.requires_grad]
        groups = [{"params": rest, "lr": lr}]
        if mine and scale > 0:
            groups.append({"params": mine, "lr": lr * scale})
        elif mine:  # scale 0: the classifiers keep their weights
            for p in mine:
                p.requires_grad_(False)
        return groups

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """Training loss (``{"loss": scalar, ...}``) for a batch made by :meth:`collate`."""
        cont, _ = self.continuous_tokens(batch)
        if self.head == "discriminative":
            scores = self._discriminative_scores(batch, cont)
            answer = batch["answer"]
            if not bool((answer >= 0).any()):
                raise DataError("a training batch without any known answer")
            loss = F.cross_entropy(scores, answer, ignore_index=-1)
            return {"loss": loss, "loss_qa": loss.detach()}
        if "target" not in batch:
            raise DataError("a training batch without any target text")
        enc = self.encode(batch["task_ids"], cont, self.segments(batch))
        loss_main = self._lm_loss(enc, batch["target"])
        if not self.needs_qg:
            # n_tokens lets data-parallel training weight each rank's token mean into the global one
            return {"loss": loss_main, "n_tokens": (batch["target"] != self.pad_id).sum()}
        qg_task = torch.full_like(batch["task_ids"], self.task_token_ids[QG.token_key])
        qg_names = tuple(s for s in ("subtitles",) if s in self.text_segments) + ("answer",)
        qg_enc = self.encode(qg_task, cont, self.segments(batch, names=qg_names))
        loss_qg = self._lm_loss(qg_enc, batch["qg_target"])
        if self.objective == "qa+qg":
            loss = (loss_main + loss_qg) / 2
            return {"loss": loss, "loss_qa": loss_main.detach(), "loss_qg": loss_qg.detach()}
        # cycle consistency: A' = QA(Q), Q'' = QG(A'), A'' = QA(Q'')
        max_t = int(self.config["max_target_tokens"])
        a_prime = self._greedy(enc, max_t)
        qg2_enc = self.encode(qg_task, cont, self.segments(batch, {"answer": self._strip(a_prime)}, names=qg_names))
        loss_qc = self._lm_loss(qg2_enc, batch["qg_target"])  # Q'' toward the question
        q_second = self._greedy(qg2_enc, max_t)
        qa2_enc = self.encode(batch["task_ids"], cont, self.segments(batch, {"question": self._strip(q_second)}))
        loss_ac = self._lm_loss(qa2_enc, batch["target"])  # A'' toward the answer
        loss = (loss_main + loss_qg + loss_ac + loss_qc) / 4
        return {"loss": loss, "loss_qa": loss_main.detach(), "loss_qg": loss_qg.detach(),
                "loss_answer_consistency": loss_ac.detach(), "loss_question_consistency": loss_qc.detach()}

    def _discriminative_scores(self, batch: dict, cont: dict[str, list[Tensor]]) -> Tensor:
        """Scores ``[B, C]``: encode (input + candidate_i), mean-pool, linear; padded candidates get -inf."""
        cand = batch["cand"]
        b_size, n_c, _ = cand.shape
        cand_ids = cand.masked_fill(cand == self.eos_id, self.pad_id)
        cand_len = (cand_ids != self.pad_id).sum(-1)  # [B, C]
        rep = torch.arange(b_size, device=cand.device).repeat_interleave(n_c)
        names = tuple(s for s in self.text_segments if s != "candidates")
        segs = [(ids[rep], lens[rep], ke) for ids, lens, ke in self.segments(batch, names=names)]
        segs.append((cand_ids.reshape(b_size * n_c, -1), cand_len.reshape(-1), False))
        cont_rep = {m: [cont[m][i] for i in rep.tolist()] for m in cont}
        enc = self.encode(batch["task_ids"][rep], cont_rep, segs)
        m = enc.mask[..., None].to(enc.hidden.dtype)
        pooled = (enc.hidden * m).sum(1) / m.sum(1).clamp(min=1)
        scores = self.score_head(pooled).view(b_size, n_c).float()
        return scores.masked_fill(cand_len == 0, float("-inf"))

    # ------------------------------------------------------------ inference

    def _decode_ids(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    @torch.no_grad()
    def predict(self, batch: dict, options: DecodingOptions | None = None) -> list[dict]:
        """One dict per example: ``id``, ``prediction`` (text), ``choice`` (qa), ``explain``."""
        from vxt.decoding.scoring import score_candidates
        from vxt.decoding.search import decode

        options = options or DecodingOptions()
        was_training = self.training
        self.eval()
        try:
            cont, names = self.continuous_tokens(batch, stochastic=False)
            b_size = len(batch["ids"])
            choices: list[int] | None = None
            if self.head == "discriminative":
                choices = self._discriminative_scores(batch, cont).argmax(-1).tolist()
            else:
                enc = self.encode(batch["task_ids"], cont, self.segments(batch))
                if self.spec.multiple_choice:
                    scores = score_candidates(self.t5, enc, batch["cand"], norm=options.candidate_norm)
                    choices = scores.argmax(-1).tolist()
                else:
                    hyps = decode(self.t5, enc, options)
                    texts = [self._decode_ids(h.tokens) for h in hyps]
            out = []
            for i in range(b_size):
                row: dict[str, Any] = {"id": batch["ids"][i]}
                if choices is not None:
                    c = int(choices[i])
                    row["choice"] = c
                    row["prediction"] = self._decode_ids([t for t in batch["cand"][i, c].tolist() if t != self.pad_id])
                else:
                    row["prediction"] = texts[i]
                text = {}
                for seg in self.text_segments:
                    n = int(batch[f"seg.{seg}.len"][i])
                    ids = batch[f"seg.{seg}"][i, :n].tolist()
                    if seg == "candidates":  # one text per candidate, as given
                        parts, cur = [], []
                        for t in ids + [self.sep_id]:
                            if t == self.sep_id:
                                parts.append(self._decode_ids(cur))
                                cur = []
                            else:
                                cur.append(t)
                        text[seg] = " | ".join(parts)
                    else:
                        text[seg] = self._decode_ids(ids)
                row["explain"] = {**{m: names[m][i] for m in self.continuous}, "text": text}
                out.append(row)
            return out
        finally:
            self.train(was_training)

    # ------------------------------------------------------------ save / load

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``directory``."""
        from safetensors.torch import _remove_duplicate_names, save

        from vxt.files import canonical_safetensors
        from vxt.utils import atomic_write_bytes

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        # what safetensors' save_model does (one name per shared tensor, the others named in the metadata),
        # written atomically with the usual file mode and a canonical header: equal weights, equal bytes
        state = self.state_dict()
        metadata = {"format": "pt", "vxt": "vx2text"}
        for kept, removed in _remove_duplicate_names(state).items():
            for name in removed:
                metadata.setdefault(name, kept)
                del state[name]
        state = {k: state[k].detach().contiguous().cpu() for k in sorted(state)}
        atomic_write_bytes(d / WEIGHTS_NAME, canonical_safetensors(save(state, metadata=metadata)))
        textlib.save_tokenizer(self.tokenizer, d)
        write_json(d / CONFIG_NAME, {**self.config, "class": CLASS_PATH})
        return d

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "VX2Text":
        """Rebuild a model saved by :meth:`save_pretrained` (no pretrained backbone or weights are read)."""
        from safetensors.torch import load_model

        d = Path(directory)
        cfg_path = d / CONFIG_NAME
        if not cfg_path.is_file() or not (d / WEIGHTS_NAME).is_file():
            raise VxtError(f"not a VX2TEXT checkpoint: needs {CONFIG_NAME} and {WEIGHTS_NAME}", path=str(d))
        config = read_json(cfg_path)
        if config.get("arch") != "vx2text" or "t5_config" not in config:
            raise VxtError("not a VX2TEXT checkpoint (config.json has no arch 'vx2text' / t5_config)", path=str(cfg_path))
        tokenizer = textlib.load_tokenizer(d)
        t5 = textlib.t5_from_config_dict(config["t5_config"])
        classifiers = build_classifiers(config, weights=False)
        model = cls(config, tokenizer, t5, classifiers)
        from vxt.files import check_weight_shapes, safetensors_shapes

        try:
            shapes = safetensors_shapes(d / WEIGHTS_NAME)
        except Exception as e:  # noqa: BLE001 - safetensors raises several types
            raise VxtError(f"cannot read the weights: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}",
                           path=str(d / WEIGHTS_NAME)) from None
        check_weight_shapes({k: v.shape for k, v in model.state_dict().items()}, shapes, d / WEIGHTS_NAME)
        try:
            missing, unexpected = load_model(model, str(d / WEIGHTS_NAME), strict=False)
        except Exception as e:  # noqa: BLE001 - safetensors raises several types
            raise VxtError(f"cannot read the weights: {e}", path=str(d / WEIGHTS_NAME)) from None
        if missing or unexpected:
            raise VxtError(
                f"the weights do not fit the config: {len(missing)} missing ({', '.join(sorted(missing)[:4])}), "
                f"{len(unexpected)} unexpected ({', '.join(sorted(unexpected)[:4])})",
                path=str(d / WEIGHTS_NAME),
            )
        model.eval()
        return model
