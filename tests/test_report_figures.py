"""Rate-distortion plots (valid PNG and SVG, codec curves, left-out values) and reconstruction grids."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from _synthetic_results import _photo_crops, write_synthetic_suite
from PIL import Image

from wetok_bench.errors import UsageError
from wetok_bench.report.grids import comparison_grid, load_grid_images, max_error_window, save_grid, zoom_crop, PAD, HEADER
from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.report.plots import families, plot_rate_distortion
from wetok_bench.results import load_results


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    suite = write_synthetic_suite(tmp_path_factory.mktemp("results"), datasets={"coco-sample": ("coco", 16)})
    (board,) = build_leaderboards(load_results([suite]), n_resamples=50)
    return board


def test_rate_distortion_png_and_svg(board, tmp_path):
    paths, left_out = plot_rate_distortion(board, tmp_path)
    png, svg = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.size[0] > 400 and np.asarray(image.convert("L")).std() > 5
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = svg.read_text()
    for label in ("jpeg", "cosmos", "diffusers-vae", "Cosmos DI16x16", "compression ratio (log)"):
        assert label in text
    assert left_out == ["Identity PSNR (dB): inf"]  # lossless PSNR cannot be drawn


def test_codec_family_is_one_curve_sorted_by_ratio(board):
    groups = families(board)
    jpeg = groups["jpeg"]
    assert [r.name for r in jpeg] == ["jpeg-q90", "jpeg-q50", "jpeg-q30", "jpeg-q10"]
    assert [r.ratio for r in jpeg] == sorted(r.ratio for r in jpeg)
    assert len(groups["cosmos"]) == 1


def test_save_grid_roundtrip_is_lossless(tmp_path):
    originals = _photo_crops(32)
    recon = (originals // 16 * 16).astype(np.uint8)
    save_grid(tmp_path, originals, recon, ["a", "b", "c"], worst=[False, True, True],
              values=[{"lpips": 0.1}, {"lpips": 0.3}, {"lpips": float("inf")}])
    rank, images = load_grid_images(tmp_path)
    assert rank == "lpips" and [g.key for g in images] == ["a", "b", "c"]
    assert [g.worst for g in images] == [False, True, True] and all(g.fixed for g in images)
    for i, g in enumerate(images):
        np.testing.assert_array_equal(g.original, originals[i].transpose(1, 2, 0))
        np.testing.assert_array_equal(g.recon, recon[i].transpose(1, 2, 0))
    assert images[2].values["lpips"] == "inf"  # JSON keeps inf as a string, as results do
    assert load_grid_images(tmp_path / "nothing") == ("", [])


def test_save_grid_refuses_bad_input(tmp_path):
    images = _photo_crops(16)
    with pytest.raises(UsageError, match="expected uint8"):
        save_grid(tmp_path, images.astype(np.float32), images, ["a", "b", "c"])
    with pytest.raises(UsageError, match="differ in shape"):
        save_grid(tmp_path, images, images[:2], ["a", "b", "c"])
    with pytest.raises(UsageError, match="3 images but 2 keys"):
        save_grid(tmp_path, images, images, ["a", "b"])


def test_max_error_window_matches_brute_force():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    recons = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8) for _ in range(2)]
    error = sum(np.abs(original.astype(int) - r.astype(int)).sum(axis=2) for r in recons)
    best = max(((error[t : t + 5, l : l + 5].sum(), (t, l)) for t in range(16) for l in range(20)))[1]
    assert max_error_window(original, recons, 5) == best


def test_comparison_grid_layout_and_zoomed_crop():
    originals = [o.transpose(1, 2, 0) for o in _photo_crops(32)]
    recons = [(o // 32 * 32).astype(np.uint8) for o in originals]
    figure = np.asarray(comparison_grid(originals, [("tok", recons)], zoom=4))
    crop = 32 // 4
    row_height = 32 + PAD + crop * 4 + 2 * PAD
    assert figure.shape == (HEADER + 3 * row_height, 2 * 32 + PAD, 3)
    top, left = max_error_window(originals[1], [recons[1]], crop)
    y = HEADER + row_height
    np.testing.assert_array_equal(figure[y : y + 32, 32 + PAD :], recons[1])  # full tile, second column
    zoomed = figure[y + 32 + PAD : y + 32 + PAD + 32, 32 + PAD :]
    np.testing.assert_array_equal(zoomed, zoom_crop(recons[1], top, left, crop, 4))
    np.testing.assert_array_equal(zoomed[::4, ::4], recons[1][top : top + crop, left : left + crop])
    with pytest.raises(UsageError, match="one image per original"):
        comparison_grid(originals, [("tok", recons[:2])])
