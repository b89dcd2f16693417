"""``keep_features: true``: each set metric's network features per image, and the report's paired
set-metric bootstrap from them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_runs import photo_folder

from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite
from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.report.pairwise import pairwise_table
from wetok_bench.results.features import read_features
from wetok_bench.results.records import load_results


def _suite(images, out, weights, **extra):
    return parse_suite({
        "name": "kept", "metrics": ["psnr", "rfid", "kid"], "kid": {"subsets": 4, "subset_size": 3},
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": [5, 60]}],
        "resolution": 48, "batch_size": 3, "num_workers": 0, "device": "cpu", "output": str(out),
        "weights": {"inception": str(weights)}, **extra,
    })


def _exact_fid(original: np.ndarray, recon: np.ndarray) -> float:
    """FID of two small sets from the centred feature matrices (nuclear norm; no d x d root)."""
    a, b = original.astype(np.float64), recon.astype(np.float64)
    n = a.shape[0]
    ca, cb = a - a.mean(0), b - b.mean(0)
    root = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / (n - 1)
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + ((ca**2).sum() + (cb**2).sum()) / (n - 1) - 2 * root)


@pytest.fixture(scope="module")
def kept(tmp_path_factory, photos, fidelity_inception_weights):
    root = tmp_path_factory.mktemp("kept")
    images = photo_folder(root / "images", photos, count=7, size=64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WETOK_BENCH_HOME", str(root / "home"))
        report = run_suite(_suite(images, root / "out", fidelity_inception_weights, keep_features=True), progress=False)
    assert report.exit_code == 0
    return root, images, root / "out" / "kept"


def test_features_are_kept_per_image_in_row_order(kept):
    _, _, folder = kept
    job = folder / "jpeg-q5__imgs__48"
    keys, recon, original = read_features(job, "inception-v3-compat")
    rows = [line.split(",")[0] for line in (job / "per_image.csv").read_text().splitlines()[1:]]
    assert keys == rows and recon.shape == original.shape == (7, 2048) and recon.dtype == np.float32
    summary = json.loads((job / "summary.json").read_text())
    # the kept features are the ones the rFID was computed from (float32 storage: 1e-6 relative)
    assert _exact_fid(original, recon) == pytest.approx(summary["metrics"]["rfid"], rel=1e-5)


def test_the_report_bootstraps_set_metrics_over_the_same_images(kept):
    _, _, folder = kept
    (board,) = build_leaderboards(load_results([folder]))
    table = pairwise_table(board, n_resamples=200, seed=0, set_resamples=30)
    (row,) = table.rows
    rfid = {r.tokenizer: json.loads((r.job.folder / "summary.json").read_text())["metrics"]["rfid"] for r in board.rows}
    cell = row[table.headers.index("Δ rFID (B - A)")]
    assert cell.value == pytest.approx(rfid[row[1].text] - rfid[row[0].text], rel=1e-5)
    low, high = (float(x) for x in cell.text.split("[")[1].rstrip("]").split(","))
    assert low <= high
    assert "Δ KID (B - A)" in table.headers and any("paired bootstrap" in note for note in table.notes)


def test_a_job_finished_without_features_is_measured_again_when_they_are_asked_for(kept, tmp_path,
                                                                                       fidelity_inception_weights):
    _, images, _ = kept
    out = tmp_path / "out"
    first = run_suite(_suite(images, out, fidelity_inception_weights), progress=False)
    assert first.exit_code == 0 and read_features(out / "kept" / "jpeg-q5__imgs__48", "inception-v3-compat") is None
    again = run_suite(_suite(images, out, fidelity_inception_weights, keep_features=True), progress=False)
    assert not any(o.reused for o in again.outcomes)
    assert read_features(out / "kept" / "jpeg-q5__imgs__48", "inception-v3-compat") is not None
    third = run_suite(_suite(images, out, fidelity_inception_weights), progress=False)
    assert not any(o.reused for o in third.outcomes)  # another fingerprint: measured, and the files removed
    assert not (out / "kept" / "jpeg-q5__imgs__48" / "features").exists()
