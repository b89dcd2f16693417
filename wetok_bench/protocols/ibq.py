"""``ibq``: TencentARC/SEED-Voken ``evaluation_image.py`` with the IBQ ImageNet configs.

``wetok`` (the same evaluation code: truncated uint8 views, 7x7 uniform SSIM, pytorch-fid on
floats, LPIPS alex and vgg on floats, float64 uint8 -> float) with IBQ's data pipeline:
albumentations 1.4.4 ``SmallestMaxSize`` (sides by Python ``round()``, OpenCV ``INTER_LINEAR``
without antialiasing) and a floor-offset ``CenterCrop``. On a 500 x 741 ImageNet image the crop
starts at x = 61 where torchvision's starts at 62, and the unfiltered downscale changes pixels by
tens of levels. The script runs one process with batch 4 and prints the mean of batch means
(``psnr_official``, ``ssim_official``; equal to the mean over images when 4 divides the count).

Verified against the official script executed on the CPU (``tests/data/protocols/ibq``).
"""

from dataclasses import replace

from wetok_bench.protocols.base import OfficialAggregate
from wetok_bench.protocols.wetok import PROTOCOL as WETOK

PROTOCOL = replace(
    WETOK,
    name="ibq",
    version=1,
    resize="albumentations-smallest-max-size+floor-crop",
    official=OfficialAggregate(ranks=1, batch_size=4, padding="strided", reduce="batch-mean"),
    notes="SEED-Voken IBQ: wetok's metrics with albumentations/OpenCV SmallestMaxSize and a floor crop.",
)
