"""Audio-visual captioning from raw audio (Shen et al., 2023): ``avcap-tiny``, ``avcap-base``.

- :mod:`~vxt.models.avcap.config`: every config field, the presets, the checks;
- :mod:`~vxt.models.avcap.frontend`: frames and the 22,050 Hz log-mel (or the loop's media cache), SpecAugment;
- :mod:`~vxt.models.avcap.encoders`: Video Swin, the audio transformer, the subtitle encoder;
- :mod:`~vxt.models.avcap.fusion`: the cross-modal encoder's five variants
  (merged, cross, global, local_global_merged, local_global_cross) and V+A+T's ``mixed``
  (video+audio and video+subtitles fused apart, memories concatenated);
- :mod:`~vxt.models.avcap.decoder`: the causal caption decoder;
- :mod:`~vxt.models.avcap.balance`: the modality balancers (none, MBP, G-Blend);
- :mod:`~vxt.models.avcap.model`: :class:`AVCap` (collate, forward, predict, save/load);
- :mod:`~vxt.models.avcap.build`: building a preset for a data dir, and the registry entries
  (trained by the ``warmup_linear`` strategy).
"""

from vxt.models.avcap.build import build_avcap
from vxt.models.avcap.model import AVCap

__all__ = ["AVCap", "build_avcap"]
