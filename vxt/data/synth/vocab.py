"""The synthetic benchmark's vocabulary: sizes and durations, attribute values, label spaces, phrasing tables."""

from __future__ import annotations

# ---------------------------------------------------------------- constants

FPS = 25
SAMPLE_RATE = 16000
SIZE = 128
CLIP_SECONDS = 4.0
DENSE_SECONDS = 20.0
#: fraction of 4 s clips written without an audio stream (``missing: ["audio"]``)
MISSING_AUDIO_RATE = 0.03

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
MOTIONS = ("moves left", "moves right", "moves up", "moves down", "grows", "shrinks", "blinks", "stays still")
SOUNDS = ("low hum", "high beep", "rising whistle", "drum", "rain", "silence")
NAMES = ("anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "iris", "jack")

#: values that never occur, used only as multiple-choice distractors where the
#: real value set is smaller than the 4 distractors a question needs
EXTRA_COLOURS = ("purple", "orange", "white", "pink")
EXTRA_SHAPES = ("star", "heart", "diamond")

#: the label spaces of the modality classifiers (as Kinetics and AudioSet are for the paper)
VIDEO_LABELS = MOTIONS
AUDIO_LABELS = SOUNDS

_RGB = {
    "red": (215, 35, 35),
    "green": (35, 190, 55),
    "blue": (40, 70, 225),
    "yellow": (230, 215, 35),
}
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
#: the item kinds: each seeds its own streams (a new kind never changes an old one's)
_KIND_CODE = {"clip": 0, "dense": 1, "foley-sparse": 2, "foley-dense": 3, "narrated": 4}
#: child streams of an item seed beyond the four of ``specs._rngs`` (attributes, wording, pixels
#: and samples, extra questions): the new modes' audio, and the visual domains' styles
_AUDIO_STREAM = 4
_STYLE_STREAM = 5

# ---------------------------------------------------------------- modes and visual domains

#: ``--mode``: today's clips and dense videos, foley clips, narrated instructional videos
MODES = ("default", "foley", "narrated")
#: ``--domains``: the rendering styles of the same scene grammar (``photo`` is today's)
DOMAINS = ("photo", "cartoon", "sketch", "night", "pixel")

#: foley clips: 10 s, AAC at 22,050 Hz (SpecVQGAN's rate; SparseSync resamples to 16 kHz)
FOLEY_SECONDS = 10.0
FOLEY_SAMPLE_RATE = 22050
FOLEY_EVENTS = ("sparse", "dense")
#: what a shape is made of (the material sets the sound of its hits)
MATERIALS = {"square": "wood", "circle": "metal", "triangle": "glass"}
#: the sound of each material's hits, a closing lid's and a lamp's
HIT_KIND = {"wood": "knock", "metal": "clang", "glass": "clink"}
FOLEY_KINDS = ("knock", "clang", "clink", "thud", "beep")
#: the clip's sound class (``label``), one per sounding kind
FOLEY_LABELS = ("wood knock", "metal clang", "glass clink", "lid thud", "lamp beep")
FOLEY_LABEL_OF_KIND = dict(zip(FOLEY_KINDS, FOLEY_LABELS))
#: SparseSync's offset grid (21 classes, seconds; audio later than video is positive)
SYNC_OFFSETS = tuple(round(-2.0 + 0.2 * i, 1) for i in range(21))
SYNC_WINDOW = 5.0

#: narrated videos: 40-60 s of 6-10 consecutive steps of 4-6 s
NARRATED_SECONDS = (40.0, 60.0)
NARRATED_STEPS = (6, 10)
STEP_SECONDS = (4.0, 6.0)
VOICES = ("code", "espeak-ng")

# ---------------------------------------------------------------- phrasing

_MOTION_ALT = {
    "moves left": "goes to the left",
    "moves right": "goes to the right",
    "moves up": "goes up",
    "moves down": "goes down",
    "grows": "gets bigger",
    "shrinks": "gets smaller",
    "blinks": "flashes on and off",
    "stays still": "does not move",
}
_MOTION_BASE = {
    "moves left": "move left",
    "moves right": "move right",
    "moves up": "move up",
    "moves down": "move down",
    "grows": "grow",
    "shrinks": "shrink",
    "blinks": "blink",
    "stays still": "stay still",
}
_SOUND_NOUN = {
    "low hum": "a low hum",
    "high beep": "a high beep",
    "rising whistle": "a rising whistle",
    "drum": "a drum",
    "rain": "rain",
    "silence": "silence",
}
_SOUND_WHILE = {
    "low hum": "while a low hum plays",
    "high beep": "while a high beep sounds",
    "rising whistle": "while a whistle rises",
    "drum": "while a drum plays",
    "rain": "while rain falls",
    "silence": "in silence",
}
_SOUND_WITH = {
    "low hum": "with a low hum",
    "high beep": "with a high beep",
    "rising whistle": "with a rising whistle",
    "drum": "with a drum playing",
    "rain": "with the sound of rain",
    "silence": "without any sound",
}
_SOUND_HEARD = {
    "low hum": "a low hum can be heard",
    "high beep": "a high beep can be heard",
    "rising whistle": "a rising whistle can be heard",
    "drum": "a drum can be heard",
    "rain": "rain can be heard",
    "silence": "nothing can be heard",
}

_OWNER_LINES = (
    "look, this is {o}'s",
    "this one belongs to {o}",
    "it's {o}'s, i think",
    "{o} owns this one",
    "that is {o}'s toy",
    "hey, this one is {o}'s",
)
_FILLER_LINES = ("what is that?", "watch this", "hmm, let me see", "ok, here it comes", "wait for it")
