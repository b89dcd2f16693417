"""What a metric protocol is: every setting that defines the value of rFID, PSNR, SSIM and LPIPS,
and the views (pixel arrays) each metric reads under it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from wetok_bench.core.hashing import sha256_json
from wetok_bench.protocols.pixels import QUANTIZERS, QuantizeRule, U8FloatRule, truncate_to_u8, u8_to_signed_float, \
    u8_to_unit_float

FidExtractor = Literal["inception-v3-compat", "pytorch-fid", "inception-v3-compat-float64"]
SsimWindow = Literal["gaussian", "uniform", "gaussian-reflect"]
FidInput = Literal["uint8", "float", "uint8_unit"]


@dataclass(frozen=True)
class OfficialAggregate:
    """How a protocol's reference script reduces per-image values to the number it prints.

    The harness reports the mean over images (``psnr``, ``ssim``); a script that pads its data
    across ranks, averages batch means, or pools PSNR per batch prints another number, which is
    reported beside it as ``<metric>_official`` (:func:`wetok_bench.metrics.aggregate.protocol_aggregates`),
    computed from the per-image values in the order of the sorted image list.

    Attributes:
        ranks: processes the published numbers ran on (their sampler pads the list to a multiple).
        batch_size: images per batch per process.
        padding: ``strided`` (torch ``DistributedSampler``: the list is repeated cyclically,
            rank r takes every ranks-th index from r) or ``contiguous`` (each rank takes a
            contiguous range of the cyclically repeated list, as efficientvit's sampler does).
        reduce: ``batch-mean`` (mean over every rank's batches of each batch's mean) or
            ``image-mean`` (sum over every evaluated image, padded duplicates included, over their count).
        psnr: ``per-image`` (a batch's PSNR is the mean of its images' PSNR) or ``pooled``
            (a batch's PSNR is that of its mean MSE, ``-10 log10(mean_i 10^(-PSNR_i / 10))``).
        metrics: the per-image metrics the script reports this way.
    """

    ranks: int = 1
    batch_size: int = 1
    padding: Literal["strided", "contiguous"] = "strided"
    reduce: Literal["batch-mean", "image-mean"] = "batch-mean"
    psnr: Literal["per-image", "pooled"] = "per-image"
    metrics: tuple[str, ...] = ("psnr", "ssim")


@dataclass(frozen=True)
class MetricProtocol:
    """Every setting that defines the value of rFID, PSNR, SSIM and LPIPS.

    Attributes:
        name: protocol name (``standard``, ``wetok``, ``llamagen`` ...).
        version: bumped whenever a setting changes; part of the fingerprint.
        resize: how originals are brought to R x R: the name of a rule in
            :data:`wetok_bench.data.preprocess.RESIZE_RULES`, which the loader applies.
        pixel_quantize: how float reconstructions in [-1, 1] become uint8 for PSNR/SSIM (and
            for LPIPS and rFID when they read uint8), a rule of
            :data:`~wetok_bench.protocols.pixels.QUANTIZERS`: ``round`` = ``round((x + 1) * 127.5)``
            half to even; ``truncate`` = ``((x + 1) / 2 * 255)`` cast to uint8 in float32
            (applied to originals too, as the WeTok script does); ``half_up`` (LlamaGen) and
            ``half_up_unit`` (DC-AE): half-up rounding in each script's float32 arithmetic.
        fid_extractor: feature network used for rFID (a name in
            :data:`wetok_bench.metrics.extractors.EXTRACTORS`).
        fid_input: ``uint8`` (the quantized reconstructions), ``float`` (unquantized, in [0, 1])
            or ``uint8_unit`` (the quantized images as float32 ``u8 / 255``).
        ssim_window: ``gaussian`` (11 taps, sigma 1.5, population covariance, border dropped),
            ``uniform`` (7x7, sample covariance, border dropped) or ``gaussian-reflect``
            (torchmetrics >= 1.4.2: the Gaussian over a reflect-padded image, the whole map averaged).
        lpips_nets: LPIPS backbones reported; the first is the headline ``lpips`` value.
        lpips_input: ``uint8`` (``u8 / 127.5 - 1`` of the quantized images) or ``float``
            (the clamped float reconstruction and ``u8 / 127.5 - 1`` of the original).
        psnr_data_range: peak value for PSNR (255 on uint8).
        ssim_data_range: the SSIM's data range on uint8 (None: ``psnr_data_range``); LlamaGen
            passes ``data_range=2.0`` for images in [0, 1], i.e. 510 on uint8.
        undefined: metrics the protocol's reference script does not compute (``lpips`` for
            LlamaGen); a suite asking for one under it alone is refused.
        official: how the reference script aggregates (:class:`OfficialAggregate`), or None
            when it reports the plain mean over images; not part of the fingerprint (the
            per-image values do not depend on it).
        u8_float: the arithmetic of ``u8 / 127.5 - 1`` (see :func:`u8_float_table`):
            ``float32`` (both operations rounded to float32, as torch computes
            ``u8.float() / 127.5 - 1`` on a CPU) or ``float64`` (exact arithmetic, one rounding
            to float32, as the official WeTok dataset computes it with numpy).
    """

    name: str
    version: int
    resize: str = "short-side-bilinear-antialias+center-crop"
    pixel_quantize: QuantizeRule = "round"
    fid_extractor: FidExtractor = "inception-v3-compat"
    fid_input: FidInput = "uint8"
    ssim_window: SsimWindow = "gaussian"
    lpips_nets: tuple[str, ...] = ("alex",)
    lpips_input: Literal["uint8", "float"] = "uint8"
    psnr_data_range: float = 255.0
    u8_float: U8FloatRule = "float32"
    ssim_data_range: float | None = None
    undefined: tuple[str, ...] = ()
    official: OfficialAggregate | None = field(default=None, compare=False)
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.pixel_quantize not in QUANTIZERS:
            raise ValueError(f"protocol {self.name!r}: unknown pixel_quantize {self.pixel_quantize!r} "
                             f"(known: {', '.join(QUANTIZERS)})")

    def to_dict(self) -> dict:
        """All settings as plain data (stored in every manifest)."""
        data = asdict(self)
        data["lpips_nets"] = list(self.lpips_nets)
        data["undefined"] = list(self.undefined)
        data.pop("notes")
        data.pop("official")
        # Settings added after version 1 are left out while they hold the value every earlier
        # result was measured with, so that those results' fingerprints stay valid.
        for key, legacy in _ADDED_SETTINGS.items():
            if data[key] == legacy:
                data.pop(key)
        return data

    @property
    def fingerprint(self) -> str:
        """sha256 of the settings: two results are comparable iff their fingerprints match."""
        return sha256_json(self.to_dict())

    @property
    def convention(self) -> str:
        """sha256 of the settings that define the per-image and set values, name and version
        aside: protocols with the same convention (``wetok``, ``seed-voken``, ``open-magvit2-v1``)
        give the same values and differ only in how their scripts aggregate (``official``)."""
        settings = self.to_dict()
        settings.pop("name")
        settings.pop("version")
        return sha256_json(settings)

    @property
    def ssim_range(self) -> float:
        """The data range SSIM uses on uint8 images."""
        return self.psnr_data_range if self.ssim_data_range is None else self.ssim_data_range

    def defines(self, metric: str) -> bool:
        """Whether the protocol gives ``metric`` a value (see ``undefined``)."""
        return metric not in self.undefined

    # --- the views each metric consumes -------------------------------------------------
    # Each view has a key naming every setting it depends on: two protocols whose keys agree
    # give the same tensor, so a pass measuring both computes it (and the network outputs on it) once.

    @property
    def pixel_view_key(self) -> str:
        """What :meth:`pixel_views` depends on."""
        return f"pixel:{self.pixel_quantize}" + (f":{self.u8_float}" if self.pixel_quantize == "truncate" else "")

    @property
    def lpips_view_key(self) -> str:
        """What :meth:`lpips_views` depends on."""
        quantized = f":{self.pixel_quantize}" if self.lpips_input == "uint8" else ""
        return f"lpips:{self.lpips_input}:{self.u8_float}{quantized}"

    @property
    def fid_view_key(self) -> str:
        """What :meth:`fid_view_recon` and :meth:`fid_view_original` depend on."""
        if self.fid_input == "float":
            return f"fid:float:{self.u8_float}"
        truncated = f":{self.u8_float}" if self.pixel_quantize == "truncate" else ""
        return f"fid:{self.fid_input}:{self.pixel_quantize}{truncated}"

    def original_float(self, original_u8: torch.Tensor) -> torch.Tensor:
        """uint8 images as float32 in [-1, 1] (``u8 / 127.5 - 1`` by the protocol's rule).

        The tokenizer input, and every other uint8 -> float conversion of the protocol;
        bit-identical on every device.
        """
        return u8_to_signed_float(original_u8, self.u8_float)

    def pixel_views(
        self, original_u8: torch.Tensor, recon: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (original, reconstruction) pair for PSNR and SSIM.

        ``recon`` is the tokenizer output in [-1, 1] (clamped here, as every protocol does).
        """
        return self.original_u8_view(original_u8), self.quantize(recon)

    def quantize(self, recon: torch.Tensor) -> torch.Tensor:
        """The reconstruction (float, [-1, 1] after clamping) as uint8 by ``pixel_quantize``."""
        return QUANTIZERS[self.pixel_quantize](recon.clamp(-1.0, 1.0))

    def original_u8_view(self, original_u8: torch.Tensor) -> torch.Tensor:
        """The original as the metrics' uint8 view: itself, except under ``truncate``, which
        truncates the float the tokenizer read (the WeTok script lowers u = 1..95 by one)."""
        if self.pixel_quantize == "truncate":
            return truncate_to_u8(self.original_float(original_u8))
        return original_u8

    def lpips_views(
        self, original_u8: torch.Tensor, recon: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 (original, reconstruction) pair in [-1, 1] for LPIPS."""
        if self.lpips_input == "uint8":
            return self.original_float(original_u8), self.original_float(self.quantize(recon))
        return self.original_float(original_u8), recon.clamp(-1.0, 1.0).float()

    def fid_view_original(self, original_u8: torch.Tensor) -> torch.Tensor:
        """Feature-network input for originals: uint8, float32 in [0, 1], or ``u8 / 255``."""
        if self.fid_input == "uint8":
            return self.original_u8_view(original_u8)
        if self.fid_input == "uint8_unit":
            return u8_to_unit_float(self.original_u8_view(original_u8))
        return (self.original_float(original_u8) + 1.0) / 2.0

    def fid_view_recon(self, recon: torch.Tensor) -> torch.Tensor:
        """Feature-network input for reconstructions: quantized uint8, clamped float in
        [0, 1], or ``u8 / 255`` of the quantized images."""
        if self.fid_input == "uint8":
            return self.quantize(recon)
        if self.fid_input == "uint8_unit":
            return u8_to_unit_float(self.quantize(recon))
        return (recon.clamp(-1.0, 1.0).float() + 1.0) / 2.0


# Settings added to MetricProtocol after version 1, with the value every v1 result had.
_ADDED_SETTINGS: dict[str, object] = {"u8_float": "float32", "ssim_data_range": None, "undefined": []}
