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
``gaussian-reflect``
    torchmetrics' ``StructuralSimilarityIndexMeasure`` (>= 1.4.2, protocol ``dc-ae``): the same
    Gaussian over the image reflect-padded by 5 pixels (``F.pad(mode='reflect')``), and the
    whole H x W map averaged, its border included (torchmetrics <= 1.4.1 dropped the border as
    skimage does). torchmetrics computes in float32; this float64 value differs from it by
    float32 rounding (``docs/precision.md``).

Borders: skimage filters with ``mode='reflect'`` and then drops ``(win - 1) // 2`` pixels on
every side before averaging the SSIM map. Each kept pixel's window lies entirely inside the
image, so the reflected values never reach the mean; a "valid" convolution (no padding) gives
exactly the kept region. K1 = 0.01, K2 = 0.03. SSIM is averaged over the kept pixels of each
channel, then over channels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch
import torch.nn.functional as F

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.psnr import check_image_pair

K1 = 0.01
K2 = 0.03
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5
UNIFORM_SIZE = 7

# Filtered planes held at once are bounded so large images do not exhaust memory: the batch is
# processed in chunks of at most this many input values (four filtered quantities each), at
# least one image. On a CPU one 256 x 256 image per chunk was fastest (its float64 planes stay
# in cache: 16 images at 256 px took 0.10 s against 0.15-0.19 s at 2^20 values, one thread).
# A GPU takes bigger chunks: fewer, larger kernels (about 1 GiB of float64 temporaries at most).
_MAX_VALUES_PER_CHUNK = {"cpu": 1 << 18, "cuda": 1 << 24}
# Outputs per band-matrix product (see _ssim_chunk): 32-64 were fastest on CPU at 256 px
# (fewer multiplications by the band's zeros than whole rows, few enough Python-level products).
_BLOCK = 64


SsimWindow = Literal["gaussian", "uniform", "gaussian-reflect"]
#: Windows whose image is reflect-padded by the window's radius, so that the map keeps H x W.
_PADDED = {"gaussian-reflect"}


def window_1d(window: SsimWindow) -> tuple[torch.Tensor, bool]:
    """The separable 1-D window (float64, sums to 1) and whether covariances are sample ones."""
    if window in ("gaussian", "gaussian-reflect"):
        radius = int(GAUSSIAN_TRUNCATE * GAUSSIAN_SIGMA + 0.5)
        x = torch.arange(-radius, radius + 1, dtype=torch.float64)
        taps = torch.exp(-0.5 * (x / GAUSSIAN_SIGMA) ** 2)
        return taps / taps.sum(), False
    if window == "uniform":
        return torch.full((UNIFORM_SIZE,), 1.0 / UNIFORM_SIZE, dtype=torch.float64), True
    raise UsageError(f"unknown SSIM window {window!r} (known: gaussian, uniform, gaussian-reflect)")


def _band_matrix(taps: torch.Tensor, block: int) -> torch.Tensor:
    """(block + k - 1) x block matrix whose column j holds the taps at rows j .. j + k - 1."""
    k = taps.numel()
    band = torch.zeros(block + k - 1, block, dtype=taps.dtype, device=taps.device)
    cols = torch.arange(block, device=taps.device)
    for i in range(k):
        band[cols + i, cols] = taps[i]
    return band


@lru_cache(maxsize=16)
def _filters(window: str, device: torch.device) -> tuple[torch.Tensor, bool, torch.Tensor]:
    """(taps, sample covariance?, band matrix) of ``window`` on ``device``, made once on the CPU
    and copied once (no per-call host-to-device copies or index kernels on a GPU)."""
    taps, sample_cov = window_1d(window)  # type: ignore[arg-type]
    band = _band_matrix(taps, _BLOCK)
    return taps.to(device), sample_cov, band.to(device)


def _filter_rows(plane: torch.Tensor, band: torch.Tensor, k: int) -> torch.Tensor:
    """Valid filtering along H of P x H x W planes: band products on row ranges (no input copy)."""
    valid_h = plane.shape[-2] - k + 1
    parts = []
    for start in range(0, valid_h, _BLOCK):
        n = min(_BLOCK, valid_h - start)
        parts.append(torch.matmul(band[: n + k - 1, :n].T, plane[:, start : start + n + k - 1, :]))
    return torch.cat(parts, dim=1)


