"""Reference statistics cache: hits, misses, corruption and atomic writes."""

from __future__ import annotations

import contextlib
import logging
import warnings

import numpy as np
import pytest
import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics import reference_cache as ref_cache
from wetok_bench.metrics.functional.fid import FeatureStats
from wetok_bench.metrics.reference_cache import cache_path, cached_reference_stats, default_cache_dir

KEY = {
    "images": "sha256-of-image-list",
    "resolution": 256,
    "preprocess": "short-side-bilinear-antialias+center-crop",
    "protocol": "protocol-fingerprint",
    "feature_kind": "inception-v3-compat",
    "feature_weights_sha256": "abc123",
}


class Counting:
    """A compute() that returns fixed statistics and counts its calls."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.stats = FeatureStats(8).update(torch.from_numpy(rng.normal(size=(30, 8)) + 2.0))
        self.calls = 0

    def __call__(self) -> FeatureStats:
        self.calls += 1
        return self.stats


def same_stats(a: FeatureStats, b: FeatureStats) -> bool:
    return a.n == b.n and torch.equal(a.mean(), b.mean()) and torch.equal(a.covariance(), b.covariance())


def test_hit_on_same_key_and_miss_on_changed_key(tmp_path):
    compute = Counting()
    first, hit = cached_reference_stats(KEY, compute, tmp_path)
    assert hit is False and compute.calls == 1
    # key order does not matter: the file name comes from canonical JSON
    again, hit = cached_reference_stats(dict(reversed(list(KEY.items()))), compute, tmp_path)
    assert hit is True and compute.calls == 1
    assert same_stats(again, compute.stats)
    other, hit = cached_reference_stats({**KEY, "feature_weights_sha256": "def456"}, Counting(1), tmp_path)
    assert hit is False
    assert not same_stats(other, compute.stats)
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_default_folder_is_under_wetok_bench_home(_isolated_home):
    assert default_cache_dir() == _isolated_home / "cache" / "reference_stats"
    cached_reference_stats(KEY, Counting())
    assert cache_path(KEY).is_file() and cache_path(KEY).parent == default_cache_dir()


def test_truncated_file_is_detected_and_recomputed(tmp_path):
    compute = Counting()
    cached_reference_stats(KEY, compute, tmp_path)
    path = cache_path(KEY, tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    with _one_log_line("cannot be read"):
        stats, hit = cached_reference_stats(KEY, compute, tmp_path)
    assert hit is False and compute.calls == 2 and same_stats(stats, compute.stats)
    # overwritten with a good file
    assert cached_reference_stats(KEY, compute, tmp_path)[1] is True


def test_altered_payload_and_foreign_key_are_detected(tmp_path):
    compute = Counting()
    cached_reference_stats(KEY, compute, tmp_path)
    path = cache_path(KEY, tmp_path)
    record = torch.load(path, weights_only=True)
    record["state"]["outer"][0, 0] += 1.0
    torch.save(record, path)
    with _one_log_line("checksum"):
        assert cached_reference_stats(KEY, compute, tmp_path)[1] is False
    record = torch.load(path, weights_only=True)
    record["key"] = record["key"].replace("abc123", "zzz")
    torch.save(record, path)
    with _one_log_line("key differs"):
        assert cached_reference_stats(KEY, compute, tmp_path)[1] is False
    assert compute.calls == 3


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    compute = Counting()
    cached_reference_stats(KEY, compute, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(KEY, tmp_path).name]

    # a crash while rewriting a stale file leaves the old bytes in place (never a half-written
    # file under the final name) and removes the temporary file
    path = cache_path(KEY, tmp_path)
    stale = path.read_bytes()[:200]
    path.write_bytes(stale)

    def failing_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ref_cache.torch, "save", failing_save)
    with _one_log_line("cannot be read"), pytest.raises(OSError, match="disk full"):
        cached_reference_stats(KEY, compute, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_bytes() == stale


def test_compute_must_return_feature_stats(tmp_path):
    with pytest.raises(TypeError, match="FeatureStats"):
        cached_reference_stats(KEY, lambda: {"mu": 0}, tmp_path)
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _one_log_line(fragment: str):
    """Exactly one clean logging line naming ``fragment``, and no Python warning (no source line)."""
    logger = logging.getLogger(ref_cache.__name__)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            yield
    finally:
        logger.removeHandler(handler)
    assert not [w for w in raised if "reference statistics" in str(w.message)]
    messages = [r.getMessage() for r in records]
    assert len(messages) == 1 and fragment in messages[0] and "\n" not in messages[0], messages
    assert records[0].levelno == logging.WARNING


class _Miss(Exception):
    pass


def test_unusable_file_is_reported_once_when_probed_then_stored(tmp_path):
    """The runner first probes for a hit only, then stores what it computed: one line, not two."""
    compute = Counting()
    cached_reference_stats(KEY, compute, tmp_path)
    path = cache_path(KEY, tmp_path)
    path.write_bytes(b"garbage")

    def probe():
        raise _Miss

    with _one_log_line("is unusable (cannot be read"):
        with pytest.raises(_Miss):
            cached_reference_stats(KEY, probe, tmp_path)
        stats, hit = cached_reference_stats(KEY, compute, tmp_path)
    assert hit is False and same_stats(stats, compute.stats)


# --- the Frechet reference's covariance factor, cached next to the statistics ---------------

def _rank_deficient(seed: int, n: int = 6, dim: int = 10) -> FeatureStats:
    """Fewer images than dimensions: the factor comes from a pivoted Cholesky (rank n - 1)."""
    rng = np.random.default_rng(seed)
    return FeatureStats(dim).update(torch.from_numpy(rng.normal(size=(n, dim)) * 3.0 + 1.0))


def _scipy_fid(ref: FeatureStats, other: FeatureStats) -> float:
    """The textbook formula with scipy's sqrtm (independent of our factorisation)."""
    from scipy import linalg

    mu1, mu2 = ref.mean().numpy(), other.mean().numpy()
    s1, s2 = ref.covariance().numpy(), other.covariance().numpy()
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_cached_factor_gives_exactly_the_computed_rfid_and_skips_the_factorisation(tmp_path, monkeypatch):
    from wetok_bench.metrics.functional import fid
    from wetok_bench.metrics.functional.fid import FrechetReference
    from wetok_bench.metrics.reference_cache import cached_frechet_reference, factor_path

    ref, other = _rank_deficient(0), _rank_deficient(1, n=40)
    computed = FrechetReference(ref).distance(other)
    assert computed == pytest.approx(_scipy_fid(ref, other), rel=1e-6)

    first, hit = cached_frechet_reference(KEY, ref, tmp_path)
    assert hit is False and factor_path(KEY, tmp_path).is_file()
    assert first.distance(other) == computed

    def no_factorisation(matrix):
        raise AssertionError("the cached factor should have been used")

    monkeypatch.setattr(fid, "_psd_factor", no_factorisation)
    # statistics as a warm run has them: read back from the statistics cache file
    cached_reference_stats(KEY, lambda: ref, tmp_path)
    reloaded, _ = cached_reference_stats(KEY, Counting(), tmp_path)
    second, hit = cached_frechet_reference(KEY, reloaded, tmp_path)
    assert hit is True
    assert torch.equal(second.cov_factor, first.cov_factor)
    assert second.distance(other) == computed  # bit-identical
    assert second.n == ref.n


