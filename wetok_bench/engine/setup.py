"""The settings of the streaming pass that every component receives (not the whole suite), and
the data loader's options."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wetok_bench.config.settings import Settings


@dataclass(frozen=True)
class PassSettings:
    """The suite settings a streaming pass reads.

    ``batch_size`` and ``shard_size`` fix the shard layout (images per shard, rounded up to whole
    batches), ``seed`` the generative tokenizers' noise, ``on_nonfinite`` (``error`` | ``skip``)
    what a NaN/Inf reconstruction does. ``num_workers`` only changes speed, never a number.
    """

    batch_size: int
    shard_size: int
    seed: int
    on_nonfinite: str = "error"
    num_workers: int = 0
    #: re-encoding cycles per image (1: the reconstruction only; :mod:`wetok_bench.engine.cycles`)
    cycles: int = 1
    #: keep every set-metric network's per-image features (:mod:`wetok_bench.results.features`)
    keep_features: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "PassSettings":
        return cls(batch_size=settings.batch_size, shard_size=settings.shard_size, seed=settings.seed,
                   on_nonfinite=settings.on_nonfinite, num_workers=settings.num_workers,
                   cycles=getattr(settings, "cycles", 1), keep_features=getattr(settings, "keep_features", False))


def loader_kwargs(settings: PassSettings, device: torch.device) -> dict:
    """Data-loader options: worker processes, and pinned memory when the metrics run on a GPU."""
    return {"num_workers": settings.num_workers, "pin_memory": device.type == "cuda"}
