"""What differs between diffusers' image autoencoder classes, one :class:`Adapter` per class.

Every class is run through diffusers' own ``encode`` / ``decode``; an adapter only says which
output field holds the latent, whether there is a posterior (whose mode is the deterministic
latent), whether the model is a video model (an image is then one frame: a time axis of length
1 is added before the encoder and removed after the decoder), and how the spatial factor and
the latent channels follow from the architecture in ``config.json``.

The factor is derived from the architecture fields that build the downsampling layers, not from
declared fields such as Wan's ``scale_factor_spatial`` (diffusers uses those for tiling only);
the tokenizer also checks every latent's shape against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch

LatentKind = Literal["posterior", "deterministic", "vq"]


@dataclass(frozen=True)
class Adapter:
    """How one diffusers autoencoder class is encoded and decoded.

    Attributes:
        class_name: the ``_class_name`` of ``config.json``.
        latent: ``posterior`` (a diagonal Gaussian: the code is its mode, or a draw),
            ``deterministic`` (one latent), ``vq`` (codebook indices).
        output: attribute of ``encode``'s output that holds the posterior or latent.
        factor: spatial downsample factor from the config.
        channels: latent channels from the config (for ``vq``: the codebook vectors' size).
        video: the model takes B x C x T x H x W; an image is one frame.
    """

    class_name: str
    latent: LatentKind
    output: str
    factor: Callable[[Any], int]
    channels: Callable[[Any], int]
    video: bool = False

    def encode(self, vae: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(latent, posterior std or None) for images ``x`` (B x 3 x H x W) in the model's dtype.

        For ``vq`` the latent is the codebook indices, int64 B x h x w (diffusers' own nearest
        codebook entry), and the std is None."""
        encoded = getattr(vae.encode(x.unsqueeze(2) if self.video else x), self.output)
        if self.latent == "vq":
            _, _, (_, _, indices) = vae.quantize(encoded)
            return indices.view(encoded.shape[0], *encoded.shape[2:]).long(), None
        if self.latent == "posterior":
            mean, std = encoded.mode(), encoded.std
        else:
            mean, std = encoded, None
        if self.video:
            mean, std = mean.squeeze(2), (std.squeeze(2) if std is not None else None)
        return mean, std

    def decode(self, vae: torch.nn.Module, code: torch.Tensor) -> torch.Tensor:
        """Images (B x 3 x H x W) for a latent (or, for ``vq``, codebook indices B x h x w)."""
        if self.latent == "vq":
            return _decode_indices(vae, code)
        decoded = vae.decode(code.unsqueeze(2) if self.video else code).sample
        return decoded.squeeze(2) if self.video else decoded


def _decode_indices(vae: torch.nn.Module, indices: torch.Tensor) -> torch.Tensor:
    """A VQModel's decoder on the codebook entries of ``indices`` (B x h x w), through diffusers'
    ``decode`` with quantisation off (the code is already quantised)."""
    batch, height, width = indices.shape
    shape = (batch, height, width, vae.quantize.vq_embed_dim)
    flat = indices.reshape(-1)
    if vae.config.lookup_from_codebook:
        return vae.decode(flat, force_not_quantize=True, shape=shape).sample
    entries = vae.quantize.get_codebook_entry(flat, shape)
    return vae.decode(entries, force_not_quantize=True).sample


def _stages(field: str) -> Callable[[Any], int]:
    """Factor of an encoder that halves the size after every stage but the last of ``field``."""
    return lambda config: 2 ** (len(config[field]) - 1)


def _hunyuan_factor(config: Any) -> int:
    # HunyuanImage's encoder downsamples after stage i when i < log2(ratio) and i is not the last
    stages = len(config["block_out_channels"])
    ratio = math.log2(config["spatial_compression_ratio"])
    return 2 ** sum(1 for i in range(stages - 1) if i < ratio)


def _wan_factor(config: Any) -> int:
    # Wan 2.2's 48-channel VAE patchifies 2x2 before its encoder (patch_size 2): factor 16
    return 2 ** (len(config["dim_mult"]) - 1) * int(config.get("patch_size") or 1)


def _key(name: str) -> Callable[[Any], int]:
    return lambda config: int(config[name])


def _vq_channels(config: Any) -> int:
    return int(config.get("vq_embed_dim") or config["latent_channels"])


ADAPTERS: dict[str, Adapter] = {
    a.class_name: a
    for a in (
        Adapter("AutoencoderKL", "posterior", "latent_dist", _stages("block_out_channels"), _key("latent_channels")),
        Adapter("AutoencoderKLFlux2", "posterior", "latent_dist", _stages("block_out_channels"), _key("latent_channels")),
        Adapter("AutoencoderKLHunyuanImage", "posterior", "latent_dist", _hunyuan_factor, _key("latent_channels")),
        Adapter("AutoencoderKLQwenImage", "posterior", "latent_dist", _stages("dim_mult"), _key("z_dim"), video=True),
        Adapter("AutoencoderKLWan", "posterior", "latent_dist", _wan_factor, _key("z_dim"), video=True),
        Adapter("AutoencoderDC", "deterministic", "latent", _stages("encoder_block_out_channels"), _key("latent_channels")),
        Adapter("AutoencoderTiny", "deterministic", "latents", _stages("encoder_block_out_channels"), _key("latent_channels")),
        Adapter("VQModel", "vq", "latents", _stages("block_out_channels"), _vq_channels),
    )
}


def adapter_for(class_name: str) -> Adapter | None:
    """The adapter of a diffusers class name (None when the family does not support it)."""
    return ADAPTERS.get(class_name)
