"""TAESD architecture: the family's members and their encoder / decoder stacks.

Our own implementation of the architecture of github.com/madebyollin/taesd (MIT, Ollin Boer
Bohan). Both sides are ``nn.Sequential`` stacks whose indices are the keys of the original
``*_encoder.pth`` / ``*_decoder.pth`` state dicts, so those files load as they are:

- encoder: 3x3 conv 3->64, one residual block, then three times (stride-2 3x3 conv without
  bias, three blocks), then a 3x3 conv to the latent channels (1/8 resolution);
- decoder: soft clamp ``tanh(z / 3) * 3``, 3x3 conv to 64, ReLU, then three times (three
  blocks, nearest 2x upsampling, 3x3 conv without bias), one block, a 3x3 conv to RGB;
- a block is three 3x3 convs with ReLU between, added to its input, then ReLU.
- TAEF2 (FLUX.2) adds to the three deepest blocks of each side (the last three of the
  encoder, the first three of the decoder) a pooling branch added to the block's input:
  1x1 conv to 4x channels, GroupNorm(4), ReLU, 1x1 conv back (no biases on the convs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wetok_bench.core.errors import UsageError

#: Spatial factor of every model of the family (three stride-2 stages).
DOWNSAMPLE = 8
#: Width of every layer of the small architecture.
WIDTH = 64
#: TAESD's latent storage convention: latent / (2 * magnitude) + shift lies in [0, 1].
LATENT_MAGNITUDE = 3.0
LATENT_SHIFT = 0.5

DIFFUSERS_CONFIG = "config.json"
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass(frozen=True)
class TaesdModel:
    """One member of the family.

    Attributes:
        name: model name (``taesd``, ``taesdxl``, ``taesd3``, ``taef1``, ``taef2``).
        latent_channels: channels of the latent at 1/8 resolution.
        pooled: whether the three deepest blocks of each side have the GroupNorm pooling branch.
        teacher: the VAE it was distilled from.
        hf_repo: Hugging Face repo of the diffusers ``AutoencoderTiny`` version, if published.
    """

    name: str
    latent_channels: int
    pooled: bool
    teacher: str
    hf_repo: str | None


MODELS: dict[str, TaesdModel] = {
    m.name: m
    for m in [
        TaesdModel("taesd", 4, False, "Stable Diffusion 1.x/2.x VAE", "madebyollin/taesd"),
        TaesdModel("taesdxl", 4, False, "SDXL VAE", "madebyollin/taesdxl"),
        TaesdModel("taesd3", 16, False, "SD3 VAE", "madebyollin/taesd3"),
        TaesdModel("taef1", 16, False, "FLUX.1 VAE", "madebyollin/taef1"),
        TaesdModel("taef2", 32, True, "FLUX.2 VAE", None),
    ]
}


def get_model(model: str) -> TaesdModel:
    """The family member called ``model``; unknown names are a UsageError listing the known ones."""
    try:
        return MODELS[model]
    except (KeyError, TypeError):
        raise UsageError(f"unknown TAESD model {model!r} (known: {', '.join(MODELS)})") from None


# --- architecture ----------------------------------------------------------------------


def _conv3(n_in: int, n_out: int, *, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class SoftClamp(nn.Module):
    """``tanh(x / 3) * 3``: keeps decoder inputs in (-3, 3) without a hard edge."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual block; with ``pooled``, the FLUX.2 GroupNorm branch is added to the input first.

    Attribute names (``conv``, ``skip``, ``fuse``, ``pool``) are the original state-dict keys.
    """

    def __init__(self, channels: int, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv3(channels, channels), nn.ReLU(), _conv3(channels, channels), nn.ReLU(), _conv3(channels, channels)
        )
        self.skip = nn.Identity()  # the family only uses equal in/out widths
        self.fuse = nn.ReLU()
        self.pool: nn.Sequential | None = None
        if pooled:
            hidden = 4 * channels
            self.pool = nn.Sequential(
                nn.Conv2d(channels, hidden, 1, bias=False),
                nn.GroupNorm(4, hidden),
                nn.ReLU(),
                nn.Conv2d(hidden, channels, 1, bias=False),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def build_encoder(latent_channels: int, pooled: bool = False) -> nn.Sequential:
    """Encoder: images in [0, 1] (B x 3 x H x W) -> latent (B x C x H/8 x W/8)."""
    layers: list[nn.Module] = [_conv3(3, WIDTH), Block(WIDTH)]
    for stage in range(3):
        deepest = stage == 2
        layers.append(_conv3(WIDTH, WIDTH, stride=2, bias=False))
        layers.extend(Block(WIDTH, pooled and deepest) for _ in range(3))
    layers.append(_conv3(WIDTH, latent_channels))
    return nn.Sequential(*layers)


def build_decoder(latent_channels: int, pooled: bool = False) -> nn.Sequential:
    """Decoder: latent (B x C x h x w) -> images nominally in [0, 1] (B x 3 x 8h x 8w), unclamped."""
    layers: list[nn.Module] = [SoftClamp(), _conv3(latent_channels, WIDTH), nn.ReLU()]
    for stage in range(3):
        deepest = stage == 0
        layers.extend(Block(WIDTH, pooled and deepest) for _ in range(3))
        layers.extend([nn.Upsample(scale_factor=2), _conv3(WIDTH, WIDTH, bias=False)])
    layers.extend([Block(WIDTH), _conv3(WIDTH, 3)])
    return nn.Sequential(*layers)
