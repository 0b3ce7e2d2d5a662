"""VX2TEXT (Lin et al., CVPR 2021): video + audio + text -> text with one T5.

- :mod:`~vxt.models.vx2text.tokenization`: Gumbel top-K (straight-through),
  frozen and feature tokenizations of the modality classifiers' outputs;
- :mod:`~vxt.models.vx2text.text`: T5 and its tokenizer (built from a config
  or loaded from a local dir), vxt's task/separator tokens;
- :mod:`~vxt.models.vx2text.config`: every config field, the presets;
- :mod:`~vxt.models.vx2text.model`: :class:`VX2Text` (collate, forward,
  predict, save/load);
- :mod:`~vxt.models.vx2text.build`: building a preset for a data dir, and the
  registry entries ``vx2text-tiny``, ``vx2text-small``, ``vx2text-base``;
- :mod:`~vxt.models.vx2text.tokens`: ``vxt tokenize`` (the data's tokenizer
  and the category tokens each classifier gives each example).
"""

from vxt.models.vx2text.build import build_vx2text
from vxt.models.vx2text.config import BASE_CONFIG, PRESETS
from vxt.models.vx2text.model import VX2Text, fit_lengths

__all__ = ["BASE_CONFIG", "PRESETS", "VX2Text", "build_vx2text", "fit_lengths"]
