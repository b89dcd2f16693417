"""The VQ autoencoder both families share: encoder -> quant_conv -> codebook -> post_quant_conv -> decoder.

Parameter names are taming-transformers' (``encoder.down.0.block.0.conv1.weight``,
``quantize.embedding.weight``, ``quant_conv.weight``, ...); LlamaGen's differ and are renamed
on loading (:func:`wetok_bench.tokenizers.vq.llamagen.official_key_to_ours`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from wetok_bench.errors import UsageError
from wetok_bench.tokenizers.taming_model import Decoder, Encoder, TamingConfig


@dataclass(frozen=True)
class VQArch:
    """One VQ model's architecture.

    Attributes:
        encoder, decoder: the encoder's and the decoder's taming configs (LlamaGen allows
            different width multipliers; the number of levels must agree).
        n_embed: codebook entries.
        embed_dim: channels of a codebook entry (``quant_conv`` maps ``z_channels`` to it).
        l2_norm: latent and codebook rows are l2-normalised before the nearest-code search.
    """

    encoder: TamingConfig
    decoder: TamingConfig
    n_embed: int
    embed_dim: int
    l2_norm: bool = False

    def __post_init__(self) -> None:
        problems = []
        if len(self.encoder.ch_mult) != len(self.decoder.ch_mult):
            problems.append(
                f"encoder and decoder have {len(self.encoder.ch_mult)} and {len(self.decoder.ch_mult)} "
                f"levels: the reconstruction would not have the input's size"
            )
        if self.encoder.z_channels != self.decoder.z_channels:
            problems.append("encoder and decoder z_channels differ")
        if self.encoder.double_z:
            problems.append("double_z: true is a KL autoencoder's encoder, not a VQ one")
        if self.n_embed < 2 or self.embed_dim < 1:
            problems.append(f"codebook of {self.n_embed} x {self.embed_dim} (need at least 2 entries)")
        if problems:
            raise UsageError("invalid VQ model config: " + "; ".join(problems))

    @property
    def downsample(self) -> int:
        """Spatial factor between image and code grid."""
        return self.encoder.downsample

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for part in ("encoder", "decoder"):
            data[part] = {k: list(v) if isinstance(v, tuple) else v for k, v in data[part].items()}
        return data


class Codebook(nn.Module):
    """Holds ``embedding`` (n_embed x embed_dim) under the official name ``quantize.embedding``."""

    def __init__(self, n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)


class VQAutoencoder(nn.Module):
    """The modules of a VQ model; quantization itself lives in :mod:`.quantizer`."""

    def __init__(self, arch: VQArch) -> None:
        super().__init__()
        self.arch = arch
        z = arch.encoder.z_channels
        self.encoder = Encoder(arch.encoder)
        self.quant_conv = nn.Conv2d(z, arch.embed_dim, 1)
        self.quantize = Codebook(arch.n_embed, arch.embed_dim)
        self.post_quant_conv = nn.Conv2d(arch.embed_dim, z, 1)
        self.decoder = Decoder(arch.decoder)

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-quantization latent, ``quant_conv(encoder(x))`` (B x embed_dim x h x w)."""
        return self.quant_conv(self.encoder(x))

    def decode_latent(self, quantized: torch.Tensor) -> torch.Tensor:
        """Images for a quantized latent (B x embed_dim x h x w)."""
        return self.decoder(self.post_quant_conv(quantized))
