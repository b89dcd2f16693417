"""Decoding odd image files and the resize/crop preprocessing.

References: values computed by hand from the documented conversions (PIL's CMYK rule
``(255 - c)(255 - k) / 255``, 16-bit scaled by 255 / 65535), PIL's own resize, and torchvision's
``Resize(R)`` + ``CenterCrop(R)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from wetok_bench.data.base import ImageRecord
from wetok_bench.data.images import ImageError, is_image_file, load_rgb, load_u8
from wetok_bench.data.loader import iterate_batches
from wetok_bench.data.preprocess import center_crop_u8, preprocess


def _pixel(path: Path, xy=(1, 1)) -> tuple[int, ...]:
    return tuple(int(v) for v in load_u8(path)[:, xy[1], xy[0]])


def test_grayscale_and_gray_alpha_become_gray_rgb(tmp_path):
    Image.new("L", (4, 3), 77).save(tmp_path / "l.png")
    Image.new("LA", (4, 3), (100, 0)).save(tmp_path / "la.png")
    assert _pixel(tmp_path / "l.png") == (77, 77, 77)
    assert _pixel(tmp_path / "la.png") == (100, 100, 100)  # alpha dropped, not blended
    assert load_u8(tmp_path / "l.png").shape == (3, 3, 4)


def test_rgba_png_drops_alpha(tmp_path):
    Image.new("RGBA", (5, 5), (10, 20, 30, 0)).save(tmp_path / "rgba.png")
    assert _pixel(tmp_path / "rgba.png") == (10, 20, 30)


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 200, 50, 25] + [0] * (256 * 3 - 6))
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "p.png", transparency=1)
    assert Image.open(tmp_path / "p.png").info.get("transparency") == 1
    assert _pixel(tmp_path / "p.png", (2, 2)) == (200, 50, 25)
    assert _pixel(tmp_path / "p.png", (0, 0)) == (0, 0, 0)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 16), (100, 0, 0, 50)).save(tmp_path / "cmyk.jpg", quality=100)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    # (255 - c)(255 - k) / 255: R = 155 * 205 / 255 = 124.6, G = B = 205; JPEG may move a flat
    # colour by a level or two.
    got = np.array(_pixel(tmp_path / "cmyk.jpg", (8, 8)))
    assert np.abs(got - np.array([125, 205, 205])).max() <= 2


def test_16bit_grayscale_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    got = load_u8(tmp_path / "g16.png")
    # round(v * 255 / 65535): 0, 1, 3.891 -> 4, 127.502 -> 128, 255 (PIL alone would clip 1000 to 255)
    expected = torch.tensor([[0, 1, 4, 128, 255]], dtype=torch.uint8)
    for channel in range(3):
        assert torch.equal(got[channel], expected)


def test_corrupt_files_raise_image_error(tmp_path, photos):
    Image.fromarray(photos["chelsea"]).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.jpg").write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="truncated"):
        load_rgb(tmp_path / "cut.jpg")
    with pytest.raises(ImageError, match="not a recognised image format"):
        load_rgb(tmp_path / "text.jpg")
    with pytest.raises(ImageError, match="not found"):
        load_rgb(tmp_path / "absent.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"^empty file \(0 bytes\)$"):
        load_rgb(tmp_path / "empty.jpg")
    assert is_image_file(tmp_path / "X.JPEG") and not is_image_file(tmp_path / "notes.txt")


def test_loader_reports_unreadable_files_in_their_batch(tmp_path, photos):
    Image.fromarray(photos["astronaut"][:64, :64]).save(tmp_path / "a.png")
    Image.fromarray(photos["chelsea"]).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "b_cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "c_text.jpg").write_text("not an image")
    Image.fromarray(photos["coffee"][:50, :70]).save(tmp_path / "d.png")
    (tmp_path / "e_empty.jpg").write_bytes(b"")
    names = ["a.png", "b_cut.jpg", "c_text.jpg", "d.png", "e_empty.jpg"]
    records = [ImageRecord(n, tmp_path / n, {"i": i}) for i, n in enumerate(names)]
    batches = list(iterate_batches(records, 32, batch_size=2))
    assert [b.keys for b in batches] == [["a.png"], ["d.png"], []]
    assert [k for k, _ in batches[0].skipped] == ["b_cut.jpg"] and "truncated" in batches[0].skipped[0][1]
    assert [k for k, _ in batches[1].skipped] == ["c_text.jpg"]
    assert "not a recognised image format" in batches[1].skipped[0][1]
    assert batches[2].skipped == [("e_empty.jpg", "empty file (0 bytes)")]
    assert batches[1].meta == [{"i": 3}] and batches[1].indices == [3]
    assert batches[0].images.shape == (1, 3, 32, 32) and batches[0].images.dtype == torch.uint8
    # A stretch with no readable image still yields a (empty) batch carrying its skips.
    only_bad = list(iterate_batches(records[1:3], 32, batch_size=2))
    assert len(only_bad) == 1 and only_bad[0].images.shape == (0, 3, 32, 32)
    assert [k for k, _ in only_bad[0].skipped] == ["b_cut.jpg", "c_text.jpg"]


@pytest.mark.parametrize("name,resolution", [("chelsea", 256), ("rocket", 224), ("astronaut", 256), ("coffee", 97)])
def test_preprocess_equals_torchvision_resize_center_crop(photos, name, resolution):
    image = Image.fromarray(photos[name])
    reference = transforms.Compose(
        [transforms.Resize(resolution), transforms.CenterCrop(resolution), transforms.PILToTensor()]
    )(image)
    got = preprocess(image, resolution)
    assert got.dtype == torch.uint8 and got.shape == (3, resolution, resolution)
    assert torch.equal(got, reference)


def test_preprocess_equals_hand_sized_pil_resize(photos):
    # chelsea is 451 x 300: short side 300 -> 256, long side int(256 * 451 / 300) = int(384.85) = 384;
    # the crop starts at round((384 - 256) / 2) = 64.
    image = Image.fromarray(photos["chelsea"])
    resized = np.asarray(image.resize((384, 256), Image.BILINEAR))
    expected = torch.from_numpy(resized[:, 64:320].copy()).permute(2, 0, 1)
    assert torch.equal(center_crop_u8(image, 256), expected)


def test_small_image_is_upscaled_to_the_crop(photos, tmp_path):
    # 30 x 20 -> short side 64, long side int(64 * 30 / 20) = 96, crop starts at 16.
    small = Image.fromarray(photos["coffee"][100:120, 200:230])
    expected = torch.from_numpy(np.asarray(small.resize((96, 64), Image.BILINEAR))[:, 16:80].copy()).permute(2, 0, 1)
    got = preprocess(small, 64)
    assert got.shape == (3, 64, 64) and torch.equal(got, expected)
    small.save(tmp_path / "small.png")
    (batch,) = iterate_batches([ImageRecord("small.png", tmp_path / "small.png")], 64, batch_size=4)
    assert torch.equal(batch.images[0], expected) and batch.original_sizes == [(20, 30)]


def test_original_resolution_keeps_pixels(photos):
    image = Image.fromarray(photos["rocket"])
    got = preprocess(image, "original")
    assert torch.equal(got, torch.from_numpy(photos["rocket"]).permute(2, 0, 1))
