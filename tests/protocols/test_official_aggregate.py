"""The official WeTok script's aggregate (`psnr_official`, `ssim_official`).

The layout is checked against torch's own DistributedSampler and DataLoader; the reduction
(mean over every rank's batches of the batch means, `psnr_value / iter_cnt` in
evaluation_image_ddp.py) against hand-computed cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch.utils.data import DataLoader, DistributedSampler

from wetok_bench.metrics.aggregate import official_batches, protocol_aggregates
from wetok_bench.protocols import get_protocol


def _torch_batches(num_images: int, world_size: int, batch_size: int) -> list[list[int]]:
    """Index batches the official script's loaders yield, rank 0 first (torch's own classes)."""
    dataset = list(range(num_images))
    out = []
    for rank in range(world_size):
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False, drop_last=False)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=False)
        out.extend(batch.tolist() for batch in loader)
    return out


@pytest.mark.parametrize(
    ("num_images", "world_size", "batch_size"),
    [(1, 8, 100), (3, 8, 100), (10, 8, 2), (801, 8, 100), (1003, 8, 100), (5000, 8, 125), (50000, 8, 100), (7, 3, 2)],
)
def test_layout_is_torchs_distributed_sampler(num_images: int, world_size: int, batch_size: int) -> None:
    ours = [batch.tolist() for batch in official_batches(num_images, world_size, batch_size)]
    assert ours == _torch_batches(num_images, world_size, batch_size)


def test_hand_computed_padded_case() -> None:
    # N = 10, 8 ranks, batch 2: padded list 0..9, 0..5; rank r holds [r, r + 8 mod 10]: one batch
    # each. Mean of batch means = (0 + ... + 9 + 0 + ... + 5) / 16 = 60 / 16 = 3.75, not 4.5.
    values = [float(i) for i in range(10)]
    out = protocol_aggregates("wetok", {"psnr": values, "ssim": values}, batch_size=2)
    assert out == {"psnr_official": 3.75, "ssim_official": 3.75}


def test_hand_computed_short_batch_case() -> None:
    # N = 5, 2 ranks, batch 2: padded 0,1,2,3,4,0; rank 0 -> [0, 2], [4]; rank 1 -> [1, 3], [0].
    # Values 10 * i: batch means 10, 40, 20, 0 -> 17.5 (the mean over images is 20).
    values = [10.0 * i for i in range(5)]
    out = protocol_aggregates(get_protocol("wetok"), {"psnr": values}, world_size=2, batch_size=2)
    assert out == {"psnr_official": 17.5}


def test_default_layout_is_8_ranks_of_100() -> None:
    # 1000 images: 125 per rank -> batches of 100 and 25; image i = 8 * k + r is rank r's k-th.
    # Rank r: first batch holds images with k < 100, mean of those; second batch k = 100..124.
    values = np.arange(1000, dtype=np.float64)
    expected = np.mean([np.mean([8 * k + r for k in ks]) for r in range(8) for ks in (range(100), range(100, 125))])
    assert expected == pytest.approx(8 * (99 / 2 + 112) / 2 + 3.5)  # 4 * (49.5 + 112) + 3.5 = 649.5
    out = protocol_aggregates("wetok", {"psnr": values, "ssim": values})
    assert out["psnr_official"] == pytest.approx(649.5, abs=1e-9)
    assert values.mean() == 499.5  # the mean over images is different


def test_divisible_layout_equals_mean_over_images() -> None:
    # MS-COCO val2017 with the official 8 x 125: 5000 images, 5 full batches per rank.
    rng = np.random.default_rng(0)
    values = rng.uniform(20, 30, size=5000)
    out = protocol_aggregates("wetok", {"psnr": values}, batch_size=125)
    assert out["psnr_official"] == pytest.approx(values.mean(), rel=1e-12)


def test_other_protocols_and_edge_cases() -> None:
    assert protocol_aggregates("standard", {"psnr": [1.0, 2.0]}) == {}
    assert protocol_aggregates(get_protocol("standard"), {"psnr": [1.0]}) == {}
    assert protocol_aggregates("wetok", {"psnr": [], "lpips": [0.1]}) == {}
    out = protocol_aggregates("wetok", {"psnr": [math.inf, 30.0]})
    assert out == {"psnr_official": math.inf}
    with pytest.raises(ValueError):
        official_batches(0, 8, 100)
