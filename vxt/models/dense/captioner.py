"""Shared pieces of the dense-video captioners BMT and MDVC (Iashin and Rahtu, 2020).

What lives here, and why it is shared:

* :class:`WordVocab` / :func:`build_vocab`: the word-level caption vocabulary
  both papers use (``<pad> <s> </s> <unk>`` + training words), JSON-serialisable,
  optionally initialised from a local GloVe text file (:func:`load_glove`);
  nothing is ever downloaded.
* transformer blocks with *pre*-LayerNorm residuals (:class:`Attention`,
  :class:`FeedForward`, :class:`EncoderLayer`, :class:`DecoderLayer`),
  sinusoidal positions (:func:`sinusoidal_positions`) and the feature/word
  embedders. Attention takes key masks (True = valid) and returns *zeros* for
  a query whose keys are all masked, so a missing modality (an all-False mask)
  never produces NaNs and contributes nothing.
* :func:`label_smoothing_kl`: the KL loss with label smoothing of both papers
  (smoothing spread over the vocabulary minus target and pad, pad rows ignored).
* :func:`greedy_decode`: batched greedy decoding that stops per row at ``</s>``.
* :class:`DenseCaptioner`: the base class with the model API the training loop
  uses (``model(batch) -> {"loss"}``, ``generate``, ``save_pretrained``,
  ``from_pretrained``, ``config``), and :func:`build_dense_model` /
  :func:`load_dense_model`.

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
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.errors import VxtError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

# ------------------------------------------------------------------ vocabulary

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(sentence: str) -> list[str]:
    """Lower-case word tokens; punctuation marks are tokens of their own ("a dog." -> a, dog, .)."""
    return _TOKEN_RE.findall(sentence.lower())


class WordVocab:
    """A word-level vocabulary: ids 0..3 are ``<pad> <s> </s> <unk>``, then the words."""

    def __init__(self, tokens: list[str]):
        if list(tokens[: len(SPECIALS)]) != list(SPECIALS):
            raise VxtError(f"a word vocabulary starts with {list(SPECIALS)}, got {list(tokens[:4])}")
        if len(set(tokens)) != len(tokens):
            raise VxtError("a word vocabulary lists a word twice")
        self.itos = list(tokens)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, sentence: str, max_len: int | None = None, add_bos_eos: bool = True) -> list[int]:
        """Word ids of ``sentence``; with ``max_len`` the words are cut so that the result fits."""
        ids = [self.stoi.get(w, self.unk_id) for w in tokenize(sentence)]
        if add_bos_eos:
            if max_len is not None:
                ids = ids[: max(0, max_len - 2)]
            return [self.bos_id, *ids, self.eos_id]
        return ids if max_len is None else ids[:max_len]

    def encode_batch(self, sentences: list[str], max_len: int | None = None, add_bos_eos: bool = True):
        """(ids LongTensor [B, L], mask BoolTensor [B, L]) padded with ``<pad>``."""
        rows = [self.encode(s, max_len, add_bos_eos) for s in sentences]
        length = max([len(r) for r in rows] + [1])
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return ids, ids != self.pad_id

    def decode(self, ids: Iterable[int]) -> str:
        """The sentence of ``ids``: stops at ``</s>``, skips ``<pad>``/``<s>``, glues punctuation."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            words.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return re.sub(r" ([^\sa-z0-9<'])(?= |$)", r"\1", " ".join(words))

    def to_json(self) -> dict:
        return {"type": "word", "tokens": self.itos}

    @classmethod
    def from_json(cls, obj: dict | list) -> "WordVocab":
        tokens = obj["tokens"] if isinstance(obj, dict) else obj
        return cls(list(tokens))

    def save(self, path: str | Path) -> None:
        from vxt.utils import write_json

        write_json(path, self.to_json(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> "WordVocab":
        from vxt.utils import read_json

        return cls.from_json(read_json(path))


def build_vocab(sentences: Iterable[str], min_freq: int = 1) -> WordVocab:
    """The vocabulary of the words seen at least ``min_freq`` times (most frequent first, ties by spelling)."""
    counts = Counter(w for s in sentences for w in tokenize(s))
    words = sorted((w for w, c in counts.items() if c >= min_freq and w not in SPECIALS),
                   key=lambda w: (-counts[w], w))
    return WordVocab([*SPECIALS, *words])


def as_vocab(vocab: Any) -> WordVocab | None:
    """Accept a WordVocab, a token list, a ``{"tokens": [...]}`` dict or a path to its JSON."""
    if vocab is None or isinstance(vocab, WordVocab):
        return vocab
    if isinstance(vocab, (str, Path)):
        return WordVocab.load(vocab)
    return WordVocab.from_json(vocab)


def load_glove(path: str | Path, vocab: WordVocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a GloVe text file (``word v1 .. vD`` per line) for ``vocab``'s words.

    Returns (vectors [V, D], found [V] bool). Words GloVe lacks keep found=False
    (the caller leaves their random initialisation). Only a local file: never downloads.
    """
    p = Path(path)
    if not p.is_file():
        raise VxtError("no such GloVe file (give a local glove.*.txt; vxt never downloads it)", path=str(p))
    vectors: torch.Tensor | None = None
    found = torch.zeros(len(vocab), dtype=torch.bool)
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip().split(" ")
            if len(parts) < 3:
                continue
            # glove.840B has a few "words" containing spaces: the vector is the last D fields.
            dim = len(parts) - 1 if vectors is None else vectors.shape[1]
            word = " ".join(parts[: len(parts) - dim])
            idx = vocab.stoi.get(word)
            if idx is None or found[idx]:
                continue
            try:
                vec = torch.tensor([float(x) for x in parts[len(parts) - dim:]])
            except ValueError:
                raise VxtError(f"malformed GloVe line {lineno}", path=str(p)) from None
            if vectors is None:
                vectors = torch.zeros(len(vocab), dim)
            vectors[idx] = vec
            found[idx] = True
    if vectors is None:
        raise VxtError("no word of the caption vocabulary is in this GloVe file", path=str(p))
    return vectors, found


# ------------------------------------------------------------------ blocks


def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[length, dim] sinusoidal positions (Vaswani et al.): sin on even channels, cos on odd."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * i / dim)
    pe = torch.zeros(length, dim, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe.to(dtype)


class PositionalEncoding(nn.Module):
    """Adds sinusoidal positions then dropout (no parameters; any length)."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.dim = dim
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + sinusoidal_positions(x.shape[1], self.dim, x.device, x.dtype))


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


# ------------------------------------------------------------------ loss and decoding


def label_smoothing_kl(log_probs: torch.Tensor, target: torch.Tensor, pad_id: int,
                       smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(smoothed target || model) summed over non-pad positions; returns (sum, n_tokens).

    The smoothed distribution puts ``1 - smoothing`` on the target word,
    ``smoothing / (V - 2)`` on every other word except ``<pad>`` (0), so it sums
    to one; rows whose target is ``<pad>`` are ignored. ``smoothing = 0`` gives
    cross-entropy. Divide the sum by n_tokens for the per-token loss.
    """
    V = log_probs.shape[-1]
    lp = log_probs.reshape(-1, V).float()
    tgt = target.reshape(-1)
    keep = tgt != pad_id
    lp, tgt = lp[keep], tgt[keep]
    n = keep.sum()
    if lp.numel() == 0:
        return log_probs.sum() * 0.0, n
    dist = torch.full_like(lp, smoothing / max(V - 2, 1))
    dist.scatter_(1, tgt.unsqueeze(1), 1.0 - smoothing)
    dist[:, pad_id] = 0.0
    return F.kl_div(lp, dist, reduction="sum"), n


@torch.no_grad()
def greedy_decode(step: Callable[[torch.Tensor], torch.Tensor], batch_size: int, max_len: int,
                  bos_id: int, eos_id: int, pad_id: int, device) -> torch.Tensor:
    """Batched greedy decoding.

    ``step(ys)`` takes the prefixes [B, t] (starting with ``<s>``) and returns
    log-probabilities of the next word [B, V]. Every row stops at its own
    ``</s>``; the loop ends when all rows have stopped or after ``max_len``
    words. Returns [B, L] word ids (without ``<s>``; ``</s>`` kept; then ``<pad>``).
    """
    ys = torch.full((batch_size, 1), bos_id, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    for _ in range(max_len):
        nxt = step(ys).argmax(dim=-1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)
        done = done | (nxt == eos_id)
        if bool(done.all()):
            break
    return ys[:, 1:]


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
        full = copy.deepcopy(self.DEFAULTS)
        full.update({k: v for k, v in cfg.items() if k in self.DEFAULTS or k == "name"})
        full["arch"] = self.ARCH
        full.setdefault("name", self.ARCH)
        vocab = as_vocab(vocab) or as_vocab(cfg.get("vocab"))
        if vocab is None:
            raise VxtError(f"{full['name']} needs a caption vocabulary (build one with "
                           "vxt.models.dense_common.build_vocab(training captions))")
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

        from vxt.utils import atomic_write_bytes, write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        cfg = self.config
        cfg["class"] = f"{type(self).__module__}:{type(self).__qualname__}"
        write_json(out / "config.json", cfg, indent=None)
        self.vocab.save(out / "vocab.json")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        atomic_write_bytes(out / "model.safetensors", save(state, metadata={"format": "pt", "arch": self.ARCH}))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "DenseCaptioner":
        from safetensors.torch import load_file

        from vxt.utils import read_json

        p = Path(path)
        cfg = read_json(p / "config.json")
        if cfg.get("arch") != cls.ARCH:
            raise VxtError(f"not a {cls.ARCH} checkpoint (arch {cfg.get('arch')!r})", path=str(p))
        vocab = cfg.get("vocab")
        if vocab is None and (p / "vocab.json").exists():
            vocab = WordVocab.load(p / "vocab.json")
        model = cls(cfg, vocab, _loading=True)
        weights = p / "model.safetensors"
        if not weights.exists():
            raise VxtError("no model.safetensors here", path=str(p))
        state = load_file(str(weights))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise VxtError(f"weights do not match the config (missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]})", path=str(weights))
        return model

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def build_dense_model(name: str, overrides: dict | None = None, vocab: Any = None) -> DenseCaptioner:
    """Build the registered dense captioner ``name`` (``bmt``, ``bmt-tiny``, ``mdvc``, ``mdvc-tiny``)
    with its preset merged with ``overrides``, for the caption vocabulary ``vocab``."""
    from vxt.registry import MODELS, merge_config

    MODELS.names()  # imports the modules that fill DENSE_PRESETS
    if name not in DENSE_PRESETS:
        raise VxtError(f"unknown dense captioner {name!r} (known: {', '.join(sorted(DENSE_PRESETS))})")
    arch_cls, preset = DENSE_PRESETS[name]
    cfg = merge_config(preset, dict(overrides or {}))
    cfg["name"] = name
    return arch_cls(cfg, vocab)


def load_dense_model(path: str | Path) -> DenseCaptioner:
    """Load a saved BMT or MDVC model dir (picks the class from config.json's ``arch``)."""
    from vxt.utils import read_json

    arch = read_json(Path(path) / "config.json").get("arch")
    if arch == "bmt":
        from vxt.models.bmt import BMT

        return BMT.from_pretrained(path)
    if arch == "mdvc":
        from vxt.models.mdvc import MDVC

        return MDVC.from_pretrained(path)
    raise VxtError(f"not a BMT/MDVC checkpoint (arch {arch!r})", path=str(path))


#: preset name -> (captioner class, preset config), filled by register_presets
DENSE_PRESETS: dict[str, tuple[type, dict]] = {}


def register_presets(arch_cls, presets: dict[str, dict]) -> None:
    """Register ``name -> builder`` for each preset in vxt.registry.MODELS.

    The builder follows the training loop's contract
    (``builder(overrides=..., data_dir=..., name=...)`` -> the ``--task dense``
    model of :mod:`vxt.models.dense_task`); given a ``vocab`` it builds the
    bare captioner instead (``MODELS.create(name, config, vocab=vocab)``).
    """
    from vxt.registry import MODELS

    for name, preset in presets.items():
        DENSE_PRESETS[name] = (arch_cls, dict(preset))

        def builder(overrides: dict | None = None, vocab: Any = None, data_dir: Any = None, name: str | None = None,
                    _name=name):
            if vocab is not None:
                return build_dense_model(_name, overrides, vocab)
            from vxt.models.dense_task import build_dense_task

            return build_dense_task(_name, overrides, data_dir)

        builder.__doc__ = f"{arch_cls.__name__} dense captioner, preset {name!r} (--task dense)."
        MODELS.register(name, default_config=dict(preset), description=builder.__doc__)(builder)
