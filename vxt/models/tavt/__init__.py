"""TAVT (Lin, Jin, Wang, et al., ACL 2023): audio-visual captioning that transfers across visual domains.

- :mod:`~vxt.models.tavt.model`: :class:`TAVT` (AVMM, encoder, gated decoder,
  DCCL, W_ma; ``collate``/``forward``/``predict``/``save_pretrained``);
- :mod:`~vxt.models.tavt.layers`, :mod:`~vxt.models.tavt.losses`: its parts;
- :mod:`~vxt.models.tavt.features`: clips and audio units from the feature store's streams;
- :mod:`~vxt.models.tavt.build`: the builder (features, statistics, K-means
  clusters, vocabulary; ``stage=adapt`` loads a checkpoint for the target domain);
- :mod:`~vxt.models.tavt.options`: the presets and every option.

Registry entries ``tavt-tiny`` (CPU tests, random-init tiny extractors) and
``tavt-base`` (the paper: ResNet-101 frames, VGGish audio, 1024 wide, 8 heads),
trained by the ``meta`` strategy (:mod:`vxt.train.meta`).
"""

from __future__ import annotations

import os

from vxt.models.tavt.build import build_tavt
from vxt.models.tavt.model import TAVT
from vxt.models.tavt.options import BUILD_DEFAULTS, DEFAULTS, PRESETS
from vxt.registry import MODELS

__all__ = ["TAVT", "build_tavt"]


def _register(preset: str) -> None:
    def builder(overrides: dict | None = None, data_dir: str | os.PathLike | None = None, name: str | None = None,
                _name: str = preset) -> TAVT:
        return build_tavt(_name, overrides, data_dir)

    what = "the paper's TAVT (ResNet-101 frames, VGGish, 1024 wide)" if preset == "tavt-base" else \
        "a tiny TAVT for CPU tests (random-init tiny feature extractors)"
    builder.__doc__ = f"{what}; meta-learned over source domains (--task caption)"
    MODELS.register(preset, default_config={**DEFAULTS, **BUILD_DEFAULTS, **PRESETS[preset]},
                    description=builder.__doc__, tasks=("caption",), strategy="meta")(builder)


for _p in PRESETS:
    _register(_p)
