"""SpecVQGAN's registry entries: ``specvqgan`` (the paper's settings) and ``specvqgan-tiny`` (tests, CPU).

Each builds the ``--task sound`` model for a data dir (the training loop's
contract: ``builder(overrides=..., data_dir=..., name=...)``), trained by the
``gan`` strategy stage by stage (``--stage codebook|vocoder|sampler``;
``--stage all`` runs every stage in order: codebook, MelGAN vocoder, sampler).
"""

from __future__ import annotations

from vxt.models.sound.options import PRESETS, STAGE_PLAN
from vxt.models.sound.build import build_sound_task
from vxt.registry import MODELS


def _register(name: str) -> None:
    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name=name):
        return build_sound_task(_name, overrides, data_dir)

    builder.__doc__ = (f"SpecVQGAN, preset {name!r} (--task sound): spectrogram codebook (VQGAN), MelGAN vocoder, "
                       "visually conditioned sampler.")
    MODELS.register(name, default_config=PRESETS[name], description=builder.__doc__, tasks=("sound",),
                    strategy="gan", stages=STAGE_PLAN)(builder)


for _name in PRESETS:
    _register(_name)


def _register_melception(name: str) -> None:
    from vxt.models.sound.melception import PRESETS as MELCEPTION, build_melception, sound_class_examples
    from vxt.models.sound.scoring import score_sound_predictions

    def builder(overrides: dict | None = None, data_dir=None, name: str | None = None, _name=name):
        return build_melception(_name, overrides, data_dir)

    net = MELCEPTION[name]["net"]
    if net == "vggishish":
        description = ("VGGishish (SpecVQGAN's VGG-16-like sound classifier, whose convs LPAPS reads): --task "
                       "classify on the data's sound classes" + (" (narrow widths, tests)" if "tiny" in name else ""))
    else:
        what = "Inception3" if net == "inception3" else "a small conv stack (tests)"
        description = f"Melception ({what}), the sound classifier of FID/KID/IS/MKL: --task classify on the data's sound classes"
    # modality/examples: what --task classify trains it on (the data's sound classes); score_predictions:
    # what `vxt score` runs on --task sound predictions (the sound task finds it here by name)
    MODELS.register(name, default_config=MELCEPTION[name], tasks=("classify",), modality="audio",
                    examples=sound_class_examples, score_predictions=score_sound_predictions,
                    description=description)(builder)


for _name in ("melception", "melception-tiny", "vggishish", "vggishish-tiny"):
    _register_melception(_name)
