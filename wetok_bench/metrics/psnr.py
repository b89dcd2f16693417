"""Peak signal-to-noise ratio per image, batched in torch (CPU or GPU).

Matches ``skimage.metrics.peak_signal_noise_ratio(ref, rec, data_range=255)`` image by image:
the mean squared error is taken over every pixel and channel of one image, in float64.
"""

from __future__ import annotations

import torch

from wetok_bench.errors import UsageError


def check_image_pair(ref: torch.Tensor, rec: torch.Tensor, what: str) -> None:
    """Raise :class:`UsageError` unless ``ref`` and ``rec`` are equal-shaped B x C x H x W batches."""
    if ref.ndim != 4 or rec.ndim != 4:
        raise UsageError(f"{what}: expected image batches B x C x H x W, got shapes {tuple(ref.shape)} and {tuple(rec.shape)}")
    if ref.shape != rec.shape:
        raise UsageError(f"{what}: original and reconstruction differ in shape: {tuple(ref.shape)} vs {tuple(rec.shape)}")


def psnr(ref_u8: torch.Tensor, rec_u8: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """PSNR in dB of each image pair, as a float64 tensor of shape [B].

    Args:
        ref_u8, rec_u8: B x C x H x W images on the scale of ``data_range`` (uint8 for 255).
        data_range: peak value; 255 for uint8 images (every protocol's choice).

    Identical images give ``+inf`` (zero error), as skimage does.
    """
    check_image_pair(ref_u8, rec_u8, "psnr")
    diff = ref_u8.to(torch.float64) - rec_u8.to(torch.float64)
    mse = diff.square().flatten(1).mean(dim=1)
    # data_range**2 / 0 is +inf and log10(+inf) is +inf: no special case (and no warning) needed.
    return 10.0 * torch.log10(float(data_range) ** 2 / mse)
