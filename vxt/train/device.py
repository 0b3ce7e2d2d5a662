"""The device a run uses, and moving batches onto it."""

from __future__ import annotations

from vxt.errors import VxtError


def available_devices() -> list[str]:
    """The devices a run can use here: ``cpu`` and each ``cuda:N`` (and ``mps`` on a Mac that has it)."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def pick_device(spec: str):
    """The torch device ``--device`` names: ``auto`` (a GPU if there is one), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    The one place ``--device`` is checked: a device this machine lacks, or a name torch does not
    know, is a one-line :class:`VxtError` saying what is available.
    """
    import torch

    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    here = available_devices()
    kind, sep, index = spec.partition(":")
    if kind == "cpu" and not sep:
        return torch.device("cpu")
    if kind == "cuda" and (not sep or index.isdigit()):
        if not torch.cuda.is_available():
            raise VxtError(f"--device {spec}: no CUDA device here (torch.cuda.is_available() is False): "
                           "use --device cpu or auto")
        if sep and int(index) >= torch.cuda.device_count():
            raise VxtError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                           f"(available: {', '.join(here)})")
        return torch.device(spec)
    if kind == "mps" and not sep:
        if "mps" not in here:
            raise VxtError(f"--device mps: no Apple GPU here (available: {', '.join(here)}); use --device cpu or auto")
        return torch.device("mps")
    raise VxtError(f"--device {spec!r} is not a device vxt can use (auto, cpu, cuda, cuda:N or mps; "
                   f"available here: {', '.join(here)})")


def to_device(batch: dict, device) -> dict:
    import torch

    if device.type == "cpu":
        return batch
    out = {}
    for k, v in batch.items():
        out[k] = v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return out
