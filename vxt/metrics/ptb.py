"""PTB tokenization exactly as pycocoevalcap does it, for many calls' worth of text in one Java process.

pycocoevalcap's ``PTBTokenizer.tokenize`` writes the captions it is given to
a temp file, one a line, runs Stanford CoreNLP 3.4.1's ``PTBTokenizer
-preserveLines -lowerCase`` on it and drops the tokens in
:data:`PUNCTUATIONS`. The tokenizer is *almost* line by line: its lexer looks
past the end of a line to decide whether a final period belongs to an
abbreviation ("... a capital T." keeps "t." when the next line starts in lower
case and becomes "t" "." when it starts with a capital or ends the file). So
the tokens of a sentence can depend on the line that follows it in the call.

To give exactly the official tokens, :func:`ptb_tokenize_documents` takes
*documents* (the lists of lines the official code would pass to separate
``tokenize`` calls, in the same order) and tokenizes each one separately, all
in a single Java process (``-ioFileList``), instead of one Java start per
call as the official dense-captioning evaluator does (eight per threshold).

One deliberate difference: pycocoevalcap replaces only ``\\n`` by a space, but
the lexer also starts a new line at ``\\r``, ``\\v``, ``\\f``, U+2028 and
U+2029, which silently shifts every later sentence onto the wrong id there.
Those characters are replaced by spaces here too, so such input is tokenized
as the sentence it is instead of misaligned.

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


def ptb_tokenize_documents(documents: Sequence[Sequence[str]], *, java: str | None = None) -> list[list[str]]:
    """Tokenize each document (a list of lines) as one pycocoevalcap ``tokenize`` call on those lines would.

    Returns, per document, the tokenized lines with pycocoevalcap's
    punctuation removed. All documents go through one Java process; each is
    lexed on its own, so every line sees the same neighbours as in the
    official call.
    """
    from vxt.metrics.java import ptb_jar, require_java

    out: list[list[str]] = [[] for _ in documents]
    todo = [k for k, doc in enumerate(documents) if any(_clean(x).strip() for x in doc)]
    for k, doc in enumerate(documents):
        if k not in todo:
            out[k] = [""] * len(doc)  # nothing to tokenize
    if not todo:
        return out
    java = java or require_java()
    with tempfile.TemporaryDirectory(prefix="vxt-ptb-") as tmp:
        pairs = []
        for k in todo:
            with open(os.path.join(tmp, f"in{k}.txt"), "wb") as fh:
                fh.write("\n".join(_clean(x) for x in documents[k]).encode())
            pairs.append(f"in{k}.txt out{k}.txt")
        with open(os.path.join(tmp, "files.txt"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(pairs) + "\n")
        cmd = [java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", str(ptb_jar()), "edu.stanford.nlp.process.PTBTokenizer",
               "-preserveLines", "-lowerCase", "-ioFileList", "files.txt"]
        proc = subprocess.run(cmd, capture_output=True, cwd=tmp)
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise VxtError(f"the PTB tokenizer (Java) failed with exit code {proc.returncode}: {tail[0]}")
        for k in todo:
            with open(os.path.join(tmp, f"out{k}.txt"), "rb") as fh:
                lines = fh.read().decode().split("\n")
            n = len(documents[k])
            if len(lines) < n:
                raise VxtError(f"the PTB tokenizer returned {len(lines)} lines for {n} sentences")
            out[k] = [_strip_punct(line) for line in lines[:n]]
    return out


def ptb_tokenize(sentences: Iterable[str], *, java: str | None = None) -> dict[str, str]:
    """{sentence: tokens} for distinct sentences, tokenized together as one document (one line each).

    Convenient when the exact neighbours do not matter; the metrics use
    :func:`ptb_tokenize_documents` with the official documents instead.
    """
    unique = list(dict.fromkeys(sentences))
    return dict(zip(unique, ptb_tokenize_documents([unique], java=java)[0]))


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


def tokenize_documents(documents: Sequence[Sequence[str]], *, java: bool = True) -> list[list[str]]:
    """Tokenized lines per document: the PTB tokenizer (``java=True``) or the pure-Python stand-in."""
    if java:
        return ptb_tokenize_documents(documents)
    cache: dict[str, str] = {}

    def tok(x: str) -> str:
        v = cache.get(x)
        if v is None:
            v = cache[x] = simple_tokenize(x)
        return v

    return [[tok(x) for x in doc] for doc in documents]
