"""Sidecar subtitles: the ``.srt`` / ``.vtt`` file next to a video."""

from __future__ import annotations

import os
from pathlib import Path

_SUBTITLE_EXTS = (".srt", ".vtt")


# --------------------------------------------------------------------------- subtitles next to a video


def find_sidecar_subtitles(video_path: str | os.PathLike) -> Path | None:
    """A subtitle file beside ``video_path`` with the same stem (``.srt`` first, then ``.vtt``).

    Upper-case extensions count too; when there is no exact match a
    language-tagged name (``clip.en.srt``) is accepted, the first in name order.
    Only the candidate names are looked up, so this stays cheap in a folder of
    thousands of videos.
    """
    import glob

    v = Path(video_path)
    for ext in _SUBTITLE_EXTS:
        for e in (ext, ext.upper()):
            candidate = v.with_name(v.stem + e)
            if candidate.is_file():
                return candidate
    base = glob.escape(str(v.with_name(v.stem)))
    for ext in _SUBTITLE_EXTS:
        tagged = sorted(glob.glob(f"{base}.*{ext}"))
        if tagged:
            return Path(tagged[0])
    return None