def _ssim_chunk(ref_u8: torch.Tensor, rec_u8: torch.Tensor, taps: torch.Tensor, band: torch.Tensor, sample_cov: bool,
                data_range: float) -> torch.Tensor:
    """Mean SSIM of N x C x H x W images (any real dtype, computed in float64), per image.

    The separable filter is a band matrix applied by matrix products to strided row and column
    ranges, never copying the input: several times faster in float64 than a grouped ``conv2d``
    on CPU (which has no fast double path), and plain FP64 matrix products on GPU. The four
    filtered quantities (x, y, x^2 + y^2, xy) are stacked so that each product serves all of
    them. The SSIM map is reduced block by block of columns, so it is never held whole. Only
    rounding differs from a direct convolution.
    """
    n_img, c, h, w = ref_u8.shape
    k = taps.numel()
    valid_h, valid_w = h - k + 1, w - k + 1
    planes = torch.empty(4, n_img * c, h, w, dtype=torch.float64, device=ref_u8.device)
    x, y = planes[0], planes[1]
    x.copy_(ref_u8.reshape(-1, h, w))
    y.copy_(rec_u8.reshape(-1, h, w))
    # SSIM needs var(x) + var(y) only as a sum, so x^2 + y^2 is filtered once (four filtered
    # planes instead of five; the same value up to float64 rounding)
    torch.mul(x, x, out=planes[2]).addcmul_(y, y)
    torch.mul(x, y, out=planes[3])
    rows = _filter_rows(planes.view(-1, h, w), band, k)
    norm = k * k
    cov_norm = norm / (norm - 1) if sample_cov else 1.0
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    total = torch.zeros(n_img * c, dtype=torch.float64, device=ref_u8.device)
    for start in range(0, valid_w, _BLOCK):
        n = min(_BLOCK, valid_w - start)
        filtered = rows[..., start : start + n + k - 1] @ band[: n + k - 1, :n]
        ux, uy, u_squares, uxy = filtered.view(4, n_img * c, valid_h, n).unbind(0)
        mean_product = ux * uy
        mean_squares = ux.square_().add_(uy.square_())  # ux^2 + uy^2 (ux, uy not needed again)
        numerator = (2 * mean_product + c1).mul_((uxy - mean_product).mul_(2 * cov_norm).add_(c2))
        denominator = (mean_squares + c1).mul_((u_squares - mean_squares).mul_(cov_norm).add_(c2))
        total += numerator.div_(denominator).sum(dim=(1, 2))
    return (total / (valid_h * valid_w)).view(n_img, c).mean(dim=1)


def ssim(
    ref_u8: torch.Tensor,
    rec_u8: torch.Tensor,
    *,
    window: SsimWindow,
    data_range: float = 255.0,
) -> torch.Tensor:
    """SSIM of each image pair as a float64 tensor of shape [B] (1 = identical).

    Args:
        ref_u8, rec_u8: B x C x H x W images on the scale of ``data_range`` (uint8 for 255).
        window: ``gaussian`` (protocol ``standard``), ``uniform`` (protocol ``wetok``) or
            ``gaussian-reflect`` (protocol ``dc-ae``); see the module docstring.
        data_range: the images' value range; 255 for uint8 (a mismatch inflates SSIM).
    """
    check_image_pair(ref_u8, rec_u8, "ssim")
    taps, sample_cov, band = _filters(window, ref_u8.device)
    b, c, h, w = ref_u8.shape
    k = taps.numel()
    pad = (k - 1) // 2 if window in _PADDED else 0
    if (h < k or w < k) if not pad else (h <= pad or w <= pad):
        raise UsageError(f"ssim: images of {h}x{w} are smaller than the {k}x{k} {window} window needs")
    budget = _MAX_VALUES_PER_CHUNK.get(ref_u8.device.type, _MAX_VALUES_PER_CHUNK["cuda"])
    per_chunk = max(1, budget // (c * (h + 2 * pad) * (w + 2 * pad)))
    out = []
    for start in range(0, b, per_chunk):
        ref, rec = ref_u8[start : start + per_chunk], rec_u8[start : start + per_chunk]
        if pad:
            ref, rec = (F.pad(t.to(torch.float64), (pad, pad, pad, pad), mode="reflect") for t in (ref, rec))
        out.append(_ssim_chunk(ref, rec, taps, band, sample_cov, float(data_range)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64, device=ref_u8.device)
