"""SpecVQGAN's stage 2: a GPT over ``[projected visual features; spectrogram codes]`` (minGPT's GPTFeats).

The visual features (``[F, d_feat]``, ResNet-50: 2,048-d) go through a
position-wise linear layer (SpecVQGAN's 1x1 Conv1d) to ``n_embd``; the codes
through an embedding; a learned position embedding is added to the whole
sequence, and pre-LayerNorm blocks with one causal mask (GELU MLP, 4x)
run over it. Training is teacher-forced: the input is ``[feats; codes[:-1]]``
and the logits from position ``F - 1`` on predict the 265 codes;
cross-entropy on those positions only. Codes are column-major
(:func:`column_major`, ``sampler.order=column``, SpecVQGAN's ``ColumnMajor``
permuter): the 5 frequency codes of each of the 53 time steps together, time
step by time step; ``sampler.order=row`` (:func:`row_major`, SpecVQGAN's
``Identity`` permuter) lays the 53 time codes of each frequency row together,
the lowest row first. :func:`flatten_codes` / :func:`unflatten_codes` apply
the order a checkpoint records and invert it.

``n_feats`` is the number of visual feature rows (SpecVQGAN: 1, 5 or 212).
``n_feats=0`` is the "No Feats" condition: the sampler sees nothing of the
video. SpecVQGAN trains that condition on one row of random noise in place
of the features (``replace_feats_with_random``, ``feat_sample_size=1``);
noise says nothing about the clip either, so vxt keeps the same sequence
shape (one row before the codes) but makes that row a single learned start
embedding (:attr:`GPT.start`), the same for every clip: no feature
projection, no features to extract or read, and sampling needs no video.

Sampling (:meth:`GPT.sample`): one code at a time from the last position's
logits divided by the temperature (1), restricted to the ``top_k`` most
likely (SpecVQGAN samples with top-k 100 at test time), with a key/value
cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.models.sound.options import SAMPLER_ORDERS
from vxt.nn.attention import gpt_init


def column_major(codes: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` code maps -> ``[B, H * W]`` sequences, time step (column) by time step."""
    return codes.transpose(1, 2).reshape(codes.shape[0], -1)


