"""Peak signal-to-noise ratio per image, batched in torch (CPU or GPU).

Matches ``skimage.metrics.peak_signal_noise_ratio(ref, rec, data_range=255)`` image by image:
the mean squared error is taken over every pixel and channel of one image, in float64.
"""

from __future__ import annotations

import torch

from wetok_bench.core.errors import UsageError


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
    if ref_u8.dtype == torch.uint8 and rec_u8.dtype == torch.uint8:
        mse = squared_error_sum_u8(ref_u8, rec_u8).to(torch.float64) / ref_u8[0].numel()
    else:
        diff = ref_u8.to(torch.float64) - rec_u8.to(torch.float64)
        mse = diff.square().flatten(1).mean(dim=1)
    # data_range**2 / 0 is +inf and log10(+inf) is +inf: no special case (and no warning) needed.
    return 10.0 * torch.log10(float(data_range) ** 2 / mse)


# Squares of uint8 differences are integers <= 255**2 = 65025; float32 holds every integer below
# 2**24 exactly, so sums of up to 258 of them are exact in any order.
_EXACT_F32_TERMS = 256


def squared_error_sum_u8(ref_u8: torch.Tensor, rec_u8: torch.Tensor) -> torch.Tensor:
    """Per image, the exact sum of squared differences of two uint8 batches (float64 [B]).

    Every step is exact (integers: uint8 absolute differences, float32 squares and partial sums
    of 256 terms below 2**24, float64 totals below 2**53), so the result equals the float64
    sum and ``sum / count`` equals skimage's float64 mean bit for bit, with one-byte inputs
    and float32 arithmetic instead of float64 copies of both images.
    """
    diff = (torch.maximum(ref_u8, rec_u8) - torch.minimum(ref_u8, rec_u8)).flatten(1).to(torch.float32)
    sq = diff.mul_(diff)
    count = sq.shape[1]
    whole = count - count % _EXACT_F32_TERMS
    total = sq[:, :whole].reshape(sq.shape[0], -1, _EXACT_F32_TERMS).sum(dim=2).to(torch.float64).sum(dim=1)
    if whole < count:
        total += sq[:, whole:].to(torch.float64).sum(dim=1)
    return total
