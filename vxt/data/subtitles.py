"""SubRip (.srt) and WebVTT (.vtt) subtitles: read any encoding, never crash on bytes.

A cue becomes ``{"start": seconds, "end": seconds, "text": str}`` with simple
markup removed (``<i>``, ``<font ...>``, ``<c.yellow>``, ``<v Name>``, inline
timestamps, ``{\\an8}``-style overrides) and its lines joined by one space.
Parsing is line based and forgiving: a cue whose timing line cannot be read,
or whose end is before its start, is skipped and the rest of the file is
kept; a missing blank line between cues is tolerated.
"""

from __future__ import annotations

import codecs
import html
import os
import re
from pathlib import Path

from vxt.errors import DataError

__all__ = ["read_subtitles", "parse_srt", "parse_vtt", "decode_text"]

# hh:mm:ss,mmm / h:mm:ss.mmm / mm:ss.mmm (WebVTT allows leaving out the hours)
_TIME = r"(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,:]\d{1,3})?"
_TIMING = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+(.*))?\s*$")
_TAG = re.compile(r"<[^>]*>")
_OVERRIDE = re.compile(r"\{\\[^}]*\}")
_SPACE = re.compile(r"\s+")


def decode_text(data: bytes) -> str:
    """Decode subtitle bytes: UTF-8 (BOM or not), UTF-16/32 with BOM, detected, else Latin-1.

    Never raises: the last resort is Latin-1 with ``errors="replace"``.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                break
    legacy = _legacy_encoding(data)
    if legacy is not None:
        return data.decode(legacy)
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    except Exception:  # detection is a nicety; never let it break reading
        pass
    return data.decode("latin-1", errors="replace")


#: the 8-bit encodings subtitles are written in, most common first (ties go to the earlier one), with the
#: letters of the languages each serves: Western Europe, Cyrillic, Central Europe, Baltic, Turkish, Greek,
#: Arabic, Hebrew
_LEGACY: tuple[tuple[str, str], ...] = (
    ("cp1252", "àâäæçéèêëîïôœùûüÿáíóúñãõßöåøìòÀÂÄÆÇÉÈÊËÎÏÔŒÙÛÜŸÁÍÓÚÑÃÕÖÅØÌÒ"),
    ("cp1251", "".join(map(chr, range(0x410, 0x450))) + "ёЁіІїЇєЄґҐўЎ"),
    ("cp1250", "ąćęłńóśźżčďěňřšťůžáéíóúýőűöüäôĺľŕĄĆĘŁŃÓŚŹŻČĎĚŇŘŠŤŮŽÁÉÍÓÚÝŐŰÖÜÄÔĹĽŔ"),
    ("iso8859_2", "ąćęłńóśźżčďěňřšťůžáéíóúýőűöüäôĺľŕĄĆĘŁŃÓŚŹŻČĎĚŇŘŠŤŮŽÁÉÍÓÚÝŐŰÖÜÄÔĹĽŔ"),
    ("koi8_r", "".join(map(chr, range(0x410, 0x450))) + "ёЁ"),
    ("cp1257", "ąčęėįšųūžāēģīķļņōŗõäöüĄČĘĖĮŠŲŪŽĀĒĢĪĶĻŅŌŖÕÄÖÜ"),
    ("cp1254", "çğıöşüâîûÇĞİÖŞÜÂÎÛ"),
    ("cp1253", "".join(map(chr, range(0x386, 0x3CF)))),
    ("cp1256", "".join(map(chr, range(0x621, 0x656))) + "پچژگکیہےھ"),
    ("cp1255", "".join(map(chr, range(0x5B0, 0x5F5)))),
)
#: punctuation of the 8-bit code pages that text uses between words
_PUNCT = set("“”‘’„‚–—…«»·°€\u00a0¿¡•™©®№§")
_NON_LATIN = {"cp1251", "koi8_r", "cp1253", "cp1256", "cp1255"}
_WORD8 = re.compile(rb"[^\s]*[\x80-\xff][^\s]*")


def _oddities(word: str, native: frozenset, latin: bool) -> int:
    """How unlike text in the code page's languages one word decoded with it looks (0: plausible)."""
    odd = 0
    letters = [c for c in word if c.isalpha()]
    for i, c in enumerate(word):
        if c < "\x80":
            continue
        if c.isalpha():
            odd += c not in native
        elif c not in _PUNCT or (0 < i < len(word) - 1 and word[i - 1].isalpha() and word[i + 1].isalpha()):
            odd += 1  # a symbol, or punctuation inside a word (Polish 'ż' read as '¿', 'ł' as '³')
    if letters:
        w = "".join(letters)
        if not (w.islower() or w.isupper() or (w[0].isupper() and w[1:].islower())):
            odd += 1  # 'пРИВЕТ': KOI8-R read as cp1251; 'ÄãÉ': bytes of another script
        if latin and len(letters) >= 3 and all(c >= "\x80" for c in letters):
            odd += 1  # a Latin-script word with no plain letter at all: Greek or Cyrillic bytes
        if not latin and any(c < "\x80" for c in letters) and any(c >= "\x80" for c in letters):
            odd += 1  # Latin and another script in one word: 'nasэlsэn' (Turkish read as Cyrillic)
        if latin and "ñ" in w[:-1] and any(w[i] == "ñ" and w[i + 1] not in "aeiouáéíóú" for i in range(len(w) - 1)):
            odd += 1  # Spanish ñ comes before a vowel
        if latin and w.endswith("ñ") and len(w) > 2:
            odd += 1  # ... and ends no word ('Dzieñ': Polish ń)
    return odd


