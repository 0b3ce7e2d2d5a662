"""The caption decoder: a causal transformer over words, attending to the cross-modal encoder's memory."""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.nn.attention import DecoderLayer
from vxt.nn.embed import WordEmbedder
from vxt.nn.positions import PositionalEncoding


class CaptionDecoder(nn.Module):
    """Word embeddings (scaled by sqrt(D)) + sinusoidal positions, pre-LN decoder layers (causal
    self-attention, attention to the memory, feed-forward), a final LayerNorm and the word classifier."""

    def __init__(self, vocab_size: int, d: int, heads: int, d_ff: int, layers: int, dropout: float):
        super().__init__()
        self.embed = WordEmbedder(vocab_size, d)
        self.pos = PositionalEncoding(d, dropout)
        self.layers = nn.ModuleList(DecoderLayer(d, heads, d_ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab_size)

    def forward(self, memory: torch.Tensor, memory_mask: torch.Tensor, ys: torch.Tensor,
                ys_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities of the next word at every position: [B, t, V]."""
        if ys_mask is None:
            ys_mask = torch.ones(ys.shape, dtype=torch.bool, device=ys.device)
        x = self.pos(self.embed(ys))
        for layer in self.layers:
            x = layer(x, memory, memory_mask, ys_mask.bool())
        return torch.log_softmax(self.out(self.norm(x)).float(), dim=-1)
