"""The device a run uses, and moving batches onto it."""

from __future__ import annotations


def pick_device(spec: str):
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def to_device(batch: dict, device) -> dict:
    import torch

    if device.type == "cpu":
        return batch
    out = {}
    for k, v in batch.items():
        out[k] = v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return out
