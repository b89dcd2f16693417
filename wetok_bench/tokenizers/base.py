"""The Tokenizer interface and the compression-ratio convention.

A tokenizer maps images (B x 3 x H x W float in [-1, 1]) to a code and back. The harness
only calls :meth:`Tokenizer.reconstruct`, which adds the checks every family needs: input size
against the downsample factor (error, or the opt-in pad-then-crop policy), NaN/Inf detection,
output shape, and the bits each image's code takes.

Compression ratio (the WeTok paper's convention)::

    ratio = H * W * 3 * 8 / bits_per_image

with ``bits_per_image = tokens * log2(codebook size)`` for discrete tokenizers and
``latent values * bits_per_value`` (16 by default, recorded) for continuous ones; codecs report
the real encoded size of each image.
"""

from __future__ import annotations

import abc
import contextlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, ContextManager, Literal, Sequence

import torch
import torch.nn.functional as F

from wetok_bench.core.errors import TokenizerOutputError, UsageError
from wetok_bench.core.hashing import sha256_json

TokenizerKind = Literal["discrete", "continuous", "codec", "identity"]
SizePolicy = Literal["error", "pad"]

#: Bits the paper's convention counts for one continuous latent value.
DEFAULT_BITS_PER_VALUE = 16


@dataclass(frozen=True)
class Compression:
    """How many bits one image's code takes.

    Attributes:
        height, width: image size in pixels the figures are for.
        bits_per_image: bits of one image's code.
        tokens: discrete tokens or continuous latent positions (h * w) per image.
        bits_per_token: bits of one token (discrete) or one latent position (continuous:
            channels * bits_per_value).
        latent_shape: (h, w, groups) for discrete codes, (channels, h, w) for continuous
            latents, empty for codecs.
        codebook: a description of the code alphabet (e.g. ``"4 x 2^8"``, ``"64000"``,
            ``"16 ch x 16 bit"``).
    """

    height: int
    width: int
    bits_per_image: float
    tokens: int | None = None
    bits_per_token: float | None = None
    latent_shape: tuple[int, ...] = ()
    codebook: str = ""

    @property
    def ratio(self) -> float:
        """Compression ratio ``H * W * 24 / bits_per_image`` (uint8 RGB over code bits)."""
        return self.height * self.width * 24 / self.bits_per_image

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latent_shape"] = list(self.latent_shape)
        data["ratio"] = self.ratio
        return data


def discrete_compression(
    height: int, width: int, downsample: int, codebook_size: int, groups: int = 1
) -> Compression:
    """Compression of a discrete tokenizer with ``groups`` codes of ``codebook_size`` per position."""
    h, w = height // downsample, width // downsample
    bits_per_token = groups * math.log2(codebook_size)
    codebook = f"{groups} x {codebook_size}" if groups > 1 else f"{codebook_size}"
    return Compression(
        height=height,
        width=width,
        bits_per_image=h * w * bits_per_token,
        tokens=h * w,
        bits_per_token=bits_per_token,
        latent_shape=(h, w, groups),
        codebook=codebook,
    )


def continuous_compression(
    height: int,
    width: int,
    downsample: int,
    channels: int,
    bits_per_value: float = DEFAULT_BITS_PER_VALUE,
) -> Compression:
    """Compression of a continuous latent of ``channels`` values per position."""
    h, w = height // downsample, width // downsample
    return Compression(
        height=height,
        width=width,
        bits_per_image=h * w * channels * bits_per_value,
        tokens=h * w,
        bits_per_token=channels * bits_per_value,
        latent_shape=(channels, h, w),
        codebook=f"{channels} ch x {bits_per_value:g} bit",
    )


def image_seed(seed: int, key: str) -> int:
    """Seed of one image's noise: a 60-bit integer derived from the run's seed and the image key.

    Keyed by the image, not by its batch or rank, so a value never depends on batch size, rank
    count, resume point or device.
    """
    return int(sha256_json([int(seed), str(key)])[:15], 16)


