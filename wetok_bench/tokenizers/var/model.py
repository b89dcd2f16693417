"""VAR's multi-scale VQVAE modules (FoundationVision/VAR, ``models/vqvae.py``, ``basic_vae.py``).

Written from the architecture of the official code (read at 78b9539); attribute names follow it,
so a released state dict (``vae_ch160v4096z32.pth``) loads as it is. Facts the numbers depend on:

- encoder and decoder are the taming-style conv nets (:mod:`wetok_bench.tokenizers.common.taming_model`:
  GroupNorm(32, eps 1e-6), swish, residual blocks with a 1x1 ``nin_shortcut`` when the width
  changes, pad-right/bottom + stride-2 conv down, nearest x2 + conv up), with attention after
  every residual block of the lowest-resolution level (``using_sa``) and in the middle
  (``using_mid_sa``), placed by level, not by resolution;
- attention is single-head with ONE fused 1x1 conv ``qkv`` (3C output channels: q, k, v in that
  order) and ``proj_out``; softmax of q.k / sqrt(C);
- the released model: ``ch=160``, ``ch_mult=(1, 1, 2, 2, 4)`` (f16), ``num_res_blocks=2``,
  ``z_channels = Cvae = 32``, 4096 codes of 32 dims; 3x3 ``quant_conv`` / ``post_quant_conv``
  (``quant_conv_ks=3``) from and to the 32 latent channels;
- ``quantize.quant_resi.qresi_ls.{k}``: the "phi" 3x3 convs (``share_quant_resi=4``: four,
  partially shared among the scales); phi(h) = (1 - r) h + r conv(h) with ``quant_resi`` r = 0.5;
- ``quantize.ema_vocab_hit_SV`` (scales x vocabulary) is a training statistic; it is not built.

Quantization, VAR's multi-scale residual quantization (``VectorQuantizer2`` of
``models/quant.py``, inference): for a latent ``f`` (B x C x n x n, n = the last patch number)
and scales ``p_1 < ... < p_K = n``: the residual ``r`` starts as ``f``; at scale ``k`` it is area-downsampled to ``p_k x p_k`` (the
last scale is used as it is), each position takes its nearest codebook entry (squared L2,
``using_znorm=False``), the entries are upsampled back to ``n x n`` bicubically (align_corners
False; not the last scale), passed through a phi and subtracted from ``r``. The decoded latent
``f_hat`` is the sum of those phi outputs, so decoding the codes rebuilds exactly what encoding
subtracted. Scale ``k`` uses phi number ``argmin_j |t_j - (k - 1) / (K - 1)|`` (first on ties),
``t`` = ``linspace(1/(3m), 1 - 1/(3m), m)`` for m = 4 phis, ``linspace(1/(2m), 1 - 1/(2m), m)``
otherwise (computed in float64 as numpy does; the tie at 2/9 for the released 10 scales is decided
by that rounding, checked against the official mapping in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.common.taming_model import Decoder, Encoder, TamingConfig, group_norm
from wetok_bench.tokenizers.common.vq_model import lookup, nearest_codes

#: The released model's scales for 256 x 256 images (``--pn 256``): 680 tokens.
PATCH_NUMS_256 = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
#: The official ``--pn 512`` and ``--pn 1024`` scales (``utils/arg_util.py``), same VQVAE.
PATCH_NUMS_512 = (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)
PATCH_NUMS_1024 = (1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64)


@dataclass(frozen=True)
class VarArch:
    """One VAR VQVAE's architecture.

    Attributes:
        vocab_size: codebook entries (4096 released).
        z_channels: latent and codebook channels (``Cvae``; 32 released).
        ch, ch_mult, num_res_blocks: encoder/decoder widths and depth (160, (1, 1, 2, 2, 4), 2).
        patch_nums: side of each scale's square token map, coarse to fine; the last equals the
            latent's side (image side / downsample).
        quant_resi: phi's mixing ratio r (0.5 released).
        share_quant_resi: number of phi convs shared among the scales (4 released).
        quant_conv_ks: kernel size of ``quant_conv`` and ``post_quant_conv`` (3 released).
    """

    vocab_size: int = 4096
    z_channels: int = 32
    ch: int = 160
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    patch_nums: tuple[int, ...] = PATCH_NUMS_256
    quant_resi: float = 0.5
    share_quant_resi: int = 4
    quant_conv_ks: int = 3
    taming: TamingConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        nums = self.patch_nums
        if len(nums) < 2 or any(not isinstance(n, int) or n < 1 for n in nums):
            problems.append(f"patch_nums must be at least two positive integers, got {list(nums)}")
        elif any(a >= b for a, b in zip(nums, nums[1:])):
            problems.append(f"patch_nums must increase (coarse to fine), got {list(nums)}")
        if self.vocab_size < 2 or self.z_channels < 1:
            problems.append(f"codebook of {self.vocab_size} x {self.z_channels} (need at least 2 entries)")
        if self.share_quant_resi < 2:
            problems.append("share_quant_resi must be at least 2 (the released layout: partially shared phis)")
        if not 0 < abs(self.quant_resi) <= 1:
            problems.append(f"quant_resi must be in (0, 1], got {self.quant_resi}")
        if self.quant_conv_ks < 1 or self.quant_conv_ks % 2 == 0:
            problems.append(f"quant_conv_ks must be odd, got {self.quant_conv_ks}")
        if problems:
            raise UsageError("invalid VAR VQVAE config: " + "; ".join(problems))
        levels = len(self.ch_mult)
        # attention on the last level only: taming places it where the resolution, halved per
        # level from `resolution`, is in attn_resolutions; 2**(levels-1) and (1,) pick the last
        taming = TamingConfig(ch=self.ch, ch_mult=tuple(self.ch_mult), num_res_blocks=self.num_res_blocks,
                              attn_resolutions=(1,), resolution=2 ** (levels - 1), z_channels=self.z_channels)
        object.__setattr__(self, "taming", taming)

    @property
    def downsample(self) -> int:
        """Spatial factor between the image and the finest token map."""
        return self.taming.downsample

    @property
    def tokens(self) -> int:
        """Tokens per image over all scales (680 for :data:`PATCH_NUMS_256`)."""
        return sum(n * n for n in self.patch_nums)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("taming")
        data["ch_mult"], data["patch_nums"] = list(self.ch_mult), list(self.patch_nums)
        return data


class FusedAttnBlock(nn.Module):
    """Single-head spatial self-attention whose q, k, v come from one 1x1 conv ``qkv``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, height * width).unbind(1)  # B x C x N each
        weights = torch.softmax(torch.bmm(q.transpose(1, 2), k) * c**-0.5, dim=-1)  # B x N(query) x N(key)
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, height, width)
        return x + self.proj_out(out)


