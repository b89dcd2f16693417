"""Bootstrap confidence intervals of a per-image mean.

Algorithm (percentile bootstrap, Efron 1979): draw ``n_resamples`` index vectors of length N
with replacement from ``numpy.random.default_rng(seed).integers(0, N, size=(n_resamples, N))``
(one call, row ``b`` is resample ``b``), take the mean of the values at each row, and report the
``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those means
(``numpy.quantile``, linear interpolation). The seed is fixed, so a report is reproducible.

Infinite values (PSNR of a lossless reconstruction is ``inf``): a mean over a sample that holds
one is ``inf``, so no finite interval exists. :func:`bootstrap_mean_ci` then returns no
interval and says how many values were infinite; the leaderboard shows the mean (``inf``) and
the count instead of a +-.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanCI:
    """Mean of per-image values with its bootstrap interval.

    Attributes:
        mean: mean over all values (``inf`` if any value is ``inf``; ``nan`` if none).
        low, high: interval bounds, or ``None`` when no interval exists (fewer than 2 values,
            or infinite values).
        n: number of values.
        n_infinite: how many values were ``+-inf`` (lossless images for PSNR).
        confidence: coverage of the interval (0.95 = 95 %).
        n_resamples, seed: the bootstrap's settings.
    """

    mean: float
    low: float | None
    high: float | None
    n: int
    n_infinite: int
    confidence: float
    n_resamples: int
    seed: int

    @property
    def half_width(self) -> float | None:
        """Half the interval's width: the number shown after +- (the interval may be asymmetric)."""
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2.0


def bootstrap_means(
    values: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    block_elements: int = 1 << 22,
) -> np.ndarray:
    """Means of ``n_resamples`` resamples (with replacement) of ``values``; see the module doc.

    The index matrix is drawn in blocks of rows (at most ``block_elements`` indices each) so
    that 50,000 images x 1,000 resamples does not need 400 MB; numpy's generator yields the
    same stream either way, so the result equals the single ``(n_resamples, N)`` draw.
    """
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, block_elements // max(1, values.size))
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, rows_per_block):
        stop = min(n_resamples, start + rows_per_block)
        index = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[index].mean(axis=1)
    return means


def bootstrap_mean_ci(
    values,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> MeanCI:
    """Mean of ``values`` (NaN entries dropped) and its percentile-bootstrap interval."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = np.asarray(values, dtype=np.float64).ravel()
    data = data[~np.isnan(data)]
    n_inf = int(np.isinf(data).sum())
    settings = dict(n=int(data.size), n_infinite=n_inf, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if data.size == 0:
        return MeanCI(mean=float("nan"), low=None, high=None, **settings)
    mean = float(data.mean())
    if data.size < 2 or n_inf:
        return MeanCI(mean=mean, low=None, high=None, **settings)
    means = bootstrap_means(data, n_resamples=n_resamples, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return MeanCI(mean=mean, low=float(low), high=float(high), **settings)
