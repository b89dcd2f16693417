"""Streaming feature statistics and the Frechet distance against numpy / scipy references."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import scipy.linalg
import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.fid import (
    KEY_FEATURE_DIM,
    KEY_N,
    KEY_N_REF,
    KEY_REASON,
    KEY_RFID,
    KEY_UNRELIABLE,
    FeatureStats,
    FrechetReference,
    fid_result,
    frechet_distance,
)


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    """The pytorch-fid / TTUR formula with scipy's matrix square root."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, 2 * d))
    return a @ a.T / (2 * d) + 0.05 * np.eye(d)


def stats_of(x: np.ndarray, batch: int = 37) -> FeatureStats:
    stats = FeatureStats(x.shape[1])
    for start in range(0, len(x), batch):
        stats.update(torch.from_numpy(x[start : start + batch]))
    return stats


@pytest.mark.parametrize("d", [64, 256])
def test_frechet_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) * 0.3
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    ours = frechet_distance((torch.from_numpy(mu1), torch.from_numpy(s1)), (mu2, s2))
    assert ours == pytest.approx(expected, rel=1e-6)
    # the distance is symmetric
    assert frechet_distance((mu2, s2), (mu1, s1)) == pytest.approx(expected, rel=1e-6)


def test_frechet_analytic_unit_covariances_d2048():
    # pytorch-fid's analytic case: |mu1 - mu2|^2 = 2048 and the covariance terms cancel
    d = 2048
    eye = torch.eye(d, dtype=torch.float64)
    value = frechet_distance((torch.zeros(d), eye), (torch.ones(d), eye))
    assert value == pytest.approx(2048.0, rel=1e-6)


def eigvals_frechet(mu1, s1, mu2, s2) -> float:
    """torch-fidelity 0.4's formula: tr sqrt(S1 S2) from the eigenvalues of S1 S2."""
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def test_frechet_with_singular_reference_covariance():
    # a constant feature (zero row and column) makes Cholesky fail: the eigh factor is used
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 24)) @ rng.normal(size=(24, 24))
    x[:, 5] = 3.0
    ref = stats_of(x)
    other = stats_of(rng.normal(size=(80, 24)) * 1.5 + 0.5)
    args = (ref.mean().numpy(), ref.covariance().numpy(), other.mean().numpy(), other.covariance().numpy())
    assert frechet_distance(ref, other) == pytest.approx(eigvals_frechet(*args), rel=1e-6)
    # rank-deficient from N < d (Cholesky may succeed on rounding-level pivots or not)
    ref_small = stats_of(rng.normal(size=(12, 24)))
    args = (ref_small.mean().numpy(), ref_small.covariance().numpy()) + args[2:]
    assert frechet_distance(ref_small, other) == pytest.approx(eigvals_frechet(*args), rel=1e-6)


def test_frechet_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 96)) @ rng.normal(size=(96, 96)) * 0.2 + 5.0
    stats = stats_of(x)
    assert abs(frechet_distance(stats, stats)) < 1e-6


def test_frechet_reference_reuse_matches_one_shot():
    rng = np.random.default_rng(4)
    ref = stats_of(rng.normal(size=(300, 32)))
    others = [stats_of(rng.normal(size=(200, 32)) * s + s) for s in (0.5, 1.0, 2.0)]
    reference = FrechetReference(ref)
    for other in others:
        mu, cov = other.mean().numpy(), other.covariance().numpy()
        expected = scipy_frechet(ref.mean().numpy(), ref.covariance().numpy(), mu, cov)
        assert reference.distance(other) == pytest.approx(expected, rel=1e-6)
        assert frechet_distance(reference, other) == reference.distance(other)


def test_streaming_stats_equal_numpy_float64_with_large_mean():
    # a mean 1e4 times the spread: raw sums of x x^T would cancel away about 8 digits
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1000, 48)) @ rng.normal(size=(48, 48)) * 0.1 + 1e4
    stats = stats_of(x, batch=64)
    expected_cov = np.cov(x, rowvar=False)
    assert stats.n == 1000
    np.testing.assert_allclose(stats.mean().numpy(), x.mean(axis=0), rtol=1e-13)
    err = np.abs(stats.covariance().numpy() - expected_cov).max() / np.abs(expected_cov).max()
    assert err < 1e-10


