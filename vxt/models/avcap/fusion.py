"""The cross-modal encoder: five ways of fusing the modalities' tokens (``--set fusion=...``), and V+A+T's mix.

Inputs are per-modality token streams ``{m: (x [B, N_m, D], mask [B, N_m])}``
(video, audio, subtitles: any two or three; with one modality every variant
is a plain transformer over it). Each token gets a learned position (its index
inside its modality) and its modality's token-type embedding. Then
``fusion_layers`` layers of one of:

- ``merged``: one transformer over the concatenation of every token;
- ``cross``: a transformer per modality whose queries are its tokens and whose
  keys/values are the other modalities' tokens (pre-LN cross-attention, then a
  feed-forward), every stream updated from the previous layer's streams;
- ``global``: a learnable global token per modality (Gaussian, std 0.02, as
  BERT's CLS) in front of its tokens; a modality's tokens (its global token
  included) attend to their own modality and to the *other* modalities' global
  tokens only, so information crosses modalities only through the global tokens;
- ``local_global_merged`` / ``local_global_cross``: at every layer the average
  of a global-fusion layer and a local-fusion (merged / cross) layer, each
  with its own weights, applied to the same input (eq. 12). The global tokens
  follow the global branch.

The output (the decoder's memory) is every modality's global token (where
there is one) and its tokens, in modality order, after a final LayerNorm.

``mixed`` (the paper's V+A+T: "global cross fusion between video and audio,
merged fusion between video and text"; video, audio and subtitles only) is
two of these encoders side by side, each with its own weights and embeddings:
one over video and audio (variant ``mixed_va``, ``local_global_cross`` by
default) and one over video and subtitles (``mixed_vt``, ``merged`` by
default), both reading the same video tokens. The memory is the concatenation
of the two outputs' token sets (and masks), ``[g_v, video, g_a, audio | video,
subtitles]`` with the defaults: the video is there twice, once fused with the
audio and once with the text. Audio and text never meet inside the encoder
(no audio token attends to a text token, directly or through the video
tokens, nor the reverse); the caption decoder attends to both.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.nn.attention import Attention, EncoderLayer, FeedForward

#: the variants of one cross-modal encoder (``mixed`` combines two of them)
VARIANTS = ("merged", "cross", "global", "local_global_merged", "local_global_cross")

#: fixed token-type ids, so that a checkpoint's embeddings keep their meaning whatever the modalities
TYPE_IDS = {"video": 0, "audio": 1, "subtitles": 2}

Streams = dict[str, tuple[torch.Tensor, torch.Tensor]]


class _AttendBlock(nn.Module):
    """Pre-LN: ``x + Att(LN(x), LN(kv))``, then ``+ FF(LN(x))``."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln_q, self.ln_kv, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = Attention(d, d, d, heads, dropout)
        self.ff = FeedForward(d, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, kv, kv_mask):
        x = x + self.drop(self.att(self.ln_q(x), self.ln_kv(kv), kv_mask))
        return x + self.drop(self.ff(self.ln2(x)))


