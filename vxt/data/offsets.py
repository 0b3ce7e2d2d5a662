"""The audio-visual offset convention of vxt, and SparseSync's.

vxt's ``offset`` (manifest, ``preds.json``) is positive when the audio is
heard later than the picture. SparseSync's fixed offset lists
(``path,offset_sec,vstart_sec``) take the audio from ``vstart_sec +
offset_sec``, so a positive ``offset_sec`` makes the audio early: the
opposite sign.
"""

from __future__ import annotations


def from_sparsesync_offset(offset_sec: float) -> float:
    """A SparseSync list's ``offset_sec`` as vxt's offset (audio lag)."""
    return 0.0 - float(offset_sec)
