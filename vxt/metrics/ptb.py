"""PTB tokenization as pycocoevalcap does it, in one Java call for any number of sentences.

pycocoevalcap's ``PTBTokenizer.tokenize`` runs Stanford CoreNLP 3.4.1's
``PTBTokenizer -preserveLines -lowerCase`` on a temp file (one sentence a
line) and then drops the tokens in :data:`PUNCTUATIONS`. The tokenizer works
line by line, so tokenizing every unique sentence of a whole evaluation at
once gives each sentence the tokens it gets alone; :func:`ptb_tokenize` does
that, once, instead of once per scorer and per threshold as the official
dense-captioning evaluator does.

One deliberate difference: pycocoevalcap replaces only ``\\n`` by a space, but
the Java lexer also starts a new line at ``\\r``, ``\\v``, ``\\f``, U+2028 and
U+2029, which silently shifts every later sentence onto the wrong id. Those
characters are replaced by spaces here too, so such input is tokenized as the
sentence it is instead of misaligned.

:func:`simple_tokenize` is the pure-Python stand-in used by ``--no-java``: it
follows the same rules for the common cases (lower case, PTB contractions,
punctuation split off and dropped) but is not the reference tokenizer, so
numbers computed with it are not comparable to published ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from typing import Iterable, Sequence

from vxt.errors import VxtError

# The tokens pycocoevalcap removes after tokenizing (tokenizer/ptbtokenizer.py).
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

# Characters the PTB lexer treats as line ends (besides \n, which pycocoevalcap already replaces).
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\u2028\u2029]")


def _clean(sentence: str) -> str:
    return _LINE_BREAKS.sub(" ", sentence)


def _strip_punct(line: str) -> str:
    return " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS)


def ptb_tokenize(sentences: Iterable[str], *, java: str | None = None) -> dict[str, str]:
    """Tokenize sentences with the PTB tokenizer pycocoevalcap uses; returns {sentence: tokens}.

    Every distinct sentence is tokenized once, all in a single Java process.
    The result for each sentence equals what
    ``PTBTokenizer().tokenize({0: [{"caption": sentence}]})[0][0]`` gives.
    """
    from vxt.metrics.java import ptb_jar, require_java

    unique = list(dict.fromkeys(sentences))
    out: dict[str, str] = {}
    todo = []
    for s in unique:
        cleaned = _clean(s)
        if cleaned.strip():
            todo.append((s, cleaned))
        else:
            out[s] = ""  # no tokens: no need to ask Java
    if not todo:
        return out
    java = java or require_java()
    fd, path = tempfile.mkstemp(prefix="vxt-ptb-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write("\n".join(c for _, c in todo).encode())
        cmd = [java, "-cp", str(ptb_jar()), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", path]
        proc = subprocess.run(cmd, capture_output=True)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise VxtError(f"the PTB tokenizer (Java) failed with exit code {proc.returncode}: {tail[0]}")
    lines = proc.stdout.decode().split("\n")
    if len(lines) < len(todo):
        raise VxtError(
            f"the PTB tokenizer returned {len(lines)} lines for {len(todo)} sentences; "
            "a sentence holds a character it treats as a line break"
        )
    for (s, _), line in zip(todo, lines):
        out[s] = _strip_punct(line)
    return out


# ---------------------------------------------------------------- pure Python (--no-java)

_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_SPLIT_WORDS = {"cannot": "can not", "gonna": "gon na", "gotta": "got ta", "wanna": "wan na", "lemme": "lem me", "gimme": "gim me"}
_TOKEN = re.compile(
    r"""
    \.\.\.|--                                  # ellipsis, dash pair
    |\d+(?:[,.:]\d+)+                         # 1,000  3.5  12:31
    |\w+(?:[.&/@-]\w+)+\.?                    # u.s.  e-mail  km/h  a&b
    |n't|'(?:s|re|ve|ll|d|m)\b                 # contractions
    |\w+(?=n't)                               # the word before n't
    |@?\w+
    |[^\s\w]                                  # any other single symbol
    """,
    re.VERBOSE,
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def simple_tokenize(sentence: str) -> str:
    """A pure-Python approximation of pycocoevalcap's PTB tokenization (for ``--no-java``)."""
    text = _clean(sentence).lower().translate(_QUOTES)
    for word, repl in _SPLIT_WORDS.items():
        text = re.sub(rf"\b{word}\b", repl, text)
    tokens = []
    for tok in _TOKEN.findall(text):
        if tok == '"':
            tok = "''"
        tok = _BRACKETS.get(tok, tok)
        if tok in PUNCTUATIONS:
            continue
        tokens.append(tok)
    # PTB keeps a final period on abbreviations only when another token follows; drop sentence-final ones.
    if tokens and tokens[-1].endswith(".") and tokens[-1].count(".") == 1:
        tokens[-1] = tokens[-1][:-1]
    return " ".join(tokens)


def tokenize(sentences: Sequence[str] | Iterable[str], *, java: bool = True) -> dict[str, str]:
    """{sentence: tokens} with the PTB tokenizer (``java=True``) or the pure-Python stand-in."""
    if java:
        return ptb_tokenize(sentences)
    return {s: simple_tokenize(s) for s in dict.fromkeys(sentences)}
