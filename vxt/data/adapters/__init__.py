"""Dataset adapters: one module per benchmark, each registering into ``vxt.registry.ADAPTERS``.

Importing this package registers them all; see :mod:`vxt.data.adapters.base`
for the contract and :mod:`vxt.data.prepare` for what happens to their output.
"""

from vxt.data.adapters import anet, avsd, msrvtt, synth, tvc, tvqa, videos  # noqa: F401  (registration)
from vxt.data.adapters import howto100m, lrs3, msvd, vas, vatex, vggsound, youcook2  # noqa: F401  (registration)