class Phi(nn.Conv2d):
    """phi(h) = (1 - r) h + r conv3x3(h): the refinement applied to each scale's upsampled codes."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__(channels, channels, 3, padding=1)
        self.ratio = abs(ratio)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * (1 - self.ratio) + super().forward(h) * self.ratio


class PhiSet(nn.Module):
    """The shared phis under the official name ``quant_resi.qresi_ls``."""

    def __init__(self, count: int, channels: int, ratio: float) -> None:
        super().__init__()
        self.qresi_ls = nn.ModuleList(Phi(channels, ratio) for _ in range(count))


class MultiScaleCodebook(nn.Module):
    """``quantize.embedding`` (vocab x z_channels) and ``quantize.quant_resi``; the residual
    quantization itself is :func:`encode_scales` / :func:`codes_to_latent` below."""

    def __init__(self, arch: VarArch) -> None:
        super().__init__()
        self.embedding = nn.Embedding(arch.vocab_size, arch.z_channels)
        self.quant_resi = PhiSet(arch.share_quant_resi, arch.z_channels, arch.quant_resi)


class VarVQVAE(nn.Module):
    """encoder -> quant_conv -> multi-scale codebook -> post_quant_conv -> decoder."""

    def __init__(self, arch: VarArch) -> None:
        super().__init__()
        self.arch = arch
        z, ks = arch.z_channels, arch.quant_conv_ks
        self.encoder = Encoder(arch.taming, attn_block=FusedAttnBlock)
        self.decoder = Decoder(arch.taming, attn_block=FusedAttnBlock)
        self.quantize = MultiScaleCodebook(arch)
        self.quant_conv = nn.Conv2d(z, z, ks, padding=ks // 2)
        self.post_quant_conv = nn.Conv2d(z, z, ks, padding=ks // 2)

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """``quant_conv(encoder(x))``: the latent the scales quantize (B x z x H/f x W/f)."""
        return self.quant_conv(self.encoder(x))

    def decode_latent(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Images for a summed latent ``f_hat`` (not clamped; the official code clamps to [-1, 1])."""
        return self.decoder(self.post_quant_conv(f_hat))


