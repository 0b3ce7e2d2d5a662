"""SpecVQGAN's registry entries: ``specvqgan`` (the paper's settings) and ``specvqgan-tiny`` (tests, CPU).

Each builds the ``--task sound`` model for a data dir (the training loop's
contract: ``builder(overrides=..., data_dir=..., name=...)``), trained by the
``gan`` strategy stage by stage (``--stage codebook``; ``--stage all`` runs
every stage in order: the codebook alone for now).
"""

from __future__ import annotations

from vxt.models.sound.options import PRESETS, STAGE_PLAN
from vxt.models.sound.build import build_sound_task
from vxt.registry import MODELS


def _register(name: str) -> None:
    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name=name):
        return build_sound_task(_name, overrides, data_dir)

    builder.__doc__ = f"SpecVQGAN, preset {name!r} (--task sound): spectrogram codebook (VQGAN)."
    MODELS.register(name, default_config=PRESETS[name], description=builder.__doc__, tasks=("sound",),
                    strategy="gan", stages=STAGE_PLAN)(builder)


for _name in PRESETS:
    _register(_name)
