"""KID against torch-fidelity's own estimator and a hand-computed case."""

import pytest
import torch
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.kid import FeatureBank, KidSettings, kid


def _features(n: int = 240, d: int = 2048, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    originals = torch.relu(torch.randn(n, d, generator=g)) * 0.3
    recons = originals + 0.05 * torch.relu(torch.randn(n, d, generator=g))
    return recons, originals


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_equals_torch_fidelity(dtype):
    recons, originals = _features()
    ours = kid(recons, originals, KidSettings(subsets=12, subset_size=80, seed=2020, dtype=dtype))
    cast = torch.float32 if dtype == "float32" else torch.float64
    theirs = kid_features_to_metric(recons.to(cast), originals.to(cast), kid_subsets=12, kid_subset_size=80,
                                    rng_seed=2020, verbose=False)
    assert ours["kid"] > 0
    assert ours["kid"] == pytest.approx(theirs[KEY_METRIC_KID_MEAN], rel=1e-6)
    assert ours["kid_std"] == pytest.approx(theirs[KEY_METRIC_KID_STD], rel=1e-6)


def test_hand_computed_mmd():
    # d = 1, gamma = 1, k(x, y) = (x y + 1)^3; X = {0, 1}, Y = {0, 2}
    # within X: 2 k(0,1) = 2; within Y: 2 k(0,2) = 2; cross: 1 + 1 + 1 + 27 = 30
    # MMD^2 = (2 + 2) / (2 * 1) - 2 * 30 / 4 = -13
    out = kid(torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]]), KidSettings(subsets=3, subset_size=2, dtype="float64"))
    assert out["kid"] == pytest.approx(-13.0) and out["kid_std"] == pytest.approx(0.0, abs=1e-12)


def test_subset_larger_than_the_set_is_refused():
    recons, originals = _features(n=50, d=8)
    with pytest.raises(UsageError, match="at most 50"):
        kid(recons, originals, KidSettings(subset_size=100))


def test_feature_bank_merges_in_order():
    recons, _ = _features(n=30, d=16)
    whole = FeatureBank(16)
    whole.update(recons)
    first, second = FeatureBank(16), FeatureBank(16)
    first.update(recons[:10])
    second.update(recons[10:])
    merged = FeatureBank.from_state_dict(first.state_dict()).merge(second)
    assert merged.n == 30 and torch.equal(merged.features(), whole.features())
