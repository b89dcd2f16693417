"""Device and metric set-up of a run: the compute device, the metric weights, the evaluator,
and the settings of the streaming pass that every component receives (not the whole suite)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from wetok_bench.devices import resolve_device  # noqa: F401 - the one device rule, re-exported for the runner
from wetok_bench.errors import MissingWeightsError
from wetok_bench.settings import Settings


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
    #: re-encoding cycles per image (1: the reconstruction only; :mod:`wetok_bench.run.cycles`)
    cycles: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> "PassSettings":
        return cls(batch_size=settings.batch_size, shard_size=settings.shard_size, seed=settings.seed,
                   on_nonfinite=settings.on_nonfinite, num_workers=settings.num_workers,
                   cycles=getattr(settings, "cycles", 1))


@dataclass
class MetricSetup:
    """Which metrics run, with which weights files, and which are skipped (and why).

    ``skipped`` is shared by every job of the run: a job copies it before adding its own reasons.
    """

    metrics: list[str]
    inception_weights: Path | None = None
    lpips_weights: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: every resolved file by slot (``inception``, ``lpips_alex``, a plug-in metric's own)
    weights: dict[str, Path] = field(default_factory=dict)
    #: parsed settings per metric with a settings block (:func:`~wetok_bench.metrics.registry.metric_settings`)
    settings: dict[str, Any] = field(default_factory=dict)


def resolve_metric_weights(protocol, metrics: Sequence[str], *, explicit: Mapping[str, str] | None = None,
                           on_missing: str = "error") -> MetricSetup:
    """Resolve the weights every requested metric needs.

    ``explicit``: the suite's ``weights:`` files by slot (``inception``, ``lpips_alex`` ...).
    ``on_missing="error"``: the first missing file raises :class:`MissingWeightsError` (naming
    what to download and where to put it); ``"skip"``: the metric is left out, its reason recorded.
    """
    from wetok_bench.weights import resolve_weights

    explicit = explicit or {}
    setup = MetricSetup(metrics=[])
    from wetok_bench.metrics.registry import weights_needs

    needs = weights_needs(protocol, metrics)  # every metric's (slot, weights name) from the metric registry
    for metric in metrics:
        resolved: dict[str, Path] = {}
        try:
            for slot, registry_name in needs.get(metric, []):
                resolved[slot] = resolve_weights(registry_name, explicit.get(slot))
        except MissingWeightsError as error:
            if on_missing == "error":
                raise
            setup.skipped[metric] = f"weights missing: {error}"
            continue
        setup.metrics.append(metric)
        setup.weights.update(resolved)
        if "inception" in resolved:
            setup.inception_weights = resolved["inception"]
        setup.lpips_weights.update({k.removeprefix("lpips_"): v for k, v in resolved.items() if k.startswith("lpips_")})
    return setup


def inception_weights_name(protocol) -> str:
    """Registry name of the Inception weights file a protocol's rFID uses."""
    from wetok_bench.metrics.features import get_extractor

    return get_extractor(protocol.fid_extractor).weights_name


def build_evaluator(protocol, setup: MetricSetup, device: torch.device):
    """The :class:`~wetok_bench.metrics.evaluator.ReconstructionEvaluator` of ``setup``'s metrics."""
    from wetok_bench.metrics.evaluator import ReconstructionEvaluator

    return ReconstructionEvaluator(
        protocol,
        setup.metrics,
        device=device,
        inception_weights=setup.inception_weights,
        lpips_weights=setup.lpips_weights or None,
        weights=setup.weights,
        settings=setup.settings,
    )


def loader_kwargs(settings: PassSettings, device: torch.device) -> dict:
    """Data-loader options: worker processes, and pinned memory when the metrics run on a GPU."""
    return {"num_workers": settings.num_workers, "pin_memory": device.type == "cuda"}
