"""Embedders: features to the model width, words scaled by sqrt(d_model) (BMT's forms)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

class FeatureEmbedder(nn.Module):
    """Projects raw features to the model width: ReLU(sqrt(d) * Linear(x)) (as BMT's embedder)."""

    def __init__(self, d_in: int, d_model: int):
        super().__init__()
        self.linear = nn.Linear(d_in, d_model)
        self.scale = math.sqrt(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.linear(x) * self.scale)


def feature_embedder(d_in: int, d_model: int) -> nn.Module:
    """Identity when the features already have the model width (the papers' setting), else a projection."""
    return nn.Identity() if d_in == d_model else FeatureEmbedder(d_in, d_model)


class WordEmbedder(nn.Module):
    """Word embedding scaled by sqrt(d_model); with ``emb_dim != d_model`` (GloVe of another size)
    an extra Linear+ReLU maps it to d_model, as BMT does."""

    def __init__(self, vocab_size: int, d_model: int, emb_dim: int | None = None):
        super().__init__()
        emb_dim = emb_dim or d_model
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.proj = None if emb_dim == d_model else nn.Linear(emb_dim, d_model)
        self.scale = math.sqrt(d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        if self.proj is not None:
            x = F.relu(self.proj(x))
        return x * self.scale
