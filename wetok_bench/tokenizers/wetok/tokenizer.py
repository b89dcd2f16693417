"""The WeTok tokenizer: group-wise LFQ codes from a released checkpoint.

Encoding follows the official evaluation path (``VQModel.encode`` under ``ema_scope``):
encoder -> latent -> signs -> codes. Decoding turns codes back into the +-1 latent and runs the
decoder; the generative decoder of the compression-768 model also takes a noise tensor of the
latent's shape. The official script draws that noise from the global RNG without a seed; here it
comes from, in order: the ``noise`` passed to :meth:`WeTokTokenizer.decode` (an
:class:`~wetok_bench.tokenizers.base.ImageNoise`: one standard-normal draw of the latent's
shape per image from that image's own CPU generator; what the runner passes, seeded by the
entry's ``seed`` or the run's seed and each image's key), a tensor passed as ``noise`` (used as
is), the tokenizer's ``seed`` (image ``i`` of the call gets the ImageNoise generator of key
``"#i"``, see :meth:`Tokenizer.seeded_noise`: reproducible, the same for every call), or the
global RNG (``torch.randn`` of the batch's latent shape on the CPU: not reproducible, and said
so in the fingerprint). Noise is always drawn in float32 on the CPU and then moved, so it is
the same on every device.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import file_record
from wetok_bench.tokenizers.base import (
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    autocast_to,
    check_precision,
    discrete_compression,
)
from wetok_bench.tokenizers.common.ema_checkpoint import load_weights
from wetok_bench.tokenizers.wetok.loading import load_config
from wetok_bench.tokenizers.wetok.model import WeTokConfig, WeTokModel, binarize, codes_to_latent, latent_to_codes

#: Precisions this family runs: fp32 (default, matches the official fp32 evaluation) and bf16
#: (autocast; the quantization sign is still taken in fp32).
PRECISIONS = ("fp32", "bf16")

ConfigLike = str | os.PathLike | Mapping[str, Any] | WeTokConfig


def resolve_config(config: ConfigLike) -> tuple[WeTokConfig, str | None]:
    """(architecture, card name or None) for a config path, mapping, or WeTok model card name."""
    if isinstance(config, str) and not Path(config).expanduser().is_file():
        from wetok_bench.tokenizers.cards import known_cards

        # the family's CARDS (wetok/__init__.py), read through the card index: importing the
        # family package from here would be an import cycle
        cards = {card.name: card for card in known_cards().values() if card.type == "wetok"}
        if config in cards:
            return load_config(cards[config].params["config"]), config
        if not config.endswith((".yaml", ".yml")) and os.sep not in config:
            raise UsageError(f"unknown WeTok model card {config!r} (known: {', '.join(cards)}) and no such config file")
    return load_config(config), None


def wetok_compression(config: WeTokConfig, height: int, width: int) -> Compression:
    """Bits of one image's code: (H/f) x (W/f) tokens x groups x log2(n_embed) bits."""
    return discrete_compression(height, width, config.downsample, config.n_embed, config.num_codebooks)


