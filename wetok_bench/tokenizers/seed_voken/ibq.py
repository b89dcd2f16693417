"""IBQ, index backpropagation quantization (TencentARC/SEED-Voken, ``src/IBQ``).

The model: the taming encoder/decoder (:mod:`wetok_bench.tokenizers.taming_model`), a 1x1
``quant_conv`` to ``embed_dim`` channels, a codebook ``quantize.embedding`` (n_embed x
embed_dim) and a 1x1 ``post_quant_conv`` back. A token's code is the argmax over the codebook
of the plain dot product ``latent . embedding[n]`` (``IndexPropagationQuantize``: softmax of
those logits, then its maximum; not the nearest neighbour, and no normalisation); decoding
takes the code's codebook row. Inference uses the EMA weights of every part (``ema_scope``),
as the official scripts do. Codes are int64 B x h x w.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wetok_bench.errors import UsageError
from wetok_bench.tokenizers.base import Compression, SizePolicy, Tokenizer, discrete_compression, parse_precision
from wetok_bench.tokenizers.seed_voken.config import ConfigSource, IBQConfig, ibq_config
from wetok_bench.tokenizers.taming_model import Decoder, Encoder
from wetok_bench.tokenizers.wetok.checkpoint import checkpoint_sha256, load_weights

PRECISIONS = ("fp32", "bf16")
#: Checkpoint prefixes of the parts the model loads (each has EMA copies in the releases).
PARTS = ("encoder", "decoder", "quant_conv", "post_quant_conv", "quantize")
#: Logit entries computed at once when choosing codes (bounds memory for 2**18 codebooks).
_SCORE_CHUNK = 2**24


class IBQModel(nn.Module):
    """Encoder, quant convs, codebook and decoder under the checkpoints' names."""

    def __init__(self, config: IBQConfig) -> None:
        super().__init__()
        self.config = config
        z = config.ddconfig.z_channels
        self.encoder = Encoder(config.ddconfig)
        self.decoder = Decoder(config.ddconfig)
        self.quant_conv = nn.Conv2d(z, config.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(config.embed_dim, z, 1)
        self.quantize = nn.Module()
        self.quantize.embedding = nn.Embedding(config.n_embed, config.embed_dim)


def nearest_by_dot_product(latent: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Codes (B x h x w, int64): argmax_n of ``latent[:, :, i, j] . codebook[n]`` in float32."""
    b, d, h, w = latent.shape
    flat = latent.float().permute(0, 2, 3, 1).reshape(-1, d)
    codebook = codebook.float()
    rows = max(1, _SCORE_CHUNK // codebook.shape[0])
    codes = [(chunk @ codebook.T).argmax(dim=1) for chunk in flat.split(rows)]
    return torch.cat(codes).reshape(b, h, w)


class IBQTokenizer(Tokenizer):
    """An IBQ model: images in [-1, 1] <-> int64 codes B x h x w in [0, n_embed).

    Attributes: ``config`` (:class:`IBQConfig`), ``model``, ``weights`` (part -> ``"ema"`` /
    ``"raw"``), ``precision``, ``codebook_size`` (n_embed).
    """

    kind = "discrete"

    def __init__(
        self,
        model: IBQModel,
        *,
        name: str = "ibq",
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        weights: dict[str, str] | None = None,
        checkpoint: str | os.PathLike | None = None,
        card: str | None = None,
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        if precision not in PRECISIONS:
            parse_precision(precision)  # an unknown name gets the generic message
            raise UsageError(f"IBQ runs in {' or '.join(PRECISIONS)}, not {precision!r}")
        self.model = model.eval().requires_grad_(False)
        self.config: IBQConfig = model.config
        self.downsample = self.config.downsample
        self.codebook_size = self.config.n_embed
        self.precision = precision
        self.weights = dict(weights or {})
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.card = card
        self._sha256: str | None = None

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=parse_precision(self.precision))

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """What the quantizer sees: ``quant_conv(encoder(x))``, B x embed_dim x H/f x W/f, float32."""
        in_channels = self.config.ddconfig.in_channels
        if x.dim() != 4 or x.shape[1] != in_channels:
            raise UsageError(f"IBQ expects images B x {in_channels} x H x W, got {tuple(x.shape)}")
        if x.shape[-2] % self.downsample or x.shape[-1] % self.downsample:
            raise UsageError(
                f"IBQ {self.name!r}: image size {x.shape[-2]}x{x.shape[-1]} is not a multiple of its "
                f"downsample factor {self.downsample}"
            )
        with torch.inference_mode(), self._autocast():
            latent = self.model.quant_conv(self.model.encoder(x.to(self.device, torch.float32)))
        return latent.float()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (int64, B x H/f x W/f): the codebook row of largest dot product with the latent."""
        with torch.inference_mode():
            return nearest_by_dot_product(self.encode_latent(x), self.model.quantize.embedding.weight)

    def token_ids(self, code: torch.Tensor) -> torch.Tensor:
        """Codes B x h x w as token ids B x (h*w) x 1 (raster order, int64)."""
        b, h, w = code.shape
        return code.to(torch.int64).reshape(b, h * w, 1)

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """The codebook rows (float32, B x embed_dim x h x w) that codes B x h x w stand for."""
        if codes.dim() != 3 or codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise UsageError(f"IBQ codes must be an integer tensor B x h x w, got {codes.dtype} {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.config.n_embed):
            raise UsageError(
                f"IBQ codes must lie in [0, {self.config.n_embed}), got {int(codes.min())} to {int(codes.max())}"
            )
        rows = self.model.quantize.embedding.weight[codes.to(self.device, torch.int64)]
        return rows.permute(0, 3, 1, 2).float().contiguous()

    def decode(self, code: torch.Tensor, *, noise: Any = None) -> torch.Tensor:
        """Images (B x 3 x H x W float32, not clamped) for codes B x h x w. ``noise`` is unused
        (the decoder is deterministic)."""
        quantized = self.codes_to_latent(code)
        with torch.inference_mode(), self._autocast():
            images = self.model.decoder(self.model.post_quant_conv(quantized))
        return images.float()

    def compression(self, height: int, width: int) -> Compression:
        """(H/f) x (W/f) tokens x log2(n_embed) bits."""
        return discrete_compression(height, width, self.downsample, self.config.n_embed)

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def checkpoint_sha256(self) -> str | None:
        if self.checkpoint is None:
            return None
        if self._sha256 is None:
            self._sha256 = checkpoint_sha256(self.checkpoint)
        return self._sha256

    def fingerprint(self) -> dict[str, Any]:
        """Checkpoint (file name, size, sha256), architecture, precision and weights used."""
        checkpoint = None
        if self.checkpoint is not None:
            checkpoint = {
                "file": self.checkpoint.name,
                "size": self.checkpoint.stat().st_size,
                "sha256": self.checkpoint_sha256(),
            }
        return {
            "family": "ibq",
            "card": self.card,
            "checkpoint": checkpoint,
            "config": self.config.to_dict(),
            "precision": self.precision,
            "weights": dict(self.weights),
        }


def load_ibq(
    checkpoint: str | os.PathLike,
    config: ConfigSource,
    *,
    name: str = "ibq",
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
    card: str | None = None,
) -> IBQTokenizer:
    """Load an official IBQ release (``{"state_dict": ...}``) described by ``config``.

    Weights: the EMA copies of every part when ``use_ema`` (all released configs), no raw
    fallback. Raises :class:`~wetok_bench.tokenizers.wetok.checkpoint.CheckpointError` for
    unreadable, incomplete or mismatching checkpoints.
    """
    arch = ibq_config(config)
    with torch.device("meta"):  # no random init: every weight comes from the file
        model = IBQModel(arch)
    weights = load_weights(model, checkpoint, use_ema=arch.use_ema, parts=PARTS, raw_fallback=(), what="IBQ")
    return IBQTokenizer(
        model, name=name, precision=precision, size_policy=size_policy, weights=weights, checkpoint=checkpoint, card=card
    )
