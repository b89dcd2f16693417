"""Rate-distortion plots (valid PNG and SVG, codec curves, left-out values) and reconstruction grids."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from _synthetic_results import DEMO_TOKENIZERS, _photo_crops, skip_metrics, write_synthetic_suite
from PIL import Image

from wetok_bench.core.errors import UsageError
from wetok_bench.report.grids import HEADER, PAD, comparison_grid, max_error_window, zoom_crop
from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.report.plots import families, plot_rate_distortion, rate_distortion_figure
from wetok_bench.results.grid_files import load_grid_images, save_grid
from wetok_bench.results.records import load_results


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    suite = write_synthetic_suite(tmp_path_factory.mktemp("results"), datasets={"coco-sample": ("coco", 16)})
    (board,) = build_leaderboards(load_results([suite]), n_resamples=50)
    return board


def test_rate_distortion_png_and_svg(board, tmp_path):
    paths, left_out = plot_rate_distortion(board, tmp_path)
    png, svg, data = paths
    assert data.suffix == ".csv"
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


@pytest.fixture(scope="module")
def demo_board(tmp_path_factory):
    """The offline demo's shape: JPEG and WebP sweeps (both registry type codec), TAEF2, identity; LPIPS and rFID skipped."""
    suite = write_synthetic_suite(tmp_path_factory.mktemp("demo"), datasets={"samples": ("samples", 11)}, tokenizers=DEMO_TOKENIZERS)
    skip_metrics(suite, ("lpips", "rfid"))
    (board,) = build_leaderboards(load_results([suite]), n_resamples=20)
    return suite, board


def _summary_ratios(suite, prefix):
    """Compression ratios read straight from the jobs' summary.json files, ascending."""
    import json

    return sorted(json.loads(p.read_text())["compression"]["ratio"] for p in suite.glob(f"{prefix}*/summary.json"))


def test_one_line_per_codec_format_every_point_labelled_no_empty_panels(demo_board):
    suite, board = demo_board
    fig, points, left_out = rate_distortion_figure(board)
    assert [a.get_title() for a in fig.axes] == ["PSNR (dB)", "SSIM"]  # LPIPS and rFID skipped: no empty panels
    assert left_out[0] == "no values for rFID, LPIPS (not measured)"
    for axis in fig.axes:
        lines = {line.get_label(): line for line in axis.get_lines()}
        assert set(lines) == {"jpeg", "webp", "taesd", "identity"} - ({"identity"} if axis.get_title().startswith("PSNR") else set())
        # each format is its own curve through its sweep, in ratio order (never one zig-zag "codec" line)
        assert list(lines["jpeg"].get_xdata()) == pytest.approx(_summary_ratios(suite, "jpeg-q"), rel=1e-12)
        assert list(lines["webp"].get_xdata()) == pytest.approx(_summary_ratios(suite, "webp-q"), rel=1e-12)
        labels = sorted(t.get_text() for t in axis.texts)
        drawn = sum(len(line.get_xdata()) for line in lines.values())
        assert len(labels) == drawn  # every point labelled
        shown = {name: spec[2] for name, spec in DEMO_TOKENIZERS.items()}  # display names
        expected = sorted(v for k, v in shown.items() if axis.get_title() == "SSIM" or k != "identity")
        assert labels == expected
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_log_axis_tick_labels_do_not_overlap(demo_board):
    _, board = demo_board
    fig, _, _ = rate_distortion_figure(board)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for axis in fig.axes:
        low, high = axis.get_xlim()
        boxes = [t.get_window_extent(renderer) for t in axis.get_xticklabels()
                 if t.get_visible() and t.get_text() and low <= t.get_position()[0] <= high]
        assert len(boxes) >= 3  # labelled ticks between 1 and 100 (1, 2, 5, 10, 20, 50, 100)
        boxes.sort(key=lambda b: b.x0)
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]
        # minor ticks carry no labels (they are what overlapped)
        assert all(not t.get_text() for t in axis.xaxis.get_minorticklabels())
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_figure_data_written_beside_it(demo_board, tmp_path):
    import pandas as pd

    suite, board = demo_board
    paths, _ = plot_rate_distortion(board, tmp_path)
    frame = pd.read_csv(paths[2])
    ssim = frame[frame.metric == "ssim"].set_index("tokenizer")
    per_image = pd.read_csv(suite / "webp-q50__samples__256" / "per_image.csv")
    assert ssim.loc["webp-q50", "value"] == pytest.approx(per_image["ssim"].mean(), rel=1e-12)
    assert ssim.loc["webp-q50", "series"] == "webp" and ssim.loc["jpeg-q10", "series"] == "jpeg"
    assert set(frame.metric) == {"psnr", "ssim"}


