"""The base of the dense-video captioners BMT and MDVC (Iashin and Rahtu, 2020).

:class:`DenseCaptioner` holds the model API the training loop uses
(``model(batch) -> {"loss"}``, ``generate``, ``save_pretrained``,
``from_pretrained``, ``config``); :mod:`vxt.models.dense.presets` builds, reloads and registers them. The
building blocks (word vocabulary, attention, positions, embedders, the
label-smoothed loss) live in :mod:`vxt.nn`, batched greedy decoding in
:mod:`vxt.decoding.search`.

Batches (all tensors, masks are bool with True = a real step)::

    {"video": [B, Tv, Dv], "video_mask": [B, Tv],
     "audio": [B, Ta, Da], "audio_mask": [B, Ta],          # optional: absent = missing
     "speech": [B, Ts] word ids, "speech_mask": [B, Ts],   # MDVC only, optional
     "caption_ids": [B, L], "caption_mask": [B, L]}        # <s> w1 .. wn </s> <pad>..

Masked feature steps are zeroed before use, so the values put there (padding,
garbage, random fill) never change an output.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vxt.decoding.greedy import greedy_decode
from vxt.errors import VxtError
from vxt.nn.attention import xavier_init
from vxt.nn.losses import label_smoothing_kl
from vxt.nn.vocab import WordVocab, as_vocab

# ------------------------------------------------------------------ the model base


def _absent_stream(dim: int, like: torch.Tensor):
    """A one-step, fully masked stream for a modality the batch does not carry."""
    B = like.shape[0]
    return (torch.zeros(B, 1, dim, device=like.device, dtype=like.dtype),
            torch.zeros(B, 1, dtype=torch.bool, device=like.device))


def get_stream(batch: dict, name: str, dim: int, like: torch.Tensor):
    """(features [B, T, D] with masked steps zeroed, mask [B, T]); absent -> fully masked."""
    x = batch.get(name)
    if x is None:
        return _absent_stream(dim, like)
    mask = batch.get(f"{name}_mask")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    mask = mask.bool()
    if x.shape[-1] != dim:
        raise VxtError(f"the {name} features have {x.shape[-1]} dims but the model expects {dim} "
                       f"(set d_{name} in the model config)")
    x = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
    return x, mask


def _first_tensor(batch: dict) -> torch.Tensor:
    for k in ("video", "audio", "caption_ids", "speech"):
        if isinstance(batch.get(k), torch.Tensor):
            return batch[k]
    raise VxtError("the batch holds no video, audio or caption tensor")


class DenseCaptioner(nn.Module):
    """Base of BMT and MDVC: config handling, loss, greedy generation and (de)serialisation.

    Subclasses define ``ARCH``, ``DEFAULTS`` (every config key), ``_build()``,
    ``encode(batch) -> memory`` and ``decode(memory, ys) -> log-probs [B, t, V]``.
    """

    ARCH = ""
    DEFAULTS: dict = {}
    META_KEYS = ("name", "arch", "vocab", "class", "task")

    def __init__(self, config: dict, vocab: Any = None, _loading: bool = False):
        super().__init__()
        cfg = copy.deepcopy(dict(config))
        if not _loading:
            unknown = sorted(set(cfg) - set(self.DEFAULTS) - set(self.META_KEYS))
            if unknown:
                raise VxtError(f"unknown {self.ARCH} config keys: {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(self.DEFAULTS))})")
            from vxt.registry import bounds_like, check_values

            check_values(cfg, bounds_like(self.DEFAULTS, fractions=("dropout", "smoothing")))
        full = copy.deepcopy(self.DEFAULTS)
        full.update({k: v for k, v in cfg.items() if k in self.DEFAULTS or k == "name"})
        full["arch"] = self.ARCH
        full.setdefault("name", self.ARCH)
        vocab = as_vocab(vocab) or as_vocab(cfg.get("vocab"))
        if vocab is None:
            raise VxtError(f"{full['name']} needs a caption vocabulary (build one with "
                           "vxt.nn.vocab.build_vocab(training captions))")
        self.vocab = vocab
        full["vocab"] = vocab.itos
        self._config = full
        self._build()
        xavier_init(self)
        self._post_init(_loading)

    # -- to be provided by subclasses
    def _build(self) -> None:
        raise NotImplementedError

    def _post_init(self, loading: bool) -> None:
        pass

    def encode(self, batch: dict) -> dict:
        raise NotImplementedError

    def decode(self, memory: dict, ys: torch.Tensor, ys_mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    # -- config
    @property
    def config(self) -> dict:
        """JSON-serialisable: everything needed to rebuild the model (vocabulary included)."""
        return copy.deepcopy(self._config)

    def _resolved(self, key: str, default):
        v = self._config.get(key)
        if v is None:
            v = default
            self._config[key] = v
        return v

    # -- training
    def forward(self, batch: dict) -> dict:
        """Teacher-forced loss on ground-truth segments: {"loss": per-token KL, "n_tokens"}."""
        ids = batch["caption_ids"]
        mask = batch.get("caption_mask")
        if mask is None:
            mask = ids != self.vocab.pad_id
        mask = mask.bool()
        inp, inp_mask = ids[:, :-1], mask[:, :-1]
        tgt = ids[:, 1:].masked_fill(~mask[:, 1:], self.vocab.pad_id)
        memory = self.encode(batch)
        log_probs = self.decode(memory, inp, inp_mask)
        total, n = label_smoothing_kl(log_probs, tgt, self.vocab.pad_id, float(self._config["smoothing"]))
        return {"loss": total / n.clamp(min=1), "n_tokens": n}

    # -- inference
    @torch.no_grad()
    def generate(self, batch: dict, max_len: int | None = None) -> torch.Tensor:
        """Greedy captions for every row of ``batch`` at once: LongTensor [B, L] (see greedy_decode).

        Call ``model.eval()`` first (dropout stays as the caller set it)."""
        memory = self.encode(batch)
        B = _first_tensor(batch).shape[0]
        device = _first_tensor(batch).device
        max_len = int(max_len or self._config["max_len"])
        return greedy_decode(lambda ys: self.decode(memory, ys)[:, -1], B, max_len,
                             self.vocab.bos_id, self.vocab.eos_id, self.vocab.pad_id, device)

    def decode_text(self, ids: torch.Tensor) -> list[str]:
        """Sentences of generated ids [B, L]."""
        return [self.vocab.decode(row) for row in ids.tolist()]

    # -- persistence (config.json + model.safetensors + vocab.json; no pickles)
    def save_pretrained(self, out_dir: str | Path) -> None:
        from safetensors.torch import save

        from vxt.files import canonical_safetensors
        from vxt.utils import atomic_write_bytes, write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        cfg = self.config
        cfg["class"] = f"{type(self).__module__}:{type(self).__qualname__}"
        write_json(out / "config.json", cfg, indent=None)
        self.vocab.save(out / "vocab.json")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        atomic_write_bytes(out / "model.safetensors",
                           canonical_safetensors(save(state, metadata={"format": "pt", "arch": self.ARCH})))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "DenseCaptioner":
        from vxt.nn.weights import load_weights
        from vxt.utils import read_json

        p = Path(path)
        cfg = read_json(p / "config.json")
        if cfg.get("arch") != cls.ARCH:
            raise VxtError(f"not a {cls.ARCH} checkpoint (arch {cfg.get('arch')!r})", path=str(p))
        vocab = cfg.get("vocab")
        if vocab is None and (p / "vocab.json").exists():
            vocab = WordVocab.load(p / "vocab.json")
        model = cls(cfg, vocab, _loading=True)
        load_weights(model, p / "model.safetensors")
        return model

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
