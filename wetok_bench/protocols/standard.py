"""``standard``: every metric on uint8 images, as they would be stored (recommended for new work).

Resize the short side to R (PIL bilinear, antialiased) and centre-crop; reconstructions clamped
and rounded to uint8 before every metric; rFID with torch-fidelity's ``inception-v3-compat`` on
uint8; SSIM with the Gaussian window (sigma 1.5, 11 taps, population covariance); LPIPS-alex on
``u8 / 127.5 - 1``. Version 1 (unchanged since the first release).
"""

from wetok_bench.protocols.base import MetricProtocol

PROTOCOL = MetricProtocol(
    name="standard",
    version=1,
    notes="Recommended for new work: every metric on uint8 images, as they would be stored.",
)
