"""The taming-transformers convolutional encoder and decoder (VQGAN lineage).

Written from the architecture of ``taming/modules/diffusionmodules/model.py``
(CompVis/taming-transformers), which TencentARC/SEED-Voken's IBQ reuses unchanged
(``src/IBQ/modules/diffusionmodules/model.py``); attribute names follow it so released
state-dict keys (``encoder.down.1.attn.0.q.weight``, ``decoder.mid.block_1.norm1.bias``, ...)
load as they are. Facts the numbers depend on:

- residual blocks: GroupNorm(32, eps 1e-6) -> swish -> 3x3 conv (with bias), twice (dropout
  between, inactive at inference), plus a 1x1 ``nin_shortcut`` when the width changes;
- single-head self-attention blocks (1x1 convs q, k, v, proj_out; softmax of q.k / sqrt(C));
  a level has one after each residual block when its resolution, counted from
  ``ddconfig.resolution`` (not from the input's size), is in ``attn_resolutions``; the middle
  stage always has block, attention, block;
- downsampling: pad right and bottom by one, then a 3x3 stride-2 conv without padding;
  upsampling: nearest-neighbour x2, then a 3x3 conv (``resamp_with_conv``; otherwise 2x2
  average pooling / no conv);
- the decoder has ``num_res_blocks + 1`` residual blocks per level, the encoder
  ``num_res_blocks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.core.errors import UsageError

#: GroupNorm in these blocks always uses 32 groups.
NORM_GROUPS = 32
_EPS = 1e-6


@dataclass(frozen=True)
class TamingConfig:
    """A taming ``ddconfig``: widths, depth, attention placement and latent channels.

    Attributes:
        ch: base width; level ``i`` has ``ch * ch_mult[i]`` channels.
        ch_mult: width multipliers per level; ``len(ch_mult) - 1`` halvings.
        num_res_blocks: residual blocks per encoder level (the decoder has one more).
        attn_resolutions: feature resolutions (counted from ``resolution``) with attention.
        resolution: the training image size the attention placement is computed from.
        z_channels: latent channels between encoder and decoder (x2 out of the encoder with
            ``double_z``).
        in_channels, out_ch: image channels in and out.
        double_z: the encoder emits 2 * z_channels (mean and log-variance; unused by VQ models).
        resamp_with_conv: strided / post-upsampling convs (else average pooling / none).
    """

    ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    attn_resolutions: tuple[int, ...]
    resolution: int
    z_channels: int
    in_channels: int = 3
    out_ch: int = 3
    double_z: bool = False
    resamp_with_conv: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.ch_mult:
            problems.append("ddconfig.ch_mult is empty")
        bad = sorted({w for w in (self.ch, *(self.ch * m for m in self.ch_mult)) if w % NORM_GROUPS})
        if bad:
            problems.append(f"block widths {bad} (ch x ch_mult) are not multiples of {NORM_GROUPS}")
        if self.num_res_blocks < 1:
            problems.append("ddconfig.num_res_blocks must be at least 1")
        if self.resolution < 1 or self.z_channels < 1:
            problems.append("ddconfig.resolution and z_channels must be positive")
        if problems:
            raise UsageError("invalid encoder/decoder config (ddconfig): " + "; ".join(problems))

    @property
    def downsample(self) -> int:
        """Spatial factor: each level but the last halves the resolution."""
        return 2 ** (len(self.ch_mult) - 1)

    @classmethod
    def from_ddconfig(cls, ddconfig: Mapping[str, Any]) -> "TamingConfig":
        """Build from an official ``ddconfig`` mapping (``dropout`` and unknown keys are ignored)."""
        if not isinstance(ddconfig, Mapping):
            raise UsageError("config has no ddconfig mapping")
        try:
            return cls(
                ch=int(ddconfig["ch"]),
                ch_mult=tuple(int(m) for m in ddconfig["ch_mult"]),
                num_res_blocks=int(ddconfig["num_res_blocks"]),
                attn_resolutions=tuple(int(r) for r in ddconfig.get("attn_resolutions") or ()),
                resolution=int(ddconfig["resolution"]),
                z_channels=int(ddconfig["z_channels"]),
                in_channels=int(ddconfig.get("in_channels", 3)),
                out_ch=int(ddconfig.get("out_ch", 3)),
                double_z=bool(ddconfig.get("double_z", False)),
                resamp_with_conv=bool(ddconfig.get("resamp_with_conv", True)),
            )
        except KeyError as missing:
            raise UsageError(f"ddconfig lacks {missing.args[0]!r}") from None
        except (TypeError, ValueError) as bad:
            raise UsageError(f"ddconfig has a malformed value: {bad}") from None


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(NORM_GROUPS, channels, eps=_EPS, affine=True)


#: The normalisation of every block here (GroupNorm, 32 groups, eps 1e-6), for blocks built elsewhere.
group_norm = _norm


class ResnetBlock(nn.Module):
    """Pre-activation residual block (convs with bias); no time embedding."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return shortcut + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, height, width = x.shape
        q = self.q(h).flatten(2).transpose(1, 2)  # B x N x C
        k = self.k(h).flatten(2)  # B x C x N
        v = self.v(h).flatten(2)  # B x C x N
        weights = torch.softmax(torch.bmm(q, k) * c**-0.5, dim=-1)  # B x N(query) x N(key)
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, height, width)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Halve the resolution: asymmetric pad + strided conv, or 2x2 average pooling."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "conv"):
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, kernel_size=2, stride=2)


