"""SSIM per image on the protocol's uint8 pixel views (:func:`wetok_bench.metrics.functional.ssim.ssim`)."""

from __future__ import annotations

import torch

from wetok_bench.metrics.base import Batch, ImageMetric
from wetok_bench.metrics.functional.ssim import ssim
from wetok_bench.metrics.psnr import pixel_views


class SSIM(ImageMetric):
    name = "ssim"
    label = "SSIM"
    decimals = 4
    higher_is_better = True
    order = 30
    tolerance = (0.002, 0.0)
    bd = True
    description = "structural similarity (window per protocol), per channel then averaged; mean over images"
    protocol_options = ("pixel_quantize", "ssim_window", "psnr_data_range", "ssim_data_range", "u8_float")

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        ref, rec = pixel_views(batch)
        return {"ssim": ssim(ref, rec, window=self.protocol.ssim_window, data_range=self.protocol.ssim_range)}


METRIC = SSIM
