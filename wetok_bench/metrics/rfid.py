"""rFID: Frechet distance of the reconstructions' Inception features to the originals'
(:mod:`wetok_bench.metrics.functional.fid`: streaming float64 sums, O(d^2) memory).

Another reference set: the suite block ``rfid: {reference_stats: PATH}`` names an ``.npz`` with
``mu`` and ``sigma`` (the layout of ADM's reference batches, e.g. ``VIRTUAL_imagenet256_labeled.npz``,
which LlamaGen issue #34 compared against: 4.28 where its val reference gives 2.19). rFID is then
the distance to those statistics, which must come from the protocol's feature network (ADM's TF
Inception is what ``inception-v3-compat`` ports); the file's sha256 is recorded in the ``rfid``
block and the job's fingerprint. Without the block nothing changes (no settings, same fingerprints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import SetMetric
from wetok_bench.metrics.functional.fid import FeatureStats, FrechetReference, fid_result


@dataclass(frozen=True)
class RfidSettings:
    """``reference_stats``: an ``.npz`` holding ``mu`` (d) and ``sigma`` (d x d) to measure against."""

    reference_stats: Path
    sha256: str


def load_reference_stats(settings: RfidSettings, dim: int) -> FrechetReference:
    """The Frechet reference of an ``.npz`` with ``mu`` and ``sigma`` (float64)."""
    try:
        with np.load(settings.reference_stats) as data:
            missing = [key for key in ("mu", "sigma") if key not in data.files]
            if missing:
                raise UsageError(f"rfid.reference_stats {settings.reference_stats}: no {', '.join(missing)} "
                                 f"(an .npz with mu and sigma, as ADM's reference batches hold them)")
            mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    except (OSError, ValueError) as error:
        raise UsageError(f"rfid.reference_stats {settings.reference_stats}: not a readable .npz ({error})") from None
    if mu.shape != (dim,) or sigma.shape != (dim, dim):
        raise UsageError(f"rfid.reference_stats {settings.reference_stats}: mu {mu.shape} and sigma {sigma.shape} do "
                         f"not fit the feature network's {dim} dimensions")
    return FrechetReference((mu, sigma))


class RFID(SetMetric):
    name = "rfid"
    label = "rFID"
    decimals = 2
    higher_is_better = False
    order = 10
    per_group = True
    tolerance = (0.5, 0.05)  # rFID on CI-sized samples is noisy
    description = "Frechet Inception distance between reconstructions and originals"
    protocol_options = ("fid_extractor", "fid_input", "u8_float")
    settings_key = "rfid"

    @classmethod
    def parse_settings(cls, raw: Mapping[str, Any] | None) -> RfidSettings | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping) or set(raw) != {"reference_stats"} or not isinstance(raw["reference_stats"], str):
            raise UsageError(f"rfid: expected {{reference_stats: PATH}} (an .npz with mu and sigma), got {raw!r}")
        from wetok_bench.core.envvars import expand_path
        from wetok_bench.core.hashing import cached_sha256

        path = expand_path(raw["reference_stats"], what="rfid.reference_stats")
        if not path.is_file():
            raise UsageError(f"rfid.reference_stats: file not found: {path}")
        return RfidSettings(path, cached_sha256(path))

    @classmethod
    def settings_dict(cls, settings: RfidSettings | None) -> dict:
        if settings is None:
            return {}
        return {"reference_stats": str(settings.reference_stats), "sha256": settings.sha256}

    def new_state(self, dim: int) -> FeatureStats:
        # kept where the features are made: no per-batch copies, and NCCL reduces CUDA tensors
        return FeatureStats(dim, device=self.device)

    def new_reference_state(self, dim: int) -> FeatureStats:
        # the originals' sums are kept on the CPU, as they always were (same float64 bits)
        return FeatureStats(dim)

    def state_from_dict(self, state: dict) -> FeatureStats:
        return FeatureStats.from_state_dict(state)

    @classmethod
    def prepare_reference(cls, reference: FeatureStats, cache_key: dict | None = None) -> Any:
        """The originals' covariance factorised once (:class:`FrechetReference`), for every
        tokenizer measured against them; with ``cache_key`` the factor is kept on disk beside the
        reference statistics (:func:`~wetok_bench.metrics.reference_cache.cached_frechet_reference`)."""
        if isinstance(reference, FrechetReference) or reference.n < 2:
            return reference
        if cache_key is not None:
            from wetok_bench.metrics.reference_cache import cached_frechet_reference

            # the reference file holds every set metric's state: each Frechet metric its own factor
            key = cache_key if cls.name == "rfid" else {**cache_key, "metric": cls.name}
            return cached_frechet_reference(key, reference)[0]
        return FrechetReference(reference)

    def compute(self, reference: Any, state: FeatureStats | None = None) -> dict:
        """:func:`fid_result` of ``state`` against ``reference`` (FeatureStats, or a prepared
        :class:`FrechetReference` carrying the reference count ``n``); fewer than 2 images on
        either side is a :class:`UsageError` (no covariance)."""
        state = state if state is not None else self.state
        if self.settings is not None:  # another reference set: statistics from a file
            if state.n < 2:
                raise UsageError("fewer than 2 images measured")
            if getattr(self, "_file_reference", None) is None:
                self._file_reference = load_reference_stats(self.settings, state.dim)
            return {**fid_result(self._file_reference, state, key=self.name, label=self.label),
                    "reference": self.settings_dict(self.settings)}
        if state.n < 2 or (reference.n is not None and reference.n < 2):
            raise UsageError("fewer than 2 images measured")
        return fid_result(reference, state, key=self.name, label=self.label)


METRIC = RFID
