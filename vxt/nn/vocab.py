"""A word-level caption vocabulary (``<pad> <s> </s> <unk>`` + training words), as BMT and MDVC use.

JSON-serialisable, optionally initialised from a local GloVe text file
(:func:`load_glove`); nothing is ever downloaded.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import torch

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