def upsample_to(h: torch.Tensor, side: int) -> torch.Tensor:
    """A token map's vectors brought to the finest map's size: bicubic (align_corners False)."""
    return h if h.shape[-1] == side else F.interpolate(h, size=(side, side), mode="bicubic")


def phi_indices(n_scales: int, n_phis: int) -> list[int]:
    """Which phi each scale uses (see the module doc), for ``n_scales >= 2`` scales."""
    third = 1 / 3 / n_phis if n_phis == 4 else 1 / 2 / n_phis
    ticks = np.linspace(third, 1 - third, n_phis)
    return [int(np.argmin(np.abs(ticks - k / (n_scales - 1)))) for k in range(n_scales)]


def _refined(codebook: MultiScaleCodebook, codes: torch.Tensor, side: int, phi: int) -> torch.Tensor:
    """phi(upsampled entries) of one scale's codes B x p x p: its share of ``f_hat`` (B x C x n x n)."""
    h = lookup(codes, codebook.embedding.weight, l2_norm=False)
    return codebook.quant_resi.qresi_ls[phi](upsample_to(h, side))


def encode_scales(codebook: MultiScaleCodebook, latent: torch.Tensor, patch_nums: Sequence[int]) -> list[torch.Tensor]:
    """Codes of every scale (int64, B x p_k x p_k each, coarse to fine) of a latent B x C x n x n."""
    side = latent.shape[-1]
    if latent.shape[-2] != side or side != patch_nums[-1]:
        raise UsageError(
            f"VAR VQVAE latent is {latent.shape[-2]}x{side}; its scales {list(patch_nums)} need a square "
            f"latent of side {patch_nums[-1]}"
        )
    weight = codebook.embedding.weight
    rest = latent.float().clone()
    codes = []
    for p, phi in zip(patch_nums, phi_indices(len(patch_nums), len(codebook.quant_resi.qresi_ls))):
        small = rest if p == side else F.interpolate(rest, size=(p, p), mode="area")
        scale_codes = nearest_codes(small, weight, l2_norm=False)
        rest = rest - _refined(codebook, scale_codes, side, phi)
        codes.append(scale_codes)
    return codes


def codes_to_latent(codebook: MultiScaleCodebook, codes: Sequence[torch.Tensor], patch_nums: Sequence[int]) -> torch.Tensor:
    """``f_hat`` (float32, B x C x n x n): the sum over scales of phi(upsampled entries)."""
    shapes = [tuple(c.shape[-2:]) for c in codes]
    if len(codes) != len(patch_nums) or shapes != [(p, p) for p in patch_nums]:
        raise UsageError(f"VAR VQVAE codes must be one B x p x p map per scale {list(patch_nums)}, got {shapes}")
    side = patch_nums[-1]
    phis = phi_indices(len(patch_nums), len(codebook.quant_resi.qresi_ls))
    f_hat = _refined(codebook, codes[0], side, phis[0])
    for scale_codes, phi in zip(codes[1:], phis[1:]):
        f_hat = f_hat + _refined(codebook, scale_codes, side, phi)
    return f_hat
