"""TAVT's layers: the AVMM (prefix mapper + cluster reconstructor), the audio-visual encoder, the gated decoder.

Shapes: B batch, L clips (= audio units), M frames, Lt target words, d the
model width, K clusters, Da the audio feature width. Masks are bool, True = a
real step; attention hides masked keys (:class:`vxt.nn.attention.Attention`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.nn.attention import Attention, EncoderLayer, FeedForward
from vxt.nn.positions import sinusoidal_positions


class AVMM(nn.Module):
    """Audio-Visual Meta-Mapper: clip means ``c_i`` -> visual prefix tokens ``p_i`` -> audio weights and ``A_rec``.

    ``p = SelfAttention(W_c c + pos)``; ``w_i = softmax(phi(p_i))`` over the K
    clusters; ``a_rec_i = sum_k w_ik m_k`` (a convex combination of the
    cluster centres ``m``, a buffer fitted by K-means and stored with the model).
    """

    def __init__(self, d_video: int, d_model: int, heads: int, d_ff: int, layers: int, dropout: float,
                 clusters: torch.Tensor):
        super().__init__()
        self.clip_in = nn.Linear(d_video, d_model)
        self.layers = nn.ModuleList([EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.phi = nn.Linear(d_model, clusters.shape[0])
        self.register_buffer("clusters", clusters.clone().float())

    def prefix(self, clips: torch.Tensor, unit_mask: torch.Tensor) -> torch.Tensor:
        """The visual prefix tokens ``p`` [B, L, d] of the clip means ``clips`` [B, L, Dv]."""
        x = self.clip_in(clips)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        for layer in self.layers:
            x = layer(x, unit_mask)
        return self.norm(x)

    def weights(self, prefix: torch.Tensor) -> torch.Tensor:
        """softmax(phi(p_i)) [B, L, K]: how much of each cluster the clip's sound holds."""
        return torch.softmax(self.phi(prefix).float(), dim=-1)

    def reconstruct(self, weights: torch.Tensor, perm: torch.Tensor | None = None) -> torch.Tensor:
        """``sum_k w_ik m_perm(k)`` [B, L, Da]; ``perm`` (a permutation of the clusters) breaks the pairing."""
        m = self.clusters if perm is None else self.clusters[perm]
        return weights @ m.to(weights.dtype)


