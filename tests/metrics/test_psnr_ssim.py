"""PSNR and SSIM equal scikit-image's on real photos of odd sizes with realistic distortions."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.psnr import psnr
from wetok_bench.metrics.functional.ssim import ssim

SKIMAGE_WINDOW = {
    "gaussian": {"gaussian_weights": True, "use_sample_covariance": False},
    "uniform": {},  # skimage's defaults: 7x7 box, sample covariance
}


def distortions(image: np.ndarray) -> list[np.ndarray]:
    """JPEG at quality 25, a Gaussian blur, and clipped Gaussian noise of the same photo."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=25)
    jpeg = np.array(Image.open(buffer).convert("RGB"))
    blur = np.array(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1.2)))
    rng = np.random.default_rng(0)
    noise = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    return [jpeg, blur, noise]


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_psnr_and_ssim_match_skimage(photos, name):
    ref = photos[name]
    recs = distortions(ref)
    ref_batch, rec_batch = as_batch([ref] * len(recs)), as_batch(recs)

    got = psnr(ref_batch, rec_batch)
    assert got.dtype == torch.float64 and got.shape == (3,)
    expected = [peak_signal_noise_ratio(ref, rec, data_range=255) for rec in recs]
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-4)

    for window, options in SKIMAGE_WINDOW.items():
        got = ssim(ref_batch, rec_batch, window=window)
        expected = [structural_similarity(ref, rec, channel_axis=-1, data_range=255, **options) for rec in recs]
        np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-5, err_msg=window)


def test_windows_differ_and_identical_images(photos):
    ref = as_batch([photos["chelsea"]])
    rec = as_batch(distortions(photos["chelsea"])[:1])
    # The two windows are different protocols: their values must not coincide.
    assert abs(ssim(ref, rec, window="gaussian").item() - ssim(ref, rec, window="uniform").item()) > 1e-3
    assert psnr(ref, ref).item() == float("inf")
    for window in SKIMAGE_WINDOW:
        assert ssim(ref, ref, window=window).item() == pytest.approx(1.0, abs=1e-12)


def test_small_odd_images_and_mixed_batch(photos):
    # 13 x 11 crops: the smallest sizes the 11-tap window allows after skimage's border crop.
    crops = [photos["coffee"][:13, :11], photos["rocket"][40:53, 70:81]]
    recs = [np.clip(c.astype(int) + 9 * (np.indices(c.shape).sum(0) % 3) - 9, 0, 255).astype(np.uint8) for c in crops]
    for window, options in SKIMAGE_WINDOW.items():
        got = ssim(as_batch(crops), as_batch(recs), window=window)
        expected = [structural_similarity(c, r, channel_axis=-1, data_range=255, **options) for c, r in zip(crops, recs)]
        np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-5)
    with pytest.raises(UsageError, match="smaller than the 11x11"):
        ssim(as_batch([crops[0][:10]]), as_batch([recs[0][:10]]), window="gaussian")


def test_bad_inputs_are_usage_errors(photos):
    a = as_batch([photos["chelsea"]])
    with pytest.raises(UsageError, match="differ in shape"):
        psnr(a, a[:, :, :100])
    with pytest.raises(UsageError, match="B x C x H x W"):
        ssim(a[0], a[0], window="gaussian")
    with pytest.raises(UsageError, match="unknown SSIM window"):
        ssim(a, a, window="box")


def test_uint8_squared_error_is_exact(photos):
    # the integer path (uint8 differences, float32 partial sums of 256 squares) gives skimage's
    # float64 mean squared error bit for bit, also where the pixel count is not a multiple of
    # 256 and at the largest possible error (every difference 255)
    from skimage.metrics import mean_squared_error

    from wetok_bench.metrics.functional.psnr import squared_error_sum_u8

    coffee = photos["coffee"][:301, :299]
    rng = np.random.default_rng(1)
    pairs = [
        (coffee, distortions(coffee)[2]),
        (np.zeros((301, 299, 3), np.uint8), np.full((301, 299, 3), 255, np.uint8)),
        (rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)),
    ]
    for ref, rec in pairs:
        total = squared_error_sum_u8(as_batch([ref, rec]), as_batch([rec, ref]))
        expected = mean_squared_error(ref, rec)
        assert (total / ref.size).tolist() == [expected, expected]
        got = psnr(as_batch([ref]), as_batch([rec])).item()
        assert got == pytest.approx(peak_signal_noise_ratio(ref, rec, data_range=255), rel=1e-14, abs=1e-14)
    assert psnr(as_batch([pairs[1][0]]), as_batch([pairs[1][1]])).item() == 0.0