def from_column_major(seq: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`column_major`."""
    return seq.reshape(seq.shape[0], w, h).transpose(1, 2)


def row_major(codes: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` code maps -> ``[B, H * W]`` sequences, frequency row by frequency row (the lowest first)."""
    return codes.reshape(codes.shape[0], -1)


def from_row_major(seq: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`row_major`."""
    return seq.reshape(seq.shape[0], h, w)


#: ``sampler.order``: how a ``[B, 5, 53]`` code map becomes the sampler's sequence, and back (the keys are
#: :data:`vxt.models.sound.options.SAMPLER_ORDERS`, which the options check without importing torch)
ORDERS = {"column": (column_major, from_column_major), "row": (row_major, from_row_major)}
assert tuple(ORDERS) == SAMPLER_ORDERS, "sampler.ORDERS and options.SAMPLER_ORDERS must name the same orders"


def _order(order: str):
    if order not in ORDERS:
        raise ValueError(f"sampler.order must be one of {', '.join(ORDERS)}, got {order!r}")
    return ORDERS[order]


def flatten_codes(codes: torch.Tensor, order: str = "column") -> torch.Tensor:
    """``[B, H, W]`` code maps -> ``[B, H * W]`` sequences in ``order`` (``column`` or ``row``)."""
    return _order(order)[0](codes)


def unflatten_codes(seq: torch.Tensor, h: int, w: int, order: str = "column") -> torch.Tensor:
    """The inverse of :func:`flatten_codes` for the same ``order``: ``[B, h * w]`` -> ``[B, h, w]``."""
    return _order(order)[1](seq, h, w)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, pdrop: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(pdrop))
        self.n_head, self.pdrop = n_head, pdrop
        self.resid_drop = nn.Dropout(pdrop)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        shape = (B, T, self.n_head, C // self.n_head)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        causal = cache is None or T > 1
        if causal and k.shape[2] != T:  # a prefix through the cache: mask against the whole key sequence
            mask = torch.ones(T, k.shape[2], dtype=torch.bool, device=x.device).tril(k.shape[2] - T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.pdrop if self.training else 0.0)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                               dropout_p=self.pdrop if self.training else 0.0)
        x = x + self.resid_drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = dict(cfg)
        n, pdrop = int(cfg["n_embd"]), float(cfg.get("pdrop", 0.1))
        self.n_feats, self.n_codes = int(cfg["n_feats"]), int(cfg["n_codes"])
        if self.n_feats < 0:
            raise ValueError(f"n_feats must be >= 0, got {self.n_feats}")
        # the rows before the codes: the feature rows, or the learned start row of "No Feats" (n_feats 0)
        self.n_prefix = max(1, self.n_feats)
        # SpecVQGAN's block size (212 + 265 = 477; the last position is never used)
        self.block_size = self.n_prefix + self.n_codes
        if self.n_feats:
            self.feat_emb = nn.Linear(int(cfg["d_feat"]), n)
        else:
            self.start = nn.Parameter(torch.zeros(1, 1, n))
        self.tok_emb = nn.Embedding(int(cfg["vocab_size"]), n)
        self.pos_emb = nn.Parameter(torch.zeros(1, self.block_size, n))
        self.drop = nn.Dropout(pdrop)
        self.blocks = nn.ModuleList(Block(n, int(cfg["n_head"]), pdrop) for _ in range(int(cfg["n_layer"])))
        self.ln_f = nn.LayerNorm(n)
        self.head = nn.Linear(n, int(cfg["vocab_size"]), bias=False)
        self.apply(gpt_init)
        if not self.n_feats:
            nn.init.normal_(self.start, 0.0, 0.02)

    def prefix(self, feats: torch.Tensor | None, batch_size: int | None = None) -> torch.Tensor:
        """The embedded rows before the codes: ``[B, n_feats, n_embd]`` from ``feats`` ``[B, n_feats, d]``, or
        with ``n_feats`` 0 the learned start row ``[B, 1, n_embd]`` (``feats`` None or empty: nothing visual)."""
        if self.n_feats:
            if feats is None or feats.shape[1] != self.n_feats:
                got = None if feats is None else tuple(feats.shape)
                raise ValueError(f"the sampler is conditioned on {self.n_feats} feature rows, got {got}")
            return self.feat_emb(feats)
        if batch_size is None:
            if feats is None:
                raise ValueError("a sampler without visual features needs the batch size")
            batch_size = feats.shape[0]
        return self.start.expand(int(batch_size), -1, -1)

    def _run(self, x: torch.Tensor, start: int, caches: list | None) -> torch.Tensor:
        x = self.drop(x + self.pos_emb[:, start : start + x.shape[1]])
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))

    def forward(self, feats: torch.Tensor | None, codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``[B, n_codes, vocab]`` of ``codes`` ``[B, n_codes]`` given ``feats`` ``[B, F, d]``
        (None with ``n_feats`` 0)."""
        x = torch.cat([self.prefix(feats, codes.shape[0]), self.tok_emb(codes[:, :-1])], 1)
        return self._run(x, 0, None)[:, self.n_prefix - 1 :]

    def loss(self, feats: torch.Tensor | None, codes: torch.Tensor) -> torch.Tensor:
        logits = self(feats, codes)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), codes.reshape(-1))

    @torch.no_grad()
    def sample(self, feats: torch.Tensor | None, *, temperature: float = 1.0, top_k: int | None = 100,
               generator: torch.Generator | None = None, batch_size: int | None = None) -> torch.Tensor:
        """``[B, n_codes]`` codes sampled one at a time given ``feats`` (top-k, temperature); with ``n_feats`` 0,
        ``feats`` None and ``batch_size`` sequences from the start row alone."""
        caches: list = [{} for _ in self.blocks]
        logits = self._run(self.prefix(feats, batch_size), 0, caches)[:, -1]
        out = []
        for i in range(self.n_codes):
            z = logits.float() / max(float(temperature), 1e-8)
            if top_k:
                kth = torch.topk(z, min(int(top_k), z.shape[-1]), dim=-1).values[:, -1:]
                z = z.masked_fill(z < kth, -math.inf)
            nxt = torch.multinomial(F.softmax(z, -1), 1, generator=generator)
            out.append(nxt)
            if i + 1 < self.n_codes:
                logits = self._run(self.tok_emb(nxt), self.n_prefix + i, caches)[:, -1]
        return torch.cat(out, 1)
