"""One object that computes every metric of a protocol on batches of (original, reconstruction).

:class:`ReconstructionEvaluator` is what the suite runner and ``wetok-bench score`` drive in
their streaming loops. It takes uint8 originals and the tokenizer's float output, builds the
views the protocol prescribes for each metric (:class:`~wetok_bench.protocols.MetricProtocol`),
returns per-image PSNR/SSIM/LPIPS values and accumulates the reconstructions' Inception
statistics for rFID. It does no file I/O beyond loading weights when it is built.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

import torch

from wetok_bench.errors import TokenizerOutputError, UsageError
from wetok_bench.metrics.fid import FeatureStats, fid_result
from wetok_bench.metrics.perceptual import LPIPSMetric
from wetok_bench.metrics.psnr import check_image_pair, psnr
from wetok_bench.metrics.ssim import ssim
from wetok_bench.protocols import MetricProtocol, get_protocol

#: Metric names a caller may request; ``lpips`` yields one value per backbone of the protocol.
VALID_METRICS = ("psnr", "ssim", "lpips", "rfid")
#: Libraries whose versions can change a value; recorded in every fingerprint.
_VERSIONED = ("torch", "torchvision", "lpips", "torch-fidelity", "clean-fid", "scikit-image", "numpy")

LpipsWeights = Mapping[str, "str | Path | None"] | str | Path | None

#: A reconstruction value counts as clamped when ``|x| > CLAMP_THRESHOLD``. Every protocol clamps
#: to [-1, 1]; overshoots within half a uint8 step (1/255 in the [-1, 1] scale) are normal for
#: decoders and change no rounded pixel, so only values beyond that, where the clamp changes the
#: pixel the protocol would otherwise give, are counted.
CLAMP_THRESHOLD = 1.0 + 1.0 / 255.0
#: :func:`clamp_warning` speaks when more than this fraction of values were clamped (0.1 %): a few
#: stray pixels at image borders are common for VAEs; more points at a range or scaling mistake.
CLAMP_WARN_FRACTION = 1e-3


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> the first CUDA device when there is one, else the CPU; other names as given."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {device!r} (use auto, cpu or cuda[:N])") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} requested but CUDA is not available here (use --device cpu)")
    return resolved


def lpips_key(protocol: MetricProtocol, net: str) -> str:
    """Result key of LPIPS with backbone ``net``: ``lpips`` for the protocol's first, ``lpips_<net>`` otherwise."""
    return "lpips" if net == protocol.lpips_nets[0] else f"lpips_{net}"


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _lpips_paths(protocol: MetricProtocol, weights: LpipsWeights) -> dict[str, str | Path | None]:
    """Backbone file per LPIPS net of ``protocol`` (None = resolve the known file)."""
    nets = protocol.lpips_nets
    if weights is None:
        return {net: None for net in nets}
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(nets))
        if unknown:
            raise UsageError(
                f"LPIPS weights given for {unknown}, but protocol {protocol.name!r} uses {list(nets)}"
            )
        return {net: weights.get(net) for net in nets}
    if len(nets) > 1:
        raise UsageError(
            f"protocol {protocol.name!r} uses LPIPS backbones {list(nets)}: give one weights file per backbone "
            f"(e.g. --lpips-weights alex=PATH --lpips-weights vgg=PATH)"
        )
    return {nets[0]: weights}


