"""The report's pairwise tables: each pair of jobs on the same images, their paired differences."""

from __future__ import annotations

import pandas as pd
import pytest
from _synthetic_results import TOKENIZERS, write_synthetic_suite

from wetok_bench.report.build import build_report
from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.report.pairwise import RESOLVED_MARK, pairwise_table
from wetok_bench.results.records import load_results

SOME = {k: TOKENIZERS[k] for k in ("jpeg-q30", "jpeg-q50", "sd-vae-ft-mse")}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return write_synthetic_suite(tmp_path_factory.mktemp("pairwise"), tokenizers=SOME,
                                 datasets={"coco-sample": ("coco", 40)})


def _table(suite):
    (board,) = build_leaderboards(load_results([suite]))
    return board, pairwise_table(board, n_resamples=500, seed=1)


def test_one_row_per_pair_with_the_paired_mean_difference(suite):
    board, table = _table(suite)
    assert len(table.rows) == 3  # C(3, 2)
    frames = {r.tokenizer: pd.read_csv(r.job.folder / "per_image.csv").set_index("key") for r in board.rows}
    column = table.headers.index("Δ PSNR (B - A)")
    for row in table.rows:
        a, b = frames[row[0].text], frames[row[1].text]
        expected = (b["psnr"] - a.loc[b.index, "psnr"]).mean()  # same images, matched by key
        assert row[column].value == pytest.approx(expected, rel=1e-12)
        low, high = (float(x) for x in row[column].text.split("[")[1].rstrip("]").split(","))
        assert low < row[column].value < high
        assert (row[column].mark == RESOLVED_MARK) == (low > 0 or high < 0)


def test_a_large_consistent_difference_is_resolved_and_needs_few_images(suite):
    _, table = _table(suite)
    row = next(r for r in table.rows if {r[0].text, r[1].text} == {"JPEG q30", "SD-VAE ft-MSE"})
    column = table.headers.index("Δ SSIM (B - A)")
    assert row[column].mark == RESOLVED_MARK  # SSIM 0.80 against 0.71, sd 0.05 per image
    assert row[column + 1].value < 1e-6 and row[column + 2].value < 40
    assert any("needs about" in note and "check's tolerance" in note for note in table.notes)


def test_the_report_writes_the_pairwise_tables(suite, tmp_path):
    build_report([suite], tmp_path / "report", baselines_dir=None)
    text = (tmp_path / "report" / "pairwise.md").read_text()
    assert "pairwise" in text and "Wilcoxon" in text
    assert 'id="pairwise' in (tmp_path / "report" / "index.html").read_text()