class CrossLayer(nn.Module):
    """Pre-LN cross-attention (queries of one modality, keys/values of the other) + feed-forward."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln_q, self.ln_kv, self.ln_ff = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.att = Attention(d_model, d_model, d_model, heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, q, kv, kv_mask):
        q = q + self.drop(self.att(self.ln_q(q), self.ln_kv(kv), kv_mask))
        return q + self.drop(self.ff(self.ln_ff(q)))


class AVEncoder(nn.Module):
    """Self-attention per modality, then cross-attention both ways: ``x_av`` (video queries, audio keys), ``x_va``.

    ``audio=False`` (``use_audio=false``): a video-only encoder of ``enc_layers + cross_layers``
    self-attention layers (no audio stream, no cross-attention); ``forward`` then returns ``(x_av, None)``.
    """

    def __init__(self, d_model: int, heads: int, d_ff: int, enc_layers: int, cross_layers: int, dropout: float,
                 audio: bool = True):
        super().__init__()
        self.audio = bool(audio)
        n_video = enc_layers if audio else enc_layers + cross_layers
        # (built in the same order as before the switch existed: a seeded TAVT keeps its initial weights)
        self.video_self = nn.ModuleList([EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(n_video)])
        if audio:
            self.audio_self = nn.ModuleList([EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(enc_layers)])
            self.cross_av = nn.ModuleList([CrossLayer(d_model, heads, d_ff, dropout) for _ in range(cross_layers)])
            self.cross_va = nn.ModuleList([CrossLayer(d_model, heads, d_ff, dropout) for _ in range(cross_layers)])
        self.norm_av = nn.LayerNorm(d_model)
        if audio:
            self.norm_va = nn.LayerNorm(d_model)

    def forward(self, v, v_mask, a=None, a_mask=None):
        for layer in self.video_self:
            v = layer(v, v_mask)
        if not self.audio:
            return self.norm_av(v), None
        for layer in self.audio_self:
            a = layer(a, a_mask)
        for l_av, l_va in zip(self.cross_av, self.cross_va):
            v, a = l_av(v, a, a_mask), l_va(a, v, v_mask)
        return self.norm_av(v), self.norm_va(a)


class GatedDecoderLayer(nn.Module):
    """Causal self-attention, then the two memories mixed by learned gates (eqs. 4-5), then feed-forward.

    ``alpha_av = sigmoid(W_av [Y, MHA(Y, x_av, x_av)] + b_av)`` and the same
    for ``x_va``; the layer adds ``alpha_av * MHA(Y, x_av) + alpha_va *
    MHA(Y, x_va)``. The gates are one scalar per target position (so that
    ``alpha_av / alpha_va`` is a per-word dependence score).

    ``audio=False`` (``use_audio=false``): the ``x_va`` branch and its gate are not built; the layer adds
    ``alpha_av * MHA(Y, x_av)`` and returns None for ``alpha_va``.
    """

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, audio: bool = True):
        super().__init__()
        self.audio = bool(audio)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_att = Attention(d_model, d_model, d_model, heads, dropout)
        self.att_av = Attention(d_model, d_model, d_model, heads, dropout)
        if audio:
            self.att_va = Attention(d_model, d_model, d_model, heads, dropout)
        self.gate_av = nn.Linear(2 * d_model, 1)
        if audio:
            self.gate_va = nn.Linear(2 * d_model, 1)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, x_mask, mem_av, mask_av, mem_va=None, mask_va=None):
        y = self.ln1(x)
        x = x + self.drop(self.self_att(y, y, x_mask, causal=True))
        y = self.ln2(x)
        h_av = self.att_av(y, mem_av, mask_av)
        a_av = torch.sigmoid(self.gate_av(torch.cat([y, h_av], dim=-1)))
        if not self.audio:
            x = x + self.drop(a_av * h_av)
            return x + self.drop(self.ff(self.ln3(x))), a_av.squeeze(-1), None
        h_va = self.att_va(y, mem_va, mask_va)
        a_va = torch.sigmoid(self.gate_va(torch.cat([y, h_va], dim=-1)))
        x = x + self.drop(a_av * h_av + a_va * h_va)
        x = x + self.drop(self.ff(self.ln3(x)))
        return x, a_av.squeeze(-1), a_va.squeeze(-1)


class GatedDecoder(nn.Module):
    """Word embeddings + positions, ``layers`` gated decoder layers, a vocabulary projection.

    Returns (logits [B, Lt, V], alpha_av [B, Lt], alpha_va [B, Lt]), the
    alphas averaged over the layers; ``audio=False``: alpha_va is None.
    """

    def __init__(self, vocab_size: int, d_model: int, heads: int, d_ff: int, layers: int, dropout: float,
                 audio: bool = True):
        super().__init__()
        from vxt.nn.embed import WordEmbedder

        self.embed = WordEmbedder(vocab_size, d_model)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([GatedDecoderLayer(d_model, heads, d_ff, dropout, audio) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, ys, ys_mask, mem_av, mask_av, mem_va=None, mask_va=None):
        x = self.embed(ys)
        x = self.drop(x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype))
        av, va = [], []
        for layer in self.layers:
            x, a_av, a_va = layer(x, ys_mask, mem_av, mask_av, mem_va, mask_va)
            av.append(a_av)
            va.append(a_va)
        alpha_va = None if va[0] is None else torch.stack(va).mean(0)
        return self.out(self.norm(x)), torch.stack(av).mean(0), alpha_va
