"""The Cosmos tokenizer: a TorchScript encoder/decoder pair (NVIDIA Cosmos-Tokenizer).

The released checkpoints are TorchScript pairs ``encoder.jit`` / ``decoder.jit`` (NVIDIA's
``cosmos_tokenizer`` package, which only wraps them, is not on PyPI). Their contract, read from
NVIDIA/Cosmos-Tokenizer (``cosmos_tokenizer/image_lib.py`` and ``networks/*_image.py``):

- input B x 3 x H x W in [-1, 1];
- continuous (CI): the encoder returns a tuple whose first item is the latent B x 16 x h x w
  (the rest is the posterior's bookkeeping); the decoder takes that latent;
- discrete (DI): the encoder returns (indices B x h x w int, codes B x 6 x h x w, loss); the
  decoder takes the indices. FSQ levels (8, 8, 8, 5, 5, 5) give 64,000 codes, so a token
  carries log2(64000) = 15.97 bits;
- NVIDIA ran them in bfloat16 only, hence the bf16 default.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.hashing import cached_sha256
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    discrete_compression,
)

TYPE = "cosmos"

#: FSQ levels of the DI tokenizers; their product is the codebook size.
FSQ_LEVELS = (8, 8, 8, 5, 5, 5)
CODEBOOK_SIZE = math.prod(FSQ_LEVELS)  # 64,000


class CosmosTokenizer(Tokenizer):
    """A Cosmos TorchScript encoder/decoder pair.

    Args:
        name: the tokenizer's name in results.
        encoder, decoder: the loaded TorchScript modules.
        files: the ``encoder.jit`` and ``decoder.jit`` paths (hashed for the fingerprint).
        kind: ``continuous`` (CI: the code is the latent) or ``discrete`` (DI: the code is the
            token indices).
        downsample: spatial factor (8 or 16).
        latent_channels: channels of the CI latent (16 for the releases; unused for DI).
        dtype: compute dtype (bf16 is what NVIDIA tested).
        bits_per_value: bits counted per CI latent value for the compression ratio.
    """

    def __init__(
        self,
        name: str,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        *,
        files: dict[str, Path],
        source: str,
        kind: str,
        downsample: int,
        latent_channels: int,
        dtype: torch.dtype = torch.bfloat16,
        bits_per_value: float = DEFAULT_BITS_PER_VALUE,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        self.encoder, self.decoder = encoder, decoder
        self.files = dict(files)
        self.source = source
        self.kind = kind  # type: ignore[assignment]
        self.downsample = downsample
        self.latent_channels = latent_channels
        self.dtype = dtype
        self.bits_per_value = bits_per_value
        self.codebook_size = CODEBOOK_SIZE if kind == "discrete" else None
        self._sha256: dict[str, str] | None = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """CI: latent B x C x h x w; DI: token indices B x h x w (integers in [0, 64000))."""
        return first_tensor(self.encoder(x.to(self.device, self.dtype)))

    def token_ids(self, code: torch.Tensor) -> torch.Tensor | None:
        """DI: indices B x h x w as token ids B x (h*w) x 1 (raster order, int64); CI: None."""
        if self.kind != "discrete":
            return None
        return code.to(torch.int64).reshape(code.shape[0], -1, 1)

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images B x 3 x H x W (nominally [-1, 1]) from a latent (CI) or indices (DI)."""
        if self.kind == "continuous":
            code = code.to(self.device, self.dtype)
        return first_tensor(self.decoder(code.to(self.device)))

    def compression(self, height: int, width: int) -> Compression:
        if self.kind == "discrete":
            return discrete_compression(height, width, self.downsample, CODEBOOK_SIZE, 1)
        return continuous_compression(height, width, self.downsample, self.latent_channels, self.bits_per_value)

    def modules(self) -> list[torch.nn.Module]:
        return [self.encoder, self.decoder]

    def fingerprint(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = {name: cached_sha256(path) for name, path in self.files.items()}
        code = (
            {"fsq_levels": list(FSQ_LEVELS), "codebook_size": CODEBOOK_SIZE}
            if self.kind == "discrete"
            else {"latent_channels": self.latent_channels, "bits_per_value": self.bits_per_value}
        )
        return {
            "family": TYPE,
            "source": self.source,
            "kind": self.kind,
            "downsample": self.downsample,
            "code": code,
            "weights_sha256": self._sha256,
            "precision": str(self.dtype).removeprefix("torch."),
        }


def first_tensor(output: Any) -> torch.Tensor:
    """The first tensor of a Cosmos module's output (a tensor or a tuple)."""
    return output[0] if isinstance(output, (tuple, list)) else output
