"""Leaderboards: numbers against pandas on the written per_image.csv, bootstrap intervals against a
numpy reference, sorting, and the Markdown / CSV / LaTeX / HTML writers."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from _synthetic_results import write_synthetic_suite

from wetok_bench.core.errors import UsageError
from wetok_bench.report import tables
from wetok_bench.results.bootstrap import bootstrap_mean_ci, bootstrap_means
from wetok_bench.report.leaderboard import build_leaderboards, sort_leaderboard
from wetok_bench.results.records import load_results


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return write_synthetic_suite(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def boards(suite):
    return {b.dataset: b for b in build_leaderboards(load_results([suite]))}


def _reference_ci(values: np.ndarray, n_resamples=1000, seed=0, confidence=0.95):
    """Percentile bootstrap written out with numpy: one (B, N) draw, quantiles of the means."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    return np.percentile(means, [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2])


def test_leaderboard_numbers_equal_pandas_on_per_image_csv(suite, boards):
    board = boards["coco-sample"]
    frame = pd.read_csv(io.StringIO(tables.to_csv(board))).set_index("name")
    assert len(frame) == 7
    for job_dir in sorted(suite.iterdir()):
        if "coco-sample" not in job_dir.name:
            continue
        name = job_dir.name.split("__")[0]
        per_image = pd.read_csv(job_dir / "per_image.csv")
        row = frame.loc[name]
        assert row["images"] == len(per_image)
        assert row["bits_per_image"] == pytest.approx(per_image["bits"].mean(), rel=1e-12)
        for metric in ("ssim", "lpips"):
            assert row[metric] == pytest.approx(per_image[metric].mean(), rel=1e-12, abs=1e-15)
        if name == "identity":
            assert math.isinf(per_image["psnr"].mean()) and math.isinf(row["psnr"])
            assert row["psnr_lossless_images"] == len(per_image)
            assert pd.isna(row["psnr_ci_low"])
        else:
            assert row["psnr"] == pytest.approx(per_image["psnr"].mean(), rel=1e-12)
            low, high = _reference_ci(per_image["psnr"].to_numpy())
            assert row["psnr_ci_low"] == pytest.approx(low, rel=1e-12)
            assert row["psnr_ci_high"] == pytest.approx(high, rel=1e-12)
        # compression ratio is the runner's figure (mean of per-image ratios): H*W*24 / bits per image
        assert row["compression_ratio"] == pytest.approx((256 * 256 * 24 / per_image["bits"]).mean(), rel=1e-12)


def test_bootstrap_matches_numpy_reference_and_blocking():
    values = np.random.default_rng(7).normal(25.0, 3.0, size=101)
    ci = bootstrap_mean_ci(values, n_resamples=1000, seed=3)
    low, high = _reference_ci(values, seed=3)
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-13)
    assert ci.mean == pytest.approx(values.mean(), rel=1e-15)
    assert ci.half_width == pytest.approx((high - low) / 2)
    # drawing the index matrix in blocks of rows yields the same stream as one draw
    single = values[np.random.default_rng(3).integers(0, 101, size=(1000, 101))].mean(axis=1)
    np.testing.assert_array_equal(bootstrap_means(values, n_resamples=1000, seed=3, block_elements=7 * 101 + 5), single)
    # a 95% interval of a normal mean is about +-1.96 sigma / sqrt(N)
    assert ci.half_width == pytest.approx(1.96 * values.std(ddof=1) / math.sqrt(101), rel=0.15)


def test_bootstrap_constant_infinite_and_tiny_inputs():
    constant = bootstrap_mean_ci(np.full(20, 0.5))
    assert (constant.low, constant.high, constant.mean) == (0.5, 0.5, 0.5)
    lossless = bootstrap_mean_ci([30.0, math.inf, 31.0, float("nan")])
    assert math.isinf(lossless.mean) and lossless.low is None and lossless.n_infinite == 1 and lossless.n == 3
    assert bootstrap_mean_ci([12.0]).low is None
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0, 2.0], confidence=1.0)