class Upsample(nn.Module):
    """Double the resolution: nearest neighbour, then (optionally) a 3x3 conv."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if hasattr(self, "conv") else x


def _level(blocks: list[nn.Module], attn: list[nn.Module], **resample: nn.Module) -> nn.Module:
    level = nn.Module()
    level.block = nn.ModuleList(blocks)
    level.attn = nn.ModuleList(attn)
    for name, module in resample.items():
        setattr(level, name, module)
    return level


#: Builds an attention block of a given width (VAR's VQVAE uses one with a fused qkv conv).
AttentionFactory = Callable[[int], nn.Module]


def _middle(width: int, attn_block: AttentionFactory) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(width, width)
    mid.attn_1 = attn_block(width)
    mid.block_2 = ResnetBlock(width, width)
    return mid


def _run_level(level: nn.Module, h: torch.Tensor) -> torch.Tensor:
    for i, block in enumerate(level.block):
        h = block(h)
        if len(level.attn):
            h = level.attn[i](h)
    return h


def _run_middle(mid: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


class Encoder(nn.Module):
    """Images (B x in_channels x H x W) -> latent (B x z_channels (x2) x H/f x W/f).

    ``attn_block`` builds each attention block (taming's separate q/k/v convs by default).
    """

    def __init__(self, config: TamingConfig, attn_block: AttentionFactory = AttnBlock) -> None:
        super().__init__()
        ch, mult = config.ch, config.ch_mult
        self.conv_in = nn.Conv2d(config.in_channels, ch, 3, padding=1)
        self.down = nn.ModuleList()
        width, res = ch, config.resolution
        for i, m in enumerate(mult):
            blocks, attn = [], []
            for _ in range(config.num_res_blocks):
                blocks.append(ResnetBlock(width, ch * m))
                width = ch * m
                if res in config.attn_resolutions:
                    attn.append(attn_block(width))
            resample = {}
            if i != len(mult) - 1:
                resample["downsample"] = Downsample(width, config.resamp_with_conv)
                res //= 2
            self.down.append(_level(blocks, attn, **resample))
        self.mid = _middle(width, attn_block)
        self.norm_out = _norm(width)
        out = 2 * config.z_channels if config.double_z else config.z_channels
        self.conv_out = nn.Conv2d(width, out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            h = _run_level(level, h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = _run_middle(self.mid, h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent (B x z_channels x h x w) -> images (B x out_ch x h*f x w*f), not clamped.

    ``attn_block`` as for :class:`Encoder`.
    """

    def __init__(self, config: TamingConfig, attn_block: AttentionFactory = AttnBlock) -> None:
        super().__init__()
        ch, mult = config.ch, config.ch_mult
        width = ch * mult[-1]
        res = config.resolution // config.downsample
        self.conv_in = nn.Conv2d(config.z_channels, width, 3, padding=1)
        self.mid = _middle(width, attn_block)
        levels: list[nn.Module] = []
        for i in reversed(range(len(mult))):
            blocks, attn = [], []
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResnetBlock(width, ch * mult[i]))
                width = ch * mult[i]
                if res in config.attn_resolutions:
                    attn.append(attn_block(width))
            resample = {}
            if i != 0:
                resample["upsample"] = Upsample(width, config.resamp_with_conv)
                res *= 2
            levels.append(_level(blocks, attn, **resample))
        self.up = nn.ModuleList(reversed(levels))  # stored finest-first (index = level), as released
        self.norm_out = _norm(width)
        self.conv_out = nn.Conv2d(width, config.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = _run_middle(self.mid, self.conv_in(z))
        for i in reversed(range(len(self.up))):
            h = _run_level(self.up[i], h)
            if hasattr(self.up[i], "upsample"):
                h = self.up[i].upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))
