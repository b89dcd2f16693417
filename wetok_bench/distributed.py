"""torch.distributed plumbing for the runner: ranks, exact slices, float64 reductions, gathers.

Launch with ``torchrun --nproc_per_node=N -m wetok_bench run SUITE`` (multi-node: torchrun's
rendezvous flags). Each rank takes a contiguous, disjoint slice of the sorted image list, so
every image is measured exactly once whatever N is (no padding duplicates, unlike
``DistributedSampler(drop_last=False)``). Without torchrun's environment everything here is a
no-op on one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: ``rank`` of ``world_size``; ``local_rank`` picks its GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device_type: str = "cpu") -> DistContext:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), else a single-process context.

    The backend is NCCL for CUDA devices and gloo otherwise.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def rank_slice(items: Sequence[T], ctx: DistContext, unit: int = 1) -> Sequence[T]:
    """The contiguous part of ``items`` this rank measures, cut at multiples of ``unit``.

    ``items`` is taken as ``u = ceil(n / unit)`` blocks of ``unit`` items (the last may be
    shorter); rank r gets blocks ``[u*r//w, u*(r+1)//w)``. Slices of all ranks are disjoint and
    cover ``items`` exactly once. With ``unit`` = the batch size, every batch is the batch one
    process would form, so per-image values do not depend on the number of ranks.
    """
    n, unit = len(items), max(1, int(unit))
    blocks = -(-n // unit)
    lo, hi = blocks * ctx.rank // ctx.world_size, blocks * (ctx.rank + 1) // ctx.world_size
    return items[min(n, lo * unit) : min(n, hi * unit)]


def all_reduce_sum_(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """In-place SUM across ranks (float64 stays float64); no-op on one process."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj`` in rank order (on every rank); ``[obj]`` on one process."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
