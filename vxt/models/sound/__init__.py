"""Sound for silent video: SpecVQGAN (Iashin and Rahtu, BMVC 2021).

- :mod:`~vxt.models.sound.frontend`: SpecVQGAN's spectrogram front end
  (:func:`melspectrogram`: 22,050 Hz, 10 s, 80 Slaney mels, [0, 1]), the
  centre crop the models see, the inverse to linear magnitude and the
  Griffin-Lim fallback vocoder;
- :mod:`~vxt.models.sound.vqgan`: stage 1, the spectrogram codebook (VQGAN
  encoder/decoder, vector quantiser from :mod:`vxt.nn.quantize`) and the
  PatchGAN discriminator with the hinge losses;
- :mod:`~vxt.models.sound.lpaps`: the LPAPS perceptual loss (weights from a
  local folder);
- :mod:`~vxt.models.sound.melgan`: the MelGAN vocoder (generator, multi-scale
  discriminator, hinge and feature-matching losses), ``--stage vocoder``;
- :mod:`~vxt.models.sound.task_model`: the ``--task sound`` model of the
  training loop and ``vxt decode`` (:class:`SoundTaskModel`), configured by
  :mod:`~vxt.models.sound.options`; its decoding side (vocoder choice, wave
  fields, decode options) in :mod:`~vxt.models.sound.decode`;
- :mod:`~vxt.models.sound.melception`: Melception, the sound classifier whose
  features and logits score generated sound (``--task classify --model melception``);
  :mod:`~vxt.models.sound.scoring`: ``vxt score`` on sound predictions;
- :mod:`~vxt.models.sound.presets`: the registry entries ``specvqgan`` and
  ``specvqgan-tiny``, trained by the ``gan`` strategy, and ``melception`` /
  ``melception-tiny``.
"""

from vxt.models.sound.frontend import centre_crop, griffin_lim, mel_to_linear, melspectrogram
from vxt.models.sound.build import build_sound_task
from vxt.models.sound import presets  # noqa: F401 - registers the presets
from vxt.models.sound.task_model import SoundTaskModel

__all__ = ["SoundTaskModel", "build_sound_task", "centre_crop", "griffin_lim", "mel_to_linear", "melspectrogram"]
