"""Paired comparisons: the statistics against hand-computed cases and an exact enumeration, the
interval's coverage by simulation (seeds recorded), the images a difference needs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from wetok_bench.results.paired import images_needed, match_keys, paired_difference, paired_set_bootstrap


def _exact_wilcoxon_two_sided(d: np.ndarray) -> float:
    """Exact p of the signed-rank statistic by enumerating all 2^n sign patterns (no ties, no zeros)."""
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    observed = ranks[d < 0].sum()
    expected = ranks.sum() / 2
    extreme = abs(observed - expected)
    count = sum(abs(sum(r for r, s in zip(ranks, signs) if s) - expected) >= extreme - 1e-12
                for signs in itertools.product((0, 1), repeat=len(d)))
    return count / 2 ** len(d)


def test_sign_and_wilcoxon_equal_the_hand_computed_values():
    a = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 20.0])
    b = a + np.array([1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, 0.0])  # one tie at 0, left out
    result = paired_difference(a, b, seed=3)
    assert (result.n, result.n_positive, result.n_negative, result.n_zero) == (8, 6, 1, 1)
    # sign test: 6 of 7 non-zero differences positive: p = 2 (C(7,0) + C(7,1)) / 2^7 = 0.125
    assert result.p_sign == pytest.approx(2 * (1 + 7) / 2**7, rel=1e-12)
    # signed ranks: W- = 3 (the |-3| is rank 3); subsets of {1..7} summing to <= 3: {}, {1}, {2}, {3}, {1, 2}
    assert result.p_wilcoxon == pytest.approx(2 * 5 / 2**7, rel=1e-12)
    assert result.p_wilcoxon == pytest.approx(_exact_wilcoxon_two_sided(np.array([1.0, 2, -3, 4, 5, 6, 7])), rel=1e-12)
    assert result.mean == pytest.approx(22 / 8) and result.mean_b - result.mean_a == pytest.approx(result.mean)


def test_the_interval_covers_the_true_difference_at_its_level():
    # 200 simulated comparisons (seed 11) of n = 60 paired differences ~ N(0.3, 1): a 90 % interval
    # must cover 0.3 in about 90 % of them (binomial sd 2.1 %: 83 % .. 97 % is 3.3 sd)
    rng = np.random.default_rng(11)
    covered = 0
    for trial in range(200):
        a = rng.normal(size=60)
        b = a + rng.normal(0.3, 1.0, size=60)
        result = paired_difference(a, b, n_resamples=400, seed=trial, confidence=0.9)
        covered += result.low <= 0.3 <= result.high
    assert 0.83 <= covered / 200 <= 0.97


def test_resolved_and_unresolved_differences():
    rng = np.random.default_rng(5)
    a = rng.normal(30.0, 2.0, size=400)
    clear = paired_difference(a, a + 0.5 + rng.normal(0, 0.5, size=400), seed=0)
    half = rng.normal(0, 0.5, size=200)
    noise = paired_difference(a, a + np.concatenate([half, -half]), seed=0)  # differences of mean exactly 0
    assert clear.resolved and clear.low > 0 and clear.p_wilcoxon < 1e-10
    assert not noise.resolved and noise.low < 0 < noise.high and noise.p_wilcoxon > 0.01
    # the images a difference of the observed size needs: fewer than measured when resolved
    assert clear.images_needed() < 400


def test_images_needed_is_the_normal_approximation():
    # sd 1, difference 0.5, 5 % two-sided, 80 % power: ((1.959964 + 0.841621) / 0.5)^2 = 31.4 -> 32
    assert images_needed(1.0, 0.5, alpha=0.05, power=0.8) == 32
    assert images_needed(2.0, 0.5, alpha=0.05, power=0.8) == math.ceil(((1.959964 + 0.841621) * 4) ** 2)
    assert images_needed(None, 0.5) is None and images_needed(1.0, 0.0) is None


def test_infinite_values_and_unmatched_keys_are_left_out_and_counted():
    a, b, unmatched = match_keys(["x", "y", "z"], [1.0, 2.0, 3.0], ["z", "x", "w"], [30.0, 10.0, 99.0])
    assert a.tolist() == [1.0, 3.0] and b.tolist() == [10.0, 30.0] and unmatched == 2
    result = paired_difference([1.0, math.inf, 3.0], [2.0, math.inf, 5.0])
    assert result.n == 2 and result.n_infinite == 1 and result.mean == pytest.approx(1.5)


def test_paired_set_bootstrap_of_a_mean_distance():
    # a set metric that is a plain mean distance: its paired bootstrap must resolve a clear shift
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(200, 4))
    close, far = reference + rng.normal(0, 0.1, (200, 4)), reference + rng.normal(0, 0.5, (200, 4))

    def distance(ref: np.ndarray, job: np.ndarray) -> float:
        return float(np.linalg.norm(ref - job, axis=1).mean())

    result = paired_set_bootstrap(distance, reference, close, far, n_resamples=200, seed=1)
    assert result.difference == pytest.approx(distance(reference, far) - distance(reference, close))
    assert result.resolved and result.low > 0
    same = paired_set_bootstrap(distance, reference, close, close, n_resamples=50, seed=1)
    assert same.difference == 0.0 and same.low == same.high == 0.0 and not same.resolved
