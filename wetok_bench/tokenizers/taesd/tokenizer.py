"""The TAESD tokenizer: [-1, 1] images through the [0, 1] networks, optionally an integer latent.

The models work on images in [0, 1]; this wrapper converts the harness's [-1, 1] on the way in
and maps the output back to [-1, 1] (not clamped). The latent is continuous and counted at 16
bits per value (the WeTok paper's convention); ``latent_bits: 8`` really quantizes it the way the
TAESD author stores latents as 8-bit images: ``z / (2 * 3) + 0.5`` clamped to [0, 1], times 255,
rounded; decoding divides by 255 and undoes the affine map. Then 8 bits per value are counted.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    parse_precision,
)
from wetok_bench.tokenizers.taesd.model import DOWNSAMPLE, LATENT_MAGNITUDE, LATENT_SHIFT, TaesdModel


def check_latent_options(name: str, latent_bits: int | None, bits_per_value: float | None) -> None:
    """UsageError unless ``latent_bits`` is 1-16 (or None) and ``bits_per_value`` agrees with it."""
    if latent_bits is not None and (
        isinstance(latent_bits, bool) or not isinstance(latent_bits, int) or not 1 <= latent_bits <= 16
    ):
        raise UsageError(
            f"tokenizer {name!r}: latent_bits must be an integer from 1 to 16 (8 is TAESD's own), not {latent_bits!r}"
        )
    if bits_per_value is not None and (
        isinstance(bits_per_value, bool) or not isinstance(bits_per_value, (int, float)) or bits_per_value <= 0
    ):
        raise UsageError(f"tokenizer {name!r}: bits_per_value must be a positive number, not {bits_per_value!r}")
    if latent_bits is not None and bits_per_value is not None and bits_per_value != latent_bits:
        raise UsageError(
            f"tokenizer {name!r}: a latent quantized to {latent_bits} bits is counted at {latent_bits} bits "
            f"per value; drop bits_per_value ({bits_per_value})"
        )


class TaesdTokenizer(Tokenizer):
    """A TAESD-family autoencoder as a continuous tokenizer (optionally an 8-bit latent).

    Code: the latent (B x C x H/8 x W/8 float) or, with ``latent_bits``, its integer levels
    (uint8 for up to 8 bits), which is what would be stored.
    """

    kind = "continuous"
    downsample = DOWNSAMPLE

    def __init__(
        self,
        name: str,
        *,
        model: TaesdModel,
        encoder: nn.Sequential,
        decoder: nn.Sequential,
        weights: dict[str, str],
        weights_format: str,
        latent_bits: int | None = None,
        bits_per_value: float | None = None,
        precision: str = "fp32",
        latent_magnitude: float = LATENT_MAGNITUDE,
        latent_shift: float = LATENT_SHIFT,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        check_latent_options(name, latent_bits, bits_per_value)
        self.model = model
        self.precision = precision
        self.dtype = parse_precision(precision)
        self.encoder = encoder.to(self.dtype).eval().requires_grad_(False)
        self.decoder = decoder.to(self.dtype).eval().requires_grad_(False)
        self.weights = weights
        self.weights_format = weights_format
        self.latent_bits = latent_bits
        self._bits_per_value = bits_per_value
        self.latent_magnitude = latent_magnitude
        self.latent_shift = latent_shift

    @property
    def bits_per_value(self) -> float:
        """Bits counted per latent value: ``latent_bits`` when quantized, else ``bits_per_value`` (16)."""
        if self.latent_bits is not None:
            return float(self.latent_bits)
        return float(self._bits_per_value if self._bits_per_value is not None else DEFAULT_BITS_PER_VALUE)

    def modules(self) -> list[nn.Module]:
        return [self.encoder, self.decoder]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        images01 = ((x.to(self.device, torch.float32) + 1) / 2).to(self.dtype)
        latent = self.encoder(images01).float()
        return self.quantize(latent) if self.latent_bits is not None else latent

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        latent = self.dequantize(code) if self.latent_bits is not None else code.float()
        images01 = self.decoder(latent.to(self.device, self.dtype)).float()
        return images01 * 2 - 1

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent -> integer levels in [0, 2**latent_bits - 1] (TAESD's 8-bit storage rule)."""
        levels = 2 ** int(self.latent_bits) - 1
        unit = latent.div(2 * self.latent_magnitude).add(self.latent_shift).clamp(0, 1)
        dtype = torch.uint8 if levels <= 255 else torch.int32
        return unit.mul(levels).round().to(dtype)

    def dequantize(self, code: torch.Tensor) -> torch.Tensor:
        """Integer levels -> latent values (the inverse affine map of :meth:`quantize`)."""
        levels = 2 ** int(self.latent_bits) - 1
        return (code.float() / levels).sub(self.latent_shift).mul(2 * self.latent_magnitude)

    def compression(self, height: int, width: int) -> Compression:
        return continuous_compression(height, width, DOWNSAMPLE, self.model.latent_channels, self.bits_per_value)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "family": "taesd",
            "model": self.model.name,
            "latent_channels": self.model.latent_channels,
            "pooled_blocks": self.model.pooled,
            "weights_format": self.weights_format,
            "weights_sha256": dict(self.weights),
            "latent_bits": self.latent_bits,
            "bits_per_value": self.bits_per_value,
            "latent_magnitude": self.latent_magnitude,
            "latent_shift": self.latent_shift,
            "precision": self.precision,
            "size_policy": self.size_policy,
        }
