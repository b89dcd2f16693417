"""Paired comparisons of two jobs on the same images: does B really differ from A, or is it noise?

Two jobs measured on the same dataset, resolution and protocol saw the same images, so each
per-image metric gives differences ``d_i = B_i - A_i`` over the images both measured (matched by
key). For those differences:

* the mean difference and its percentile-bootstrap interval (:func:`~wetok_bench.results.bootstrap.bootstrap_means`
  on the ``d_i``: the same resampling as the leaderboards' intervals, the seed recorded);
* the sign test: the two-sided exact binomial test of ``#(d > 0)`` against ``#(d < 0)``, ties
  left out (``scipy.stats.binomtest``);
* the Wilcoxon signed-rank test, two-sided, zero differences left out (``scipy.stats.wilcoxon``
  with ``zero_method="wilcox"``; exact for small samples without ties, else the normal
  approximation);
* *resolved* at the chosen level: the interval excludes 0;
* the images a difference of a given size needs to be resolved (two-sided level ``alpha``,
  power ``power``, normal approximation): ``n = ((z_{1-alpha/2} + z_power) * sd(d) / delta)^2``,
  with ``sd(d)`` the standard deviation of these differences (for the observed difference by
  default).

A pair with an infinite value on either side (PSNR of a lossless image) is left out of the
differences and counted (``n_infinite``); NaN too.

Set metrics (rFID, FD-DINOv2, KID, CMMD) have no per-image values: :func:`paired_set_bootstrap`
resamples the images once per replicate and computes the metric for both jobs (and the
reference) on the same resample, from per-image features kept on request (suite setting
``keep_features: true``: ``features/<extractor>.npy``, float32, 8 KiB per image at d = 2048).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from wetok_bench.results.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_means

DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class PairedDifference:
    """``B - A`` of one per-image metric over the images both jobs measured.

    Attributes:
        n: pairs used (both values finite).
        n_infinite: pairs left out because a value was infinite or NaN.
        mean_a, mean_b: the two jobs' means over those pairs.
        mean: mean of the differences (``mean_b - mean_a``).
        low, high: the bootstrap interval of ``mean`` (None with fewer than 2 pairs).
        sd: standard deviation of the differences (ddof 1; None with fewer than 2 pairs).
        p_sign, p_wilcoxon: two-sided p-values (None when every difference is 0 or n < 1).
        n_positive, n_negative, n_zero: signs of the differences.
        confidence, n_resamples, seed: the interval's settings.
    """

    n: int
    n_infinite: int
    mean_a: float
    mean_b: float
    mean: float
    low: float | None
    high: float | None
    sd: float | None
    p_sign: float | None
    p_wilcoxon: float | None
    n_positive: int
    n_negative: int
    n_zero: int
    confidence: float
    n_resamples: int
    seed: int

    @property
    def resolved(self) -> bool:
        """The interval excludes 0: the difference is resolved at this confidence."""
        return self.low is not None and self.high is not None and (self.low > 0.0 or self.high < 0.0)

    def images_needed(self, delta: float | None = None, *, alpha: float | None = None,
                      power: float = DEFAULT_POWER) -> int | None:
        """Images a difference of ``delta`` (default: the observed mean) needs to be resolved at
        two-sided level ``alpha`` (default ``1 - confidence``) with probability ``power``, given
        the spread of these differences; None when it cannot be said (no spread, no difference)."""
        return images_needed(self.sd, self.mean if delta is None else delta,
                             alpha=1.0 - self.confidence if alpha is None else alpha, power=power)

    def to_dict(self) -> dict:
        return {"n": self.n, "n_infinite": self.n_infinite, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "mean_difference": self.mean, "low": self.low, "high": self.high, "sd": self.sd,
                "p_sign": self.p_sign, "p_wilcoxon": self.p_wilcoxon, "resolved": self.resolved,
                "images_needed": self.images_needed(), "confidence": self.confidence,
                "n_resamples": self.n_resamples, "seed": self.seed}


def images_needed(sd: float | None, delta: float, *, alpha: float = 1.0 - DEFAULT_CONFIDENCE,
                  power: float = DEFAULT_POWER) -> int | None:
    """``ceil(((z_{1-alpha/2} + z_power) sd / delta)^2)``: the paired-sample size that resolves a
    mean difference ``delta`` of differences with standard deviation ``sd`` (normal approximation)."""
    from scipy.stats import norm

    if sd is None or not math.isfinite(sd) or not math.isfinite(delta) or delta == 0.0:
        return None
    z = norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power)
    return max(2, math.ceil((z * sd / abs(delta)) ** 2))


def paired_difference(a: Sequence[float], b: Sequence[float], *, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE) -> PairedDifference:
    """The paired comparison of per-image values ``a`` and ``b`` (same images, same order)."""
    from scipy.stats import binomtest, wilcoxon

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length, got {a.size} and {b.size}")
    finite = np.isfinite(a) & np.isfinite(b)
    a, b = a[finite], b[finite]
    d = b - a
    n = int(d.size)
    positive, negative = int((d > 0).sum()), int((d < 0).sum())
    low = high = sd = p_sign = p_wilcoxon = None
    if n >= 2:
        means = bootstrap_means(d, n_resamples=n_resamples, seed=seed)
        tail = (1.0 - confidence) / 2.0
        low, high = (float(v) for v in np.quantile(means, [tail, 1.0 - tail]))
        sd = float(d.std(ddof=1))
    if positive + negative:
        p_sign = float(binomtest(positive, positive + negative, 0.5, alternative="two-sided").pvalue)
        p_wilcoxon = float(wilcoxon(d[d != 0], zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedDifference(
        n=n, n_infinite=int((~finite).sum()), mean_a=float(a.mean()) if n else math.nan,
        mean_b=float(b.mean()) if n else math.nan, mean=float(d.mean()) if n else math.nan, low=low, high=high,
        sd=sd, p_sign=p_sign, p_wilcoxon=p_wilcoxon, n_positive=positive, n_negative=negative,
        n_zero=n - positive - negative, confidence=confidence, n_resamples=n_resamples, seed=seed)


def match_keys(keys_a: Sequence[str], values_a: Sequence[float], keys_b: Sequence[str], values_b: Sequence[float]
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """The two jobs' values on the images both measured, in ``keys_a``'s order, and how many
    images only one of them measured (skipped files)."""
    position = {key: i for i, key in enumerate(keys_b)}
    common = [(i, position[key]) for i, key in enumerate(keys_a) if key in position]
    left, right = (np.asarray([v[j] for j in idx], dtype=np.float64)
                   for v, idx in ((values_a, [i for i, _ in common]), (values_b, [j for _, j in common])))
    return left, right, len(keys_a) + len(keys_b) - 2 * len(common)


@dataclass(frozen=True)
class SetDifference:
    """``B - A`` of a set metric with the interval of its paired bootstrap over images."""

    value_a: float
    value_b: float
    difference: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    seed: int

    @property
    def resolved(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def paired_set_bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], reference: np.ndarray,
                         features_a: np.ndarray, features_b: np.ndarray, *, n_resamples: int = 100,
                         seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE) -> SetDifference:
    """The paired bootstrap of a set metric: ``metric(reference_rows, job_rows)`` of both jobs on
    the same resample of the images (rows of the three feature arrays, same image order), the
    percentile interval of ``metric_B - metric_A`` over ``n_resamples`` replicates."""
    n = reference.shape[0]
    if features_a.shape[0] != n or features_b.shape[0] != n:
        raise ValueError("the reference and both jobs need the features of the same images, in the same order")
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_resamples, dtype=np.float64)
    for r in range(n_resamples):
        index = rng.integers(0, n, size=n)
        ref = reference[index]
        replicates[r] = metric(ref, features_b[index]) - metric(ref, features_a[index])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    value_a, value_b = metric(reference, features_a), metric(reference, features_b)
    return SetDifference(value_a, value_b, value_b - value_a, float(low), float(high), confidence, n_resamples, seed)