class WeTokTokenizer(Tokenizer):
    """A WeTok model: images in [-1, 1] <-> int64 codes B x h x w x groups.

    Build it with :meth:`from_checkpoint`. Attributes: ``config`` (:class:`WeTokConfig`),
    ``model`` (the encoder/decoder module), ``weights`` (part -> ``"ema"``/``"raw"``: which
    checkpoint weights were loaded), ``precision``, ``seed`` (also ``noise_seed``: the seed of
    the generative decoder's noise, None to take the run's), ``codebook_size`` (2**bits per group).
    """

    kind = "discrete"

    def __init__(
        self,
        model: WeTokModel,
        *,
        name: str = "wetok",
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        seed: int | None = None,
        weights: Mapping[str, str] | None = None,
        checkpoint: str | os.PathLike | None = None,
        card: str | None = None,
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        check_precision(precision, PRECISIONS, "WeTok")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise UsageError(f"seed must be an integer, not {seed!r}")
        self.model = model.eval().requires_grad_(False)
        self.config: WeTokConfig = model.config
        self.downsample = self.config.downsample
        self.precision = precision
        self.seed = seed
        self.noise_seed = seed
        self.codebook_size = 2**self.config.bits_per_group
        self.weights = dict(weights or {})
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.card = card

    @classmethod
    def from_checkpoint(
        cls,
        ckpt_path: str | os.PathLike,
        config: ConfigLike,
        *,
        name: str = "wetok",
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        seed: int | None = None,
    ) -> "WeTokTokenizer":
        """Load a released checkpoint (local path) described by ``config``.

        ``config`` is an official inference YAML path, its parsed mapping (whole file or
        ``model.init_args``), or a model card name (``wetok-imagenet-f16``). Weights: EMA when
        ``use_ema`` (raw encoder weights for stage-2 checkpoints without EMA encoder weights).
        Raises :class:`~wetok_bench.tokenizers.common.ema_checkpoint.CheckpointError` for unreadable,
        incomplete or mismatching checkpoints.
        """
        arch, card = resolve_config(config)
        with torch.device("meta"):  # no random init: every weight comes from the file
            model = WeTokModel(arch)
        weights = load_weights(model, ckpt_path, use_ema=arch.use_ema)
        return cls(
            model,
            name=name,
            precision=precision,
            size_policy=size_policy,
            seed=seed,
            weights=weights,
            checkpoint=ckpt_path,
            card=card,
        )

    # --- encoding -------------------------------------------------------------------------

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous latent before quantization (B x embed_dim x H/f x W/f, float32)."""
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise UsageError(f"WeTok expects images B x {self.config.in_channels} x H x W, got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % self.downsample or width % self.downsample:
            raise UsageError(
                f"WeTok {self.name!r}: image size {height}x{width} is not a multiple of its "
                f"downsample factor {self.downsample}"
            )
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            latent = self.model.encoder(x.to(self.device, torch.float32))
        return latent.float()

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """The +-1 latent the decoder sees (value > 0 -> +1, else -1), float32."""
        return binarize(latent.float())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (int64, B x H/f x W/f x groups; first channel of a group = least significant bit)."""
        return latent_to_codes(self.encode_latent(x), self.config.num_codebooks)

    def token_ids(self, code: torch.Tensor) -> torch.Tensor:
        """Codes B x h x w x groups as token ids B x (h*w) x groups (raster order, int64)."""
        b, h, w, groups = code.shape
        return code.to(torch.int64).reshape(b, h * w, groups)

    # --- decoding -------------------------------------------------------------------------

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """The +-1 latent (float32, B x embed_dim x h x w) that ``codes`` stand for."""
        if codes.dim() == 4 and codes.shape[-1] != self.config.num_codebooks:
            raise UsageError(
                f"WeTok codes have {codes.shape[-1]} groups in the last dimension; this model has "
                f"{self.config.num_codebooks}"
            )
        return codes_to_latent(codes.to(self.device), self.config.bits_per_group)

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | torch.Tensor | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W float32, not clamped) for codes B x h x w x groups.

        ``noise`` matters only for the generative decoder (see the module docstring for where
        its noise comes from); other models ignore an :class:`ImageNoise` (the runner passes one
        to every tokenizer) and refuse a noise tensor.
        """
        return self.decode_latent(self.codes_to_latent(code), noise=noise)

    def decode_latent(
        self, quantized: torch.Tensor, *, noise: ImageNoise | torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images for a +-1 latent (what :meth:`quantize` returns)."""
        quantized = quantized.to(self.device, torch.float32)
        expected_channels = self.config.embed_dim
        if quantized.dim() != 4 or quantized.shape[1] != expected_channels:
            raise UsageError(f"WeTok latent must be B x {expected_channels} x h x w, got {tuple(quantized.shape)}")
        if self.config.gan_decoder:
            noise = self._noise(quantized, noise)
        elif isinstance(noise, torch.Tensor):
            raise UsageError(f"WeTok {self.name!r} has no generative decoder: it takes no noise tensor")
        else:
            noise = None
        with torch.inference_mode(), autocast_to(self.precision, self.device):
            images = self.model.decoder(quantized, noise)
        return images.float()

    def _noise(self, latent: torch.Tensor, noise: ImageNoise | torch.Tensor | None) -> torch.Tensor:
        """The generative decoder's noise for ``latent`` (float32 on the device), drawn on the CPU."""
        if isinstance(noise, torch.Tensor):
            if tuple(noise.shape) != tuple(latent.shape):
                raise UsageError(
                    f"noise for the generative decoder must have the latent's shape {tuple(latent.shape)}, "
                    f"got {tuple(noise.shape)}"
                )
            return noise.to(self.device, torch.float32)
        if noise is None:
            noise = self.seeded_noise(latent.shape[0])
        if noise is None:
            return torch.randn(latent.shape, dtype=torch.float32).to(self.device)
        if len(noise) != latent.shape[0]:
            raise UsageError(f"noise for {len(noise)} images given with a batch of {latent.shape[0]}")
        return noise.randn(latent.shape[1:], device=self.device, dtype=torch.float32)

    # --- accounting -----------------------------------------------------------------------

    def compression(self, height: int, width: int) -> Compression:
        return wetok_compression(self.config, height, width)

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def fingerprint(self) -> dict[str, Any]:
        """Checkpoint (file name, size, sha256), architecture, precision, weights used, noise source."""
        per_image = "torch.randn of the latent's shape per image, in float32 from that image's own CPU generator"
        if not self.config.gan_decoder:
            noise = None
        elif self.seed is not None:
            noise = (f"{per_image}, seeded by (seed {self.seed}, image key) under the runner; "
                     f"direct calls without noise key the images by batch position")
        else:
            noise = (f"{per_image}, seeded by (the run's seed, image key) under the runner; direct "
                     f"calls without noise draw from the global torch RNG (not reproducible)")
        return {
            "family": "wetok",
            "card": self.card,
            "checkpoint": file_record(self.checkpoint),
            "config": self.config.to_dict(),
            "precision": self.precision,
            "weights": dict(self.weights),
            "noise": noise,
            "seed": self.seed,
        }
