"""Media decoding through PyAV: probe, video clips, frame folders, audio, log-mel.

Everything a model sees of a video or its sound comes through here, so three
rules hold throughout:

* **Do only the work that is used.** Clips are read in one forward pass over the
  stream; before a clip (or a sampled frame) the reader seeks to the key frame
  in front of it whenever the container index shows that this skips frames, and
  it stops once the last clip is full. Frames that are decoded but not sampled
  are never converted; sampled frames are scaled and turned into RGB by FFmpeg
  (swscale) in one step, and the centre crop and the rotation are numpy views.
* **Timestamps, not frame counts.** Times are seconds from the start of the
  file (the container start time). Variable frame rate video is handled by
  picking, for each wanted time, the decoded frame whose timestamp is nearest.
* **One clear error.** Every failure to read a file becomes a
  :class:`vxt.errors.MediaError` with one sentence and the path; no PyAV
  exception leaks out.

The parts, lowest first (each imports only those above it):

* :mod:`~vxt.data.media.probing`: :class:`MediaInfo`, :func:`probe`, and the
  open/check/stream helpers the readers share.
* :mod:`~vxt.data.media.video`: :func:`clip_starts` and :func:`read_clips`.
* :mod:`~vxt.data.media.frames`: frame folders (:func:`frame_folder_files`,
  :func:`read_frame_folder_clips`).
* :mod:`~vxt.data.media.audio`: :func:`read_audio` and :func:`log_mel`.
* :mod:`~vxt.data.media.sidecar`: :func:`find_sidecar_subtitles`.
"""

from __future__ import annotations

# _VideoSource and _load_image are re-exported for the tests that wrap them (patch them in
# vxt.data.media.video / vxt.data.media.frames, where they are looked up).
from vxt.data.media.audio import log_mel, read_audio
from vxt.data.media.frames import _load_image, frame_folder_files, read_frame_folder_clips  # noqa: F401
from vxt.data.media.probing import MediaInfo, probe
from vxt.data.media.sidecar import find_sidecar_subtitles
from vxt.data.media.video import _VideoSource, clip_starts, read_clips  # noqa: F401

__all__ = [
    "MediaInfo",
    "probe",
    "clip_starts",
    "read_clips",
    "read_frame_folder_clips",
    "frame_folder_files",
    "read_audio",
    "log_mel",
    "find_sidecar_subtitles",
]

