"""The VQ tokenizer (LlamaGen VQ, VQGAN, IBQ): images in [-1, 1] <-> int64 codes B x h x w from one codebook.

Encoding follows the official reconstruction path (``VQModel.encode``): encoder ->
``quant_conv`` -> nearest codebook entry. Decoding looks the codes up and runs
``post_quant_conv`` -> decoder (``decode_code``). The decoder is deterministic: the per-image
noise the runner passes to every tokenizer is ignored. Under ``bf16`` the convolutions run in
autocast, while the nearest-code search is always float32.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import file_record
from wetok_bench.tokenizers.base import (
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    autocast_to,
    check_precision,
    discrete_compression,
)
from wetok_bench.tokenizers.common.vq_model import VQAutoencoder, lookup, nearest_codes

#: fp32 (default; the official evaluations run fp32) or bf16 autocast.
PRECISIONS = ("fp32", "bf16")


class VQTokenizer(Tokenizer):
    """A loaded VQ model (``family`` ``llamagen-vq`` or ``vqgan``).

    Attributes: ``model`` (:class:`VQAutoencoder`), ``arch``, ``codebook_size`` (entries of the
    one codebook), ``precision``, ``checkpoint`` (path), ``weights`` (which entry of the file the
    weights came from, e.g. ``"model"``, ``"ema"``, ``"state_dict"``), ``card``, ``settings``
    (the family's own parameters, recorded in the fingerprint).
    """

    kind = "discrete"

    def __init__(
        self,
        model: VQAutoencoder,
        *,
        name: str,
        family: str,
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        checkpoint: str | os.PathLike | None = None,
        weights: str | None = None,
        card: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        check_precision(precision, PRECISIONS, family)
        self.model = model.eval().requires_grad_(False)
        self.arch = model.arch
        self.family = family
        self.downsample = self.arch.downsample
        self.codebook_size = self.arch.n_embed
        self.precision = precision
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.weights = weights
        self.card = card
        self.settings = dict(settings or {})

    # --- encoding -------------------------------------------------------------------------

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent before quantization, ``quant_conv(encoder(x))`` (float32, B x embed_dim x H/f x W/f)."""
        channels = self.arch.encoder.in_channels
        if x.dim() != 4 or x.shape[1] != channels:
            raise UsageError(f"{self.family} expects images B x {channels} x H x W, got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % self.downsample or width % self.downsample:
            raise UsageError(
                f"{self.family} {self.name!r}: image size {height}x{width} is not a multiple of its "
                f"downsample factor {self.downsample}"
            )
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            latent = self.model.encode_latent(x.to(self.device, torch.float32))
        return latent.float()

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Codes (int64, B x h x w) of a latent: index of the nearest codebook entry."""
        return nearest_codes(latent.to(self.device), self._codebook(), l2_norm=self.arch.l2_norm)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (int64, B x H/f x W/f) of images in [-1, 1]."""
        return self.quantize(self.encode_latent(x))

    def token_ids(self, code: torch.Tensor) -> torch.Tensor:
        """Codes B x h x w as token ids B x (h*w) x 1 (raster order, one codebook)."""
        b, h, w = code.shape
        return code.to(torch.int64).reshape(b, h * w, 1)

    # --- decoding -------------------------------------------------------------------------

    def _codebook(self) -> torch.Tensor:
        return self.model.quantize.embedding.weight

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """The quantized latent (float32, B x embed_dim x h x w) for codes B x h x w."""
        return lookup(codes.to(self.device), self._codebook(), l2_norm=self.arch.l2_norm)

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W float32, not clamped) for codes B x h x w; ``noise`` is unused."""
        return self.decode_latent(self.codes_to_latent(code))

    def decode_latent(self, quantized: torch.Tensor) -> torch.Tensor:
        """Images for a quantized latent B x embed_dim x h x w."""
        quantized = quantized.to(self.device, torch.float32)
        if quantized.dim() != 4 or quantized.shape[1] != self.arch.embed_dim:
            raise UsageError(
                f"{self.family} latent must be B x {self.arch.embed_dim} x h x w, got {tuple(quantized.shape)}"
            )
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            images = self.model.decode_latent(quantized)
        return images.float()

    # --- accounting -----------------------------------------------------------------------

    def compression(self, height: int, width: int) -> Compression:
        """(H/f) x (W/f) tokens x log2(codebook size) bits."""
        return discrete_compression(height, width, self.downsample, self.codebook_size)

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def fingerprint(self) -> dict[str, Any]:
        """Checkpoint (file name, size, sha256), architecture, family settings, precision, weights entry."""
        return {
            "family": self.family,
            "card": self.card,
            "checkpoint": file_record(self.checkpoint, weights=self.weights),
            "arch": self.arch.to_dict(),
            "settings": self.settings,
            "precision": self.precision,
        }