def test_notes_mark_unreliable_rfid_skipped_metrics_and_lossless(boards):
    board = boards["imagenet-sample"]
    text = tables.to_markdown(tables.leaderboard_table(board))
    assert "rFID has no interval" in text
    assert "† rFID unreliable (N = 30 images < feature dimension 2048)" in text
    assert "Cosmos DI16x16: lpips skipped - weights missing" in text
    assert "Identity: 30 of 30 images reconstructed losslessly" in text
    cosmos = next(r for r in board.rows if r.name == "cosmos-di16x16")
    assert cosmos.stats["lpips"] is None
    assert "| 4.60† |" in text
    # a note about every row says so instead of listing every name
    assert "† rFID unreliable (N = 30 images < feature dimension 2048): All 7 tokenizers." in text


def _names(board):
    return [r.name for r in board.rows]


def test_sorting_uses_direction_and_puts_missing_last(boards):
    board = boards["imagenet-sample"]
    by_psnr = sort_leaderboard(board, "psnr")
    psnr = [r.stats["psnr"].mean for r in by_psnr.rows]
    assert psnr == sorted(psnr, reverse=True) and by_psnr.rows[0].name == "identity"
    by_lpips = sort_leaderboard(board, "lpips")
    assert _names(by_lpips)[0] == "identity" and _names(by_lpips)[-1] == "cosmos-di16x16"
    worst_first = sort_leaderboard(board, "-lpips")
    lpips = [r.stats["lpips"].mean for r in worst_first.rows[:-1]]
    assert lpips == sorted(lpips, reverse=True) and _names(worst_first)[-1] == "cosmos-di16x16"
    by_ratio = sort_leaderboard(board, "ratio")
    assert [r.ratio for r in by_ratio.rows] == sorted(r.ratio for r in board.rows)
    assert _names(sort_leaderboard(board, "tokenizer"))[:2] == ["cosmos-di16x16", "identity"]
    with pytest.raises(UsageError, match="cannot sort by 'fid'"):
        sort_leaderboard(board, "fid")


def test_latex_has_booktabs_rules_and_escapes(boards):
    table = tables.leaderboard_table(boards["coco-sample"])
    latex = tables.to_latex(table)
    lines = latex.splitlines()
    top, mid, bottom = lines.index(r"\toprule"), lines.index(r"\midrule"), lines.index(r"\bottomrule")
    assert top < mid < bottom and bottom - mid - 1 == len(table.rows)
    assert r"\hline" not in latex
    assert r"$\pm$" in latex and r"$^\dagger$" in latex
    assert tables.latex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"


def test_markdown_and_html_rows(boards):
    table = tables.leaderboard_table(boards["coco-sample"])
    markdown = tables.to_markdown(table)
    body = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(body) == 1 + len(table.rows)
    assert "| JPEG q90 | codec |" in markdown
    fragment = tables.to_html(table)
    assert fragment.count("<tr>") == 1 + len(table.rows)
    assert 'data-sort="Infinity"' in fragment  # identity's PSNR sorts as +inf


def test_failed_jobs_are_noted_not_ranked(tmp_path):
    import json

    suite = write_synthetic_suite(tmp_path, datasets={"coco-sample": ("coco", 8)})
    path = suite / "sd-vae-ft-mse__coco-sample__256" / "summary.json"
    summary = json.loads(path.read_text())
    summary.update(status="failed", error="tokenizer returned NaN")
    path.write_text(json.dumps(summary))
    (board,) = build_leaderboards(load_results([suite]), n_resamples=20)
    assert "sd-vae-ft-mse" not in [r.name for r in board.rows] and len(board.rows) == 6
    assert "sd-vae-ft-mse: job failed - tokenizer returned NaN" in board.notes