def _legacy_encoding(data: bytes, max_words: int = 20000) -> str | None:
    """The 8-bit code page (of :data:`_LEGACY`) under which the words with non-ASCII bytes read as text of its
    languages, the most common code page on a tie; None when none reads well (left to the detector).

    Detectors guess French cp1252 as Baltic cp1257 ('crčme brūlée'): the letters are all letters in both, but
    only one code page holds them all as letters of its own languages.
    """
    words = []
    for m in _WORD8.finditer(data):
        words.append(m.group())
        if len(words) >= max_words:
            break
    if not words:
        return None
    n_high = sum(sum(b >= 0x80 for b in w) for w in words)
    scored: list[tuple[int, int, int, str]] = []
    for rank, (enc, letters) in enumerate(_LEGACY):
        native, latin = frozenset(letters), enc not in _NON_LATIN
        odd = 0
        try:
            decoded = [w.decode(enc) for w in words]
        except UnicodeDecodeError:
            continue
        for w in decoded:
            odd += _oddities(w, native, latin)
        # text is mostly lower case: KOI8-R lower case reads as cp1251 capitals
        high = [c for w in decoded for c in w if c >= "\x80" and c.isalpha()]
        upper = int(len(high) >= 8 and sum(c.isupper() for c in high) > len(high) / 2)
        scored.append((odd, upper, rank, enc))
    if not scored:
        return None
    scored.sort()
    odd, upper = scored[0][:2]
    if odd > max(1, n_high // 20):
        return None
    # a tie goes to the more common code page (a statistical detector does worse on a few words)
    pick = scored[0][3]
    try:
        data.decode(pick)
    except UnicodeDecodeError:
        return None
    return pick


_STAMP = re.compile(r"^(\d+(?::\d{1,2}){1,2})(?:[.,](\d{1,3}))?$")
_STAMP4 = re.compile(r"^(\d+:\d{1,2}:\d{1,2}):(\d{1,3})$")  # 'hh:mm:ss:mmm', a common typo


def _seconds(stamp: str) -> float:
    """'01:02:03,456' / '02:03.456' / '1:02:03' -> seconds; ValueError when unreadable."""
    m = _STAMP.match(stamp.strip()) or _STAMP4.match(stamp.strip())
    if m is None:
        raise ValueError(f"bad timestamp {stamp!r}")
    parts = [int(x) for x in m.group(1).split(":")]
    h, mnt, s = ([0] + parts)[-3:]
    if mnt >= 60 or s >= 60:
        raise ValueError(f"bad timestamp {stamp!r}")
    frac = int(m.group(2)) / 10 ** len(m.group(2)) if m.group(2) else 0.0
    return h * 3600 + mnt * 60 + s + frac


def _clean(lines: list[str], unescape: bool) -> str:
    text = " ".join(line.strip() for line in lines if line.strip())
    text = _OVERRIDE.sub("", text)
    text = _TAG.sub("", text)
    if unescape:
        text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def _parse(text: str, *, vtt: bool, start: float | None = None, end: float | None = None) -> list[dict]:
    """Cues of ``text``; with ``start``/``end``, only those overlapping [start, end] (the others are not kept)."""
    import io

    lo = float("-inf") if start is None else float(start)
    hi = float("inf") if end is None else float(end)
    cues: list[dict] = []
    cur: dict | None = None  # {"start", "end", "lines"}
    skipping = False  # inside a cue whose timing line was unreadable

    def close():
        nonlocal cur
        if cur is not None and (cur["end"] <= lo or cur["start"] >= hi) and not lo <= cur["start"] == cur["end"] <= hi:
            cur = None  # outside the clip's time range (a cue without length counts where it stands)
        if cur is not None:
            t = _clean(cur["lines"], unescape=vtt)
            if t and cur["end"] >= cur["start"]:
                cues.append({"start": round(cur["start"], 3), "end": round(cur["end"], 3), "text": t})
        cur = None

    for raw in io.StringIO(text, newline=None):  # one line at a time (\r\n and \r read as \n), no list of all
        line = raw.replace("\ufeff", "").rstrip()
        if "-->" in line:
            m = _TIMING.match(line)
            if cur is not None and cur["lines"] and cur["lines"][-1].strip().isdigit():
                cur["lines"].pop()  # no blank line before this cue: that number was its index
            close()
            if m is None:
                skipping = True
                continue
            try:
                cur = {"start": _seconds(m.group(1)), "end": _seconds(m.group(2)), "lines": []}
                skipping = False
            except ValueError:
                cur, skipping = None, True
            continue
        if not line.strip():
            close()
            skipping = False
            continue
        if cur is not None and not skipping:
            cur["lines"].append(line)
        # Lines outside a cue (indices, WEBVTT header, NOTE/STYLE blocks, cue ids, junk) are ignored.
    close()
    cues.sort(key=lambda c: (c["start"], c["end"]))
    return cues


def parse_srt(text: str, start: float | None = None, end: float | None = None) -> list[dict]:
    """Parse SubRip text into cues (broken cues are skipped); with ``start``/``end``, those of that time range."""
    return _parse(text, vtt=False, start=start, end=end)


def parse_vtt(text: str, start: float | None = None, end: float | None = None) -> list[dict]:
    """Parse WebVTT text into cues: header, NOTE/STYLE/REGION blocks, cue ids and cue settings are ignored."""
    return _parse(text, vtt=True, start=start, end=end)


def read_subtitles(path: str | os.PathLike, start: float | None = None, end: float | None = None) -> list[dict]:
    """Read an .srt or .vtt file (by extension, else by a ``WEBVTT`` header) in any encoding; with ``start`` /
    ``end`` (seconds), only the cues that overlap that range are kept (a clip of a long transcript)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError("subtitle file not found", path=str(path)) from None
    except OSError as e:
        raise DataError(f"cannot read the subtitle file ({e.strerror or e})", path=str(path)) from None
    text = decode_text(data)
    ext = p.suffix.lower()
    is_vtt = ext == ".vtt" or (ext != ".srt" and text.lstrip("\ufeff \n").startswith("WEBVTT"))
    del data  # the bytes are not needed past here (a long transcript: tens of MB)
    return parse_vtt(text, start, end) if is_vtt else parse_srt(text, start, end)
