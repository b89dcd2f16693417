"""rFID against another reference set: ``rfid: {reference_stats: PATH}`` (ADM's npz layout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wetok_bench.config.suite import SuiteError, parse_suite
from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.registry import metric_settings


def _exact_fid(mu_ref: np.ndarray, sigma_ref: np.ndarray, features: np.ndarray) -> float:
    """FID of ``features`` (n x d) against (mu, sigma) in float64, through the n x n matrix
    A S A^T (A: centred features), whose eigenvalues are those of S (A^T A), with no d x d root."""
    n = features.shape[0]
    centred = features - features.mean(0)
    inner = centred @ sigma_ref @ centred.T / (n - 1)
    root_trace = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = features.mean(0) - mu_ref
    return float(diff @ diff + np.trace(sigma_ref) + (centred**2).sum() / (n - 1) - 2 * root_trace)


@pytest.fixture
def adm_npz(tmp_path) -> tuple:
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(60, 2048)) * 0.05
    mu = rng.normal(size=2048) * 0.1
    sigma = basis.T @ basis / 59 + np.diag(np.full(2048, 1e-3))
    path = tmp_path / "VIRTUAL_like.npz"
    np.savez(path, arr_0=np.zeros((1, 8, 8, 3), np.uint8), mu=mu, sigma=sigma)  # ADM's keys
    return path, mu, sigma


def test_rfid_against_stored_statistics(adm_npz, fidelity_inception_weights, photos):
    path, mu, sigma = adm_npz
    settings = metric_settings(["rfid"], {"rfid": {"reference_stats": str(path)}})
    evaluator = ReconstructionEvaluator("llamagen", metrics=["rfid"], inception_weights=fidelity_inception_weights,
                                        settings=settings)
    originals = torch.stack([torch.from_numpy(np.ascontiguousarray(a[:64, :64])).permute(2, 0, 1)
                             for a in photos.values()])
    recon = originals.float() / 127.5 - 1 + 0.05 * torch.randn(originals.shape, generator=torch.Generator().manual_seed(0))
    evaluator.update(originals, recon)
    features = evaluator.last_features["inception-v3-compat"].numpy()
    reference = evaluator.new_reference()
    evaluator.update_reference(reference, originals)
    block = evaluator.compute_sets(reference)["rfid"]
    assert block["rfid"] == pytest.approx(_exact_fid(mu, sigma, features), rel=1e-9)
    assert block["reference"]["reference_stats"] == str(path) and len(block["reference"]["sha256"]) == 64
    plain = ReconstructionEvaluator("llamagen", metrics=["rfid"], inception_weights=fidelity_inception_weights)
    assert "metric_settings" not in plain.fingerprint()  # no block: nothing recorded, fingerprints unchanged
    assert evaluator.fingerprint()["metric_settings"]["rfid"]["sha256"] == block["reference"]["sha256"]


def test_bad_reference_stats_are_refused_before_any_work(tmp_path, adm_npz):
    base = {"name": "s", "datasets": [{"type": "samples"}], "tokenizers": [{"type": "identity"}], "metrics": ["rfid"]}
    with pytest.raises(SuiteError, match="rfid.reference_stats: file not found"):
        parse_suite({**base, "rfid": {"reference_stats": str(tmp_path / "missing.npz")}})
    with pytest.raises(SuiteError, match=r"rfid: expected \{reference_stats: PATH\}"):
        parse_suite({**base, "rfid": {"stats": "x"}})
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu=np.zeros(16))
    settings = metric_settings(["rfid"], {"rfid": {"reference_stats": str(bad)}})
    from wetok_bench.metrics.rfid import load_reference_stats

    with pytest.raises(UsageError, match="no sigma"):
        load_reference_stats(settings["rfid"], 2048)
