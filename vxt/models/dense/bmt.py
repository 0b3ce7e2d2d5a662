"""BMT: the Bi-modal Transformer for dense video captioning (Iashin and Rahtu, BMVC 2020).

Captioner (this file; the proposal generator is :mod:`vxt.models.dense.proposals`):

* inputs: a visual stream [B, Tv, d_video] (I3D RGB+flow in the paper) and an
  audio stream [B, Ta, d_audio] (VGGish), each with its own time step, each
  mapped to its own width (``d_model_video``/``d_model_audio``; identity when
  equal to the feature width, as in the public code) plus sinusoidal positions;
* encoder layer (pre-LayerNorm residuals): self-attention per stream, then
  bi-modal attention (audio queries attend to visual keys/values -> "Av", and
  visual queries to audio -> "Va"), then a feed-forward per stream; the next
  layer takes (Av, Va) as its (audio, visual) input. All attentions work in an
  inner width ``d_model`` (1024 in the paper) whatever the stream widths;
* decoder layer: caption self-attention (causal), attention to Av and to Va
  (each a residual branch on the caption state), a bridge
  ReLU(Linear(LN([Ca, Cv]))) fusing the two (no residual), feed-forward;
* generator: Linear(d_model_caps, V) + log-softmax; KL loss with label
  smoothing (0.7); greedy decoding up to 30 words.

A missing audio stream (absent from the batch, or an all-False ``audio_mask``)
is a masked stream: audio->visual attention gives zeros, the decoder's audio
branch reduces to its residual (Ca = C), nothing depends on the values in the
masked tensor. Deviations from the public code, on purpose: keys/values of the
bi-modal attention get their own LayerNorm (the public code normalises only the
queries), encoder and decoder end with a LayerNorm, and the sinusoidal
positions use the standard (Vaswani) frequencies.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.models.dense.captioner import DenseCaptioner, get_stream
from vxt.nn.attention import Attention, FeedForward
from vxt.nn.embed import WordEmbedder, feature_embedder
from vxt.nn.positions import PositionalEncoding
from vxt.nn.vocab import load_glove

BMT_DEFAULTS = {
    "d_video": 1024,          # feature widths (I3D rgb+flow summed: 1024; concatenated: 2048)
    "d_audio": 128,           # VGGish
    "d_model_video": None,    # None: = d_video (no projection, as the public code by default)
    "d_model_audio": None,    # None: = d_audio
    "d_model": 1024,          # inner width of every attention
    "d_model_caps": 300,      # caption width (GloVe 300-d in the paper)
    "d_ff_video": None,       # None: 4 x d_model_video
    "d_ff_audio": None,
    "d_ff_caps": None,
    "n_layers": 2,
    "heads": 4,
    "dropout": 0.1,
    "smoothing": 0.7,
    "max_len": 30,
    "lr": 5e-5,               # the paper's Adam learning rate (a hint for the training loop)
    "glove_path": None,       # a local GloVe text file to initialise the caption embedding
    "freeze_word_emb": True,  # keep GloVe vectors frozen (public code default); no effect without GloVe
    "word_emb_dim": None,     # None: = d_model_caps (set from the GloVe file when used)
}

BMT_PRESETS = {
    "bmt": dict(BMT_DEFAULTS),
    "bmt-tiny": {**BMT_DEFAULTS, "d_model_video": 32, "d_model_audio": 16, "d_model": 32,
                 "d_model_caps": 32, "d_ff_video": 64, "d_ff_audio": 32, "d_ff_caps": 64,
                 "n_layers": 2, "heads": 2, "lr": 1e-3},
}


class BiModalEncoderLayer(nn.Module):
    def __init__(self, d_a: int, d_v: int, d_model: int, heads: int, d_ff_a: int, d_ff_v: int, dropout: float):
        super().__init__()
        self.ln_self_a, self.ln_self_v = nn.LayerNorm(d_a), nn.LayerNorm(d_v)
        self.self_a = Attention(d_a, d_a, d_model, heads, dropout)
        self.self_v = Attention(d_v, d_v, d_model, heads, dropout)
        self.ln_q_a, self.ln_kv_v = nn.LayerNorm(d_a), nn.LayerNorm(d_v)
        self.ln_q_v, self.ln_kv_a = nn.LayerNorm(d_v), nn.LayerNorm(d_a)
        self.cross_a = Attention(d_a, d_v, d_model, heads, dropout)   # audio queries, visual keys
        self.cross_v = Attention(d_v, d_a, d_model, heads, dropout)   # visual queries, audio keys
        self.ln_ff_a, self.ln_ff_v = nn.LayerNorm(d_a), nn.LayerNorm(d_v)
        self.ff_a = FeedForward(d_a, d_ff_a, dropout)
        self.ff_v = FeedForward(d_v, d_ff_v, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, A, V, a_mask, v_mask):
        y = self.ln_self_a(A)
        A = A + self.drop(self.self_a(y, y, a_mask))
        y = self.ln_self_v(V)
        V = V + self.drop(self.self_v(y, y, v_mask))
        Av = A + self.drop(self.cross_a(self.ln_q_a(A), self.ln_kv_v(V), v_mask))
        Va = V + self.drop(self.cross_v(self.ln_q_v(V), self.ln_kv_a(A), a_mask))
        Av = Av + self.drop(self.ff_a(self.ln_ff_a(Av)))
        Va = Va + self.drop(self.ff_v(self.ln_ff_v(Va)))
        return Av, Va


class BiModalDecoderLayer(nn.Module):
    def __init__(self, d_c: int, d_a: int, d_v: int, d_model: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln_self = nn.LayerNorm(d_c)
        self.self_att = Attention(d_c, d_c, d_model, heads, dropout)
        self.ln_a, self.ln_v = nn.LayerNorm(d_c), nn.LayerNorm(d_c)
        self.att_a = Attention(d_c, d_a, d_model, heads, dropout)
        self.att_v = Attention(d_c, d_v, d_model, heads, dropout)
        self.ln_bridge = nn.LayerNorm(2 * d_c)
        self.bridge = nn.Linear(2 * d_c, d_c)
        self.ln_ff = nn.LayerNorm(d_c)
        self.ff = FeedForward(d_c, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, C, c_mask, Av, a_mask, Va, v_mask):
        y = self.ln_self(C)
        C = C + self.drop(self.self_att(y, y, c_mask, causal=True))
        Ca = C + self.drop(self.att_a(self.ln_a(C), Av, a_mask))
        Cv = C + self.drop(self.att_v(self.ln_v(C), Va, v_mask))
        C = torch.relu(self.drop(self.bridge(self.ln_bridge(torch.cat([Ca, Cv], dim=-1)))))
        return C + self.drop(self.ff(self.ln_ff(C)))


class BMT(DenseCaptioner):
    """The bi-modal transformer captioner (see the module docstring)."""

    ARCH = "bmt"
    DEFAULTS = BMT_DEFAULTS

    def _build(self) -> None:
        c = self._config
        d_a = int(self._resolved("d_model_audio", c["d_audio"]))
        d_v = int(self._resolved("d_model_video", c["d_video"]))
        d_c = int(c["d_model_caps"])
        ff_a = int(self._resolved("d_ff_audio", 4 * d_a))
        ff_v = int(self._resolved("d_ff_video", 4 * d_v))
        ff_c = int(self._resolved("d_ff_caps", 4 * d_c))
        p, H, N, d = float(c["dropout"]), int(c["heads"]), int(c["n_layers"]), int(c["d_model"])
        if c.get("glove_path") and not c.get("word_emb_dim"):
            with open(c["glove_path"], encoding="utf-8", errors="replace") as fh:
                c["word_emb_dim"] = len(fh.readline().rstrip().split(" ")) - 1
        self.emb_v = feature_embedder(int(c["d_video"]), d_v)
        self.emb_a = feature_embedder(int(c["d_audio"]), d_a)
        self.emb_c = WordEmbedder(len(self.vocab), d_c, c.get("word_emb_dim"))
        self.pos_v, self.pos_a, self.pos_c = PositionalEncoding(d_v, p), PositionalEncoding(d_a, p), PositionalEncoding(d_c, p)
        self.enc_layers = nn.ModuleList([BiModalEncoderLayer(d_a, d_v, d, H, ff_a, ff_v, p) for _ in range(N)])
        self.enc_norm_a, self.enc_norm_v = nn.LayerNorm(d_a), nn.LayerNorm(d_v)
        self.dec_layers = nn.ModuleList([BiModalDecoderLayer(d_c, d_a, d_v, d, H, ff_c, p) for _ in range(N)])
        self.dec_norm = nn.LayerNorm(d_c)
        self.generator = nn.Linear(d_c, len(self.vocab))

    def _post_init(self, loading: bool) -> None:
        c = self._config
        if c.get("glove_path"):
            if not loading:  # a loaded model has its (possibly GloVe) vectors in its weights
                vectors, found = load_glove(c["glove_path"], self.vocab)
                with torch.no_grad():
                    self.emb_c.embedding.weight[found] = vectors[found].to(self.emb_c.embedding.weight)
            if c.get("freeze_word_emb", True):
                self.emb_c.embedding.weight.requires_grad_(False)

    # -- encoder, usable alone (the proposal generator runs on it)
    def encode_streams(self, batch: dict) -> tuple[dict, dict]:
        """Bi-modal encoder outputs: ({"video": Va [B,Tv,d_model_video], "audio": Av [B,Ta,d_model_audio]},
        {"video": mask, "audio": mask})."""
        like = batch.get("video") if batch.get("video") is not None else batch.get("audio")
        if like is None:
            raise VxtError("BMT needs a video or an audio stream in the batch")
        V, v_mask = get_stream(batch, "video", int(self._config["d_video"]), like)
        A, a_mask = get_stream(batch, "audio", int(self._config["d_audio"]), like)
        V = self.pos_v(self.emb_v(V))
        A = self.pos_a(self.emb_a(A))
        for layer in self.enc_layers:
            A, V = layer(A, V, a_mask, v_mask)
        return {"video": self.enc_norm_v(V), "audio": self.enc_norm_a(A)}, {"video": v_mask, "audio": a_mask}

    def encode(self, batch: dict) -> dict:
        streams, masks = self.encode_streams(batch)
        return {"Av": streams["audio"], "a_mask": masks["audio"], "Va": streams["video"], "v_mask": masks["video"]}

    def decode(self, memory: dict, ys: torch.Tensor, ys_mask: torch.Tensor | None = None) -> torch.Tensor:
        if ys_mask is None:
            ys_mask = torch.ones_like(ys, dtype=torch.bool)
        C = self.pos_c(self.emb_c(ys))
        for layer in self.dec_layers:
            C = layer(C, ys_mask, memory["Av"], memory["a_mask"], memory["Va"], memory["v_mask"])
        return torch.log_softmax(self.generator(self.dec_norm(C)).float(), dim=-1)

