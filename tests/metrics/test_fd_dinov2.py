"""FD-DINOv2 against torch-fidelity 0.4.0's ``dinov2-vit-l-14`` extractor and FID code run outside
the project (``tests/data/fd_dinov2``), on the same random weights file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wetok_bench.core.errors import MissingWeightsError
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.fid import FeatureStats, frechet_distance
from wetok_bench.metrics.networks.vit_features import build_dinov2

DATA = Path(__file__).resolve().parents[1] / "data" / "fd_dinov2"
VEC = dict(np.load(DATA / "vectors.npz"))
META = json.loads((DATA / "vectors.json").read_text())
TAGS = ("64", "256")


def _images(name: str) -> torch.Tensor:
    return torch.from_numpy(VEC[f"{name}_u8"]).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def dinov2(dinov2_weights):
    return build_dinov2(dinov2_weights)


@pytest.mark.parametrize("name", [f"{s}{t}" for t in TAGS for s in ("ref", "rec")])
def test_features_are_torch_fidelitys(dinov2, name):
    ours = dinov2(_images(name)).numpy()
    official = VEC[f"fidelity_features_{name}"]
    assert np.abs(official).max() > 1  # non-trivial features
    # bit for bit on one thread; other thread counts move float32 sums in the last bits
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-5 * np.abs(official).max())
    np.testing.assert_allclose(ours.mean(0), VEC[f"fidelity_mu_{name}"], rtol=0, atol=1e-5 * np.abs(official).max())


def test_dgm_evals_convention_is_another_one(dinov2):
    # dgm-eval resizes with PIL bicubic (antialiased): other features, which this metric does not follow
    ours = dinov2(_images("ref64")).numpy()
    assert np.abs(ours - VEC["dgm_features_ref64"]).max() > 1e-2


@pytest.mark.parametrize("tag", TAGS)
def test_fd_equals_torch_fidelitys(dinov2_weights, tag):
    evaluator = ReconstructionEvaluator("standard", metrics=["fd_dinov2"], weights={"dinov2": dinov2_weights})
    originals, recon_u8 = _images(f"ref{tag}"), _images(f"rec{tag}")
    evaluator.update(originals, recon_u8.float() / 127.5 - 1.0)  # the uint8 view gives back recon_u8 exactly
    reference = evaluator.new_reference()
    evaluator.update_reference(reference, originals)
    block = evaluator.compute_sets(reference)["fd_dinov2"]
    official = META["fd"][f"torch_fidelity_calculate_metrics[{tag}]"]
    # 3 images a side in 1024 dimensions: torch-fidelity's eigvals of S1 S2 add the roots of
    # rounding-noise eigenvalues; the error is bounded by the traces the formula cancels
    ref_stats = FeatureStats(1024).update(torch.from_numpy(VEC[f"fidelity_features_ref{tag}"]))
    rec_stats = FeatureStats(1024).update(torch.from_numpy(VEC[f"fidelity_features_rec{tag}"]))
    traces = ref_stats.covariance_trace() + rec_stats.covariance_trace()
    assert block["fd_dinov2"] == pytest.approx(official, rel=1e-3, abs=2e-6 * traces)
    assert frechet_distance(ref_stats, rec_stats) == pytest.approx(official, rel=1e-3, abs=2e-6 * traces)
    assert block["unreliable"] and "FD-DINOv2 is biased" in block["reason"]


def test_missing_weights_name_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WETOK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(MissingWeightsError) as error:
        ReconstructionEvaluator("standard", metrics=["fd_dinov2"])
    message = str(error.value)
    assert "dinov2_vitl14_pretrain.pth" in message and str(tmp_path / "weights") in message
