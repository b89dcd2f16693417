"""The diffusers-vae tokenizer: a diffusers image autoencoder (suite ``type: diffusers-vae``).

The class comes from the model folder's ``config.json`` (``_class_name``): ``AutoencoderKL``
(SD-VAE family, SDXL, SD 3.5, FLUX.1), ``AutoencoderKLFlux2``, ``AutoencoderKLQwenImage``,
``AutoencoderKLWan`` (Wan 2.1 / 2.2; an image is one frame), ``AutoencoderKLHunyuanImage``,
``AutoencoderDC`` (deterministic latent), ``AutoencoderTiny`` and ``VQModel`` (discrete: the
code is its codebook indices). See :mod:`wetok_bench.tokenizers.diffusers.adapters`.

Images in [-1, 1] go through diffusers' own encoder; for classes with a posterior the code is
its mode (deterministic, the default) or, with ``sample: true``, a draw from the posterior with
per-image noise. The latent is decoded as is: the scaling and shift factors (and FLUX.2's batch
norm statistics) in the configs exist for diffusion training and play no part in reconstruction.

These models silently crop inputs whose size is not a multiple of their downsample factor, so
the size is checked here (and by :meth:`Tokenizer.reconstruct`) before the encoder sees it.

``diffusers`` is imported inside functions: importing it takes seconds, and ``wetok-bench list``
imports this family only for its :data:`~wetok_bench.tokenizers.diffusers.CARDS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.errors import TokenizerOutputError, UsageError
from wetok_bench.core.hashing import cached_sha256
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    discrete_compression,
)
from wetok_bench.tokenizers.diffusers.adapters import Adapter

#: The family's suite type (``diffusers`` is an alias).
TYPE = "diffusers-vae"


class DiffusersVAE(Tokenizer):
    """A diffusers image autoencoder as a continuous (or, for ``VQModel``, discrete) tokenizer.

    Args:
        name: the tokenizer's name in results.
        vae: the loaded model (moved to ``dtype`` here).
        adapter: how its class is encoded and decoded (from ``config.json``'s ``_class_name``).
        weights: the weight files the model was loaded from (hashed for the fingerprint).
        source: where the weights came from (repo id, folder, or single file), for the record.
        dtype: compute dtype of the network.
        sample: draw the latent from the posterior instead of taking its mode (classes with a
            posterior only).
        seed: seed of the posterior draw (``noise_seed``; None: the run's seed applies). The
            draw comes from the :class:`ImageNoise` that :meth:`encode` is given (the runner's:
            each image's own CPU generator, seeded by the seed and the image's key); without
            one, image ``i`` of the call gets the generator of key ``"#i"`` under this seed
            (0 when None), see :meth:`Tokenizer.seeded_noise`.
        bits_per_value: bits counted per continuous latent value for the compression ratio.
    """

    kind = "continuous"

    def __init__(
        self,
        name: str,
        vae: torch.nn.Module,
        *,
        adapter: Adapter,
        weights: list[Path],
        source: dict[str, Any],
        dtype: torch.dtype = torch.float32,
        sample: bool = False,
        seed: int | None = None,
        bits_per_value: float = DEFAULT_BITS_PER_VALUE,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        if sample and adapter.latent != "posterior":
            raise UsageError(
                f"tokenizer {name!r}: {adapter.class_name} has a deterministic "
                f"{'codebook index' if adapter.latent == 'vq' else 'latent'}, no posterior to sample; "
                f"drop sample: true"
            )
        # diffusers warns on every dtype cast of a model, even a no-op one
        self.vae = (vae if next(vae.parameters()).dtype == dtype else vae.to(dtype=dtype)).eval()
        self.adapter = adapter
        self.dtype = dtype
        self.weights = list(weights)
        self.source = dict(source)
        self.sample = sample
        self.seed = seed
        self.noise_seed = seed
        self.encode_uses_noise = sample
        self.bits_per_value = bits_per_value
        config = vae.config
        self.downsample = adapter.factor(config)
        self.latent_channels = adapter.channels(config)
        if adapter.latent == "vq":
            self.kind = "discrete"
            self.codebook_size = int(config["num_vq_embeddings"])
        self._weights_sha256: dict[str, str] | None = None

    def encode(self, x: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Code of images ``x`` in [-1, 1]: the latent (B x C x H/f x W/f, in the network's
        dtype), or for ``VQModel`` the codebook indices (int64, B x H/f x W/f).

        ``noise`` (used with ``sample`` only) gives each image's posterior draw."""
        height, width = x.shape[-2:]
        if height % self.downsample or width % self.downsample:
            # the encoder would crop silently; never let it
            raise UsageError(
                f"tokenizer {self.name!r}: image size {height}x{width} is not a multiple of {self.downsample}"
            )
        mean, std = self.adapter.encode(self.vae, x.to(self.device, self.dtype))
        self._check_latent(mean, height, width)
        if not self.sample:
            return mean
        if noise is None:
            noise = self.seeded_noise(x.shape[0])
        if noise is None:
            noise = ImageNoise.for_images(0, [f"#{i}" for i in range(x.shape[0])])
        # drawn per image on the CPU, so an image's draw is the same in any batch and on any device
        eps = noise.randn(mean.shape[1:], device=mean.device, dtype=mean.dtype)
        return mean + std * eps

    def _check_latent(self, latent: torch.Tensor, height: int, width: int) -> None:
        """The latent's shape must follow the factor and channels read from the config."""
        spatial = (height // self.downsample, width // self.downsample)
        expected = spatial if self.kind == "discrete" else (self.latent_channels, *spatial)
        if tuple(latent.shape[1:]) != expected:
            raise TokenizerOutputError(
                f"tokenizer {self.name!r} ({self.adapter.class_name}): latent of shape "
                f"{tuple(latent.shape[1:])} for a {height}x{width} image, but its config gives {expected} "
                f"(factor {self.downsample}, {self.latent_channels} channels)"
            )

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W, nominally [-1, 1]) decoded from a latent or codebook indices."""
        code = code.to(self.device) if self.kind == "discrete" else code.to(self.device, self.dtype)
        return self.adapter.decode(self.vae, code)

    def token_ids(self, code: torch.Tensor) -> torch.Tensor | None:
        """Codebook indices (int64, B x N x 1, raster order) of a ``VQModel`` code; None otherwise."""
        if self.kind != "discrete":
            return None
        return code.reshape(code.shape[0], -1, 1).long()

    def compression(self, height: int, width: int) -> Compression:
        if self.kind == "discrete":
            return discrete_compression(height, width, self.downsample, self.codebook_size)
        return continuous_compression(height, width, self.downsample, self.latent_channels, self.bits_per_value)

    def modules(self) -> list[torch.nn.Module]:
        return [self.vae]

    def weights_sha256(self) -> dict[str, str]:
        """sha256 of each weight file, by file name (computed once)."""
        if self._weights_sha256 is None:
            self._weights_sha256 = {p.name: cached_sha256(p) for p in self.weights}
        return self._weights_sha256

    def fingerprint(self) -> dict[str, Any]:
        import diffusers

        # _name_or_path is where the files sat on this machine: not part of the identity
        config = {k: v for k, v in dict(self.vae.config).items() if k not in ("_name_or_path", "_diffusers_version")}
        record = {
            "family": TYPE,
            "class": self.adapter.class_name,
            "source": self.source,
            "config": _jsonable(config),
            "weights_sha256": self.weights_sha256(),
            "precision": str(self.dtype).removeprefix("torch."),
            "latent": _latent_record(self.adapter, self.sample, self.seed),
            "diffusers_version": diffusers.__version__,
        }
        if self.kind != "discrete":
            record["bits_per_value"] = self.bits_per_value
        return record


def _latent_record(adapter: Adapter, sample: bool, seed: int | None) -> dict[str, Any]:
    """How the code is taken, for the fingerprint."""
    if adapter.latent == "vq":
        return {"mode": "codebook-indices"}
    if adapter.latent == "deterministic":
        return {"mode": "deterministic"}
    if not sample:
        return {"mode": "posterior-mode"}
    return {
        "mode": "posterior-sample",
        "seed": seed,
        "noise": "per image from its own CPU generator seeded by (seed, image key); the run's seed when seed is null",
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
