"""Named, versioned metric protocols.

A number means nothing without its definition. A :class:`MetricProtocol` pins every choice
that changes a metric's value (resize, uint8 conversion, Inception port and its input, SSIM
window, LPIPS backbones and input) and has a fingerprint that is stored beside every result.

Two protocols exist (see README, "Metric protocols"):

``standard``
    uint8 everywhere: reconstructions are rounded to uint8 before every metric; rFID with
    torch-fidelity's ``inception-v3-compat`` on uint8; SSIM with the Gaussian window
    (sigma 1.5, 11 taps, population covariance); LPIPS-alex on ``u8 / 127.5 - 1``.
``wetok``
    replicates the official WeTok evaluation script: uint8 -> float as its dataset does
    (``(u8 / 127.5 - 1.0).astype(np.float32)``: float64 arithmetic, one rounding), PSNR/SSIM on
    uint8 made by float32 truncation of both images, SSIM with a 7x7 uniform window and sample
    covariance, rFID with the pytorch-fid InceptionV3 port on unquantized floats, LPIPS alex and
    vgg on floats. Version 2: version 1 converted in float32 and so lowered a different set of
    uint8 values by the truncation (1..63 instead of 1..95); its PSNR/SSIM were not the official ones.

Every uint8 -> float conversion goes through a 256-entry table computed once on the CPU
(:func:`u8_float_table`) and indexed by the uint8 values, so every device gives the same bits
(torch on CUDA divides a tensor by a scalar as a multiplication by its reciprocal, which would
give a third set of floats).

Every tensor this module returns for a "view" is what the named metric consumes directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import torch

from wetok_bench.errors import UsageError
from wetok_bench.hashing import sha256_json

QuantizeRule = Literal["round", "truncate"]
U8FloatRule = Literal["float32", "float64"]
FidExtractor = Literal["inception-v3-compat", "pytorch-fid"]
SsimWindow = Literal["gaussian", "uniform"]


@dataclass(frozen=True)
class MetricProtocol:
    """Every setting that defines the value of rFID, PSNR, SSIM and LPIPS.

    Attributes:
        name: protocol name (``standard`` or ``wetok``).
        version: bumped whenever a setting changes; part of the fingerprint.
        resize: how originals are brought to R x R: the name of a rule in
            :data:`wetok_bench.data.preprocess.RESIZE_RULES`, which the loader applies (one
            rule exists so far, resize the short side bilinear antialiased + centre crop).
        pixel_quantize: how float images in [-1, 1] become uint8 for PSNR/SSIM:
            ``round`` = ``round((x + 1) * 127.5)``; ``truncate`` = ``((x + 1) / 2 * 255)``
            cast to uint8 in float32 (applied to originals too, as the WeTok script does).
        fid_extractor: Inception port used for rFID.
        fid_input: ``uint8`` (rounded reconstructions) or ``float`` (unquantized, in [0, 1]).
        ssim_window: ``gaussian`` (11 taps, sigma 1.5, population covariance) or ``uniform``
            (7x7, sample covariance); data range 255 in both.
        lpips_nets: LPIPS backbones reported; the first is the headline ``lpips`` value.
        lpips_input: ``uint8`` (``u8 / 127.5 - 1`` of the rounded images) or ``float``
            (the clamped float reconstruction and ``u8 / 127.5 - 1`` of the original).
        psnr_data_range: peak value for PSNR (255 on uint8).
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
    fid_input: Literal["uint8", "float"] = "uint8"
    ssim_window: SsimWindow = "gaussian"
    lpips_nets: tuple[str, ...] = ("alex",)
    lpips_input: Literal["uint8", "float"] = "uint8"
    psnr_data_range: float = 255.0
    u8_float: U8FloatRule = "float32"
    notes: str = field(default="", compare=False)

    def to_dict(self) -> dict:
        """All settings as plain data (stored in every manifest)."""
        data = asdict(self)
        data["lpips_nets"] = list(self.lpips_nets)
        data.pop("notes")
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

    # --- the views each metric consumes -------------------------------------------------

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
        recon = recon.clamp(-1.0, 1.0)
        if self.pixel_quantize == "round":
            return original_u8, round_to_u8(recon)
        return truncate_to_u8(self.original_float(original_u8)), truncate_to_u8(recon)

    def lpips_views(
        self, original_u8: torch.Tensor, recon: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 (original, reconstruction) pair in [-1, 1] for LPIPS."""
        recon = recon.clamp(-1.0, 1.0)
        if self.lpips_input == "uint8":
            return self.original_float(original_u8), self.original_float(round_to_u8(recon))
        return self.original_float(original_u8), recon.float()

    def fid_view_original(self, original_u8: torch.Tensor) -> torch.Tensor:
        """Inception input for originals: uint8 as is, or float32 in [0, 1]."""
        if self.fid_input == "uint8":
            return original_u8
        return (self.original_float(original_u8) + 1.0) / 2.0

    def fid_view_recon(self, recon: torch.Tensor) -> torch.Tensor:
        """Inception input for reconstructions: rounded uint8, or clamped float in [0, 1]."""
        recon = recon.clamp(-1.0, 1.0)
        if self.fid_input == "uint8":
            return round_to_u8(recon)
        return (recon.float() + 1.0) / 2.0


# Settings added to MetricProtocol after version 1, with the value every v1 result had.
_ADDED_SETTINGS: dict[str, object] = {"u8_float": "float32"}


@lru_cache(maxsize=None)
def _table_cpu(rule: U8FloatRule) -> torch.Tensor:
    values = np.arange(256, dtype=np.float64)
    if rule == "float64":
        table = (values / 127.5 - 1.0).astype(np.float32)  # exact arithmetic, one rounding
    elif rule == "float32":
        table = values.astype(np.float32) / np.float32(127.5) - np.float32(1.0)  # two roundings
    else:
        raise ValueError(f"unknown uint8 -> float rule {rule!r} (known: float32, float64)")
    return torch.from_numpy(table)


def u8_float_table(rule: U8FloatRule = "float64", device: torch.device | str = "cpu") -> torch.Tensor:
    """The 256 float32 values of ``u / 127.5 - 1`` for u = 0..255, computed on the CPU.

    ``rule``: ``float64`` computes exactly and rounds once to float32 (numpy's
    ``(u8 / 127.5 - 1.0).astype(np.float32)``, the official WeTok dataset); ``float32`` rounds
    the division and the subtraction to float32 each (torch's ``u8.float() / 127.5 - 1`` on a
    CPU). The two differ in the last bit for about half the values.
    """
    return _table_cpu(rule).to(device, copy=True)


def u8_to_signed_float(images: torch.Tensor, rule: U8FloatRule = "float64") -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] as ``u8 / 127.5 - 1``, by table lookup (any device).

    ``rule`` as in :func:`u8_float_table`. The default ``float64`` is the float an image file
    becomes in the official WeTok loader; under ``round`` quantization both rules give back
    the same uint8, so the default does not change ``standard`` values (its protocol table is
    ``float32``).
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    # index_select on int32 indices: the same values as fancy indexing, about 4x faster on a CPU
    table = _table_cpu(rule).to(images.device)
    return table.index_select(0, images.reshape(-1).int()).view(images.shape)


def round_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 by rounding ``(x + 1) * 127.5`` (half to even, like torch.round)."""
    # in place on the clamped copy (never on the caller's tensor): the same values, fewer temporaries
    return images.clamp(-1.0, 1.0).to(torch.float32).add_(1.0).mul_(127.5).round_().to(torch.uint8)


def truncate_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 by truncation ``((x + 1) / 2 * 255)`` in float32 (WeTok script)."""
    return ((images.to(torch.float32) + 1.0) / 2.0 * 255.0).to(torch.uint8)


PROTOCOLS: dict[str, MetricProtocol] = {
    "standard": MetricProtocol(
        name="standard",
        version=1,
        notes="Recommended for new work: every metric on uint8 images, as they would be stored.",
    ),
    "wetok": MetricProtocol(
        name="wetok",
        version=2,
        pixel_quantize="truncate",
        fid_extractor="pytorch-fid",
        fid_input="float",
        ssim_window="uniform",
        lpips_nets=("alex", "vgg"),
        lpips_input="float",
        u8_float="float64",
        notes="Replicates the official WeTok evaluation script, for the paper's tables.",
    ),
}

DEFAULT_PROTOCOL = "standard"


def get_protocol(name: str) -> MetricProtocol:
    """The protocol registered under ``name``; unknown names are a :class:`UsageError`."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise UsageError(f"unknown metric protocol {name!r} (known: {known})") from None
