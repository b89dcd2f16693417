"""Which metrics run, with which weights files: resolved before any work, shared by ``run``,
``score`` and the API; a metric whose weights are missing is an error or, on request, left out
with the reason recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from wetok_bench.core.errors import MissingWeightsError
from wetok_bench.core.weights import resolve_weights
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.registry import weights_needs


@dataclass
class MetricSetup:
    """Which metrics run, with which weights files, and which are skipped (and why).

    ``skipped`` is shared by every job of the run: a job copies it before adding its own reasons.
    """

    metrics: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    #: every resolved file by slot (``inception``, ``lpips_alex``, a plug-in metric's own)
    weights: dict[str, Path] = field(default_factory=dict)
    #: parsed settings per metric with a settings block (:func:`~wetok_bench.metrics.registry.metric_settings`)
    settings: dict[str, Any] = field(default_factory=dict)


def resolve_metric_weights(protocol, metrics: Sequence[str], *, explicit: Mapping[str, str] | None = None,
                           on_missing: str = "error") -> MetricSetup:
    """Resolve the weights every requested metric needs.

    ``explicit``: the suite's ``weights:`` files by slot (``inception``, ``lpips_alex`` ...) or
    by weights name (``pytorch-fid-inception`` ...; it wins over the slot).
    ``on_missing="error"``: the first missing file raises :class:`MissingWeightsError` (naming
    what to download and where to put it); ``"skip"``: the metric is left out, its reason recorded.
    """
    explicit = explicit or {}
    setup = MetricSetup(metrics=[])
    needs = weights_needs(protocol, metrics)  # every metric's (slot, weights name) from the metric registry
    for metric in metrics:
        resolved: dict[str, Path] = {}
        try:
            for slot, registry_name in needs.get(metric, []):
                resolved[slot] = resolve_weights(registry_name, explicit.get(registry_name, explicit.get(slot)))
        except MissingWeightsError as error:
            if on_missing == "error":
                raise
            setup.skipped[metric] = f"weights missing: {error}"
            continue
        setup.metrics.append(metric)
        setup.weights.update(resolved)
    return setup


def build_evaluator(protocol, setup: MetricSetup, device: torch.device):
    """The :class:`~wetok_bench.metrics.evaluator.ReconstructionEvaluator` of ``setup``'s metrics."""
    return ReconstructionEvaluator(
        protocol,
        setup.metrics,
        device=device,
        weights=setup.weights,
        settings=setup.settings,
    )


