"""Classic image codecs as tokenizers (suite ``type: codec``): JPEG and WebP through Pillow, in memory.

Suite entries::

    - {type: codec, format: jpeg, quality: [10, 50, 90]}      # three entries: jpeg-q10, jpeg-q50, jpeg-q90
    - {type: codec, name: webp-lossless, format: webp, lossless: true}

Compression is measured, not computed: ``8 * len(bytes)`` of each image's encoded file, averaged
over a run, and the mean of the per-image ratios ``H * W * 24 / bits`` (:mod:`.tokenizer`).
"""

from __future__ import annotations

from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import Param, declare
from wetok_bench.tokenizers.codecs.tokenizer import (
    DEFAULT_QUALITY,
    FORMATS,
    SUBSAMPLING,
    CodecTokenizer,
    VariableRateError,
)

__all__ = ["CodecTokenizer", "DEFAULT_QUALITY", "FORMATS", "SUBSAMPLING", "VariableRateError", "create_codec",
           "expand_codec_sweep"]


def _check_codec(spec: dict[str, Any]) -> None:
    """Suite-time check of what the options mean together (subsampling with JPEG, ...)."""
    options = {k: spec[k] for k in ("format", "subsampling", "lossless") if k in spec}
    CodecTokenizer(str(spec.get("name", "codec")), **options)


@declare(
    Param("format", str, "jpeg", choices=(*FORMATS, "jpg"), doc="codec"),
    Param("quality", int, DEFAULT_QUALITY, range=(0, 100), expands=True, label="q",
          doc="Pillow quality (lossless WebP: effort); a list sweeps"),
    Param("subsampling", str, None, choices=SUBSAMPLING, doc="JPEG chroma subsampling (null: 4:2:0)"),
    Param("lossless", bool, False, doc="WebP lossless mode"),
    check=_check_codec,
    expand=lambda spec: expand_codec_sweep(spec),
)
def create_codec(
    *,
    name: str = "jpeg",
    format: str = "jpeg",
    quality: int = DEFAULT_QUALITY,
    subsampling: str | None = None,
    lossless: bool = False,
) -> CodecTokenizer:
    """Build a codec tokenizer (suite ``type: codec``).

    Args:
        name: label in results.
        format: ``jpeg`` or ``webp``.
        quality: Pillow quality 0-100 (for lossless WebP: compression effort).
        subsampling: JPEG chroma subsampling ``4:4:4``, ``4:2:2`` or ``4:2:0``
            (None: Pillow's default, which is 4:2:0).
        lossless: WebP lossless mode.
    """
    return CodecTokenizer(name, format=format, quality=quality, subsampling=subsampling, lossless=lossless)


def expand_codec_sweep(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One codec entry per quality of a suite entry whose ``quality`` is a list.

    ``{"type": "codec", "format": "jpeg", "quality": [10, 50, 90]}`` gives three entries named
    ``jpeg-q10``, ``jpeg-q50``, ``jpeg-q90`` (the prefix is the entry's ``name``, else its
    format). An entry with a single quality keeps its ``name``, or is named the same way.
    """
    qualities = spec.get("quality")
    if not isinstance(qualities, (list, tuple)):
        if "name" in spec:
            return [dict(spec)]
        qualities = [qualities if qualities is not None else DEFAULT_QUALITY]
    prefix = spec.get("name") or str(spec.get("format", "jpeg")).lower()
    if not qualities:
        raise UsageError(f"codec entry {prefix!r}: empty quality list")
    if len(set(qualities)) != len(qualities):
        raise UsageError(f"codec entry {prefix!r}: repeated quality in {list(qualities)}")
    return [{**spec, "name": f"{prefix}-q{quality}", "quality": quality} for quality in qualities]
