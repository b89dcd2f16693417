"""Kernel Inception Distance (Binkowski et al. 2018), the way torch-fidelity computes it.

KID is the squared maximum mean discrepancy between two feature sets under the polynomial
kernel ``k(x, y) = (gamma * x.y + coef0) ** degree`` (degree 3, gamma = 1 / d, coef0 = 1),
estimated without bias on ``subsets`` random subsets of ``subset_size`` features from each set;
the result is the mean and the (population) standard deviation over subsets. Unlike FID it has
an unbiased estimator, so it is usable with a few hundred images where rFID is flagged
unreliable.

Exactness with torch-fidelity (``calculate_metrics(kid=True)``): the subsets are drawn with
``numpy.random.RandomState(seed)``, first input 1 then input 2 per subset, without replacement,
exactly as torch-fidelity does; the reconstructions are its input 1 and the originals its
input 2. torch-fidelity computes the kernels and their sums in float32 (its features are
float32); so does ``dtype: float32`` here (the default), with the same reductions (row sums,
then their sum), which agrees with it to about 1e-7 relative. The MMD is a small difference of
large kernel means, so float32 sums carry a relative error of about 1e-4 (6e-5 measured on
random features at subset size 100); ``dtype: float64`` removes it, at the price of differing
from torch-fidelity by that much.

Memory: KID needs the features themselves, not running sums: O(N x d) per side (2048 float64
values = 16 KiB per image; 50,000 images = 800 MiB per side). :class:`FeatureBank` keeps them in
float32 (what the network produces, so nothing is lost): 8 KiB per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wetok_bench.core.errors import UsageError

#: torch-fidelity's defaults (``torch_fidelity.defaults``).
DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000
DEFAULT_SEED = 2020


@dataclass(frozen=True)
class KidSettings:
    """How KID is estimated.

    Attributes:
        subsets: number of random subsets averaged.
        subset_size: features per subset and side (at most the smaller set's size).
        seed: seed of ``numpy.random.RandomState`` drawing the subsets.
        degree, coef0: polynomial kernel parameters; gamma is ``1 / feature dimension``.
        dtype: ``float32`` (torch-fidelity's arithmetic) or ``float64``.
    """

    subsets: int = DEFAULT_SUBSETS
    subset_size: int = DEFAULT_SUBSET_SIZE
    seed: int = DEFAULT_SEED
    degree: int = 3
    coef0: float = 1.0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.subsets < 1 or self.subset_size < 2:
            raise UsageError(f"KID needs subsets >= 1 and subset_size >= 2, got {self.subsets} and {self.subset_size}")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"KID dtype must be float32 or float64, not {self.dtype!r}")


def _poly_kernel(x: np.ndarray, y: np.ndarray, settings: KidSettings) -> np.ndarray:
    gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + settings.coef0) ** settings.degree


def unbiased_mmd2(x: np.ndarray, y: np.ndarray, settings: KidSettings) -> float:
    """Unbiased MMD^2 of two equal-size feature sets (m x d each) under the polynomial kernel.

    Within-set sums leave out the diagonal (k(x_i, x_i)); the cross term keeps every pair.
    Sums are taken per row first, then over rows, in the arrays' dtype.
    """
    m = x.shape[0]
    k_xx = _poly_kernel(x, x, settings)
    k_yy = _poly_kernel(y, y, settings)
    k_xy = _poly_kernel(x, y, settings)
    within_x = (k_xx.sum(axis=1) - np.diagonal(k_xx)).sum()
    within_y = (k_yy.sum(axis=1) - np.diagonal(k_yy)).sum()
    cross = k_xy.sum(axis=0).sum()
    return float((within_x + within_y) / (m * (m - 1)) - 2 * cross / (m * m))


def kid(recon_features: torch.Tensor, original_features: torch.Tensor, settings: KidSettings = KidSettings()) -> dict:
    """KID of reconstructions against originals: ``{"kid": mean, "kid_std": std, ...}``.

    Args:
        recon_features: N1 x d features of the reconstructions (torch-fidelity's input 1).
        original_features: N2 x d features of the originals (input 2).
    """
    if recon_features.dim() != 2 or original_features.dim() != 2 or recon_features.shape[1] != original_features.shape[1]:
        raise UsageError(
            f"KID needs two N x d feature sets of one dimension, got {tuple(recon_features.shape)} and {tuple(original_features.shape)}"
        )
    n1, n2 = len(recon_features), len(original_features)
    if min(n1, n2) < settings.subset_size:
        raise UsageError(
            f"KID subset size {settings.subset_size} is larger than the number of images ({n1} reconstructions, "
            f"{n2} originals): set kid.subset_size to at most {min(n1, n2)}"
        )
    dtype = torch.float32 if settings.dtype == "float32" else torch.float64
    x_all = recon_features.detach().to("cpu", dtype).numpy()
    y_all = original_features.detach().to("cpu", dtype).numpy()
    rng = np.random.RandomState(settings.seed)
    values = np.empty(settings.subsets)
    for i in range(settings.subsets):
        x = x_all[rng.choice(n1, settings.subset_size, replace=False)]
        y = y_all[rng.choice(n2, settings.subset_size, replace=False)]
        values[i] = unbiased_mmd2(x, y, settings)
    return {
        "kid": float(values.mean()),
        "kid_std": float(values.std()),
        "subsets": settings.subsets,
        "subset_size": settings.subset_size,
        "seed": settings.seed,
        "dtype": settings.dtype,
        "images": n1,
        "reference_images": n2,
    }


class FeatureBank:
    """Features kept in arrival order (float32), merged exactly across shards by concatenation."""

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self._chunks: list[torch.Tensor] = []

    def update(self, features: torch.Tensor) -> None:
        if features.dim() != 2 or features.shape[1] != self.dim:
            raise UsageError(f"features must be B x {self.dim}, got {tuple(features.shape)}")
        self._chunks.append(features.detach().to("cpu", torch.float32))

    def merge(self, other: "FeatureBank") -> "FeatureBank":
        """Append ``other``'s features (the next shard in order); returns self."""
        if other.dim != self.dim:
            raise UsageError("cannot merge feature banks of different dimensions")
        self._chunks.extend(other._chunks)
        return self

    @property
    def n(self) -> int:
        return sum(len(c) for c in self._chunks)

    def features(self) -> torch.Tensor:
        """All features, N x dim, float32."""
        return torch.cat(self._chunks) if self._chunks else torch.zeros(0, self.dim)

    def state_dict(self) -> dict:
        return {"dim": self.dim, "features": self.features()}

    @classmethod
    def from_state_dict(cls, state: dict) -> "FeatureBank":
        bank = cls(int(state["dim"]))
        if len(state["features"]):
            bank._chunks.append(state["features"].to(torch.float32))
        return bank