def test_nothing_to_draw_writes_no_figure(tmp_path):
    suite = write_synthetic_suite(tmp_path / "r", datasets={"samples": ("samples", 4)},
                                  tokenizers={k: DEMO_TOKENIZERS[k] for k in ("jpeg-q10", "taef2")})
    skip_metrics(suite, ("psnr", "ssim", "lpips", "rfid"))
    (board,) = build_leaderboards(load_results([suite]), n_resamples=20)
    paths, left_out = plot_rate_distortion(board, tmp_path / "plots")
    assert paths == [] and left_out == ["no values for rFID, PSNR (dB), SSIM, LPIPS (not measured)"]


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
              values=[{"lpips": 0.1}, {"lpips": 0.3}, {"lpips": float("inf")}], rank_metric="lpips")
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


def test_worst_across_tokenizers_by_mean_rank_without_identity(tmp_path):
    """Each job saves its own 2 worst by LPIPS; the grid shows the 2 with the best (lowest) mean
    scaled rank over the non-identity jobs, computed here with pandas' rank."""
    import pandas as pd

    from wetok_bench.report.worst import grid_columns, shown_rows, worst_across

    names = ("jpeg-q10", "jpeg-q90", "webp-q50", "taef2", "identity")
    suite = write_synthetic_suite(tmp_path / "r", datasets={"samples": ("samples", 6)},
                                  tokenizers={k: DEMO_TOKENIZERS[k] for k in names})
    photos = _photo_crops(16)
    scaled = {}
    for name in names:
        folder = suite / f"{name}__samples__256"
        frame = pd.read_csv(folder / "per_image.csv")
        worst2 = set(frame.sort_values("lpips", ascending=False)["key"][:2])
        keys = sorted(worst2) + [next(k for k in frame["key"] if k not in worst2)]  # plus one fixed image
        save_grid(folder, photos, photos // 2 * 2, keys, fixed=[k not in worst2 for k in keys], worst=[k in worst2 for k in keys],
                  rank_metric="lpips")
        if name != "identity":
            rank = frame.set_index("key")["lpips"].rank(ascending=False, method="first") - 1
            scaled[name] = rank / (len(frame) - 1)
    (board,) = build_leaderboards(load_results([suite]), n_resamples=20)
    loaded = [(row, *load_grid_images(row.job.folder)) for row in board.rows]
    shown = shown_rows(loaded)
    assert sorted(row.name for row, _, _ in shown) == sorted(set(names) - {"identity"})
    metric, worst = worst_across(shown)
    candidates = {g.key for _, _, images in shown for g in images if g.worst}
    mean = pd.DataFrame(scaled).mean(axis=1).loc[sorted(candidates)].sort_values(kind="stable")
    assert metric == "lpips" and [w.key for w in worst] == list(mean.index[:2])
    assert [w.mean_rank for w in worst] == pytest.approx(list(mean.iloc[:2]), abs=1e-12)
    originals, columns, lacking = grid_columns(shown, [w.key for w in worst])
    assert len(columns) == 4 and all(len(tiles) == 2 for _, tiles in columns)
    for (row, _, images), (label, tiles) in zip(shown, columns):
        saved = {g.key for g in images}
        for key, tile in zip([w.key for w in worst], tiles):
            assert (key in saved) == (f"{row.tokenizer} ({key})" not in lacking)
            if key not in saved:
                assert (tile == 200).all()  # grey: not saved by that job


def test_grid_labels_grow_with_the_tiles():
    """256 px tiles: a 25 px label row font (a tenth of the tile), so names stay legible at page width."""
    originals = [np.zeros((256, 256, 3), dtype=np.uint8) + 128]
    figure = np.asarray(comparison_grid(originals, [("a-long-tokenizer-name", originals)]))
    crop = 256 // 4
    assert figure.shape[0] == 30 + 256 + PAD + crop * 4 + 2 * PAD  # header = 25 + 5
    ink = np.where((figure[:30, 256 + PAD :] < 100).any(axis=(1, 2)))[0]
    assert ink.max() - ink.min() >= 15  # glyphs at least 15 px tall (the bitmap default is 11)
