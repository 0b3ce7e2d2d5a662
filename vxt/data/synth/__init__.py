"""The synthetic audio-visual benchmark: generated clips in which every modality matters.

Each 4 s clip shows one shape (circle, square, triangle) of one colour (red,
green, blue, yellow) doing one motion (moves left/right/up/down, grows,
shrinks, blinks, stays still) over a random textured, noisy background; its
audio track carries one sound (a low hum, a high beep, a rising whistle, a
drum, rain, or silence) over background noise; its sidecar subtitle names the
shape's owner (a name that is in no other modality). Captions, multiple-choice
questions and dialog answers are built from those attributes, so a model must
use video, audio and speech to get them right, and the ground truth is known.

Dense-captioning videos are 20 s long with 2-4 timed events, each its own
shape, motion, sound and owner; the sound and the subtitle of an event play
during the event only.

Everything an example says is a pure function of ``(seed, split, index)``:
each item draws from its own ``numpy.random.Generator`` seeded by a
``SeedSequence`` of those numbers, so the annotations are byte-identical
whatever the number of workers or the order items are produced in, and a
resumed run can rebuild the annotations of an item whose mp4 it keeps without
re-rendering it. The attributes come from one child stream and the pixels and
samples from another, so the annotations never depend on rendering.

The parts, lowest first (each imports only those above it):

* :mod:`~vxt.data.synth.vocab`: sizes, durations, attribute values, label
  spaces and phrasing tables.
* :mod:`~vxt.data.synth.text`: caption paraphrases, questions, dialogs.
* :mod:`~vxt.data.synth.specs`: per-item random streams, clip and dense specs,
  their manifest examples.
* :mod:`~vxt.data.synth.scene`: rendering the frames.
* :mod:`~vxt.data.synth.styles`: the visual domains (photo, cartoon, sketch,
  night, pixel): one scene drawn from primitives in five looks.
* :mod:`~vxt.data.synth.sounds`: rendering the audio track.
* :mod:`~vxt.data.synth.foley`: ``--mode foley``, 10 s clips whose every sound
  is caused by a visible event at an exact time (sparse or dense events).
* :mod:`~vxt.data.synth.narrated`: ``--mode narrated``, 40-60 s instructional
  videos whose narration is spoken in the audio (a word code, or espeak-ng).
* :mod:`~vxt.data.synth.writer`: SubRip text, the mp4 writer and
  :func:`generate_item` (run by the prepare workers).

The modes and domains draw from streams of their own (new item kinds, new
child streams), so the default output is byte-identical to what it was before
they existed.
"""

from __future__ import annotations

# The private names re-exported here are read by tests and recipes/synth/ablate_report.py.
from vxt.data.synth.foley import foley_examples, foley_prims, foley_spec, render_foley_audio
from vxt.data.synth.narrated import (
    VOCAB,
    decode_word_code,
    narrated_examples,
    narrated_spec,
    render_narrated_audio,
    speech_coverage,
)
from vxt.data.synth.scene import render_video
from vxt.data.synth.sounds import render_audio
from vxt.data.synth.specs import (  # noqa: F401
    _rngs,
    _stream,
    clip_examples,
    clip_spec,
    dense_example,
    dense_spec,
    domain_id,
    item_seed,
    with_domain,
)
from vxt.data.synth.styles import clip_prims, render_styled, restyle
from vxt.data.synth.text import QUESTION_TYPES, caption_paraphrases
from vxt.data.synth.vocab import (  # noqa: F401
    _MOTION_ALT,
    _MOTION_BASE,
    _SOUND_HEARD,
    _SOUND_NOUN,
    _SOUND_WHILE,
    _SOUND_WITH,
    AUDIO_LABELS,
    CLIP_SECONDS,
    COLOURS,
    DENSE_SECONDS,
    DOMAINS,
    EXTRA_COLOURS,
    EXTRA_SHAPES,
    FOLEY_EVENTS,
    FOLEY_KINDS,
    FOLEY_LABELS,
    FOLEY_SAMPLE_RATE,
    FOLEY_SECONDS,
    FPS,
    MATERIALS,
    MISSING_AUDIO_RATE,
    MODES,
    MOTIONS,
    NAMES,
    NARRATED_SECONDS,
    NARRATED_STEPS,
    SAMPLE_RATE,
    SHAPES,
    SIZE,
    SOUNDS,
    STEP_SECONDS,
    VIDEO_LABELS,
    VOICES,
)
from vxt.data.synth.writer import generate_item, srt_text, write_mp4

__all__ = [
    "AUDIO_LABELS",
    "CLIP_SECONDS",
    "COLOURS",
    "DENSE_SECONDS",
    "DOMAINS",
    "EXTRA_COLOURS",
    "EXTRA_SHAPES",
    "FOLEY_EVENTS",
    "FOLEY_KINDS",
    "FOLEY_LABELS",
    "FOLEY_SAMPLE_RATE",
    "FOLEY_SECONDS",
    "FPS",
    "MATERIALS",
    "MISSING_AUDIO_RATE",
    "MODES",
    "MOTIONS",
    "NAMES",
    "NARRATED_SECONDS",
    "NARRATED_STEPS",
    "QUESTION_TYPES",
    "SAMPLE_RATE",
    "SHAPES",
    "SIZE",
    "SOUNDS",
    "STEP_SECONDS",
    "VIDEO_LABELS",
    "VOCAB",
    "VOICES",
    "caption_paraphrases",
    "clip_examples",
    "clip_prims",
    "clip_spec",
    "decode_word_code",
    "dense_example",
    "dense_spec",
    "domain_id",
    "foley_examples",
    "foley_prims",
    "foley_spec",
    "generate_item",
    "item_seed",
    "narrated_examples",
    "narrated_spec",
    "render_audio",
    "render_foley_audio",
    "render_narrated_audio",
    "render_styled",
    "render_video",
    "restyle",
    "speech_coverage",
    "srt_text",
    "with_domain",
    "write_mp4",
]
