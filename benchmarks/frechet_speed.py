"""Time to finalize a Frechet distance at d = 2048: wetok-bench versus the scipy ``sqrtm`` formula.

Both sides get the same float64 statistics (mean and unbiased covariance of N random,
correlated feature vectors per set). Timed:

* ``ours``: :class:`FrechetReference` (Cholesky factor of the reference covariance) plus one
  ``distance`` (``eigvalsh`` of ``F^T S2 F``); also the distance alone with the factor cached;
* ``scipy sqrtm``: ``|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr Re sqrtm(S1 S2)`` (pytorch-fid, the
  official WeTok evaluation);
* ``eigvals``: torch-fidelity 0.4's ``sum sqrt(eigvals(S1 S2))`` (non-symmetric eigensolver).

Prints each time, the speed-up of ours over sqrtm and the relative differences of the values.

    python benchmarks/frechet_speed.py [--dim 2048] [--samples 4096] [--threads T] [--skip-sqrtm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg
import torch

from wetok_bench.metrics.functional.fid import FeatureStats, FrechetReference


def random_stats(rng: np.random.Generator, dim: int, samples: int, scale: float) -> FeatureStats:
    """Statistics of ``samples`` correlated, non-negative-mean vectors (like pooled features)."""
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    features = np.abs(rng.normal(size=(samples, dim)) @ mixing * scale + 0.3)
    stats = FeatureStats(dim)
    for start in range(0, samples, 512):
        stats.update(torch.from_numpy(features[start : start + 512]))
    return stats


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def sqrtm_formula(mu1, s1, mu2, s2) -> float:
    covmean = np.real(scipy.linalg.sqrtm(s1 @ s2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def eigvals_formula(mu1, s1, mu2, s2) -> float:
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=4096, help="feature vectors per set")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--skip-sqrtm", action="store_true", help="skip the (slow) scipy sqrtm side")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    ref, other = random_stats(rng, args.dim, args.samples, 1.0), random_stats(rng, args.dim, args.samples, 1.1)
    mu1, s1 = ref.mean().numpy(), ref.covariance().numpy()
    mu2, s2 = other.mean().numpy(), other.covariance().numpy()
    print(f"d = {args.dim}, N = {args.samples} per set, torch {torch.__version__}, threads {torch.get_num_threads()}")

    reference, t_factor = timed(lambda: FrechetReference(ref))
    ours, t_distance = timed(lambda: reference.distance(other))
    t_ours = t_factor + t_distance
    print(f"ours         {t_ours:8.2f} s  (factor {t_factor:.2f} s + distance {t_distance:.2f} s)  FID {ours:.10g}")

    fidelity, t_eig = timed(lambda: eigvals_formula(mu1, s1, mu2, s2))
    print(f"eigvals      {t_eig:8.2f} s  FID {fidelity:.10g}  rel diff {abs(ours - fidelity) / abs(fidelity):.2e}")

    if not args.skip_sqrtm:
        scipy_value, t_sqrtm = timed(lambda: sqrtm_formula(mu1, s1, mu2, s2))
        print(
            f"scipy sqrtm  {t_sqrtm:8.2f} s  FID {scipy_value:.10g}  rel diff {abs(ours - scipy_value) / abs(scipy_value):.2e}"
        )
        print(f"speed-up over sqrtm: {t_sqrtm / t_ours:.1f}x (with the factor cached: {t_sqrtm / t_distance:.1f}x)")


if __name__ == "__main__":
    main()
