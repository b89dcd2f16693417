"""Codec tokenizers: sizes and pixels against Pillow's own encode/decode of the same image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench.core.errors import UsageError
from wetok_bench.protocols import round_to_u8, u8_to_signed_float
from wetok_bench.tokenizers.codecs import VariableRateError, create_codec, expand_codec_sweep
from wetok_bench.tokenizers.registry import create_tokenizer


def _crop(photo: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(photo[:h, :w])


def _batch(*images: np.ndarray) -> torch.Tensor:
    return u8_to_signed_float(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2))


def _pillow(image: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, **options)
    return buffer.getvalue()


CASES = [
    ({"format": "jpeg", "quality": 50}, {"format": "JPEG", "quality": 50}),
    (
        {"format": "jpeg", "quality": 90, "subsampling": "4:4:4"},
        {"format": "JPEG", "quality": 90, "subsampling": "4:4:4"},
    ),
    ({"format": "webp", "quality": 60}, {"format": "WEBP", "quality": 60}),
    ({"format": "webp", "quality": 80, "lossless": True}, {"format": "WEBP", "quality": 80, "lossless": True}),
]


@pytest.mark.parametrize(("params", "pillow_options"), CASES)
def test_bits_and_pixels_equal_pillow(photos, params, pillow_options):
    # odd sizes on purpose: a codec has downsample 1
    images = [_crop(photos["chelsea"], 61, 87), _crop(photos["coffee"], 61, 87)]
    tok = create_codec(name="c", **params)
    recon, bits = tok.reconstruct(_batch(*images))
    for i, image in enumerate(images):
        reference = _pillow(image, **pillow_options)
        assert bits[i].item() == 8 * len(reference)
        decoded = np.asarray(Image.open(io.BytesIO(reference)).convert("RGB"))
        assert torch.equal(recon[i], u8_to_signed_float(torch.from_numpy(decoded.copy()).permute(2, 0, 1)))
        assert np.array_equal(round_to_u8(recon[i]).permute(1, 2, 0).numpy(), decoded)
    assert bits[0] != bits[1]  # sizes are measured per image
    if params.get("lossless"):
        assert np.array_equal(round_to_u8(recon).permute(0, 2, 3, 1).numpy(), np.stack(images))


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_higher_quality_costs_more_bits_and_gains_psnr(photos, fmt):
    image = _crop(photos["astronaut"], 128, 128)
    bits, psnrs = [], []
    for quality in (10, 50, 90):
        recon, b = create_codec(format=fmt, quality=quality).reconstruct(_batch(image))
        out = round_to_u8(recon)[0].permute(1, 2, 0).numpy()
        bits.append(b.item())
        psnrs.append(peak_signal_noise_ratio(image, out, data_range=255))
    assert bits == sorted(bits) and len(set(bits)) == 3
    assert psnrs == sorted(psnrs) and len(set(psnrs)) == 3


def test_compression_is_measured_not_fixed(photos):
    tok = create_codec(format="jpeg", quality=75)
    with pytest.raises(VariableRateError, match="measured per image"):
        tok.compression(64, 64)
    images = [_crop(photos["rocket"], 64, 64), _crop(photos["chelsea"], 64, 64)]
    code = tok.encode(_batch(*images))
    sizes = [8.0 * len(_pillow(im, format="JPEG", quality=75)) for im in images]
    assert tok.code_bits(code, 64, 64).tolist() == sizes
    assert tok.code_bits(code, 64, 64).dtype == torch.float64
    assert tok.kind == "codec" and tok.downsample == 1


def test_fingerprint_records_settings_and_library():
    fp = create_codec(format="webp", quality=30).fingerprint()
    assert fp["format"] == "webp" and fp["quality"] == 30 and fp["lossless"] is False
    assert fp["library"].startswith("webp ") and fp["pillow"] == Image.__version__


def test_invalid_settings():
    with pytest.raises(UsageError, match="unknown format 'png'"):
        create_codec(format="png")
    with pytest.raises(UsageError, match="quality must be an integer from 0 to 100"):
        create_codec(quality=101)
    with pytest.raises(UsageError, match="subsampling applies to JPEG only"):
        create_codec(format="webp", subsampling="4:2:0")
    with pytest.raises(UsageError, match="subsampling"):
        create_codec(format="jpeg", subsampling="4:1:1")
    with pytest.raises(UsageError, match="lossless applies to WebP only"):
        create_codec(format="jpeg", lossless=True)


def test_expand_codec_sweep():
    spec = {"type": "codec", "format": "jpeg", "quality": [10, 50, 90], "subsampling": "4:4:4"}
    expanded = expand_codec_sweep(spec)
    assert [s["name"] for s in expanded] == ["jpeg-q10", "jpeg-q50", "jpeg-q90"]
    assert [s["quality"] for s in expanded] == [10, 50, 90]
    assert all(s["subsampling"] == "4:4:4" and s["type"] == "codec" for s in expanded)
    assert spec["quality"] == [10, 50, 90]  # the input entry is left alone
    tokenizers = [create_tokenizer(s) for s in expanded]
    assert [t.quality for t in tokenizers] == [10, 50, 90]
    named = expand_codec_sweep({"type": "codec", "name": "webp-photo", "format": "webp", "quality": (20, 40)})
    assert [s["name"] for s in named] == ["webp-photo-q20", "webp-photo-q40"]
    # one quality: an unnamed entry is named like a sweep point, a named one keeps its name
    assert expand_codec_sweep({"type": "codec", "format": "webp", "quality": 30}) == [
        {"type": "codec", "format": "webp", "quality": 30, "name": "webp-q30"}
    ]
    assert expand_codec_sweep({"type": "codec"}) == [{"type": "codec", "quality": 75, "name": "jpeg-q75"}]
    named_single = {"type": "codec", "name": "mine", "format": "jpeg", "quality": 75}
    assert expand_codec_sweep(named_single) == [named_single]
    with pytest.raises(UsageError, match="empty quality list"):
        expand_codec_sweep({"type": "codec", "quality": []})
    with pytest.raises(UsageError, match="repeated quality"):
        expand_codec_sweep({"type": "codec", "quality": [50, 50]})
