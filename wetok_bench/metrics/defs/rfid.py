"""rFID: Frechet distance of the reconstructions' Inception features to the originals'
(:mod:`wetok_bench.metrics.fid`: streaming float64 sums, O(d^2) memory)."""

from __future__ import annotations

from typing import Any

from wetok_bench.metrics.base import SetMetric
from wetok_bench.metrics.fid import FeatureStats, fid_result


class RFID(SetMetric):
    name = "rfid"
    label = "rFID"
    decimals = 2
    higher_is_better = False
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

    def compute(self, reference: Any, state: FeatureStats | None = None) -> dict:
        """:func:`fid_result` of ``state`` against ``reference`` (FeatureStats, or a
        :class:`~wetok_bench.metrics.fid.FrechetReference` with ``ref_n`` in its ``n``)."""
        return fid_result(reference, state if state is not None else self.state)


METRIC = RFID