class ImageNoise:
    """Gaussian noise for a batch, drawn image by image from each image's own CPU generator.

    The draw for image ``i`` depends only on ``seeds[i]`` and on how much noise was drawn for
    that image before (generators advance per image), never on the batch it sits in or on the
    compute device: the values are drawn in float32 on the CPU and then moved.
    """

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = [int(s) for s in seeds]
        self._generators = [torch.Generator().manual_seed(s) for s in self.seeds]

    @classmethod
    def for_images(cls, seed: int, keys: Sequence[str]) -> "ImageNoise":
        """Noise for the images ``keys`` under the run seed ``seed`` (see :func:`image_seed`)."""
        return cls([image_seed(seed, key) for key in keys])

    def __len__(self) -> int:
        return len(self.seeds)

    def randn(
        self, shape: Sequence[int], *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Standard normal noise of shape ``(B, *shape)``: one draw of ``shape`` per image."""
        shape = tuple(int(n) for n in shape)
        drawn = torch.stack([torch.randn(shape, generator=g, dtype=torch.float32) for g in self._generators])
        return drawn.to(device=device, dtype=dtype)


def parse_precision(precision: str) -> torch.dtype:
    """``fp32`` / ``bf16`` / ``fp16`` -> torch dtype; anything else is a :class:`UsageError`."""
    table = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    try:
        return table[precision]
    except KeyError:
        raise UsageError(f"unknown precision {precision!r} (use one of {', '.join(table)})") from None


def check_precision(precision: str, allowed: Sequence[str], family: str) -> str:
    """``precision`` when ``family`` runs in it (one of ``allowed``), else a :class:`UsageError`
    (an unknown name gets :func:`parse_precision`'s generic message)."""
    if precision not in allowed:
        parse_precision(precision)
        raise UsageError(f"{family} runs in {' or '.join(allowed)}, not {precision!r}")
    return precision


def autocast_to(precision: str, device: torch.device) -> ContextManager[None]:
    """Autocast on ``device``'s type to ``precision`` (``bf16`` / ``fp16``); nothing for ``fp32``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=parse_precision(precision))


class Tokenizer(abc.ABC):
    """An image tokenizer: ``encode`` images to a code, ``decode`` the code to images.

    Subclasses set ``kind``, ``downsample`` and implement ``encode``, ``decode``,
    ``compression`` and ``fingerprint``. Images are B x 3 x H x W float in [-1, 1].

    Noise: a family that draws random numbers (a generative decoder, a posterior sample) takes
    them from the :class:`ImageNoise` it is given, so each image's draw depends on its own seed
    only. ``decode`` always receives it; ``encode`` receives it as ``encode(x, noise=...)`` when
    the family sets ``encode_uses_noise``. A family with a ``seed`` parameter sets ``noise_seed``,
    which the runner uses instead of the suite seed.

    Tokens: discrete families set ``codebook_size`` (entries per group) and implement
    :meth:`token_ids`.
    """

    kind: TokenizerKind = "continuous"
    #: Spatial factor: inputs must be multiples of it (1 for codecs).
    downsample: int = 1
    #: Seed of this tokenizer's noise when its entry sets one (None: the run's seed applies).
    noise_seed: int | None = None
    #: Whether :meth:`encode` draws noise (then it is called as ``encode(x, noise=...)``).
    encode_uses_noise: bool = False
    #: Entries of one group's codebook (2**bits for an LFQ group); None for continuous tokenizers.
    codebook_size: int | None = None

    def __init__(self, name: str, *, size_policy: SizePolicy = "error") -> None:
        if size_policy not in ("error", "pad"):
            raise UsageError(f"size_policy must be 'error' or 'pad', not {size_policy!r}")
        self.name = name
        self.size_policy: SizePolicy = size_policy
        self.device = torch.device("cpu")

    # --- what a family implements ----------------------------------------------------

    @abc.abstractmethod
    def encode(self, x: torch.Tensor) -> Any:
        """Code for images ``x`` (B x 3 x H x W float in [-1, 1], H and W multiples of downsample).

        A family that sets ``encode_uses_noise`` takes ``encode(x, *, noise: ImageNoise | None)``.
        """

    @abc.abstractmethod
    def decode(self, code: Any, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W float, nominally [-1, 1], not clamped) for a code.

        ``noise`` (one generator per image of the batch) is for families that draw random
        numbers when decoding; the others ignore it.
        """

    @abc.abstractmethod
    def compression(self, height: int, width: int) -> Compression:
        """Bits of one image's code at this size."""

    @abc.abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies this tokenizer's outputs: weights sha256, config, precision."""

    def token_ids(self, code: Any) -> torch.Tensor | None:
        """Token ids of a code: int64, B x N x G (N token positions in raster order, G groups;
        G = 1 for one codebook), values in ``[0, codebook_size)``. None for continuous
        tokenizers and codecs (the default)."""
        return None

    def seeded_noise(self, batch: int) -> ImageNoise | None:
        """The noise a family draws when it is given none: with ``noise_seed`` set, image ``i``
        of the batch gets the generator of key ``"#i"`` (:meth:`ImageNoise.for_images`), so a
        call is reproducible and an image's draw depends on its batch position only; without a
        seed, None (the family then says what it does)."""
        if self.noise_seed is None:
            return None
        return ImageNoise.for_images(self.noise_seed, [f"#{i}" for i in range(batch)])

    def code_bits(self, code: Any, height: int, width: int) -> torch.Tensor:
        """Bits of each image's code (float64, shape B). Codecs override with real sizes."""
        batch = _batch_size(code)
        return torch.full((batch,), self.compression(height, width).bits_per_image, dtype=torch.float64)

    def to(self, device: torch.device | str) -> "Tokenizer":
        """Move the tokenizer's modules to ``device``; returns self."""
        self.device = torch.device(device)
        for module in self.modules():
            module.to(self.device)
        return self

    def modules(self) -> list[torch.nn.Module]:
        """The torch modules that ``to`` moves (none for codecs)."""
        return []

    # --- what the harness calls --------------------------------------------------------

    def reconstruct(
        self, x: torch.Tensor, *, noise: ImageNoise | None = None, with_tokens: bool = False,
        timer: Callable[[str], ContextManager[Any]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(reconstruction, bits per image) for images ``x`` in [-1, 1]; with ``with_tokens``,
        (reconstruction, bits, :meth:`token_ids` of the code).

        ``noise`` has one generator per image of ``x``; it goes to ``decode`` (and to ``encode``
        when the family sets ``encode_uses_noise``). Under the pad policy it is drawn for the
        padded image's code, as the tokens and bits are. Checks the size against ``downsample``
        (error, or pad-then-crop when the size policy is ``pad``) and raises
        :class:`TokenizerOutputError` on a wrong output shape. NaN/Inf are left for the caller
        to find (:func:`find_non_finite`), since only it knows the images' names. The
        reconstruction is float32 and not clamped.

        ``timer(section)`` (the runner's cost meter, :mod:`wetok_bench.engine.cost`) wraps the
        ``"encode"`` call (with the bits count) and the ``"decode"`` call; token ids are outside both.
        """
        if noise is not None and len(noise) != x.shape[0]:
            raise UsageError(f"noise for {len(noise)} images given with a batch of {x.shape[0]}")
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % self.downsample, (-width) % self.downsample
        if pad_h or pad_w:
            if self.size_policy == "error":
                raise UsageError(
                    f"tokenizer {self.name!r}: image size {height}x{width} is not a multiple of its "
                    f"downsample factor {self.downsample}; choose a resolution that is, or set "
                    f"size_policy: pad (pads by reflection, crops the output back)"
                )
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        timer = timer or _untimed
        with torch.inference_mode():
            with timer("encode"):
                code = self.encode(x, noise=noise) if self.encode_uses_noise else self.encode(x)
                bits = self.code_bits(code, x.shape[-2], x.shape[-1])
            tokens = self.token_ids(code) if with_tokens else None
            with timer("decode"):
                recon = self.decode(code, noise=noise)
        recon = recon[..., :height, :width].float()
        if recon.shape != (x.shape[0], 3, height, width):
            raise TokenizerOutputError(
                f"tokenizer {self.name!r} returned shape {tuple(recon.shape)} for input "
                f"{(x.shape[0], 3, height, width)}"
            )
        if with_tokens:
            return recon, bits, tokens
        return recon, bits


def _untimed(section: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def find_non_finite(recon: torch.Tensor) -> list[int]:
    """Indices of the images in a batch that contain NaN or Inf."""
    bad = ~torch.isfinite(recon.flatten(1)).all(dim=1)
    return bad.nonzero().flatten().tolist()


def _batch_size(code: Any) -> int:
    if isinstance(code, torch.Tensor):
        return code.shape[0]
    if isinstance(code, (tuple, list)) and code and isinstance(code[0], torch.Tensor):
        return code[0].shape[0]
    if isinstance(code, dict):
        return _batch_size(next(iter(code.values())))
    return len(code)
