"""The VQ autoencoder the taming-lineage families share, and its nearest-code quantizer.

The model is encoder -> quant_conv -> codebook -> post_quant_conv -> decoder (LlamaGen VQ, VQGAN,
IBQ; VAR uses the quantizer functions). Parameter names are taming-transformers'
(``encoder.down.0.block.0.conv1.weight``, ``quantize.embedding.weight``, ``quant_conv.weight``,
...); LlamaGen's differ and are renamed on loading
(:func:`wetok_bench.tokenizers.llamagen.loading.official_key_to_ours`).

Quantization: a latent vector ``z`` (one per position, ``C`` channels) maps to the index of the codebook row
``e_j`` with the smallest squared distance, computed as ``|z|^2 + |e_j|^2 - 2 z.e_j`` (the
expansion both official quantizers use, so near-ties break the same way), the first index on
exact ties (``argmin``). With ``l2_norm`` (LlamaGen) both ``z`` and the rows are scaled to unit
length first, and the lookup returns the unit-length rows; the stored rows need not be unit norm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.common.taming_model import Decoder, Encoder, TamingConfig


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
    """The modules of a VQ model; quantization itself is :func:`nearest_codes` / :func:`lookup`."""

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


#: Positions per distance block: bounds the (positions x codebook) distance matrix to
#: 4096 x 16384 floats (256 MiB) whatever the batch; argmin is per row, so blocks change nothing.
_BLOCK = 4096


def codebook_vectors(weight: torch.Tensor, l2_norm: bool) -> torch.Tensor:
    """The codebook rows as the quantizer uses them (float32; unit length with ``l2_norm``)."""
    weight = weight.float()
    return F.normalize(weight, p=2, dim=-1) if l2_norm else weight


def nearest_codes(latent: torch.Tensor, weight: torch.Tensor, *, l2_norm: bool) -> torch.Tensor:
    """Codes (int64, B x h x w) of a latent B x C x h x w against codebook rows ``weight`` (n x C)."""
    b, c, h, w = latent.shape
    if c != weight.shape[1]:
        raise UsageError(f"latent has {c} channels, the codebook {weight.shape[1]}")
    z = latent.float().permute(0, 2, 3, 1).reshape(-1, c)
    if l2_norm:
        z = F.normalize(z, p=2, dim=-1)
    e = codebook_vectors(weight, l2_norm)
    e_sq = (e**2).sum(dim=1)
    codes = [
        ((zb**2).sum(dim=1, keepdim=True) + e_sq - 2 * zb @ e.t()).argmin(dim=1)
        for zb in z.split(_BLOCK)
    ]
    return torch.cat(codes).reshape(b, h, w)


def lookup(codes: torch.Tensor, weight: torch.Tensor, *, l2_norm: bool) -> torch.Tensor:
    """The quantized latent (float32, B x C x h x w) for codes B x h x w; bad codes are a UsageError."""
    if codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise UsageError(f"codes must be an integer tensor, got {codes.dtype}")
    if codes.dim() != 3:
        raise UsageError(f"codes must be B x h x w, got shape {tuple(codes.shape)}")
    n = weight.shape[0]
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= n):
        raise UsageError(f"codes must lie in [0, {n}), got [{int(codes.min())}, {int(codes.max())}]")
    vectors = codebook_vectors(weight, l2_norm)[codes.to(weight.device, torch.int64)]
    return vectors.permute(0, 3, 1, 2).contiguous()
