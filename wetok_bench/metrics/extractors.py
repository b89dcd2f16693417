"""Feature extractors that set-level metrics read (rFID, KID), by name.

An extractor is built once per evaluator and its features shared by every set metric that
names it (one network pass per batch). Registered: torch-fidelity's ``inception-v3-compat``
(uint8 input; also run in float64, ``inception-v3-compat-float64``) and the ``pytorch-fid`` port
(float input in [0, 1]), 2048-d pool features, fed the protocol's Inception views
(``fid_view_recon`` / ``fid_view_original``); DINOv2 ViT-L/14 (``dinov2-vit-l-14``, 1024-d) and
CLIP ViT-L/14@336 (``clip-vit-l-14-336``, 768-d), fed the protocol's uint8 views
(:mod:`wetok_bench.metrics.networks.vit_features`). Another extractor registers an
:class:`ExtractorSpec` whose ``build`` returns a callable ``images -> float64 B x dim`` with
``dim``, ``kind`` and ``weights_sha256``.
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
        view: which of the protocol's images it reads: ``fid`` (the protocol's Inception views,
            ``fid_view_recon`` / ``fid_view_original``) or ``uint8`` (its uint8 pixel views, those
            PSNR and SSIM read).
    """

    name: str
    slot: str
    weights_name: str
    dim: int
    input: str
    build: Callable[[Any, torch.device], Any]
    view: str = "fid"


def _inception_builder(kind: str) -> Callable[[Any, torch.device], Any]:
    def build(weights: str | Path | None, device: torch.device):
        from wetok_bench.metrics.networks.inception import build_inception

        return build_inception(kind, weights, device=device)

    return build


#: Feature extractors by name (plug-ins: entry-point group ``wetok_bench.extractors``, each an
#: :class:`ExtractorSpec`).
EXTRACTORS: Registry[ExtractorSpec] = Registry("feature extractor", check=instance_of(ExtractorSpec),
                                               group="wetok_bench.extractors")


def _vit_builder(kind: str) -> Callable[[Any, torch.device], Any]:
    def build(weights: str | Path | None, device: torch.device):
        from wetok_bench.metrics.networks import vit_features

        if weights is None:
            from wetok_bench.core.weights import resolve_weights

            weights = resolve_weights(get_extractor(kind).weights_name)
        return (vit_features.build_dinov2 if kind.startswith("dinov2") else vit_features.build_clip)(weights, device)

    return build


def register_extractor(spec: ExtractorSpec, *, overwrite: bool = False) -> ExtractorSpec:
    """Register ``spec`` under ``spec.name`` (a taken name needs ``overwrite``)."""
    return EXTRACTORS.register(spec.name, spec, overwrite=overwrite)


def extractor_view(name: str) -> str:
    """Which of the protocol's images extractor ``name`` reads (:attr:`ExtractorSpec.view`);
    ``fid`` for a network given directly that no spec describes."""
    return EXTRACTORS.get(name).view if name in EXTRACTORS else "fid"


def get_extractor(name: str) -> ExtractorSpec:
    """The extractor registered under ``name``; unknown names are a :class:`RegistryError`."""
    return EXTRACTORS.get(name)


register_extractor(ExtractorSpec("inception-v3-compat", "inception", "inception-v3-compat", 2048, "uint8",
                                 _inception_builder("inception-v3-compat")))
register_extractor(ExtractorSpec("pytorch-fid", "inception", "pytorch-fid-inception", 2048, "float in [0, 1]",
                                 _inception_builder("pytorch-fid")))
register_extractor(ExtractorSpec("inception-v3-compat-float64", "inception", "pytorch-fid-inception", 2048, "uint8",
                                 _inception_builder("inception-v3-compat-float64")))
register_extractor(ExtractorSpec("dinov2-vit-l-14", "dinov2", "dinov2-vitl14", 1024, "uint8",
                                 _vit_builder("dinov2-vit-l-14"), view="uint8"))
register_extractor(ExtractorSpec("clip-vit-l-14-336", "clip", "clip-vit-l-14-336", 768, "uint8",
                                 _vit_builder("clip-vit-l-14-336"), view="uint8"))
