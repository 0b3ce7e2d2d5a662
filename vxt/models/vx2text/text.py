"""The text side of VX2TEXT: the subword tokenizer and the T5 backbone.

Two ways to get a tokenizer:

- :func:`train_tokenizer` trains a small BPE tokenizer (``tokenizers``
  library) on a data dir's texts *and every category name* of the modality
  classifiers (so a category name never falls apart into ``<unk>``). It uses
  T5's special-token convention: ``<pad>`` is id 0 (and the decoder start
  token), ``</s>`` id 1, ``<unk>`` id 2, followed by vxt's task and separator
  tokens (:data:`EXTRA_TOKENS`). Normalisation: NFKD, accents stripped,
  lower-cased. Pre-tokenisation: SentencePiece-style ``▁`` word boundaries,
  punctuation split off, so ``decode`` gives back readable text.
- a pretrained T5 directory (or hub id) brings its own SentencePiece
  tokenizer; :func:`add_special_tokens` adds the task/separator tokens to it
  (and the embedding matrix is resized when the vocabulary outgrows it).

The backbone is a Hugging Face ``T5ForConditionalGeneration``: built from a
``T5Config`` at random init (:func:`build_t5`) or loaded with
``from_pretrained`` (:func:`load_t5`, a local directory or a cached hub id;
nothing is downloaded here, and a hub id that is not cached gives one clear
error line).
"""

from __future__ import annotations

import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any, Iterable

from vxt.errors import VxtError

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
#: one token per task (the encoder input starts with it) plus the separator e_sep
TASK_TOKENS: dict[str, str] = {"caption": "<caption>", "qa": "<answer>", "dialog": "<dialog>", "qg": "<question>"}
SEP = "<sep>"
EXTRA_TOKENS: tuple[str, ...] = (*TASK_TOKENS.values(), SEP)
TOKENIZER_DIRNAME = "tokenizer"
#: the characters every trained tokenizer can spell (so unseen words become subwords, not <unk>)
_ALPHABET = list(string.ascii_lowercase + string.digits + string.punctuation)


# ---------------------------------------------------------------- tokenizers


