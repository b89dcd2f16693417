"""``seed-voken``: TencentARC/SEED-Voken's current ``evaluation_image.py`` with the torchvision
configs (Open-MAGVIT2, and the pretrain configs of both Open-MAGVIT2 and IBQ).

The same convention as ``wetok`` (the same preprocessing and per-image metrics: its float32
skimage path on ``u8 / 255`` differs from WeTok's uint8 path by at most 3e-7 dB PSNR and 1e-6
SSIM per image, verified with ``ibq``'s recording), but another aggregate: one process, batch 4,
the mean of batch means (``psnr_official``), which on ImageNet's 50,000 images is the mean over
images. It exists so that the numbers of SEED-Voken's zero-shot tables (and the baselines it
re-evaluated: LlamaGen 2.47 / 20.65 / 0.54) are compared with what that script prints.
"""

from dataclasses import replace

from wetok_bench.protocols.base import OfficialAggregate
from wetok_bench.protocols.wetok import PROTOCOL as WETOK

PROTOCOL = replace(
    WETOK,
    name="seed-voken",
    version=1,
    official=OfficialAggregate(ranks=1, batch_size=4, padding="strided", reduce="batch-mean"),
    notes="SEED-Voken evaluation_image.py with torchvision configs: wetok's convention, one process, batch 4.",
)
