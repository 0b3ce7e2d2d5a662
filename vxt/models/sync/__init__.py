"""SparseSync (Iashin, Xie, Rahtu, Zisserman, BMVC 2022): is the sound late, and by how much.

- :mod:`~vxt.models.sync.config`: the presets (``sparsesync``, ``sparsesync-tiny``) and their options;
- :mod:`~vxt.models.sync.inputs`: where the 5 s trims lie (random offsets in training, fixed ones in
  evaluation, the file as it is when decoding media) and reading them: frames at 25 fps, a log power
  spectrogram standardised per clip;
- :mod:`~vxt.models.sync.net`: the encoders (S3D, ResNet-18, or tiny conv stacks), the selectors and
  the global transformer;
- :mod:`~vxt.models.sync.task_model`: :class:`SyncModel`, the ``--task sync`` model of the training
  loop and ``vxt decode``;
- :mod:`~vxt.models.sync.presets`: the registry entries.
"""

from vxt.models.sync.presets import build_sync_model
from vxt.models.sync.task_model import SyncModel

__all__ = ["SyncModel", "build_sync_model"]
