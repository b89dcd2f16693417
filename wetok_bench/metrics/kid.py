"""KID: unbiased polynomial-kernel MMD^2 of the reconstructions' Inception features to the
originals', over random subsets, as torch-fidelity computes it (:mod:`wetok_bench.metrics.functional.kid`).

Suite setting ``kid: {subsets: 100, subset_size: 1000, seed: 2020}`` (torch-fidelity's
defaults). It keeps the features, not sums: O(N x 2048) float32 per side (8 KiB per image).
"""

from __future__ import annotations

from typing import Any, Mapping

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import ResultKey, SetMetric
from wetok_bench.metrics.functional.kid import FeatureBank, KidSettings, kid

_FIELDS = {"subsets": int, "subset_size": int, "seed": int}


class KID(SetMetric):
    name = "kid"
    label = "KID"
    decimals = 4
    higher_is_better = False
    order = 50
    description = "kernel Inception distance (unbiased MMD^2, cubic polynomial kernel), mean over random subsets"
    protocol_options = ("fid_extractor", "fid_input", "u8_float")
    settings_key = "kid"

    @classmethod
    def result_keys(cls, protocol=None) -> tuple[ResultKey, ...]:
        return (cls.headline_key(),
                cls.headline_key(name="kid_std", description="standard deviation of KID over the subsets",
                                 label="KID std", order=cls.order + 1, summary=False))

    @classmethod
    def parse_settings(cls, raw: Mapping[str, Any] | None) -> KidSettings:
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise UsageError(f"kid: expected a mapping like {{subsets: 100, subset_size: 1000, seed: 2020}}, got {raw!r}")
        unknown = sorted(set(raw) - set(_FIELDS))
        if unknown:
            raise UsageError(f"kid: unknown key(s) {unknown} (known: {', '.join(_FIELDS)})")
        for key, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise UsageError(f"kid.{key}: expected an integer, got {value!r}")
        return KidSettings(**raw)

    @classmethod
    def settings_dict(cls, settings: KidSettings) -> dict:
        return {"subsets": settings.subsets, "subset_size": settings.subset_size, "seed": settings.seed}

    def __init__(self, protocol, device, weights=None, settings=None, dim: int = 2048) -> None:
        super().__init__(protocol, device, weights, settings if settings is not None else KidSettings(), dim)

    def new_state(self, dim: int) -> FeatureBank:
        return FeatureBank(dim)

    def state_from_dict(self, state: dict) -> FeatureBank:
        return FeatureBank.from_state_dict(state)

    def compute(self, reference: FeatureBank, state: FeatureBank | None = None) -> dict:
        """KID of the reconstructions (torch-fidelity's input 1) against the originals (input 2)."""
        return kid((state if state is not None else self.state).features(), reference.features(), self.settings)


METRIC = KID
