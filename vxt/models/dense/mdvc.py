"""MDVC: Multi-modal Dense Video Captioning (Iashin and Rahtu, CVPR-W 2020).

One encoder-decoder transformer per modality (video features, audio features,
speech = ASR word ids with a trainable embedding), each with pre-LayerNorm
residuals, sinusoidal positions and its own width (the feature's width in the
paper: 1024 / 128 / 512), each decoding the caption with its own caption
embedding. Late fusion: the generator concatenates the modalities' last
decoder outputs and applies FC-ReLU-(dropout)-FC-log-softmax (the hidden
width is the vocabulary size in the public code). KL loss with label smoothing,
greedy decoding; event proposals come from outside (e.g. :mod:`vxt.models.dense.proposals`).

A modality missing for an example (absent from the batch, or an all-False
mask) contributes zeros to the generator's input for that example: its
decoder output is zeroed, so nothing depends on the values of the masked tensor.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.models.dense.captioner import DenseCaptioner, get_stream
from vxt.nn.attention import DecoderLayer, EncoderLayer
from vxt.nn.embed import WordEmbedder, feature_embedder
from vxt.nn.positions import PositionalEncoding
from vxt.nn.vocab import as_vocab

MODALITIES = ("video", "audio", "speech")

MDVC_DEFAULTS = {
    "modalities": ["video", "audio", "speech"],
    "d_video": 1024,            # I3D
    "d_audio": 128,             # VGGish
    "d_model_video": None,      # None: = d_video (no projection, as in the paper)
    "d_model_audio": None,      # None: = d_audio
    "d_model_speech": 512,      # speech word embedding width
    "d_ff_video": 2048,
    "d_ff_audio": 2048,
    "d_ff_speech": 2048,
    "n_layers": 1,              # N of the public code's defaults
    "heads": 4,
    "dropout": 0.1,
    "smoothing": 0.7,
    "max_len": 50,
    "lr": 1e-5,                 # public code: Adam(0.9, 0.98), constant 1e-5
    "generator_hidden": None,   # None: = vocabulary size (the public code's FC(V) -> FC(V))
    "speech_vocab": None,       # word list of the ASR vocabulary; None: the caption vocabulary
}

MDVC_PRESETS = {
    "mdvc": dict(MDVC_DEFAULTS),
    "mdvc-tiny": {**MDVC_DEFAULTS, "d_model_video": 32, "d_model_audio": 16, "d_model_speech": 24,
                  "d_ff_video": 64, "d_ff_audio": 32, "d_ff_speech": 48, "n_layers": 1, "heads": 2,
                  "max_len": 30, "lr": 1e-3, "generator_hidden": 64},
}


class _Branch(nn.Module):
    """One modality's encoder-decoder transformer."""

    def __init__(self, d_model: int, heads: int, d_ff: int, n_layers: int, dropout: float, vocab_size: int):
        super().__init__()
        if d_model % heads:
            raise VxtError(f"MDVC: a width of {d_model} is not divisible by {heads} heads")
        self.pos = PositionalEncoding(d_model, dropout)
        self.caption_emb = WordEmbedder(vocab_size, d_model)
        self.encoder = nn.ModuleList([EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(n_layers)])
        self.decoder = nn.ModuleList([DecoderLayer(d_model, heads, d_ff, dropout) for _ in range(n_layers)])
        self.enc_norm = nn.LayerNorm(d_model)
        self.dec_norm = nn.LayerNorm(d_model)

    def encode(self, x, mask):
        x = self.pos(x)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x)

    def decode(self, memory, memory_mask, ys, ys_mask):
        x = self.pos(self.caption_emb(ys))
        for layer in self.decoder:
            x = layer(x, memory, memory_mask, ys_mask)
        return self.dec_norm(x)


class MDVC(DenseCaptioner):
    """Multi-modal dense video captioner with late fusion (see the module docstring)."""

    ARCH = "mdvc"
    DEFAULTS = MDVC_DEFAULTS

    def _build(self) -> None:
        c = self._config
        mods = [m for m in c["modalities"]]
        bad = [m for m in mods if m not in MODALITIES] or ([] if mods else ["(none)"])
        if bad:
            raise VxtError(f"MDVC modalities must be among {', '.join(MODALITIES)}, got {', '.join(bad)}")
        self.modalities = mods
        p, H, N = float(c["dropout"]), int(c["heads"]), int(c["n_layers"])
        V = len(self.vocab)
        self.speech_vocab = as_vocab(c.get("speech_vocab")) or self.vocab
        c["speech_vocab"] = self.speech_vocab.itos
        widths = {}
        self.embedders = nn.ModuleDict()
        self.branches = nn.ModuleDict()
        for m in mods:
            if m == "speech":
                widths[m] = int(c["d_model_speech"])
                self.embedders[m] = WordEmbedder(len(self.speech_vocab), widths[m])
            else:
                widths[m] = int(self._resolved(f"d_model_{m}", c[f"d_{m}"]))
                self.embedders[m] = feature_embedder(int(c[f"d_{m}"]), widths[m])
            self.branches[m] = _Branch(widths[m], H, int(c[f"d_ff_{m}"]), N, p, V)
        hidden = int(self._resolved("generator_hidden", V))
        self.widths = widths
        self.generator = nn.Sequential(nn.Linear(sum(widths.values()), hidden), nn.ReLU(), nn.Dropout(p),
                                       nn.Linear(hidden, V))

    def _inputs(self, batch: dict):
        like = next(batch[k] for k in ("video", "audio", "speech", "caption_ids") if batch.get(k) is not None)
        out = {}
        for m in self.modalities:
            if m == "speech":
                ids = batch.get("speech")
                if ids is None:
                    ids = torch.zeros(like.shape[0], 1, dtype=torch.long, device=like.device)
                    mask = torch.zeros(like.shape[0], 1, dtype=torch.bool, device=like.device)
                else:
                    mask = batch.get("speech_mask")
                    mask = (ids != self.speech_vocab.pad_id) if mask is None else mask.bool()
                    ids = ids.masked_fill(~mask, self.speech_vocab.pad_id)
                out[m] = (self.embedders[m](ids), mask)
            else:
                x, mask = get_stream(batch, m, int(self._config[f"d_{m}"]),
                                     like if like.is_floating_point() else like.float())
                out[m] = (self.embedders[m](x), mask)
        return out

    def encode_streams(self, batch: dict) -> tuple[dict, dict]:
        """Each modality's encoder output and mask (e.g. for a proposal generator)."""
        streams, masks = {}, {}
        for m, (x, mask) in self._inputs(batch).items():
            streams[m] = self.branches[m].encode(x, mask)
            masks[m] = mask
        return streams, masks

    def encode(self, batch: dict) -> dict:
        streams, masks = self.encode_streams(batch)
        return {"streams": streams, "masks": masks}

    def decode(self, memory: dict, ys: torch.Tensor, ys_mask: torch.Tensor | None = None) -> torch.Tensor:
        if ys_mask is None:
            ys_mask = torch.ones_like(ys, dtype=torch.bool)
        outs = []
        for m in self.modalities:
            mem, mask = memory["streams"][m], memory["masks"][m]
            y = self.branches[m].decode(mem, mask, ys, ys_mask)
            present = mask.any(dim=1).to(y.dtype)[:, None, None]   # a missing modality contributes zeros
            outs.append(y * present)
        return torch.log_softmax(self.generator(torch.cat(outs, dim=-1)).float(), dim=-1)