def test_streaming_stats_independent_of_batch_size():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(250, 16)) + 3.0
    one_pass = stats_of(x, batch=250)
    for batch in (1, 7, 100):
        other = stats_of(x, batch=batch)
        np.testing.assert_allclose(other.mean().numpy(), one_pass.mean().numpy(), rtol=1e-12)
        np.testing.assert_allclose(other.covariance().numpy(), one_pass.covariance().numpy(), rtol=1e-10, atol=1e-13)


def test_merge_of_two_halves_equals_one_pass():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 24)) * 2.0 + 50.0
    first = stats_of(x[:150])
    second = stats_of(x[150:])  # its own, different shift
    merged = first.merge(second)
    assert merged is first and merged.n == 400
    np.testing.assert_allclose(merged.mean().numpy(), x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(merged.covariance().numpy(), np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
    # merging into empty statistics and merging empty ones change nothing
    empty = FeatureStats(24).merge(second)
    np.testing.assert_allclose(empty.covariance().numpy(), np.cov(x[150:], rowvar=False), rtol=1e-9, atol=1e-12)
    assert first.merge(FeatureStats(24)).n == 400


def test_state_dict_round_trip():
    rng = np.random.default_rng(8)
    stats = stats_of(rng.normal(size=(90, 12)) + 7)
    restored = FeatureStats.from_state_dict(stats.state_dict())
    assert restored.n == 90 and restored.dim == 12
    assert torch.equal(restored.mean(), stats.mean())
    assert torch.equal(restored.covariance(), stats.covariance())
    with pytest.raises(UsageError, match="inconsistent"):
        FeatureStats.from_state_dict({**stats.state_dict(), "outer": torch.zeros(3, 3, dtype=torch.float64)})


def test_fid_result_flags_n_below_feature_dim():
    rng = np.random.default_rng(9)
    small = fid_result(stats_of(rng.normal(size=(20, 32))), stats_of(rng.normal(size=(40, 32))))
    assert small[KEY_UNRELIABLE] is True
    assert "n_ref = 20" in small[KEY_REASON] and "32" in small[KEY_REASON]
    assert (small[KEY_N_REF], small[KEY_N], small[KEY_FEATURE_DIM]) == (20, 40, 32)
    big_ref, big = stats_of(rng.normal(size=(64, 32))), stats_of(rng.normal(size=(50, 32)) + 1)
    result = fid_result(big_ref, big)
    assert result[KEY_UNRELIABLE] is False and result[KEY_REASON] is None
    expected = scipy_frechet(
        big_ref.mean().numpy(), big_ref.covariance().numpy(), big.mean().numpy(), big.covariance().numpy()
    )
    assert result[KEY_RFID] == pytest.approx(expected, rel=1e-6)
    # a cached FrechetReference keeps the reference count
    assert fid_result(FrechetReference(big_ref), big)[KEY_N_REF] == 64


def test_bad_inputs_raise_usage_errors():
    stats = FeatureStats(8)
    with pytest.raises(UsageError, match="B x 8"):
        stats.update(torch.zeros(4, 9))
    with pytest.raises(UsageError, match="NaN"):
        stats.update(torch.full((2, 8), float("nan")))
    stats.update(torch.zeros(1, 8))
    with pytest.raises(UsageError, match="at least 2"):
        stats.covariance()
    with pytest.raises(UsageError, match="dimension"):
        stats.merge(FeatureStats(4))
    with pytest.raises(UsageError, match="differ"):
        frechet_distance((torch.zeros(3), torch.eye(3)), (torch.zeros(4), torch.eye(4)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _all_reduce_worker(rank: int, world: int, port: int, x: np.ndarray, out: dict) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        # disjoint, unequal shards with different shifts (rank 1's features are offset)
        shard = x[:70] if rank == 0 else x[70:]
        stats = stats_of(shard, batch=16).all_reduce()
        out[rank] = (stats.n, stats.mean().numpy(), stats.covariance().numpy())
    finally:
        dist.destroy_process_group()


def test_all_reduce_over_two_processes_equals_one_pass():
    import torch.multiprocessing as mp

    rng = np.random.default_rng(10)
    x = rng.normal(size=(200, 10)) + np.linspace(0, 100, 200)[:, None]
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_all_reduce_worker, args=(2, _free_port(), x, out), nprocs=2, join=True)
    for rank in (0, 1):
        n, mean, cov = out[rank]
        assert n == 200
        np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-10)


def test_all_reduce_without_process_group_is_a_no_op():
    stats = stats_of(np.arange(12.0).reshape(4, 3))
    before = stats.state_dict()
    stats.all_reduce()
    assert all(torch.equal(before[k], stats.state_dict()[k]) for k in before)


def exact_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance of two sample sets without any d x d matrix function: with centred
    features A (n1 x d) and B (n2 x d), tr sqrt(S1 S2) is the nuclear norm of A B^T divided by
    sqrt((n1 - 1)(n2 - 1)) (the nonzero eigenvalues of S1 S2 are the squared singular values of
    A B^T / sqrt(...)); the n1 x n2 product is small and well conditioned."""
    a, b = x - x.mean(axis=0), y - y.mean(axis=0)
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((len(x) - 1) * (len(y) - 1))
    diff = x.mean(axis=0) - y.mean(axis=0)
    return float(diff @ diff + (a * a).sum() / (len(x) - 1) + (b * b).sum() / (len(y) - 1) - 2 * nuclear)


def inception_like(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    # nonnegative, correlated, like pooled Inception features
    z = rng.normal(size=(n, 32)) @ rng.normal(size=(32, d)) * 0.1
    return np.maximum(z + 0.3 * rng.normal(size=(n, d)), 0.0)


@pytest.mark.parametrize("n1, n2", [(40, 40), (300, 40), (40, 300), (300, 300)])
def test_frechet_of_few_images_equals_the_exact_formula(n1, n2):
    # n - 1 < d: the covariances are singular; the eigenvalues beyond rank min(n1-1, n2-1)
    # are rounding noise whose square roots would bias the distance (about 1e-7 relative at
    # d = 256 with all of them, 7e-6 at d = 2048 and 128 images)
    d = 256
    rng = np.random.default_rng(n1 * 1000 + n2)
    x, y = inception_like(rng, n1, d), inception_like(rng, n2, d) * 1.1
    expected = exact_frechet(x, y)
    assert frechet_distance(stats_of(x), stats_of(y)) == pytest.approx(expected, rel=1e-11)
    assert FrechetReference(stats_of(x)).distance(stats_of(y)) == pytest.approx(expected, rel=1e-11)


def test_reference_factor_of_few_images_has_their_rank():
    # pivoted Cholesky keeps at most n - 1 columns (a 2048 x 2048 eigh is not needed)
    rng = np.random.default_rng(5)
    x = inception_like(rng, 30, 128)
    reference = FrechetReference(stats_of(x))
    assert tuple(reference.cov_factor.shape) == (128, 29)
    np.testing.assert_allclose((reference.cov_factor @ reference.cov_factor.T).numpy(), np.cov(x, rowvar=False),
                               rtol=0, atol=1e-12)
    # enough images: the Cholesky factor, d x d and lower triangular
    big = FrechetReference(stats_of(inception_like(rng, 400, 64) + rng.normal(size=(400, 64)) * 0.01))
    assert tuple(big.cov_factor.shape) == (64, 64) and torch.equal(big.cov_factor, big.cov_factor.tril())


def test_frechet_of_identical_images_is_zero():
    # every vector equal: zero covariance, pivoted Cholesky of rank 0
    stats = stats_of(np.tile(np.linspace(0, 1, 32), (10, 1)))
    assert frechet_distance(stats, stats) == 0.0


def test_trace_and_projected_covariance_from_the_sums_equal_numpy():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(70, 48)) @ rng.normal(size=(48, 48)) * 0.3 + 4.0
    stats = stats_of(x, batch=9)
    cov = np.cov(x, rowvar=False)
    assert stats.covariance_trace() == pytest.approx(np.trace(cov), rel=1e-12)
    factor = rng.normal(size=(48, 5))
    np.testing.assert_allclose(stats.projected_covariance(torch.from_numpy(factor)).numpy(), factor.T @ cov @ factor,
                               rtol=1e-10, atol=1e-10)
    # a (mean, covariance) pair and the statistics themselves give the same distance
    other = stats_of(rng.normal(size=(90, 48)) + 1.0)
    pair = (other.mean(), other.covariance())
    reference = FrechetReference(stats)
    assert reference.distance(other) == pytest.approx(reference.distance(pair), rel=1e-12)
