"""Feature extractors that set-level metrics read (rFID, KID), by name.

An extractor is built once per evaluator and its features shared by every set metric that
names it (one network pass per batch). Registered today: torch-fidelity's
``inception-v3-compat`` (uint8 input) and the ``pytorch-fid`` port (float input in [0, 1]),
both 2048-d pool features; the images each gets are the protocol's Inception views
(``fid_view_recon`` / ``fid_view_original``). Another extractor (DINOv2, CLIP: other
dimensions and input contracts) registers an :class:`ExtractorSpec` whose ``build`` returns a
callable ``images -> float64 B x dim`` with ``dim``, ``kind`` and ``weights_sha256``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from wetok_bench.core.registry import Registry, instance_of


@dataclass(frozen=True)
class ExtractorSpec:
    """A named feature extractor.

    Attributes:
        name: the name set metrics and protocols use (``protocol.fid_extractor``).
        slot: weights slot in suites and manifests (``inception``).
        weights_name: its file in the weights registry (:mod:`wetok_bench.core.weights`).
        dim: feature dimension.
        input: what it is fed (documentation: ``uint8`` or ``float in [0, 1]``).
        build: ``(weights path or None, device) -> extractor``.
    """

    name: str
    slot: str
    weights_name: str
    dim: int
    input: str
    build: Callable[[Any, torch.device], Any]


def _inception_builder(kind: str) -> Callable[[Any, torch.device], Any]:
    def build(weights: str | Path | None, device: torch.device):
        from wetok_bench.metrics.networks.inception import build_inception

        return build_inception(kind, weights, device=device)

    return build


#: Feature extractors by name (plug-ins: entry-point group ``wetok_bench.extractors``, each an
#: :class:`ExtractorSpec`).
EXTRACTORS: Registry[ExtractorSpec] = Registry("feature extractor", check=instance_of(ExtractorSpec),
                                               group="wetok_bench.extractors")


def register_extractor(spec: ExtractorSpec, *, overwrite: bool = False) -> ExtractorSpec:
    """Register ``spec`` under ``spec.name`` (a taken name needs ``overwrite``)."""
    return EXTRACTORS.register(spec.name, spec, overwrite=overwrite)


def get_extractor(name: str) -> ExtractorSpec:
    """The extractor registered under ``name``; unknown names are a :class:`RegistryError`."""
    return EXTRACTORS.get(name)


register_extractor(ExtractorSpec("inception-v3-compat", "inception", "inception-v3-compat", 2048, "uint8",
                                 _inception_builder("inception-v3-compat")))
register_extractor(ExtractorSpec("pytorch-fid", "inception", "pytorch-fid-inception", 2048, "float in [0, 1]",
                                 _inception_builder("pytorch-fid")))
register_extractor(ExtractorSpec("inception-v3-compat-float64", "inception", "pytorch-fid-inception", 2048, "uint8",
                                 _inception_builder("inception-v3-compat-float64")))
