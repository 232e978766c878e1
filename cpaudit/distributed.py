"""Work split across processes with torch.distributed (torchrun): contiguous shards, gathered in rank order.

Under torchrun (WORLD_SIZE > 1) the first call to `world()` joins the process group: gloo on a machine
without CUDA; "cpu:gloo,cuda:nccl" where CUDA exists, so gradients of a model on this rank's GPU
(cuda:LOCAL_RANK, see device.py) are summed by nccl while the gathered results, always moved to the CPU,
travel over gloo. Every rank draws the same seeds a single process would and computes only its own rows,
so gathered results equal the single-process ones; gradients are all-reduced (summed), which equals one
process up to the order of floating-point additions. Only rank 0 writes files and prints.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cpaudit.device import local_rank


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous block of n rows (blocks differ in size by at most one)."""
        return slice(n * self.rank // self.size, n * (self.rank + 1) // self.size)


def launched_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def world() -> World:
    """The current process group, joined on first use when launched by torchrun; World() otherwise."""
    if not dist.is_available():
        return World()
    if not dist.is_initialized() and launched_world_size() > 1:
        dist.init_process_group(backend())
        atexit.register(_leave)
    if dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def backend() -> str:
    """gloo for CPU tensors; nccl as well for CUDA tensors where CUDA and nccl exist."""
    if torch.cuda.is_available() and dist.is_nccl_available():
        torch.cuda.set_device(local_rank() % torch.cuda.device_count())  # nccl's collectives run on this GPU
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def gather_rows(x: torch.Tensor, w: World) -> torch.Tensor:
    """Concatenate every rank's rows in rank order (the single-process order for `World.shard` blocks)."""
    if w.size == 1:
        return x
    parts: list[torch.Tensor | None] = [None] * w.size
    dist.all_gather_object(parts, x.detach().cpu())  # our own tensors between our own ranks
    return torch.cat(parts)  # type: ignore[arg-type]


def sum_gradients(module: torch.nn.Module, w: World) -> None:
    """Sum .grad over ranks (each rank's loss already carries the 1/global-batch factor)."""
    if w.size == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)


def barrier(w: World) -> None:
    if w.size > 1:
        dist.barrier()
