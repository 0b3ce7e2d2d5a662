"""Multi-head attention with key masks and pre-LayerNorm encoder/decoder layers.

Attention takes key masks (True = valid) and returns *zeros* for a query
whose keys are all masked, so a missing modality (an all-False mask) never
produces NaNs and contributes nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.errors import VxtError

class Attention(nn.Module):
    """Multi-head attention between streams of different widths (BMT's form).

    Queries of width ``d_q`` attend to keys/values of width ``d_kv``; both are
    projected to ``d_attn`` (split into ``heads``), and the result back to
    ``d_q``. ``key_mask`` [B, Tk] (True = valid) hides keys; a query whose keys
    are all hidden gets a zero output (no NaN). ``causal`` hides future keys.
    """

    def __init__(self, d_q: int, d_kv: int, d_attn: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_attn % heads:
            raise VxtError(f"attention width {d_attn} is not divisible by {heads} heads")
        self.heads, self.d_head = heads, d_attn // heads
        self.q = nn.Linear(d_q, d_attn)
        self.k = nn.Linear(d_kv, d_attn)
        self.v = nn.Linear(d_kv, d_attn)
        self.out = nn.Linear(d_attn, d_q)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, key_mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        B, Tq, _ = q.shape
        Tk = kv.shape[1]
        h, dh = self.heads, self.d_head
        Q = self.q(q).view(B, Tq, h, dh).transpose(1, 2)
        K = self.k(kv).view(B, Tk, h, dh).transpose(1, 2)
        V = self.v(kv).view(B, Tk, h, dh).transpose(1, 2)
        scores = Q @ K.transpose(-1, -2) / math.sqrt(dh)  # [B, h, Tq, Tk]
        allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool, device=q.device)
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, None, :].bool()
        if causal:
            allowed = allowed & torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        # softmax over a row of only hidden keys is uniform; multiplying by `allowed` makes it 0.
        probs = torch.softmax(scores, dim=-1) * allowed
        out = self.dropout(probs) @ V
        return self.out(out.transpose(1, 2).reshape(B, Tq, h * dh))


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class EncoderLayer(nn.Module):
    """Pre-LN self-attention + feed-forward (MDVC's per-modality encoder layer)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.att = Attention(d_model, d_model, d_model, heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln1(x)
        x = x + self.drop(self.att(y, y, mask))
        return x + self.drop(self.ff(self.ln2(x)))


class DecoderLayer(nn.Module):
    """Pre-LN causal self-attention, attention to the encoder memory, feed-forward (MDVC)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_att = Attention(d_model, d_model, d_model, heads, dropout)
        self.enc_att = Attention(d_model, d_model, d_model, heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, memory, memory_mask, x_mask):
        y = self.ln1(x)
        x = x + self.drop(self.self_att(y, y, x_mask, causal=True))
        x = x + self.drop(self.enc_att(self.ln2(x), memory, memory_mask))
        return x + self.drop(self.ff(self.ln3(x)))


def xavier_init(module: nn.Module) -> None:
    """Xavier-uniform for every weight matrix (what both public codes do)."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


def gpt_init(module: nn.Module) -> None:
    """GPT/BERT-style init of one module (use with ``model.apply``): N(0, 0.02) for linear and embedding
    weights, zero biases, LayerNorm at identity."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
