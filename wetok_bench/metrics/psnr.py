"""PSNR per image on the protocol's uint8 pixel views (:func:`wetok_bench.metrics.functional.psnr.psnr`)."""

from __future__ import annotations

import torch

from wetok_bench.metrics.base import Batch, ImageMetric
from wetok_bench.metrics.functional.psnr import psnr


def pixel_views(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The uint8 (original, reconstruction) pair PSNR and SSIM share, made once per batch."""
    return batch.view(batch.protocol.pixel_view_key, lambda: batch.protocol.pixel_views(batch.original_u8, batch.recon))


class PSNR(ImageMetric):
    name = "psnr"
    label = "PSNR"
    decimals = 2
    higher_is_better = True
    unit = "dB"
    order = 20
    tolerance = (0.05, 0.0)  # dB
    bd = bd_rate = True
    grid_rank = 1
    description = "peak signal-to-noise ratio on uint8 images, data range 255; mean over images"
    protocol_options = ("pixel_quantize", "psnr_data_range", "u8_float")

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        ref, rec = pixel_views(batch)
        return {"psnr": psnr(ref, rec, data_range=self.protocol.psnr_data_range)}


METRIC = PSNR
