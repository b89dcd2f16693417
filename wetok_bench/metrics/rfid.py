"""rFID: Frechet distance of the reconstructions' Inception features to the originals'
(:mod:`wetok_bench.metrics.functional.fid`: streaming float64 sums, O(d^2) memory)."""

from __future__ import annotations

from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import SetMetric
from wetok_bench.metrics.functional.fid import FeatureStats, FrechetReference, fid_result


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

            return cached_frechet_reference(cache_key, reference)[0]
        return FrechetReference(reference)

    def compute(self, reference: Any, state: FeatureStats | None = None) -> dict:
        """:func:`fid_result` of ``state`` against ``reference`` (FeatureStats, or a prepared
        :class:`FrechetReference` carrying the reference count ``n``); fewer than 2 images on
        either side is a :class:`UsageError` (no covariance)."""
        state = state if state is not None else self.state
        if state.n < 2 or (reference.n is not None and reference.n < 2):
            raise UsageError("fewer than 2 images measured")
        return fid_result(reference, state)


METRIC = RFID
