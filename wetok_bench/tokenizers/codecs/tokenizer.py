"""The codec tokenizer: one image <-> one JPEG or WebP file in memory (Pillow).

A codec's "code" is the encoded file of each image (a list of ``bytes``), so its bits are
measured, not computed: ``8 * len(bytes)`` per image (:meth:`CodecTokenizer.code_bits`). The
harness gets them per image from ``reconstruct`` and averages them over the images of a run.

Because the size is only known after encoding, :meth:`CodecTokenizer.compression` has no
fixed answer and raises :class:`VariableRateError` rather than invent a number; the runner
reports the mean measured bits and the mean of the per-image ratios ``H * W * 24 / bits``.

Images are turned into uint8 with the ``standard`` protocol's rounding before encoding (a codec
only takes uint8), and decoded files come back as ``u8 / 127.5 - 1``, exactly.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from PIL import Image, features

from wetok_bench.core.errors import UsageError, WetokBenchError
from wetok_bench.protocols import round_to_u8, u8_to_signed_float
from wetok_bench.tokenizers.base import Compression, ImageNoise, Tokenizer

FORMATS = ("jpeg", "webp")
#: JPEG chroma subsampling names Pillow accepts.
SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")
#: Pillow's own library names for each format (their versions go into the fingerprint).
_LIBRARY = {"jpeg": "jpg", "webp": "webp"}
#: Quality when an entry gives none (Pillow's own JPEG default).
DEFAULT_QUALITY = 75


class VariableRateError(WetokBenchError):
    """A codec's bits per image depend on the image; ask for measured sizes instead."""


class CodecTokenizer(Tokenizer):
    """JPEG or WebP at a fixed quality. Code: one encoded file (``bytes``) per image."""

    kind = "codec"
    downsample = 1

    def __init__(
        self,
        name: str,
        *,
        format: str = "jpeg",
        quality: int = DEFAULT_QUALITY,
        subsampling: str | None = None,
        lossless: bool = False,
    ) -> None:
        super().__init__(name)
        fmt = str(format).lower()
        if fmt == "jpg":
            fmt = "jpeg"
        if fmt not in FORMATS:
            raise UsageError(f"codec {name!r}: unknown format {format!r} (use one of {', '.join(FORMATS)})")
        if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise UsageError(f"codec {name!r}: quality must be an integer from 0 to 100, not {quality!r}")
        if subsampling is not None and (fmt != "jpeg" or subsampling not in SUBSAMPLING):
            raise UsageError(
                f"codec {name!r}: subsampling applies to JPEG only and is one of {', '.join(SUBSAMPLING)}, "
                f"not {subsampling!r}"
            )
        if lossless and fmt != "webp":
            raise UsageError(f"codec {name!r}: lossless applies to WebP only")
        if features.version(_LIBRARY[fmt]) is None:
            raise UsageError(f"codec {name!r}: this Pillow build has no {fmt} support")
        self.format = fmt
        self.quality = quality
        self.subsampling = subsampling
        self.lossless = bool(lossless)

    def save_options(self) -> dict[str, Any]:
        """Keyword arguments given to ``PIL.Image.save``."""
        options: dict[str, Any] = {"format": self.format.upper(), "quality": self.quality}
        if self.subsampling is not None:
            options["subsampling"] = self.subsampling
        if self.format == "webp":
            options["lossless"] = self.lossless
        return options

    def encode(self, x: torch.Tensor) -> list[bytes]:
        """One encoded file per image of ``x`` (B x 3 x H x W in [-1, 1], rounded to uint8 first)."""
        pixels = round_to_u8(x.detach().cpu()).permute(0, 2, 3, 1).numpy()
        return [self.encode_u8(image) for image in pixels]

    def encode_u8(self, image: np.ndarray) -> bytes:
        """Encoded file of one H x W x 3 uint8 image."""
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image)).save(buffer, **self.save_options())
        return buffer.getvalue()

    def decode(self, code: list[bytes], *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Decoded images (B x 3 x H x W float in [-1, 1], exactly ``u8 / 127.5 - 1``)."""
        images = []
        for data in code:
            with Image.open(io.BytesIO(data)) as image:
                images.append(torch.from_numpy(np.asarray(image.convert("RGB")).copy()))
        return u8_to_signed_float(torch.stack(images).permute(0, 3, 1, 2)).to(self.device)

    def code_bits(self, code: list[bytes], height: int, width: int) -> torch.Tensor:
        """Measured bits of each image's file: ``8 * len(bytes)`` (float64, shape B)."""
        return torch.tensor([8.0 * len(data) for data in code], dtype=torch.float64)

    def compression(self, height: int, width: int) -> Compression:
        """Not defined before encoding: raises :class:`VariableRateError` (see the module doc)."""
        raise VariableRateError(
            f"codec {self.name!r} has no fixed size per image: its bits are measured per image "
            "(code_bits, or the bits reconstruct returns) and averaged over the run"
        )

    def fingerprint(self) -> dict[str, Any]:
        # Encoded sizes depend on the library build, so its version is part of the identity.
        return {
            "family": "codec",
            "format": self.format,
            "quality": self.quality,
            "subsampling": self.subsampling,
            "lossless": self.lossless,
            "pillow": Image.__version__,
            "library": f"{_LIBRARY[self.format]} {features.version(_LIBRARY[self.format])}",
        }
