"""Dense video captioning: BMT and MDVC (Iashin and Rahtu, 2020) and BMT's proposal generator.

- :mod:`~vxt.models.dense.captioner`: the captioners' base class;
  :mod:`~vxt.models.dense.bmt`, :mod:`~vxt.models.dense.mdvc`: the two captioners;
- :mod:`~vxt.models.dense.proposals`: the multi-headed proposal generator
  (K-means anchors, YOLO-like loss);
- :mod:`~vxt.models.dense.task_model`: the ``--task dense`` model of the
  training loop and ``vxt decode`` (:class:`DenseTaskModel`), built by
  :mod:`~vxt.models.dense.build` from :mod:`~vxt.models.dense.options`;
  :mod:`~vxt.models.dense.backends`: who captions a segment (this package's
  captioners, or any caption model in the registry, found by its config);
- :mod:`~vxt.models.dense.presets`: the registry entries, trained by the
  ``staged`` strategy (captioner, then proposals);
- :mod:`~vxt.models.dense.extract`: ``python -m vxt.models.dense.extract``
  extracts a data dir's feature streams ahead of training.
"""

from vxt.models.dense.presets import build_dense_model, load_dense_model
from vxt.models.dense.task_model import DenseTaskModel

__all__ = ["DenseTaskModel", "build_dense_model", "load_dense_model"]
