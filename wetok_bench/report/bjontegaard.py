"""Bjontegaard delta (BD) between two rate-distortion curves: BD-rate and BD-metric.

Rate is bits per pixel (``bits_per_image / (H * W)``) on a natural-log scale, as in VCEG-M33
(G. Bjontegaard, "Calculation of average PSNR differences between RD-curves", 2001):

* **BD-rate** (percent): interpolate log-rate as a function of quality for each curve, integrate
  both over the overlap of their quality ranges ``[q_lo, q_hi]``, and turn the mean difference
  ``d = (integral_test - integral_anchor) / (q_hi - q_lo)`` into ``(exp(d) - 1) * 100``: the
  average bitrate change of the test curve at equal quality (negative: fewer bits).
* **BD-metric** (metric units: dB for PSNR, unitless for SSIM / LPIPS): interpolate quality as a
  function of log-rate, integrate over the overlap of the log-rate ranges; the mean difference
  ``test - anchor`` at equal rate. Its sign is raw: for a metric whose ``higher_is_better`` is
  False (LPIPS), a negative BD-metric means the test curve is better (:attr:`BDResult.test_better`).

Interpolations (:data:`INTERPOLATIONS`):

* ``pchip`` (default): piecewise cubic Hermite interpolation (scipy's ``PchipInterpolator``,
  integrated exactly), as in the JCT-VC common test conditions spreadsheet (JCTVC-L1100,
  Bossen's update); it passes through every point and never overshoots between them.
* ``cubic``: the third-order polynomial least-squares fit of VCEG-M33, integrated exactly.

A curve needs at least 4 points with distinct rates, quality strictly improving as rate grows
(in the metric's direction), and the two curves' ranges must overlap on the integration axis;
otherwise :class:`BDUndefined` is raised with the reason, never a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from wetok_bench.metrics.registry import key_info

#: Interpolation names; the first is the default.
INTERPOLATIONS = ("pchip", "cubic")
DEFAULT_INTERPOLATION = "pchip"
MIN_POINTS = 4

INTERPOLATION_TEXT = {
    "pchip": "piecewise cubic Hermite interpolation (PCHIP, JCT-VC CTC spreadsheet)",
    "cubic": "third-order polynomial fit (VCEG-M33)",
}


class BDUndefined(ValueError):
    """The BD value is not defined for these curves; the message says why, ``short`` in a few
    words (for a table cell)."""

    def __init__(self, message: str, short: str = "undefined") -> None:
        super().__init__(message)
        self.short = short


@dataclass(frozen=True)
class BDResult:
    """One BD value with the ranges it was computed over.

    Attributes:
        kind: ``"rate"`` (``value`` in percent of the anchor's bitrate) or ``"metric"``
            (``value`` in the metric's unit, test minus anchor).
        metric: quality metric name (``psnr``, ``ssim``, ``lpips``, ...).
        value: the BD value.
        interpolation: ``pchip`` or ``cubic``.
        rate_overlap_bpp: (low, high) bits per pixel covered by both curves.
        quality_overlap: (low, high) quality covered by both curves.
        higher_is_better: the metric's direction.
    """

    kind: str
    metric: str
    value: float
    interpolation: str
    rate_overlap_bpp: tuple[float, float]
    quality_overlap: tuple[float, float]
    higher_is_better: bool

    @property
    def integration_range(self) -> tuple[float, float]:
        """The interval integrated over: quality for BD-rate, bits per pixel for BD-metric."""
        return self.quality_overlap if self.kind == "rate" else self.rate_overlap_bpp

    @property
    def test_better(self) -> bool:
        """True when the test curve is better than the anchor on average."""
        if self.kind == "rate":
            return self.value < 0
        return self.value > 0 if self.higher_is_better else self.value < 0


def higher_is_better(metric: str) -> bool:
    """Direction of ``metric`` from the metric registry."""
    info = key_info(metric)
    if info is None:
        raise BDUndefined(f"unknown metric {metric!r}: its direction is not known (not a registered result key)",
                          "unknown metric")
    return info.higher_is_better


def _checked(bpp: Sequence[float], quality: Sequence[float], metric: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(log-rate, quality) sorted by rate, after every check BD needs."""
    rate = np.asarray(bpp, dtype=np.float64).reshape(-1)
    qual = np.asarray(quality, dtype=np.float64).reshape(-1)
    if rate.size != qual.size:
        raise BDUndefined(f"{label}: {rate.size} rates but {qual.size} {metric} values", "bad input")
    if rate.size < MIN_POINTS:
        raise BDUndefined(f"{label}: {rate.size} point(s); BD needs at least {MIN_POINTS}", "too few points")
    if not (np.all(np.isfinite(rate)) and np.all(rate > 0)):
        raise BDUndefined(f"{label}: rates must be finite and positive bits per pixel", "bad rates")
    if not np.all(np.isfinite(qual)):
        raise BDUndefined(f"{label}: {metric} has a value that is not finite", "not finite")
    order = np.argsort(rate, kind="stable")
    rate, qual = rate[order], qual[order]
    if np.any(np.diff(rate) <= 0):
        raise BDUndefined(f"{label}: two points share a rate ({metric} is not a function of rate)", "repeated rate")
    steps = np.diff(qual) if higher_is_better(metric) else -np.diff(qual)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise BDUndefined(
            f"{label}: not monotonic - {metric} does not improve from {rate[i]:.4g} bpp ({qual[i]:.4g}) "
            f"to {rate[i + 1]:.4g} bpp ({qual[i + 1]:.4g})",
            "not monotonic",
        )
    return np.log(rate), qual


def _mean_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float, interpolation: str) -> float:
    """Mean of the interpolant of y(x) over [lo, hi] (x sorted ascending)."""
    if interpolation == "pchip":
        integral = float(PchipInterpolator(x, y).integrate(lo, hi))
    elif interpolation == "cubic":
        antiderivative = np.polyint(np.polyfit(x, y, 3))
        integral = float(np.polyval(antiderivative, hi) - np.polyval(antiderivative, lo))
    else:
        raise BDUndefined(f"unknown interpolation {interpolation!r} (use one of {', '.join(INTERPOLATIONS)})", "bad input")
    return integral / (hi - lo)


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    return (float(lo), float(hi)) if hi > lo else None


def _prepare(anchor_bpp, anchor_quality, test_bpp, test_quality, metric, interpolation):
    if interpolation not in INTERPOLATIONS:
        raise BDUndefined(f"unknown interpolation {interpolation!r} (use one of {', '.join(INTERPOLATIONS)})", "bad input")
    la, qa = _checked(anchor_bpp, anchor_quality, metric, "anchor")
    lt, qt = _checked(test_bpp, test_quality, metric, "test")
    rate = _overlap(la, lt)
    quality = _overlap(qa, qt)
    rate_bpp = None if rate is None else (math.exp(rate[0]), math.exp(rate[1]))
    return la, qa, lt, qt, rate, rate_bpp, quality


def bd_rate(anchor_bpp: Sequence[float], anchor_quality: Sequence[float], test_bpp: Sequence[float],
            test_quality: Sequence[float], *, metric: str,
            interpolation: str = DEFAULT_INTERPOLATION) -> BDResult:
    """BD-rate of the test curve against the anchor, in percent, at equal ``metric``.

    Args:
        anchor_bpp, test_bpp: bits per pixel of each point.
        anchor_quality, test_quality: the metric's value at each point (same order).
        metric: a registered result key (its direction is used for the monotonicity check).
        interpolation: ``pchip`` (default) or ``cubic``.
    Raises:
        BDUndefined: fewer than 4 points, not monotonic, or no quality overlap.
    """
    la, qa, lt, qt, _, rate_bpp, quality = _prepare(anchor_bpp, anchor_quality, test_bpp, test_quality, metric, interpolation)
    if quality is None:
        raise BDUndefined(f"no overlap: anchor {metric} {qa.min():.4g}..{qa.max():.4g}, test {qt.min():.4g}..{qt.max():.4g}", "no overlap")
    # log-rate as a function of quality: x must ascend, so sort by quality
    oa, ot = np.argsort(qa), np.argsort(qt)
    diff = (_mean_over(qt[ot], lt[ot], *quality, interpolation) - _mean_over(qa[oa], la[oa], *quality, interpolation))
    return BDResult("rate", metric, (math.exp(diff) - 1.0) * 100.0, interpolation,
                    rate_bpp if rate_bpp is not None else (math.nan, math.nan), quality, higher_is_better(metric))


def bd_metric(anchor_bpp: Sequence[float], anchor_quality: Sequence[float], test_bpp: Sequence[float],
              test_quality: Sequence[float], *, metric: str,
              interpolation: str = DEFAULT_INTERPOLATION) -> BDResult:
    """BD-``metric`` (BD-PSNR in dB, BD-SSIM, BD-LPIPS): mean of test minus anchor at equal rate.

    Arguments as :func:`bd_rate`. Raises :class:`BDUndefined` when the rates do not overlap.
    """
    la, qa, lt, qt, rate, rate_bpp, quality = _prepare(anchor_bpp, anchor_quality, test_bpp, test_quality, metric, interpolation)
    if rate is None:
        raise BDUndefined(f"no overlap: anchor {np.exp(la.min()):.4g}..{np.exp(la.max()):.4g} bpp, "
                          f"test {np.exp(lt.min()):.4g}..{np.exp(lt.max()):.4g} bpp", "no overlap")
    diff = _mean_over(lt, qt, *rate, interpolation) - _mean_over(la, qa, *rate, interpolation)
    return BDResult("metric", metric, diff, interpolation, rate_bpp,
                    quality if quality is not None else (math.nan, math.nan), higher_is_better(metric))
