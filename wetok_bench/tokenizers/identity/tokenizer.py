"""The identity tokenizer: code = the images, decode returns them unchanged.

A control for the harness: every metric must come out perfect (PSNR inf, SSIM 1, LPIPS 0,
rFID about 0), and the compression ratio is 1 (24 bits per pixel, uint8 RGB).
"""

from __future__ import annotations

from typing import Any

import torch

from wetok_bench.tokenizers.base import Compression, ImageNoise, Tokenizer

#: Bits of one uncompressed pixel (uint8 RGB).
BITS_PER_PIXEL = 24


class IdentityTokenizer(Tokenizer):
    """Code = the images themselves; decode returns them unchanged."""

    kind = "identity"
    downsample = 1

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        return code

    def compression(self, height: int, width: int) -> Compression:
        return Compression(
            height=height,
            width=width,
            bits_per_image=float(height * width * BITS_PER_PIXEL),
            tokens=height * width,
            bits_per_token=float(BITS_PER_PIXEL),
            latent_shape=(3, height, width),
            codebook="uint8 RGB",
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"family": "identity"}
