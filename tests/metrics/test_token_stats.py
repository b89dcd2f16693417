"""Codebook usage, entropy and perplexity against hand-computed figures and scipy."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.tokens import TokenStats


def _ids(groups: list[list[int]]) -> torch.Tensor:
    """B=1 x N x G from G lists of N codes."""
    return torch.tensor(groups, dtype=torch.int64).T.unsqueeze(0)


def test_one_codebook_hand_computed():
    stats = TokenStats(4)
    stats.update(_ids([[0, 0, 1, 2]]))
    out = stats.compute()
    # p = (1/2, 1/4, 1/4, 0): H = 1/2*1 + 1/4*2 + 1/4*2 = 1.5 bits
    assert out["codebook_usage"] == pytest.approx(0.75)
    assert out["code_entropy_bits"] == pytest.approx(1.5)
    assert out["code_perplexity"] == pytest.approx(2 ** 1.5)
    assert out["codebook_scope"] == "codebook" and out["tokens"] == 4


def test_groups_are_counted_separately():
    stats = TokenStats(4, groups=2)
    stats.update(_ids([[3, 3, 3, 3], [0, 1, 2, 3]]))
    out = stats.compute()
    assert out["per_group"]["codebook_usage"] == pytest.approx([0.25, 1.0])
    assert out["per_group"]["code_entropy_bits"] == pytest.approx([0.0, 2.0])
    assert out["per_group"]["code_perplexity"] == pytest.approx([1.0, 4.0])
    assert out["codebook_usage"] == pytest.approx(0.625)
    assert out["code_perplexity"] == pytest.approx(2.5)
    assert out["codebook_scope"] == "per-group"


def test_entropy_equals_scipy_and_merge_is_exact():
    rng = np.random.default_rng(0)
    codes = rng.zipf(1.5, size=(3, 500, 2)) % 64
    whole = TokenStats(64, groups=2)
    whole.update(torch.from_numpy(codes))
    parts = [TokenStats(64, groups=2) for _ in range(3)]
    for i, part in enumerate(parts):
        part.update(torch.from_numpy(codes[i : i + 1]))
    merged = TokenStats.from_state_dict(parts[0].state_dict()).merge(parts[1]).merge(parts[2])
    assert torch.equal(merged.counts, whole.counts)
    out = whole.compute()
    for g in range(2):
        counts = np.bincount(codes[..., g].ravel(), minlength=64)
        assert out["per_group"]["code_entropy_bits"][g] == pytest.approx(scipy.stats.entropy(counts, base=2), rel=1e-12)
        assert out["per_group"]["codebook_usage"][g] == pytest.approx((counts > 0).mean())
    assert out["max_entropy_bits"] == math.log2(64)


def test_bad_input_is_refused():
    stats = TokenStats(4)
    with pytest.raises(UsageError, match="outside"):
        stats.update(_ids([[0, 4]]))
    with pytest.raises(UsageError, match="B x N x 1"):
        stats.update(torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(UsageError, match="no tokens"):
        TokenStats(4).compute()
    with pytest.raises(UsageError, match="too large"):
        TokenStats(2**64)
