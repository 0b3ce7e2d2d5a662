"""Modality classifiers (video, audio) and their label spaces.

VX2TEXT turns each continuous modality m into text through a classifier N_m
pretrained on a label space C_m (Kinetics-400 actions for video, the 527
AudioSet events for audio): the top-K names of p_m(c|x) become tokens.

    from vxt.modalities import create_classifier, load_label_space

    video = create_classifier("r2plus1d_34", weights="r2plus1d_34_kinetics.pth")
    audio = create_classifier("cnn14", weights="Cnn14_16k_mAP=0.438.pth")
    tiny = create_classifier("tiny-video", labels=load_label_space("data/labels/video.txt"))

The registry is :data:`vxt.registry.CLASSIFIERS`; entries live in
:mod:`vxt.modalities.video` and :mod:`vxt.modalities.audio`. Importing this
package is light (no torch) until a classifier is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vxt.modalities.labels import BUILTIN_LABEL_SPACES, load_label_space

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from vxt.modalities.base import ModalityClassifier

__all__ = ["BUILTIN_LABEL_SPACES", "ModalityClassifier", "create_classifier", "load_label_space"]


def create_classifier(name: str, labels: list[str] | str | None = None, weights: "str | Path | None" = None,
                      **overrides: Any) -> "ModalityClassifier":
    """Build the registered classifier ``name`` for ``labels`` and load local ``weights``.

    ``labels``: names in index order, a label-space spec (``"kinetics400"``,
    ``"audioset"``, a .txt/.csv path), or None for the entry's default space.
    ``weights``: a ``.pth``/``.pt``/``.safetensors`` state dict in the original
    key layout, or a directory written by ``save_pretrained``; None builds at
    random init (and says so once). A checkpoint whose head has another class
    count than ``labels`` loads its backbone and re-initialises the head.
    ``overrides``: hyperparameters of the entry (see
    ``CLASSIFIERS.default_config(name)``). Nothing is ever downloaded.
    """
    from vxt.modalities.base import create_classifier as _create

    return _create(name, labels=labels, weights=weights, **overrides)


def __getattr__(name: str) -> Any:
    if name == "ModalityClassifier":
        from vxt.modalities.base import ModalityClassifier

        return ModalityClassifier
    raise AttributeError(f"module 'vxt.modalities' has no attribute {name!r}")
