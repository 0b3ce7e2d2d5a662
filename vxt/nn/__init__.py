"""Building blocks shared by several systems.

- :mod:`vxt.nn.attention`: multi-head attention with key masks (a query with
  no valid key gets zeros, never NaN), pre-LayerNorm encoder/decoder layers,
  Xavier initialisation;
- :mod:`vxt.nn.positions`: sinusoidal positional encodings, learned per-axis tables on a token grid;
- :mod:`vxt.nn.selectors`: learned queries cross-attending to a token sequence (SparseSync's selectors);
- :mod:`vxt.nn.embed`: feature and word embedders;
- :mod:`vxt.nn.losses`: the label-smoothed KL loss;
- :mod:`vxt.nn.weights`: ``model.safetensors`` written and read the same way by every system;
- :mod:`vxt.nn.vocab`: a word-level caption vocabulary (GloVe from a local file).

Import the submodules directly (``from vxt.nn.attention import Attention``):
this package stays free of heavy imports.
"""
