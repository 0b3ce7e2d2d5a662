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
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    except Exception:  # detection is a nicety; never let it break reading
        pass
    return data.decode("latin-1", errors="replace")


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


def _parse(text: str, *, vtt: bool) -> list[dict]:
    cues: list[dict] = []
    cur: dict | None = None  # {"start", "end", "lines"}
    skipping = False  # inside a cue whose timing line was unreadable

    def close():
        nonlocal cur
        if cur is not None:
            t = _clean(cur["lines"], unescape=vtt)
            if t and cur["end"] >= cur["start"]:
                cues.append({"start": round(cur["start"], 3), "end": round(cur["end"], 3), "text": t})
        cur = None

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
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


def parse_srt(text: str) -> list[dict]:
    """Parse SubRip text into cues (broken cues are skipped)."""
    return _parse(text, vtt=False)


def parse_vtt(text: str) -> list[dict]:
    """Parse WebVTT text into cues: header, NOTE/STYLE/REGION blocks, cue ids and cue settings are ignored."""
    return _parse(text, vtt=True)


def read_subtitles(path: str | os.PathLike) -> list[dict]:
    """Read an .srt or .vtt file (by extension, else by a ``WEBVTT`` header) in any encoding."""
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
    return parse_vtt(text) if is_vtt else parse_srt(text)
