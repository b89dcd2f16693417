"""What a tokenizer costs: encode and decode time per image, peak device memory, parameters.

Timing: :class:`CostMeter` is the ``timer`` of :meth:`Tokenizer.reconstruct`; it synchronises
the device before and after each section (``torch.cuda.synchronize`` on CUDA; CPU work is
synchronous), so a section's time is the device's, not the launch's. The first
:data:`WARMUP_BATCHES` batch(es) of every shard are measured but not timed: one-off costs (CUDA
kernel selection, allocator growth, lazy initialisation) fall there, since every shard is measured
in a fresh loop (a resumed shard keeps the figures of the run that measured it). Re-encoding
cycles (``cycles:``) are not timed: only the first reconstruction of each image is.

Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` during the tokenizer's calls
(reset before each batch), which includes everything resident on the device at that moment
(the tokenizer's weights, the metric networks'), and ``reconstruct_bytes``, that peak less the
memory allocated just before the call (what the encode and decode need beyond what is resident).
Because of that reset, ``torch.cuda.max_memory_allocated`` read after a run covers only its last
batch: read ``cost.peak_memory_bytes`` from the summaries, or fold the peak at every reset as
``benchmarks/gpu_check.py`` (``GpuPeak``) does for the whole job's peak.
On other devices memory is not measured (``null``, with ``memory_note``): the process's peak RSS
is a high-water mark of its whole life, not of the tokenizer's calls.

Per shard the meter's state is a few sums (:meth:`CostMeter.state`); shards and ranks merge by
adding them (peaks by maximum), :func:`merge_cost` and :func:`cost_summary`.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any, Iterator, Mapping, Sequence

import torch

#: Batches at the start of every shard that are run but not timed.
WARMUP_BATCHES = 1
_SECTIONS = ("encode", "decode")


def parameter_count(tokenizer) -> int:
    """Parameters of the tokenizer's modules (each tensor once, shared ones too); 0 for codecs."""
    seen: dict[int, int] = {}
    for module in tokenizer.modules():
        for param in module.parameters():
            seen[id(param)] = param.numel()
    return sum(seen.values())


def _takes_timer(tokenizer) -> bool:
    try:
        params = inspect.signature(tokenizer.reconstruct).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "timer" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def empty_cost() -> dict[str, Any]:
    """The cost state of a shard with nothing measured."""
    return {"encode_s": 0.0, "decode_s": 0.0, "timed_images": 0, "timed_batches": 0,
            "warmup_batches": 0, "warmup_images": 0, "peak_bytes": None, "reconstruct_bytes": None}


class CostMeter:
    """Times the encode and decode sections of one shard's batches on ``device``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self._state = empty_cost()
        self._batches = 0
        self._timed = False
        self._before: int | None = None  # allocated bytes before this batch's calls (CUDA)

    def batch(self, images: int) -> "CostMeter":
        """Start a batch of ``images`` images; returns the meter (the ``timer`` to pass on)."""
        self._timed = self._batches >= WARMUP_BATCHES
        self._batches += 1
        key = "timed" if self._timed else "warmup"
        self._state[f"{key}_batches"] += 1
        self._state[f"{key}_images"] += images
        if self.cuda:
            torch.cuda.synchronize(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def timer_kwargs(self, tokenizer, images: int) -> dict[str, Any]:
        """``{"timer": self}`` for a batch of ``images`` (:meth:`batch`), or ``{}`` for a family
        that overrides ``reconstruct`` without a ``timer`` (or ``**kwargs``) parameter: its
        batches are then not timed (null times)."""
        if not _takes_timer(tokenizer):
            return {}
        return {"timer": self.batch(images)}

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def __call__(self, section: str) -> Iterator[None]:
        self._sync()
        start = time.perf_counter()
        yield
        self._sync()
        if self._timed:
            self._state[f"{section}_s"] += time.perf_counter() - start

    def end_batch(self) -> None:
        """After the tokenizer's calls of a batch: the batch's peak memory (CUDA)."""
        if self.cuda and self._before is not None:
            peak = int(torch.cuda.max_memory_allocated(self.device))
            state = self._state
            state["peak_bytes"] = max(peak, state["peak_bytes"] or 0)
            state["reconstruct_bytes"] = max(peak - self._before, state["reconstruct_bytes"] or 0)

    def state(self) -> dict[str, Any]:
        """This shard's sums (JSON-able, stored with the shard)."""
        return dict(self._state)


def merge_cost(states: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Shards' (or ranks') cost states together: sums added, peaks by maximum."""
    out = empty_cost()
    for state in states:
        if not state:
            continue
        for key, value in state.items():
            if key in ("peak_bytes", "reconstruct_bytes"):
                if value is not None:
                    out[key] = max(value, out[key] or 0)
            else:
                out[key] += value
    return out


def cost_summary(state: Mapping[str, Any], *, parameters: int, timing: Any, device: torch.device) -> dict[str, Any]:
    """The ``cost`` block of ``summary.json`` (``timing``: :class:`~wetok_bench.engine.records.JobTiming`).

    ``encode_s_per_image`` / ``decode_s_per_image``: mean seconds per image over the timed
    batches (null when every batch was a warm-up batch); ``images_per_s``: the images this run
    measured over its wall time (data loading, metrics and the reference statistics included);
    a resumed job counts only the shards measured now (``resumed_images``: those read back), and
    one with every shard resumed has none (null); ``peak_memory_bytes``: see the module doc.
    """
    wall_s = timing.wall
    timed = int(state["timed_images"])
    out: dict[str, Any] = {
        "encode_s_per_image": state["encode_s"] / timed if timed else None,
        "decode_s_per_image": state["decode_s"] / timed if timed else None,
        "timed_images": timed,
        "timed_batches": int(state["timed_batches"]),
        "warmup_batches": int(state["warmup_batches"]),
        "warmup_images": int(state["warmup_images"]),
        "warmup_rule": f"the first {WARMUP_BATCHES} batch(es) of every shard are not timed",
        "images_per_s": timing.images_per_s,
        "wall_s": wall_s,
        "resumed_images": timing.images - timing.measured,
        "peak_memory_bytes": state["peak_bytes"],
        "reconstruct_memory_bytes": state["reconstruct_bytes"],
        "parameters": int(parameters),
        "device": str(device),
    }
    if not timed:
        out["timing_note"] = ("every batch was a warm-up batch (use more images per shard to time)"
                              if state["warmup_batches"] else "not timed: the family's reconstruct takes no timer")
    if device.type != "cuda":
        out["memory_note"] = f"not measured on {device.type} (CUDA only: torch.cuda.max_memory_allocated)"
    return out