class MergedLayer(nn.Module):
    """One self-attention layer over every modality's tokens at once."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.layer = EncoderLayer(d, heads, d_ff, dropout)

    def forward(self, xs: dict, masks: dict) -> dict:
        names = list(xs)
        out = self.layer(torch.cat([xs[m] for m in names], 1), torch.cat([masks[m] for m in names], 1))
        return dict(zip(names, out.split([xs[m].shape[1] for m in names], dim=1)))


class CrossLayer(nn.Module):
    """Per modality (own weights): its tokens attend to the other modalities' tokens (to itself when alone)."""

    def __init__(self, modalities, d: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleDict({m: _AttendBlock(d, heads, d_ff, dropout) for m in modalities})

    def forward(self, xs: dict, masks: dict) -> dict:
        out = {}
        for m in xs:
            others = [o for o in xs if o != m] or [m]
            kv = torch.cat([xs[o] for o in others], 1)
            kv_mask = torch.cat([masks[o] for o in others], 1)
            out[m] = self.blocks[m](xs[m], kv, kv_mask)
        return out


class GlobalLayer(nn.Module):
    """One transformer layer (shared weights) over ``[g_m; tokens_m]`` for every m, where modality m's
    queries see the keys of their own modality and the other modalities' global tokens, nothing else."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = Attention(d, d, d, heads, dropout)
        self.ff = FeedForward(d, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, gs: dict, xs: dict, masks: dict) -> tuple[dict, dict]:
        seqs = {m: torch.cat([gs[m], xs[m]], 1) for m in xs}
        normed = {m: self.ln1(s) for m, s in seqs.items()}
        new_g, new_x = {}, {}
        for m, s in seqs.items():
            B = s.shape[0]
            one = torch.ones(B, 1, dtype=torch.bool, device=s.device)
            others = [o for o in xs if o != m]
            kv = torch.cat([normed[m], *[normed[o][:, :1] for o in others]], 1)
            kv_mask = torch.cat([one, masks[m].bool(), *[one for _ in others]], 1)
            h = s + self.drop(self.att(normed[m], kv, kv_mask))
            h = h + self.drop(self.ff(self.ln2(h)))
            new_g[m], new_x[m] = h[:, :1], h[:, 1:]
        return new_g, new_x


class CrossModalEncoder(nn.Module):
    """Position and token-type embeddings, then ``layers`` fusion layers of the chosen variant."""

    def __init__(self, variant: str, modalities, d: int, heads: int, d_ff: int, layers: int, dropout: float,
                 max_positions: int):
        super().__init__()
        if variant not in VARIANTS:
            raise VxtError(f"unknown fusion variant {variant!r} (one of {', '.join(VARIANTS)})")
        self.variant = variant
        self.modalities = list(modalities)
        self.max_positions = int(max_positions)
        self.pos_emb = nn.Embedding(self.max_positions, d)
        self.type_emb = nn.Embedding(len(TYPE_IDS), d)
        self.ln_in = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        local = {"merged": "merged", "cross": "cross", "local_global_merged": "merged",
                 "local_global_cross": "cross"}.get(variant)
        self.has_global = variant in ("global", "local_global_merged", "local_global_cross")
        if local == "merged":
            self.local = nn.ModuleList(MergedLayer(d, heads, d_ff, dropout) for _ in range(layers))
        elif local == "cross":
            self.local = nn.ModuleList(CrossLayer(self.modalities, d, heads, d_ff, dropout) for _ in range(layers))
        else:
            self.local = None
        if self.has_global:
            self.glob = nn.ModuleList(GlobalLayer(d, heads, d_ff, dropout) for _ in range(layers))
            self.global_tokens = nn.ParameterDict({m: nn.Parameter(torch.randn(1, 1, d) * 0.02)
                                                   for m in self.modalities})
        else:
            self.glob = None
        self.norm = nn.LayerNorm(d)

    def _embed(self, x: torch.Tensor, m: str) -> torch.Tensor:
        N = x.shape[1]
        if N > self.max_positions:
            raise VxtError(f"{N} {m} tokens exceed the fusion's {self.max_positions} positions (set max_positions)")
        pos = self.pos_emb(torch.arange(N, device=x.device))
        typ = self.type_emb(torch.tensor(TYPE_IDS[m], device=x.device))
        return self.drop(self.ln_in(x + pos + typ))

    def forward(self, streams: Streams) -> tuple[torch.Tensor, torch.Tensor]:
        names = [m for m in self.modalities if m in streams]
        if not names:
            raise VxtError("the cross-modal encoder got no input stream")
        xs = {m: self._embed(streams[m][0], m) for m in names}
        masks = {m: streams[m][1].bool() for m in names}
        B = next(iter(xs.values())).shape[0]
        gs = {}
        if self.has_global:
            for m in names:
                typ = self.type_emb(torch.tensor(TYPE_IDS[m], device=xs[m].device))
                gs[m] = self.drop(self.ln_in(self.global_tokens[m] + typ)).expand(B, 1, -1)
        n_layers = len(self.local if self.local is not None else self.glob)
        for i in range(n_layers):
            if self.local is not None and self.glob is not None:
                lo = self.local[i](xs, masks)
                gs, go = self.glob[i](gs, xs, masks)
                xs = {m: (lo[m] + go[m]) / 2 for m in names}
            elif self.local is not None:
                xs = self.local[i](xs, masks)
            else:
                gs, xs = self.glob[i](gs, xs, masks)
        parts, part_masks = [], []
        for m in names:
            if self.has_global:
                parts.append(gs[m])
                part_masks.append(torch.ones(B, 1, dtype=torch.bool, device=gs[m].device))
            parts.append(xs[m])
            part_masks.append(masks[m])
        return self.norm(torch.cat(parts, 1)), torch.cat(part_masks, 1)


class MixedFusion(nn.Module):
    """V+A+T: a ``va`` encoder over video and audio and a ``vt`` encoder over video and subtitles (own weights);
    the memory is the concatenation of their outputs (tokens and masks), ``va``'s first."""

    PAIRS = (("va", ("video", "audio")), ("vt", ("video", "subtitles")))

    def __init__(self, va: str, vt: str, d: int, heads: int, d_ff: int, layers: int, dropout: float,
                 max_positions: int):
        super().__init__()
        self.variant = "mixed"
        self.modalities = ["video", "audio", "subtitles"]
        self.branches = nn.ModuleDict({
            name: CrossModalEncoder(variant, mods, d, heads, d_ff, layers, dropout, max_positions)
            for (name, mods), variant in zip(self.PAIRS, (va, vt))})

    def forward(self, streams: Streams) -> tuple[torch.Tensor, torch.Tensor]:
        missing = [m for m in self.modalities if m not in streams]
        if missing:
            raise VxtError("the mixed (V+A+T) fusion needs video, audio and subtitles streams; "
                           f"no {', '.join(missing)}")
        parts = [self.branches[name]({m: streams[m] for m in mods}) for name, mods in self.PAIRS]
        return torch.cat([x for x, _ in parts], 1), torch.cat([k for _, k in parts], 1)


def build_fusion(cfg: dict) -> nn.Module:
    """The cross-modal encoder a model config asks for (``fusion``; ``mixed_va`` / ``mixed_vt`` for ``mixed``)."""
    d, drop = int(cfg["d_model"]), float(cfg["dropout"])
    args = (d, int(cfg["fusion_heads"]), int(cfg["fusion_d_ff"]), int(cfg["fusion_layers"]), drop,
            int(cfg["max_positions"]))
    if cfg["fusion"] == "mixed":
        return MixedFusion(cfg.get("mixed_va", "local_global_cross"), cfg.get("mixed_vt", "merged"), *args)
    return CrossModalEncoder(cfg["fusion"], cfg["modalities"], *args)
