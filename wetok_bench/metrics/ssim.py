"""Structural similarity (Wang et al. 2004) per image, batched in torch, float64.

Reproduces ``skimage.metrics.structural_similarity(ref, rec, channel_axis=-1, data_range=255)``
(scikit-image 0.26) for the two windows the protocols use:

``gaussian``
    ``gaussian_weights=True, use_sample_covariance=False``: an 11-tap Gaussian, sigma 1.5
    (skimage truncates at 3.5 sigma: radius ``int(3.5 * 1.5 + 0.5) = 5``), population
    covariance. This is Wang et al.'s definition (protocol ``standard``).
``uniform``
    skimage's defaults: a 7 x 7 box filter with sample covariance (``NP / (NP - 1)``,
    NP = 49) (protocol ``wetok``).

Borders: skimage filters with ``mode='reflect'`` and then drops ``(win - 1) // 2`` pixels on
every side before averaging the SSIM map. Each kept pixel's window lies entirely inside the
image, so the reflected values never reach the mean; a "valid" convolution (no padding) gives
exactly the kept region. K1 = 0.01, K2 = 0.03. SSIM is averaged over the kept pixels of each
channel, then over channels.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from wetok_bench.errors import UsageError
from wetok_bench.metrics.psnr import check_image_pair

K1 = 0.01
K2 = 0.03
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5
UNIFORM_SIZE = 7

# Filtered planes held at once are bounded so large images do not exhaust memory: the batch is
# processed in chunks of at most this many float64 values per filtered quantity.
_MAX_VALUES_PER_CHUNK = 1 << 20
# Output columns per band-matrix product (see _filter_last_dim). Up to this width a row is
# filtered by one product with no copy of the input; the extra multiply-adds by zeros cost less
# than the copies that small blocks need (measured on CPU at 256 px: about 3x faster than 32).
_BLOCK = 512


def window_1d(window: Literal["gaussian", "uniform"]) -> tuple[torch.Tensor, bool]:
    """The separable 1-D window (float64, sums to 1) and whether covariances are sample ones."""
    if window == "gaussian":
        radius = int(GAUSSIAN_TRUNCATE * GAUSSIAN_SIGMA + 0.5)
        x = torch.arange(-radius, radius + 1, dtype=torch.float64)
        taps = torch.exp(-0.5 * (x / GAUSSIAN_SIGMA) ** 2)
        return taps / taps.sum(), False
    if window == "uniform":
        return torch.full((UNIFORM_SIZE,), 1.0 / UNIFORM_SIZE, dtype=torch.float64), True
    raise UsageError(f"unknown SSIM window {window!r} (known: gaussian, uniform)")


def _band_matrix(taps: torch.Tensor, block: int) -> torch.Tensor:
    """(block + k - 1) x block matrix whose column j holds the taps at rows j .. j + k - 1."""
    k = taps.numel()
    band = torch.zeros(block + k - 1, block, dtype=taps.dtype, device=taps.device)
    cols = torch.arange(block, device=taps.device)
    for i in range(k):
        band[cols + i, cols] = taps[i]
    return band


def _filter_last_dim(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Valid 1-D correlation with ``taps`` along the last dimension (length shrinks by k - 1).

    Done as a matrix product of overlapping windows with a band matrix: several times faster in
    float64 than a grouped ``conv2d`` on CPU (which has no fast double path); on GPU it is a
    plain FP64 matrix product. Same sums, so the values do not change beyond rounding.
    """
    k = taps.numel()
    length = x.shape[-1]
    valid = length - k + 1
    block = min(_BLOCK, valid)
    n_blocks = -(-valid // block)
    pad = n_blocks * block + k - 1 - length
    if pad:  # outputs that read the padding are cut off below
        x = F.pad(x, (0, pad))
    windows = x.unfold(-1, block + k - 1, block)
    # One 2-D product (a single copy of the windows); a batched product over the strided view
    # would fall back to one small copy per window row.
    out = windows.reshape(-1, block + k - 1) @ _band_matrix(taps, block)
    return out.view(*windows.shape[:-1], block).flatten(-2)[..., :valid]


def _filter_valid(planes: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable filtering of N x P x H x W planes, keeping only fully covered pixels."""
    rows = _filter_last_dim(planes, taps)
    return _filter_last_dim(rows.transpose(-1, -2), taps).transpose(-1, -2)


def _ssim_chunk(x: torch.Tensor, y: torch.Tensor, taps: torch.Tensor, sample_cov: bool, data_range: float) -> torch.Tensor:
    c = x.shape[1]
    # One filtering pass covers all five quantities of every channel at once.
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    ux, uy, uxx, uyy, uxy = _filter_valid(stacked, taps).split(c, dim=1)
    n = taps.numel() ** 2
    cov_norm = n / (n - 1) if sample_cov else 1.0
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(2, 3)).mean(dim=1)


def ssim(
    ref_u8: torch.Tensor,
    rec_u8: torch.Tensor,
    *,
    window: Literal["gaussian", "uniform"],
    data_range: float = 255.0,
) -> torch.Tensor:
    """SSIM of each image pair as a float64 tensor of shape [B] (1 = identical).

    Args:
        ref_u8, rec_u8: B x C x H x W images on the scale of ``data_range`` (uint8 for 255).
        window: ``gaussian`` (protocol ``standard``) or ``uniform`` (protocol ``wetok``); see
            the module docstring.
        data_range: the images' value range; 255 for uint8 (a mismatch inflates SSIM).
    """
    check_image_pair(ref_u8, rec_u8, "ssim")
    taps, sample_cov = window_1d(window)
    b, c, h, w = ref_u8.shape
    k = taps.numel()
    if h < k or w < k:
        raise UsageError(f"ssim: images of {h}x{w} are smaller than the {k}x{k} {window} window")
    taps = taps.to(ref_u8.device)
    per_chunk = max(1, _MAX_VALUES_PER_CHUNK // (c * h * w))
    out = []
    for start in range(0, b, per_chunk):
        x = ref_u8[start : start + per_chunk].to(torch.float64)
        y = rec_u8[start : start + per_chunk].to(torch.float64)
        out.append(_ssim_chunk(x, y, taps, sample_cov, float(data_range)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64, device=ref_u8.device)