class ReconstructionEvaluator:
    """Per-image PSNR/SSIM/LPIPS and streaming rFID statistics under one metric protocol.

    Args:
        protocol: a :class:`MetricProtocol` or its name (``standard``, ``wetok``).
        metrics: any of ``psnr``, ``ssim``, ``lpips``, ``rfid``.
        device: where the networks and the metric arithmetic run (``auto`` allowed).
        inception_weights: Inception weights file; None resolves the protocol's known file.
        lpips_weights: backbone file(s): one path (protocols with one backbone), a mapping
            ``{"alex": path, "vgg": path}``, or None to resolve the known files.

    Typical loop::

        ev = ReconstructionEvaluator("standard")
        for originals_u8 in loader:                       # uint8 B x 3 x H x W
            ref_stats.update(ev.reference_features(originals_u8))   # or a cached reference
            rows.append(ev.update(originals_u8, tokenizer.reconstruct(ev.protocol.original_float(originals_u8))))
        result = ev.compute(ref_stats)
    """

    def __init__(
        self,
        protocol: MetricProtocol | str,
        metrics: Sequence[str] = VALID_METRICS,
        device: str | torch.device = "cpu",
        inception_weights: str | Path | None = None,
        lpips_weights: LpipsWeights = None,
    ) -> None:
        self.protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in VALID_METRICS]
        if unknown or not metrics:
            raise UsageError(f"unknown metric(s) {unknown} (valid: {', '.join(VALID_METRICS)})")
        self.metrics = tuple(dict.fromkeys(metrics))
        self.device = resolve_device(device)
        self.lpips: dict[str, LPIPSMetric] = {}
        if "lpips" in self.metrics:
            paths = _lpips_paths(self.protocol, lpips_weights)
            self.lpips = {net: LPIPSMetric(net, paths[net], self.device) for net in self.protocol.lpips_nets}
        self.inception = None
        self._recon_stats: FeatureStats | None = None
        self._clamped = 0
        self._values = 0
        if "rfid" in self.metrics:
            from wetok_bench.metrics.inception import build_inception

            self.inception = build_inception(self.protocol.fid_extractor, inception_weights, device=self.device)
            # kept where the features are made: no per-batch copies, and NCCL reduces CUDA tensors
            self._recon_stats = FeatureStats(self.inception.dim, device=self.device)

    # --- per batch -----------------------------------------------------------------------

    @property
    def value_keys(self) -> list[str]:
        """Keys of the per-image values :meth:`update` returns, in order."""
        keys = [m for m in ("psnr", "ssim") if m in self.metrics]
        keys += [lpips_key(self.protocol, net) for net in self.lpips]
        return keys

    def reference_features(self, original_u8: torch.Tensor) -> torch.Tensor:
        """Inception features (float64, B x dim) of uint8 originals, through the protocol's view."""
        if self.inception is None:
            raise UsageError("reference features need the 'rfid' metric, which this evaluator was built without")
        _check_originals(original_u8)
        with torch.inference_mode():
            return self.inception(self.protocol.fid_view_original(original_u8.to(self.device)))

    def update(self, original_u8: torch.Tensor, recon: torch.Tensor) -> dict[str, torch.Tensor]:
        """Score one batch; returns per-image float64 CPU tensors [B] keyed by :attr:`value_keys`.

        Args:
            original_u8: uint8 originals, B x 3 x H x W.
            recon: the tokenizer's reconstruction of them, float, nominally in [-1, 1]
                (clamped and quantized here as the protocol says).

        Also adds the reconstructions' Inception features to :attr:`recon_stats` when rFID is on.
        """
        _check_originals(original_u8)
        check_image_pair(original_u8, recon, "reconstruction")
        if not recon.is_floating_point():
            raise UsageError(f"reconstructions must be float in [-1, 1], got {recon.dtype} (uint8 files: u8 / 127.5 - 1)")
        if not torch.isfinite(recon).all():
            raise TokenizerOutputError("the reconstruction contains NaN or Inf values")
        original_u8 = original_u8.to(self.device)
        recon = recon.to(self.device)
        self._clamped += int((recon.abs() > CLAMP_THRESHOLD).sum())
        self._values += recon.numel()
        out: dict[str, torch.Tensor] = {}
        if "psnr" in self.metrics or "ssim" in self.metrics:
            ref_px, rec_px = self.protocol.pixel_views(original_u8, recon)
            if "psnr" in self.metrics:
                out["psnr"] = psnr(ref_px, rec_px, data_range=self.protocol.psnr_data_range)
            if "ssim" in self.metrics:
                out["ssim"] = ssim(ref_px, rec_px, window=self.protocol.ssim_window, data_range=self.protocol.psnr_data_range)
        if self.lpips:
            ref_lp, rec_lp = self.protocol.lpips_views(original_u8, recon)
            for net, metric in self.lpips.items():
                out[lpips_key(self.protocol, net)] = metric(ref_lp, rec_lp)
        if self.inception is not None:
            with torch.inference_mode():
                self._recon_stats.update(self.inception(self.protocol.fid_view_recon(recon)))
        return {key: value.detach().to("cpu", torch.float64) for key, value in out.items()}

    # --- set level -----------------------------------------------------------------------

    @property
    def recon_stats(self) -> FeatureStats | None:
        """Inception statistics of every reconstruction seen (None without rFID)."""
        return self._recon_stats

    @property
    def clamp_counts(self) -> tuple[int, int]:
        """``(clamped, total)`` reconstruction values since :meth:`reset` (or construction):
        values with ``|x| > CLAMP_THRESHOLD`` that the protocol clamped, and all values seen."""
        return self._clamped, self._values

    def reset(self) -> None:
        """Forget the reconstructions seen so far (the networks stay loaded)."""
        self._clamped = self._values = 0
        if self._recon_stats is not None:
            self._recon_stats = FeatureStats(self._recon_stats.dim, device=self.device)

    def compute(self, reference_stats: FeatureStats | None) -> dict:
        """Set-level results: :func:`~wetok_bench.metrics.fid.fid_result` against the reference.

        Returns ``{}`` when rFID was not requested. Call after :meth:`FeatureStats.all_reduce`
        of :attr:`recon_stats` in distributed runs.
        """
        if self.inception is None:
            return {}
        if reference_stats is None:
            raise UsageError("rFID needs the reference (originals') feature statistics")
        if reference_stats.dim != self._recon_stats.dim:
            raise UsageError(
                f"reference statistics have dimension {reference_stats.dim}, the evaluator's features {self._recon_stats.dim}"
            )
        return fid_result(reference_stats, self._recon_stats)

    def fingerprint(self) -> dict:
        """Everything that defines the values: protocol, metrics, weight hashes, library versions."""
        weights: dict[str, dict] = {}
        if self.inception is not None:
            weights["inception"] = {"kind": self.inception.kind, "sha256": self.inception.weights_sha256}
        for net, metric in self.lpips.items():
            weights[f"lpips_{net}"] = {"backbone_sha256": metric.backbone_sha256, "heads_sha256": metric.heads_sha256}
        return {
            "protocol": self.protocol.name,
            "protocol_version": self.protocol.version,
            "protocol_fingerprint": self.protocol.fingerprint,
            "protocol_settings": self.protocol.to_dict(),
            "metrics": list(self.metrics),
            "weights": weights,
            "versions": _library_versions(),
        }


def clamp_warning(name: str, clamped: int, total: int) -> str | None:
    """One line saying that ``name``'s output was clamped far outside [-1, 1], or None.

    ``clamped`` and ``total`` are :attr:`ReconstructionEvaluator.clamp_counts`. None when at
    most :data:`CLAMP_WARN_FRACTION` of the values were beyond :data:`CLAMP_THRESHOLD`.
    """
    if total <= 0 or clamped <= 0 or clamped / total <= CLAMP_WARN_FRACTION:
        return None
    return (
        f"{name}: {clamped / total:.2%} of reconstruction values ({clamped:,} of {total:,}) were beyond "
        f"+-{CLAMP_THRESHOLD:.4f} and clamped to [-1, 1]: is the output in [-1, 1] (not [0, 1] or [0, 255])?"
    )


def _check_originals(original_u8: torch.Tensor) -> None:
    if original_u8.dtype != torch.uint8:
        raise UsageError(f"originals must be uint8 images, got {original_u8.dtype}")
    if original_u8.ndim != 4 or original_u8.shape[1] != 3:
        raise UsageError(f"originals must be B x 3 x H x W, got shape {tuple(original_u8.shape)}")
