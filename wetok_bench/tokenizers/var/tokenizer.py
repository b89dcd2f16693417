"""The VAR VQVAE tokenizer: images in [-1, 1] <-> one int64 code map per scale.

Encoding follows the official ``VQVAE.img_to_idxBl`` (encoder -> ``quant_conv`` -> residual
quantization over the scales); decoding follows ``idxBl_to_img(same_shape=True, last_one=True)``
(the scales' phi outputs summed at the finest size -> ``post_quant_conv`` -> decoder). The
official code clamps the decoded images to [-1, 1]; here they are returned unclamped, as every
family's are, and the harness clamps them under every protocol (same values), counting how
many it clamped. Under ``bf16`` the encoder and decoder run in autocast; the quantization is
always float32. The decoder is deterministic: the runner's per-image noise is ignored.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import file_record
from wetok_bench.tokenizers.base import Compression, ImageNoise, SizePolicy, Tokenizer, autocast_to, check_precision
from wetok_bench.tokenizers.var.model import VarVQVAE, codes_to_latent, encode_scales

FAMILY = "var-vqvae"
#: fp32 (default; the official code runs fp32) or bf16 autocast.
PRECISIONS = ("fp32", "bf16")


class VarTokenizer(Tokenizer):
    """A loaded VAR VQVAE.

    Attributes: ``model`` (:class:`VarVQVAE`), ``arch``, ``patch_nums``, ``codebook_size``,
    ``precision``, ``checkpoint`` (path), ``card``. A code is a list of int64 maps
    B x p x p, one per scale of ``patch_nums``, coarse to fine.
    """

    kind = "discrete"

    def __init__(
        self,
        model: VarVQVAE,
        *,
        name: str = FAMILY,
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        checkpoint: str | os.PathLike | None = None,
        card: str | None = None,
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        check_precision(precision, PRECISIONS, FAMILY)
        self.model = model.eval().requires_grad_(False)
        self.arch = model.arch
        self.patch_nums = tuple(self.arch.patch_nums)
        self.downsample = self.arch.downsample
        self.codebook_size = self.arch.vocab_size
        self.precision = precision
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.card = card

    def _check_size(self, height: int, width: int) -> None:
        side = self.patch_nums[-1] * self.downsample
        if (height, width) != (side, side):
            raise UsageError(
                f"{FAMILY} {self.name!r}: its scales {list(self.patch_nums)} end at a {self.patch_nums[-1]}x"
                f"{self.patch_nums[-1]} token map, i.e. {side}x{side} images (x{self.downsample}); got "
                f"{height}x{width}. Use resolution {side}, or set patch_nums for this size (official: "
                f"1,2,3,4,6,9,13,18,24,32 for 512; 1,2,3,4,5,7,9,12,16,21,27,36,48,64 for 1024)"
            )

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent before quantization, ``quant_conv(encoder(x))`` (float32, B x z x n x n)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise UsageError(f"{FAMILY} expects images B x 3 x H x W, got {tuple(x.shape)}")
        self._check_size(*x.shape[-2:])
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            latent = self.model.encode_latent(x.to(self.device, torch.float32))
        return latent.float()

    def quantize(self, latent: torch.Tensor) -> list[torch.Tensor]:
        """Codes of every scale (int64, B x p x p each) of a latent."""
        with torch.inference_mode():
            return encode_scales(self.model.quantize, latent.to(self.device, torch.float32), self.patch_nums)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Codes of every scale for images in [-1, 1] (see :meth:`quantize`)."""
        return self.quantize(self.encode_latent(x))

    def token_ids(self, code: list[torch.Tensor]) -> torch.Tensor:
        """All scales' codes as B x (sum p^2) x 1, coarse to fine, raster order within a scale
        (VAR's token sequence; 680 tokens for the 256 scales)."""
        return torch.cat([c.to(torch.int64).flatten(1) for c in code], dim=1).unsqueeze(-1)

    def codes_to_latent(self, code: list[torch.Tensor]) -> torch.Tensor:
        """``f_hat`` (float32, B x z x n x n) of the codes of every scale."""
        with torch.inference_mode():
            return codes_to_latent(self.model.quantize, [c.to(self.device) for c in code], self.patch_nums)

    def decode(self, code: list[torch.Tensor], *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W float32, not clamped) for the codes of every scale; ``noise`` is unused."""
        f_hat = self.codes_to_latent(code)
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            images = self.model.decode_latent(f_hat)
        return images.float()

    def compression(self, height: int, width: int) -> Compression:
        """sum over scales of p^2 tokens x log2(vocab_size) bits (256x256: 680 x 12 = 8160 bits)."""
        self._check_size(height, width)
        bits_per_token = math.log2(self.codebook_size)
        tokens = self.arch.tokens
        return Compression(
            height=height, width=width, bits_per_image=tokens * bits_per_token, tokens=tokens,
            bits_per_token=bits_per_token, latent_shape=(tokens, 1),
            codebook=f"{self.codebook_size}, {len(self.patch_nums)} scales {self.patch_nums[0]}..{self.patch_nums[-1]}",
        )

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def fingerprint(self) -> dict[str, Any]:
        """Checkpoint (file name, size, sha256), architecture (scales included), precision."""
        return {
            "family": FAMILY,
            "card": self.card,
            "checkpoint": file_record(self.checkpoint),
            "arch": self.arch.to_dict(),
            "precision": self.precision,
        }
