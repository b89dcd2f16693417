"""Streaming feature statistics and the Frechet distance (rFID), all in float64.

:class:`FeatureStats` keeps three additive states, like torchmetrics' FID: the count ``n``, the
feature sum and the outer-product sum. Memory is O(d^2) whatever the number of images, and
states from several batches, shards or processes combine by addition (``merge``,
``all_reduce``), so a distributed run gives the same statistics as one pass.

Numerical accuracy: the covariance from raw sums, ``(sum x x^T - n mu mu^T) / (n - 1)``, loses
digits when the mean is large compared with the spread (cancellation). The sums are therefore
kept of ``x - shift``, where ``shift`` is fixed at the first update to that batch's mean; the
covariance does not depend on the shift, and the cancellation then only involves the small
difference between the first batch's mean and the overall mean. Two states with different
shifts are rebased to a common one before adding (an exact identity up to rounding).

:func:`frechet_distance` uses no ``scipy.linalg.sqrtm``. For any factor ``F`` with
``S1 = F F^T``, ``S1 S2`` has the nonzero eigenvalues of ``F^T S2 F`` (and of
``sqrt(S1) S2 sqrt(S1)``), which is symmetric positive semi-definite, so ``tr sqrt(S1 S2)`` is the
sum of the square roots of its eigenvalues from ``eigvalsh``. ``F`` is the Cholesky factor of
``S1`` (about 25 times cheaper than a symmetric eigendecomposition at d = 2048). A covariance of
``n`` vectors has rank at most ``n - 1``: when ``n - 1 < d``, or when Cholesky fails (constant
features), ``F`` is the d x r factor of a pivoted Cholesky decomposition (LAPACK ``dpstrf``,
which stops at the numerical rank r), cheaper still and with only r columns.

Rank, not rounding: ``F^T S2 F`` has rank at most ``min(n1 - 1, n2 - 1, d)``, so only that many of
its largest eigenvalues are summed; the others are zero in exact arithmetic and in floating point
are rounding noise of order ``eps * |S|``, whose square roots (about 1e-7 each) would add up over
the ~1,900 null directions of a 128-image set. Measured against the exact value
``||A B^T||_* / sqrt((n1 - 1)(n2 - 1))`` (nuclear norm of the centred feature matrices' product,
n1 = n2 = 128, d = 2048): relative error 6.6e-6 with all eigenvalues, 1e-13 with the rank bound.
Tiny negative eigenvalues are clamped to zero. :class:`FrechetReference` computes ``F`` once for
a reference set that is compared with many others.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from wetok_bench.core.errors import UsageError

#: Result keys, exported so that callers and tests do not spell them.
KEY_RFID = "rfid"
KEY_N_REF = "n_ref"
KEY_N = "n"
KEY_FEATURE_DIM = "feature_dim"
KEY_UNRELIABLE = "unreliable"
KEY_REASON = "reason"

_F64 = torch.float64


class FeatureStats:
    """Additive float64 statistics of a set of feature vectors of dimension ``dim``.

    Attributes:
        dim: feature dimension d.
        n: number of vectors seen.
        shift: d-vector subtracted from every feature before summing (None before the first
            update); see the module docstring.
        sum: d-vector, sum of ``x - shift``.
        outer: d x d matrix, sum of ``(x - shift)(x - shift)^T``.
        device: where the states live (features are moved there on update).
    """

    def __init__(self, dim: int, device: str | torch.device = "cpu") -> None:
        if int(dim) < 1:
            raise UsageError(f"feature dimension must be positive, got {dim}")
        self.dim = int(dim)
        self.device = torch.device(device)
        self.n = 0
        self.shift: torch.Tensor | None = None
        self.sum = torch.zeros(self.dim, dtype=_F64, device=self.device)
        self.outer = torch.zeros(self.dim, self.dim, dtype=_F64, device=self.device)

    def __repr__(self) -> str:
        return f"FeatureStats(dim={self.dim}, n={self.n})"

    def update(self, features: torch.Tensor) -> FeatureStats:
        """Add a batch of features (B x d, any float dtype); returns self."""
        if features.dim() != 2 or features.shape[1] != self.dim:
            raise UsageError(f"expected features of shape B x {self.dim}, got {tuple(features.shape)}")
        if features.shape[0] == 0:
            return self
        x = features.detach().to(device=self.device, dtype=_F64)
        if not torch.isfinite(x).all():
            raise UsageError("features contain NaN or Inf (check the images fed to the feature extractor)")
        if self.shift is None:
            self.shift = x.mean(dim=0)
        x = x - self.shift
        self.n += x.shape[0]
        self.sum += x.sum(dim=0)
        self.outer.addmm_(x.T, x)  # in place: no d x d temporary per batch
        return self

    def rebase(self, shift: torch.Tensor) -> FeatureStats:
        """Re-express the sums relative to ``shift`` (same statistics); returns self."""
        shift = shift.to(device=self.device, dtype=_F64)
        if self.shift is None:
            self.shift = shift.clone()
            return self
        # sum (x - s')(x - s')^T with x - s' = (x - s) + delta, delta = s - s'
        delta = self.shift - shift
        self.outer += torch.outer(delta, self.sum) + torch.outer(self.sum, delta) + self.n * torch.outer(delta, delta)
        self.sum += self.n * delta
        self.shift = shift.clone()
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Add ``other``'s statistics into self (in place); returns self."""
        if other.dim != self.dim:
            raise UsageError(f"cannot merge feature statistics of dimension {other.dim} into {self.dim}")
        if other.n == 0:
            return self
        theirs = other.copy().to(self.device)
        if self.shift is None:
            self.shift = theirs.shift.clone()
        theirs.rebase(self.shift)
        self.n += theirs.n
        self.sum += theirs.sum
        self.outer += theirs.outer
        return self

    def copy(self) -> FeatureStats:
        """An independent copy."""
        return FeatureStats.from_state_dict(self.state_dict(), device=self.device)

    def to(self, device: str | torch.device) -> FeatureStats:
        """Move the states to ``device`` (in place); returns self."""
        self.device = torch.device(device)
        self.sum = self.sum.to(self.device)
        self.outer = self.outer.to(self.device)
        if self.shift is not None:
            self.shift = self.shift.to(self.device)
        return self

    def mean(self) -> torch.Tensor:
        """Mean feature vector (float64, d)."""
        self._require(1)
        return self.shift + self.sum / self.n

    def covariance(self) -> torch.Tensor:
        """Unbiased covariance (divides by n - 1), float64 d x d, exactly symmetric."""
        self._require(2)
        centered_sum = self.sum / self.n
        cov = (self.outer - self.n * torch.outer(centered_sum, centered_sum)) / (self.n - 1)
        return (cov + cov.T) / 2

    def covariance_trace(self) -> float:
        """``tr`` of :meth:`covariance` from the diagonal of the sums alone (O(d))."""
        self._require(2)
        centered_mean = self.sum / self.n
        return float((torch.diagonal(self.outer).sum() - self.n * (centered_mean @ centered_mean)) / (self.n - 1))

    def projected_covariance(self, factor: torch.Tensor) -> torch.Tensor:
        """``F^T S F`` (float64 r x r, on the CPU) for a d x r matrix ``F``, from the sums,
        without forming the d x d covariance ``S`` (same subtraction, in the projected space)."""
        self._require(2)
        factor = factor.to(dtype=_F64).cpu()
        outer, centered_mean = self.outer.cpu(), (self.sum / self.n).cpu()
        projected_mean = factor.T @ centered_mean
        return (factor.T @ outer @ factor - self.n * torch.outer(projected_mean, projected_mean)) / (self.n - 1)

    def _require(self, minimum: int) -> None:
        if self.n < minimum:
            raise UsageError(
                f"feature statistics need at least {minimum} images, got {self.n} "
                "(an empty or one-image dataset has no covariance)"
            )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """States as tensors (CPU): ``n`` (int64 scalar), ``shift``, ``sum``, ``outer``."""
        shift = self.shift if self.shift is not None else torch.zeros(self.dim, dtype=_F64, device=self.device)
        return {
            "n": torch.tensor(self.n, dtype=torch.int64),
            "shift": shift.detach().cpu().clone(),
            "sum": self.sum.detach().cpu().clone(),
            "outer": self.outer.detach().cpu().clone(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> FeatureStats:
        """Rebuild statistics from :meth:`state_dict` output; checks shapes."""
        try:
            n, shift, total, outer = (state[k] for k in ("n", "shift", "sum", "outer"))
        except KeyError as missing:
            raise UsageError(f"feature statistics state lacks {missing}") from None
        dim = int(total.shape[0]) if total.dim() == 1 else -1
        if dim < 1 or tuple(shift.shape) != (dim,) or tuple(outer.shape) != (dim, dim) or int(n) < 0:
            raise UsageError(
                f"inconsistent feature statistics state: sum {tuple(total.shape)}, "
                f"shift {tuple(shift.shape)}, outer {tuple(outer.shape)}, n {int(n)}"
            )
        stats = cls(dim, device=device)
        stats.n = int(n)
        stats.shift = shift.to(device=stats.device, dtype=_F64).clone() if stats.n > 0 else None
        stats.sum = total.to(device=stats.device, dtype=_F64).clone()
        stats.outer = outer.to(device=stats.device, dtype=_F64).clone()
        return stats

    def all_reduce(self) -> FeatureStats:
        """Sum the statistics of all processes (float64) when torch.distributed is initialized.

        Every rank must call it. Ranks first agree on a common shift (the mean of the ranks'
        own shifts, over ranks that saw data), rebase to it, then SUM-reduce ``n``, ``sum`` and
        ``outer``. Without an initialized process group this is a no-op. Returns self.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self
        comm = _comm_device(dist)
        has = torch.tensor([1.0 if self.shift is not None else 0.0], dtype=_F64, device=comm)
        shift_sum = (self.shift if self.shift is not None else torch.zeros(self.dim, dtype=_F64)).to(comm)
        shift_sum = shift_sum.clone()
        dist.all_reduce(has, op=dist.ReduceOp.SUM)
        dist.all_reduce(shift_sum, op=dist.ReduceOp.SUM)
        if has.item() == 0:
            return self
        self.rebase((shift_sum / has).to(self.device))
        states = [
            torch.tensor([self.n], dtype=torch.int64, device=comm),
            self.sum.to(comm).clone(),
            self.outer.to(comm).clone(),
        ]
        for tensor in states:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        self.n = int(states[0].item())
        self.sum = states[1].to(self.device)
        self.outer = states[2].to(self.device)
        return self


def _comm_device(dist) -> torch.device:
    """Device that the process group's backend can reduce on (NCCL needs CUDA tensors)."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


Moments = Union[FeatureStats, tuple]


def _moments(stats: Moments) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, covariance) as float64 CPU tensors from stats or a (mu, cov) pair."""
    if isinstance(stats, FeatureStats):
        mu, cov = stats.mean(), stats.covariance()
    else:
        try:
            mu, cov = stats
        except (TypeError, ValueError):
            raise UsageError("expected FeatureStats or a (mean, covariance) pair") from None
    mu = torch.as_tensor(mu, dtype=_F64).cpu()
    cov = torch.as_tensor(cov, dtype=_F64).cpu()
    if mu.dim() != 1 or tuple(cov.shape) != (mu.shape[0], mu.shape[0]):
        raise UsageError(f"mean {tuple(mu.shape)} and covariance {tuple(cov.shape)} do not match")
    return mu, cov


#: How :func:`_psd_factor` factorises; part of the cached factor's key (a factor made another
#: way is valid but would not give the same bits as computing it now).
FACTOR_METHOD = "cholesky, else pivoted cholesky at rank <= n - 1 (v2)"


def _psd_factor(matrix: torch.Tensor, rank_bound: int | None = None) -> torch.Tensor:
    """``F`` (d x r) with ``matrix = F F^T`` for a symmetric PSD d x d matrix.

    Cholesky (r = d) unless ``rank_bound`` (``n - 1`` for a covariance of n vectors) is below d
    or Cholesky fails; then a pivoted Cholesky that stops at the numerical rank, at most
    ``rank_bound`` columns.
    """
    sym = (matrix + matrix.T) / 2
    dim = sym.shape[0]
    if rank_bound is None or rank_bound >= dim:
        factor, info = torch.linalg.cholesky_ex(sym)
        if int(info) == 0:
            return factor
    return _pivoted_cholesky(sym, dim if rank_bound is None else max(1, min(rank_bound, dim)))


def _pivoted_cholesky(sym: torch.Tensor, max_rank: int) -> torch.Tensor:
    """d x r factor of a PSD matrix by LAPACK ``dpstrf`` (pivoted, stops at the numerical rank
    with LAPACK's default tolerance ``d * eps * max diag``), r <= ``max_rank``."""
    from scipy.linalg import lapack

    array = sym.detach().cpu().numpy().astype(np.float64, copy=True)
    lower, pivots, rank, info = lapack.dpstrf(array, lower=1, tol=-1.0)
    if info < 0:
        raise UsageError(f"pivoted Cholesky failed (LAPACK dpstrf info {info})")
    if int(rank) == 0:  # numerically zero (identical vectors): no column beyond rank is valid
        return torch.zeros(array.shape[0], 1, dtype=_F64)
    rank = min(int(rank), max_rank)
    factor = np.zeros((array.shape[0], rank), dtype=np.float64)
    # P^T S P = L L^T, so S = (P L)(P L)^T: row i of P L is row pivots^-1(i) of L
    factor[pivots - 1] = np.tril(lower)[:, :rank]
    return torch.from_numpy(factor)


def _rank_bound(count: int | None) -> int | None:
    """Largest possible rank of the covariance of ``count`` vectors (None when unknown)."""
    return None if count is None else max(int(count) - 1, 0)


class FrechetReference:
    """A reference distribution whose covariance factor ``F`` (``S1 = F F^T``) is computed once.

    ``FrechetReference(stats).distance(other)`` equals ``frechet_distance(stats, other)``;
    reuse the object to compare many sets with the same reference.

    ``cov_factor``: a factor computed earlier for exactly these statistics (the reference cache
    keeps it, :func:`~wetok_bench.metrics.reference_cache.cached_frechet_reference`), so that a later
    run skips the factorisation; float64 d x r with 1 <= r <= d, else a :class:`UsageError`.
    Default: computed here (:func:`_psd_factor`).
    """

    def __init__(self, stats: Moments, *, cov_factor: torch.Tensor | None = None) -> None:
        #: number of reference images when known (FeatureStats input), else None
        self.n: int | None = stats.n if isinstance(stats, FeatureStats) else None
        if isinstance(stats, FeatureStats):
            # with a cached factor the d x d covariance is never needed: mean and trace suffice
            self.mu, self.trace = stats.mean().cpu(), stats.covariance_trace()
            cov = stats.covariance().cpu() if cov_factor is None else None
        else:
            self.mu, cov = _moments(stats)
            self.trace = float(torch.trace(cov))
        self.dim = int(self.mu.shape[0])
        if cov_factor is None:
            self.cov_factor = _psd_factor(cov, _rank_bound(self.n))
        elif (cov_factor.dtype != _F64 or cov_factor.dim() != 2 or cov_factor.shape[0] != self.dim
              or not 1 <= cov_factor.shape[1] <= self.dim):
            raise UsageError(f"covariance factor must be float64 {self.dim} x r (1 <= r <= {self.dim}), "
                             f"got {cov_factor.dtype} {tuple(cov_factor.shape)}")
        else:
            self.cov_factor = cov_factor.cpu()

    def distance(self, other: Moments) -> float:
        """Frechet distance ``|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)`` (float64)."""
        if isinstance(other, FeatureStats):
            if other.dim != self.dim:
                raise UsageError(f"feature dimensions differ: reference {self.dim}, other {other.dim}")
            mu, trace, inner = other.mean().cpu(), other.covariance_trace(), other.projected_covariance(self.cov_factor)
        else:
            mu, cov = _moments(other)
            if mu.shape[0] != self.dim:
                raise UsageError(f"feature dimensions differ: reference {self.dim}, other {mu.shape[0]}")
            trace, inner = float(torch.trace(cov)), self.cov_factor.T @ cov @ self.cov_factor
        eigenvalues = torch.linalg.eigvalsh((inner + inner.T) / 2)  # ascending
        # only the rank of S1 S2 can be nonzero: the rest is rounding (module docstring)
        bounds = [_rank_bound(self.n), _rank_bound(other.n if isinstance(other, FeatureStats) else None)]
        rank = min([eigenvalues.numel()] + [b for b in bounds if b is not None])
        trace_sqrt = float(eigenvalues[eigenvalues.numel() - rank:].clamp(min=0).sqrt().sum())
        diff = self.mu - mu
        return float(diff @ diff) + self.trace + trace - 2.0 * trace_sqrt


def frechet_distance(ref: Moments | FrechetReference, other: Moments) -> float:
    """Frechet distance between two Gaussians given as FeatureStats or (mean, cov) pairs."""
    reference = ref if isinstance(ref, FrechetReference) else FrechetReference(ref)
    return reference.distance(other)


def fid_result(ref: Moments | FrechetReference, other: FeatureStats, *, ref_n: int | None = None,
               key: str = KEY_RFID, label: str = "rFID") -> dict:
    """rFID of ``other`` against ``ref`` with the sample sizes and a reliability flag.

    Returns a dict with keys ``key`` (``rfid``, or another Frechet metric's name; float),
    ``n_ref`` and ``n`` (image counts; ``n_ref``
    is None when ``ref`` carries no count and ``ref_n`` is not given), ``feature_dim``,
    ``unreliable`` (True when either count is below the feature dimension: the covariance is
    then rank-deficient and FID is strongly biased) and ``reason`` (why, or None).
    """
    n_ref = ref_n if ref_n is not None else getattr(ref, "n", None)
    n = other.n
    dim = other.dim
    value = frechet_distance(ref, other)
    reasons = [
        f"{side} = {count} images is below the feature dimension {dim}"
        for side, count in ((KEY_N_REF, n_ref), (KEY_N, n))
        if count is not None and count < dim
    ]
    return {
        key: value,
        KEY_N_REF: n_ref,
        KEY_N: n,
        KEY_FEATURE_DIM: dim,
        KEY_UNRELIABLE: bool(reasons),
        KEY_REASON: "; ".join(reasons) + f" (covariance rank-deficient; {label} is biased)" if reasons else None,
    }