def test_factor_of_other_statistics_is_not_used(tmp_path):
    from wetok_bench.metrics.functional.fid import FrechetReference
    from wetok_bench.metrics.reference_cache import cached_frechet_reference

    other = _rank_deficient(2, n=40)
    cached_frechet_reference(KEY, _rank_deficient(0), tmp_path)
    changed = _rank_deficient(3)  # same key, different statistics (e.g. recomputed elsewhere)
    reference, hit = cached_frechet_reference(KEY, changed, tmp_path)
    assert hit is False
    assert reference.distance(other) == FrechetReference(changed).distance(other)
    assert reference.distance(other) == pytest.approx(_scipy_fid(changed, other), rel=1e-6)
    assert cached_frechet_reference(KEY, changed, tmp_path)[1] is True  # stored for the new ones


def test_old_cache_without_factor_stays_valid_and_gains_one(tmp_path):
    from wetok_bench.metrics.reference_cache import cached_frechet_reference, factor_path

    compute = Counting()
    cached_reference_stats(KEY, compute, tmp_path)  # a cache as written before factors existed
    assert not factor_path(KEY, tmp_path).exists()
    stats, hit = cached_reference_stats(KEY, compute, tmp_path)
    assert hit is True and compute.calls == 1
    _, hit = cached_frechet_reference(KEY, stats, tmp_path)
    assert hit is False and factor_path(KEY, tmp_path).is_file()
    assert cached_frechet_reference(KEY, stats, tmp_path)[1] is True


def test_corrupt_or_misshapen_factor_file_is_reported_and_recomputed(tmp_path):
    from wetok_bench.metrics.functional.fid import FrechetReference
    from wetok_bench.metrics.reference_cache import cached_frechet_reference, factor_path

    ref, other = _rank_deficient(0), _rank_deficient(1, n=40)
    cached_frechet_reference(KEY, ref, tmp_path)
    factor_path(KEY, tmp_path).write_bytes(b"garbage")
    with _one_log_line("is unusable (cannot be read"):
        reference, hit = cached_frechet_reference(KEY, ref, tmp_path)
    assert hit is False and reference.distance(other) == FrechetReference(ref).distance(other)
    with pytest.raises(UsageError, match=r"float64 10 x r \(1 <= r <= 10\)"):
        FrechetReference(ref, cov_factor=torch.zeros(9, 9, dtype=torch.float64))
    with pytest.raises(UsageError, match="float64 10 x r"):
        FrechetReference(ref, cov_factor=torch.zeros(10, 11, dtype=torch.float64))


def test_factor_made_another_way_is_not_used(tmp_path, monkeypatch):
    # a factor file from another factorisation method (e.g. the eigh factor of earlier
    # versions) is valid but would not give today's bits: it is recomputed, not loaded
    from wetok_bench.metrics.reference_cache import cached_frechet_reference

    ref = _rank_deficient(3)
    monkeypatch.setattr(ref_cache, "FACTOR_METHOD", "eigh (v1)")
    cached_frechet_reference(KEY, ref, tmp_path)
    monkeypatch.undo()
    with _one_log_line("stored key differs"):
        _, hit = cached_frechet_reference(KEY, ref, tmp_path)
    assert hit is False
    assert cached_frechet_reference(KEY, ref, tmp_path)[1] is True
