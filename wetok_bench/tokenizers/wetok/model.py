"""WeTok's architecture: its config, its convolutional encoder and (generative) decoder, and its
group-wise lookup-free quantization (GQ).

:class:`WeTokConfig` is the architecture as the official inference configs give it
(``model.init_args``: ``ddconfig``, ``n_embed``, ``embed_dim``, ``num_codebooks``, ``use_ema``,
``gan_decoder``); reading their YAML files is :mod:`.loading`.

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

Quantization: the latent's C channels are split into ``groups`` contiguous runs of ``bits``
channels. Each value becomes +1 when it is > 0 and -1 otherwise (0 maps to -1). A group's code is
``sum_k [value_k > 0] * 2**k``: the first channel of a group is the least significant bit.
Codes are laid out B x h x w x groups (int64).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.core.errors import UsageError

#: GroupNorm in the official blocks always uses 32 groups, so every width must divide by 32.
NORM_GROUPS = 32


@dataclass(frozen=True)
class WeTokConfig:
    """The architecture of one WeTok model.

    Attributes:
        ch: base width of the encoder/decoder.
        ch_mult: width multipliers per resolution level; ``len(ch_mult) - 1`` halvings.
        num_res_blocks: residual blocks per level (and in the middle stage).
        z_channels: latent channels the encoder emits and the decoder takes.
        in_channels, out_ch: image channels in and out (3).
        n_embed: codebook size of one group (a power of two; 256 = 8 bits in all releases).
        embed_dim: channels the quantizer sees (equals ``z_channels``).
        num_codebooks: groups the latent channels are split into.
        gan_decoder: the generative decoder, which takes noise beside the latent.
        use_ema: decode and encode with the EMA weights, as the official evaluation does.
    """

    ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    z_channels: int
    n_embed: int
    embed_dim: int
    num_codebooks: int = 1
    in_channels: int = 3
    out_ch: int = 3
    gan_decoder: bool = False
    use_ema: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.ch_mult:
            problems.append("ddconfig.ch_mult is empty")
        if self.n_embed < 2 or not math.log2(self.n_embed).is_integer():
            problems.append(f"n_embed {self.n_embed} is not a power of two")
        elif self.embed_dim != self.num_codebooks * self.bits_per_group:
            problems.append(
                f"embed_dim {self.embed_dim} must equal num_codebooks {self.num_codebooks} x "
                f"log2(n_embed) {self.bits_per_group}"
            )
        if self.z_channels != self.embed_dim:
            problems.append(f"ddconfig.z_channels {self.z_channels} must equal embed_dim {self.embed_dim}")
        bad_widths = sorted({self.ch * m for m in self.ch_mult if (self.ch * m) % NORM_GROUPS})
        if bad_widths:
            problems.append(f"block widths {bad_widths} (ch x ch_mult) are not multiples of {NORM_GROUPS}")
        if self.num_res_blocks < 1:
            problems.append("ddconfig.num_res_blocks must be at least 1")
        if problems:
            raise UsageError("invalid WeTok config: " + "; ".join(problems))

    @property
    def downsample(self) -> int:
        """Spatial factor: each level but the last halves the resolution."""
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def bits_per_group(self) -> int:
        """Bits of one group's code: log2(n_embed)."""
        return int(math.log2(self.n_embed))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ch_mult"] = list(self.ch_mult)
        return data

    @classmethod
    def from_init_args(cls, init_args: Mapping[str, Any]) -> "WeTokConfig":
        """Build from an official ``model.init_args`` mapping (extra keys are ignored)."""
        if init_args.get("token_factorization") or init_args.get("use_GFQ"):
            raise UsageError("WeTok configs with token_factorization or use_GFQ are not supported")
        ddconfig = init_args.get("ddconfig")
        if not isinstance(ddconfig, Mapping):
            raise UsageError("WeTok config has no model.init_args.ddconfig mapping")
        try:
            return cls(
                ch=int(ddconfig["ch"]),
                ch_mult=tuple(int(m) for m in ddconfig["ch_mult"]),
                num_res_blocks=int(ddconfig["num_res_blocks"]),
                z_channels=int(ddconfig["z_channels"]),
                in_channels=int(ddconfig.get("in_channels", 3)),
                out_ch=int(ddconfig.get("out_ch", 3)),
                n_embed=int(init_args["n_embed"]),
                embed_dim=int(init_args["embed_dim"]),
                num_codebooks=int(init_args.get("num_codebooks", 1)),
                gan_decoder=bool(init_args.get("gan_decoder", False)),
                use_ema=bool(init_args.get("use_ema", False)),
            )
        except KeyError as missing:
            raise UsageError(f"WeTok config lacks {missing.args[0]!r} (ddconfig or model.init_args)") from None
        except (TypeError, ValueError) as bad:
            raise UsageError(f"WeTok config has a malformed value: {bad}") from None


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


# --- group-wise lookup-free quantization ----------------------------------------------------


def binarize(latent: torch.Tensor) -> torch.Tensor:
    """+-1 latent of the same shape and dtype; the sign is taken in float32."""
    positive = latent.float() > 0
    return torch.where(positive, 1.0, -1.0).to(latent.dtype)


def _bit_weights(bits: int, device: torch.device) -> torch.Tensor:
    return 2 ** torch.arange(bits, device=device, dtype=torch.int64)


def latent_to_codes(latent: torch.Tensor, groups: int) -> torch.Tensor:
    """Codes (B x h x w x groups, int64) of a latent B x (groups*bits) x h x w."""
    b, c, h, w = latent.shape
    if c % groups:
        raise UsageError(f"latent has {c} channels, not a multiple of {groups} groups")
    bits = c // groups
    positive = (latent.float() > 0).to(torch.int64)
    positive = positive.permute(0, 2, 3, 1).reshape(b, h, w, groups, bits)
    return (positive * _bit_weights(bits, latent.device)).sum(dim=-1)


def codes_to_latent(codes: torch.Tensor, bits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The +-1 latent (B x groups*bits x h x w) that codes B x h x w x groups stand for.

    Raises :class:`UsageError` for non-integer codes, a wrong rank or values outside
    ``[0, 2**bits)``.
    """
    if codes.dim() != 4:
        raise UsageError(f"WeTok codes must be B x h x w x groups, got shape {tuple(codes.shape)}")
    if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
        raise UsageError(f"WeTok codes must be an integer tensor, got {codes.dtype}")
    codes = codes.to(torch.int64)
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= 2**bits):
        raise UsageError(
            f"WeTok codes must lie in [0, {2**bits}), got values from {int(codes.min())} to {int(codes.max())}"
        )
    b, h, w, groups = codes.shape
    on = (codes.unsqueeze(-1) & _bit_weights(bits, codes.device)) != 0
    latent = torch.where(on, 1.0, -1.0).to(dtype)
    return latent.reshape(b, h, w, groups * bits).permute(0, 3, 1, 2).contiguous()
