"""WeTok's convolutional encoder and (generative) decoder.

Written from the architecture of the official release (``improved_model.py`` in
zhuangshaobin/WeTok); attribute names follow it so that the checkpoints' state-dict keys
(``encoder.down.0.block.1.conv2.weight``, ``decoder.adaptive.2.gamma.bias``, ...) load as they
are. Facts the numbers depend on:

- residual blocks: GroupNorm(32, eps 1e-6) -> swish -> 3x3 conv without bias, twice, plus a
  bias-free 1x1 shortcut when the width changes;
- the encoder halves the resolution with a strided 3x3 conv after every level but the last;
- the decoder conditions each level on the quantized latent through an adaptive GroupNorm whose
  scale is a linear map of the latent's per-channel standard deviation (unbiased variance, as
  ``Tensor.var`` computes by default) and whose shift is a linear map of its per-channel mean;
- the decoder upsamples with a 3x3 conv to 4x channels followed by depth-to-space in
  depth-column-row order (not ``pixel_shuffle``'s order);
- the generative decoder (``gan_decoder``) feeds ``cat([latent, noise])`` to its first conv while
  the adaptive norms still see the latent alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.tokenizers.wetok.config import NORM_GROUPS, WeTokConfig

_EPS = 1e-6


def _norm(channels: int, affine: bool = True) -> nn.GroupNorm:
    return nn.GroupNorm(NORM_GROUPS, channels, eps=_EPS, affine=affine)


class ResBlock(nn.Module):
    """Pre-activation residual block with bias-free convolutions."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return h + shortcut


def _level(blocks: list[nn.Module], **resample: nn.Module) -> nn.Module:
    """One resolution level: ``block`` list plus an optional ``downsample``/``upsample``."""
    level = nn.Module()
    level.block = nn.ModuleList(blocks)
    for name, module in resample.items():
        setattr(level, name, module)
    return level


class Encoder(nn.Module):
    """Images (B x 3 x H x W in [-1, 1]) -> continuous latent (B x z_channels x H/f x W/f)."""

    def __init__(self, config: WeTokConfig) -> None:
        super().__init__()
        ch, mult, n_blocks = config.ch, config.ch_mult, config.num_res_blocks
        self.conv_in = nn.Conv2d(config.in_channels, ch, 3, padding=1, bias=False)
        self.down = nn.ModuleList()
        width = ch
        for i, m in enumerate(mult):
            blocks = []
            for _ in range(n_blocks):
                blocks.append(ResBlock(width, ch * m))
                width = ch * m
            last = i == len(mult) - 1
            resample = {} if last else {"downsample": nn.Conv2d(width, width, 3, stride=2, padding=1)}
            self.down.append(_level(blocks, **resample))
        self.mid_block = nn.ModuleList(ResBlock(width, width) for _ in range(n_blocks))
        self.norm_out = _norm(width)
        self.conv_out = nn.Conv2d(width, config.z_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            for block in level.block:
                h = block(h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        for block in self.mid_block:
            h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def depth_to_space_dcr(x: torch.Tensor, block: int) -> torch.Tensor:
    """Rearrange B x (block*block*C) x H x W to B x C x (H*block) x (W*block), DCR order.

    The input channel ``(i * block + j) * C + c`` lands at output pixel offset (row i, col j)
    of channel c (``pixel_shuffle`` would read channel ``c * block**2 + i * block + j``).
    """
    b, c, h, w = x.shape
    out_c = c // (block * block)
    x = x.reshape(b, block, block, out_c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(b, out_c, h * block, w * block)


class Upsampler(nn.Module):
    """3x3 conv to 4x channels, then 2x depth-to-space."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space_dcr(self.conv1(x), 2)


class AdaptiveGroupNorm(nn.Module):
    """GroupNorm without affine parameters, scaled and shifted by statistics of the latent."""

    def __init__(self, z_channels: int, channels: int) -> None:
        super().__init__()
        self.gn = _norm(channels, affine=False)
        self.gamma = nn.Linear(z_channels, channels)
        self.beta = nn.Linear(z_channels, channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        flat = style.flatten(2)
        # Unbiased variance: the official code calls Tensor.var with its default correction.
        std = (flat.var(dim=-1) + _EPS).sqrt()
        scale = self.gamma(std)[:, :, None, None]
        shift = self.beta(flat.mean(dim=-1))[:, :, None, None]
        return self.gn(x) * scale + shift


class Decoder(nn.Module):
    """Quantized latent (B x z_channels x h x w, values +-1) -> images (B x 3 x h*f x w*f).

    With ``config.gan_decoder`` the first conv takes ``2 * z_channels`` channels: the latent
    and a noise tensor of the same shape, which :meth:`forward` requires.
    """

    def __init__(self, config: WeTokConfig) -> None:
        super().__init__()
        ch, mult, n_blocks = config.ch, config.ch_mult, config.num_res_blocks
        self.generative = config.gan_decoder
        width = ch * mult[-1]
        in_channels = config.z_channels * (2 if self.generative else 1)
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.mid_block = nn.ModuleList(ResBlock(width, width) for _ in range(n_blocks))
        # Built from the coarsest level down, stored finest-first (index = level), as released.
        levels: list[nn.Module] = []
        adaptive: list[nn.Module] = []
        for i in reversed(range(len(mult))):
            adaptive.append(AdaptiveGroupNorm(config.z_channels, width))
            blocks = []
            for _ in range(n_blocks):
                blocks.append(ResBlock(width, ch * mult[i]))
                width = ch * mult[i]
            resample = {"upsample": Upsampler(width)} if i > 0 else {}
            levels.append(_level(blocks, **resample))
        self.up = nn.ModuleList(reversed(levels))
        self.adaptive = nn.ModuleList(reversed(adaptive))
        self.norm_out = _norm(width)
        self.conv_out = nn.Conv2d(width, config.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.generative:
            if noise is None or noise.shape != z.shape:
                got = None if noise is None else tuple(noise.shape)
                raise ValueError(f"the generative decoder needs noise of shape {tuple(z.shape)}, got {got}")
            h = self.conv_in(torch.cat([z, noise.to(z.dtype)], dim=1))
        else:
            h = self.conv_in(z)
        for block in self.mid_block:
            h = block(h)
        for i in reversed(range(len(self.up))):
            h = self.adaptive[i](h, z)
            for block in self.up[i].block:
                h = block(h)
            if hasattr(self.up[i], "upsample"):
                h = self.up[i].upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class WeTokModel(nn.Module):
    """Encoder and decoder under the names the checkpoints use (``encoder.*``, ``decoder.*``)."""

    def __init__(self, config: WeTokConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
