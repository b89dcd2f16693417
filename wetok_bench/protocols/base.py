"""What a metric protocol is: every setting that defines the value of rFID, PSNR, SSIM and LPIPS,
and the views (pixel arrays) each metric reads under it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from wetok_bench.core.hashing import sha256_json
from wetok_bench.protocols.pixels import QuantizeRule, U8FloatRule, round_to_u8, truncate_to_u8, u8_to_signed_float

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
