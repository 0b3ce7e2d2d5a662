"""minGPT's weight-decay split (as taming-transformers and SpecVQGAN's transformer use it).

:func:`decay_groups` puts the weight matrices of ``nn.Linear`` layers in a
group with weight decay and every other parameter (biases, LayerNorm and
embedding weights, free parameters such as a position embedding) in a group
without; ``no_decay`` names modules kept out of decay although they are
linear (SpecVQGAN's feature projection is a 1x1 ``Conv1d``, never decayed:
a ``Linear`` standing in for it is listed there).
"""

from __future__ import annotations

import torch.nn as nn


def decay_groups(module: nn.Module, weight_decay: float, *, no_decay: tuple[str, ...] = ()) -> list[dict]:
    """``[{"params": decayed, "weight_decay": weight_decay, "names": [...]}, {"params": the rest, 0.0, ...}]``
    over the parameters of ``module`` that need gradients, each once, in ``named_parameters`` order."""
    decay: set[str] = set()
    for mn, m in module.named_modules():
        if isinstance(m, nn.Linear) and not any(mn == k or mn.startswith(k + ".") for k in no_decay):
            decay.add(f"{mn}.weight" if mn else "weight")
    groups: list[dict] = [{"params": [], "weight_decay": float(weight_decay), "names": []},
                          {"params": [], "weight_decay": 0.0, "names": []}]
    for name, p in module.named_parameters():
        if p.requires_grad:
            g = groups[0] if name in decay else groups[1]
            g["params"].append(p)
            g["names"].append(name)
    return groups
