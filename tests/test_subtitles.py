"""Subtitles: SRT/VTT in any encoding, broken cues skipped, markup stripped."""

from __future__ import annotations

import codecs

import pytest

from vxt.data.subtitles import decode_text, parse_srt, parse_vtt, read_subtitles
from vxt.errors import DataError

SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\n<i>Ça va?</i> Très bien.\n\n"
    "2\n00:00:0x,000 --> 00:00:03,000\nthis cue has a broken time line\n\n"
    "3\n00:00:03,000 --> 00:00:04,250\n{\\an8}<font color=\"#ff0000\">Señor</font> Müller,\nà bientôt!\n\n"
)
EXPECTED = [
    {"start": 1.0, "end": 2.5, "text": "Ça va? Très bien."},
    {"start": 3.0, "end": 4.25, "text": "Señor Müller, à bientôt!"},
]


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("utf-16"),  # with BOM
        lambda s: s.encode("latin-1"),
        lambda s: s.replace("\n", "\r\n").encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16", "latin1", "cp1252-crlf"],
)
def test_srt_any_encoding_with_broken_cue(tmp_path, encode):
    path = tmp_path / "clip.srt"
    path.write_bytes(encode(SRT))
    assert read_subtitles(path) == EXPECTED


def test_vtt_header_notes_settings_and_tags(tmp_path):
    vtt = (
        "WEBVTT - a title\nKind: captions\nLanguage: en\n\n"
        "NOTE a comment\nthat spans lines\n\n"
        "STYLE\n::cue { color: yellow }\n\n"
        "intro\n00:01.000 --> 00:02.500 align:start position:10% line:0\n"
        "<v Bob>Hello &amp; <c.yellow>welcome</c></v>\nto the <b>show</b>\n\n"
        "00:00:03.000 --> 00:00:04.000\n<00:00:03.500>karaoke <i>style</i>\n\n"
        "00:00:05.000 --> 00:00:04.000\nends before it starts: skipped\n"
    )
    path = tmp_path / "clip.vtt"
    path.write_text(vtt, encoding="utf-8")
    assert read_subtitles(path) == [
        {"start": 1.0, "end": 2.5, "text": "Hello & welcome to the show"},
        {"start": 3.0, "end": 4.0, "text": "karaoke style"},
    ]
    # A WEBVTT header is recognised without the extension too.
    other = tmp_path / "captions.txt"
    other.write_text(vtt)
    assert read_subtitles(other)[0]["text"] == "Hello & welcome to the show"


def test_srt_without_blank_lines_and_odd_times():
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nno blank line after this\n"
        "2\n00:00:03,000 --> 00:00:04,000\nsecond\n\n"
        "junk line between cues\n\n"
        "4\n1:00:00.5 --> 1:00:01:250\n42\n"
    )
    assert parse_srt(text) == [
        {"start": 1.0, "end": 2.0, "text": "no blank line after this"},
        {"start": 3.0, "end": 4.0, "text": "second"},
        {"start": 3600.5, "end": 3601.25, "text": "42"},
    ]


def test_never_crashes_on_bytes(tmp_path):
    import random

    rng = random.Random(0)
    junk = bytes(rng.randrange(256) for _ in range(4000))
    assert isinstance(decode_text(junk), str)
    path = tmp_path / "junk.srt"
    path.write_bytes(junk + SRT.encode("utf-8"))
    cues = read_subtitles(path)  # garbage first, then good cues: those cues survive
    assert [(c["start"], c["end"]) for c in cues[-2:]] == [(1.0, 2.5), (3.0, 4.25)]
    assert parse_vtt("") == [] and parse_srt("\n\n") == []


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="subtitle file not found"):
        read_subtitles(tmp_path / "nope.srt")
