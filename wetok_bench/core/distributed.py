"""torch.distributed plumbing for the runner: ranks, exact slices, float64 reductions, gathers.

Launch with ``torchrun --nproc_per_node=N -m wetok_bench run SUITE`` (multi-node: torchrun's
rendezvous flags). Each rank takes a contiguous, disjoint block of the sorted image list's
shards (:class:`ShardPlan`), so every image is measured exactly once whatever N is (no padding
duplicates, unlike ``DistributedSampler(drop_last=False)``). Without torchrun's environment everything here is a
no-op on one process.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

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


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj`` in rank order (on every rank); ``[obj]`` on one process."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def computed_on_main(compute: Callable[[], T], ctx: DistContext) -> T:
    """``compute()`` run on rank 0 alone, its value sent to every rank (a collective call).

    For work every rank needs the result of but one rank should do: hashing a dataset or a
    checkpoint for a fingerprint (N ranks would read the same files N times at once, racing on
    the digest cache). An exception ``compute`` raises on rank 0 is raised on every rank (the same
    type and message; a plain ``RuntimeError`` with its text when it cannot be sent), so no rank is
    left waiting in a later collective. One process: just ``compute()``.
    """
    if not ctx.enabled:
        return compute()
    value, error = None, None
    if ctx.is_main:
        try:
            value = compute()
        except Exception as raised:  # noqa: BLE001 - sent to the other ranks, then raised here
            error = raised
    sent = error
    if error is not None:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - an exception type that does not survive pickling
            sent = RuntimeError(f"{type(error).__name__}: {error}")
    value, sent = broadcast_object((value, sent), ctx)
    if error is not None:
        raise error  # rank 0: the original, with its traceback
    if sent is not None:
        raise sent
    return value


@dataclass(frozen=True)
class ShardPlan:
    """Global shards of a sorted record list, and which rank measures each.

    Shard ``g`` holds records ``[g*size, (g+1)*size)``; ``size`` is the suite's shard size
    rounded up to whole batches, so a shard's batches are the ones a single process forms.
    Rank ``r`` takes the contiguous block of shards ``[G*r//w, G*(r+1)//w)``. Because the
    shards do not depend on the number of ranks, neither do per-image values, the partial sums
    of each shard, nor (merged in shard order) the totals: 1 rank and N ranks give the same bits.
    """

    n: int
    size: int
    world_size: int = 1

    @classmethod
    def build(cls, n: int, batch_size: int, shard_size: int, world_size: int) -> "ShardPlan":
        batch_size = max(1, batch_size)
        return cls(n=n, size=-(-max(1, shard_size) // batch_size) * batch_size, world_size=world_size)

    @property
    def count(self) -> int:
        return -(-self.n // self.size)

    def bounds(self, shard: int) -> tuple[int, int]:
        return shard * self.size, min(self.n, (shard + 1) * self.size)

    def shards_of(self, rank: int) -> range:
        return range(self.count * rank // self.world_size, self.count * (rank + 1) // self.world_size)

    def owner(self, shard: int) -> int:
        return next(r for r in range(self.world_size) if shard in self.shards_of(r))

    @property
    def max_per_rank(self) -> int:
        return max(len(self.shards_of(r)) for r in range(self.world_size))

    def images_of(self, rank: int) -> int:
        return sum(hi - lo for lo, hi in map(self.bounds, self.shards_of(rank)))


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
