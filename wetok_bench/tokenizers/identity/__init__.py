"""The identity "tokenizer" (suite ``type: identity``): no compression, the reconstruction is the input.

Suite entry::

    - {type: identity}

A control for the harness: every metric must come out perfect (PSNR inf, SSIM 1, LPIPS 0,
rFID about 0), and the compression ratio is 1 (24 bits per pixel, uint8 RGB).
"""

from __future__ import annotations

from wetok_bench.core.params import declare
from wetok_bench.tokenizers.identity.tokenizer import BITS_PER_PIXEL, IdentityTokenizer

__all__ = ["BITS_PER_PIXEL", "IdentityTokenizer", "create_identity"]


@declare()
def create_identity(*, name: str = "identity") -> IdentityTokenizer:
    """Build the identity tokenizer (suite ``type: identity``): ratio 1, exact reconstruction."""
    return IdentityTokenizer(name)