def train_tokenizer(
    texts: Iterable[str],
    out_dir: str | os.PathLike | None = None,
    vocab_size: int = 2000,
    extra_tokens: Iterable[str] = EXTRA_TOKENS,
):
    """Train a lower-casing BPE tokenizer on ``texts``; save it to ``out_dir`` when given.

    Returns a ``PreTrainedTokenizerFast`` with ``<pad>``=0, ``</s>``=1,
    ``<unk>``=2 and ``extra_tokens`` as special tokens right after them.
    Training is deterministic: the same texts give the same vocabulary (so
    every DDP rank that trains one gets the same tokenizer).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    extra = [t for t in extra_tokens if t not in (PAD, EOS, UNK)]
    specials = [PAD, EOS, UNK, *extra]
    if vocab_size < len(specials) + len(_ALPHABET) + 1:
        raise VxtError(f"tokenizer vocab_size {vocab_size} is too small (at least {len(specials) + len(_ALPHABET) + 1})")
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=int(vocab_size), special_tokens=specials, initial_alphabet=_ALPHABET, show_progress=False
    )
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK, extra_special_tokens=extra
    )
    assert fast.pad_token_id == 0 and fast.eos_token_id == 1, "T5 convention: <pad>=0, </s>=1"
    if out_dir is not None:
        save_tokenizer(fast, out_dir)
    return fast


def save_tokenizer(tokenizer, out_dir: str | os.PathLike) -> Path:
    """``tokenizer.save_pretrained`` into a temp dir beside ``out_dir``, then swap it in (atomic)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tokenizer.save_pretrained(str(tmp))
        if out.exists():
            # merge into an existing dir (e.g. a checkpoint dir): replace file by file
            for f in tmp.iterdir():
                os.replace(f, out / f.name)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def has_tokenizer(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and any((p / f).is_file() for f in ("tokenizer.json", "spiece.model", "tokenizer_config.json"))


def load_tokenizer(path: str | os.PathLike):
    """Load a tokenizer saved with ``save_pretrained`` (a trained one or a T5 backbone's)."""
    from transformers import AutoTokenizer

    p = Path(path)
    if not has_tokenizer(p):
        raise VxtError("no tokenizer here (expected tokenizer.json or a T5 spiece.model)", path=str(p))
    try:
        return AutoTokenizer.from_pretrained(str(p))
    except (OSError, ValueError) as e:
        raise VxtError(f"cannot load the tokenizer: {e}", path=str(p)) from None


def add_special_tokens(tokenizer, tokens: Iterable[str] = EXTRA_TOKENS) -> int:
    """Add vxt's task/separator tokens to a (pretrained) tokenizer; returns how many were new."""
    vocab = tokenizer.get_vocab()
    new = [t for t in tokens if t not in vocab]
    if new:
        tokenizer.add_tokens(new, special_tokens=True)
    return len(new)


def manifest_texts(examples: Iterable[dict]) -> Iterable[str]:
    """Every text a manifest example carries (subtitles, question, candidates, history, targets, events...)."""
    for ex in examples:
        for sub in ex.get("subtitles", []):
            yield str(sub.get("text", ""))
        for key in ("question", "caption", "summary"):
            if isinstance(ex.get(key), str):
                yield ex[key]
        yield from (str(c) for c in ex.get("candidates", []))
        for turn in ex.get("history", []):
            yield from (str(t) for t in turn)
        yield from (str(t) for t in ex.get("targets", []))
        for ev in ex.get("events", []):
            if isinstance(ev.get("sentence"), str):
                yield ev["sentence"]


def data_tokenizer(data_dir: str | os.PathLike, category_names: Iterable[str], vocab_size: int = 2000):
    """The data dir's tokenizer (``DATA/tokenizer/``), trained on first use.

    Trained on the texts of ``train.jsonl`` and the category names, as
    ``vxt tokenize`` does; later calls (and other DDP ranks) load it.
    """
    from vxt.data.manifest import load_split

    data_dir = Path(data_dir)
    tok_dir = data_dir / TOKENIZER_DIRNAME
    if has_tokenizer(tok_dir):
        return load_tokenizer(tok_dir)
    texts: list[str] = list(category_names)
    if (data_dir / "train.jsonl").exists():
        texts.extend(manifest_texts(load_split(data_dir, "train")))
    return train_tokenizer(texts, tok_dir, vocab_size=vocab_size)


# ---------------------------------------------------------------- T5


def build_t5(hparams: dict[str, Any], tokenizer):
    """A randomly initialised T5 whose vocabulary and special ids follow ``tokenizer``."""
    from transformers import T5Config, T5ForConditionalGeneration

    cfg = dict(hparams)
    cfg.update(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    try:
        config = T5Config(**cfg)
    except Exception as e:  # noqa: BLE001 - TypeError, ValueError, huggingface_hub's strict-dataclass errors
        msg = str(e).strip().splitlines()
        raise VxtError(f"bad T5 hyperparameters {sorted(hparams)}: {msg[-1].strip() if msg else type(e).__name__}") from None
    return T5ForConditionalGeneration(config)


def t5_from_config_dict(config: dict):
    """A T5 (random init) from a saved ``T5Config.to_dict()`` (used when loading a checkpoint)."""
    from transformers import T5Config, T5ForConditionalGeneration

    # from_dict, not T5Config(**d): it keeps ``scale_decoder_outputs`` (T5 v1.1 vs original) as saved
    return T5ForConditionalGeneration(T5Config.from_dict(dict(config)))


def load_t5(name_or_path: str):
    """``T5ForConditionalGeneration.from_pretrained`` from a local dir or a cached hub id (never downloads)."""
    from transformers import T5ForConditionalGeneration

    p = Path(name_or_path)
    local = p.exists()
    if local and not (p / "config.json").is_file():
        raise VxtError("not a saved T5 model (no config.json)", path=str(p))
    try:
        return T5ForConditionalGeneration.from_pretrained(str(name_or_path), local_files_only=True)
    except (OSError, ValueError, EnvironmentError) as e:
        if local:
            raise VxtError(f"cannot load the T5 backbone: {e}", path=str(p)) from None
        raise VxtError(
            f"the text backbone {name_or_path!r} is neither a local directory nor a cached Hugging Face model "
            "(vxt does not download): pass a directory with --set text_backbone=DIR"
        ) from None


def t5_config_dict(t5) -> dict:
    """The JSON-serialisable config of a T5 (what :func:`t5_from_config_dict` rebuilds)."""
    d = t5.config.to_dict()
    for k in ("_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype"):
        d.pop(k, None)
    return d
