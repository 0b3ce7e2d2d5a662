"""torch.distributed helpers: gloo on CPU, NCCL on GPU; launched by torchrun or by ``--nproc N``."""

from __future__ import annotations

import os
import socket


def world() -> tuple[int, int]:
    """(rank, world size) from the environment torchrun (or our spawner) sets."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init_if_needed(device_type: str) -> bool:
    """Initialise the default process group when WORLD_SIZE > 1; returns whether distributed."""
    import torch.distributed as dist

    rank, size = world()
    if size <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=size)
    return True


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_object(obj, src: int = 0):
    """``obj`` as rank ``src`` has it, on every rank (a picklable value: a flag, a small dict)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def destroy() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(rank: int, world_size: int, port: int, fn, args) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )
    fn(*args)


def spawn(fn, nproc: int, *args) -> None:
    """Run ``fn(*args)`` in ``nproc`` processes with a process group's environment set."""
    import torch.multiprocessing as mp

    port = free_port()
    mp.spawn(_spawned, args=(nproc, port, fn, args), nprocs=nproc, join=True)
