"""Contract 5: the evaluator counts reconstruction values clamped far outside [-1, 1]."""

from __future__ import annotations

import torch

from wetok_bench.metrics.evaluator import ReconstructionEvaluator, clamp_warning


def test_clamp_counts_only_far_values_and_reset_clears_them():
    ev = ReconstructionEvaluator("standard", ["psnr"])
    originals = torch.full((2, 3, 4, 4), 128, dtype=torch.uint8)
    recon = torch.zeros(2, 3, 4, 4)
    recon[0, 0, 0, 0] = 1.0 + 0.5 / 255  # a tiny overshoot: rounds to 255 anyway, not counted
    recon[0, 0, 0, 1] = -1.0 - 0.9 / 255  # still within half a uint8 step
    recon[0, 1, 2, 3] = 1.5  # far: counted
    recon[1, 2, 0, 0] = -3.0  # far: counted
    recon[1, 2, 1, 1] = 255.0  # a [0, 255] output: counted
    ev.update(originals, recon)
    assert ev.clamp_counts == (3, 96)  # 2 images x 3 x 4 x 4 values
    ev.update(originals[:1], torch.ones(1, 3, 4, 4))
    assert ev.clamp_counts == (3, 144)
    ev.reset()
    assert ev.clamp_counts == (0, 0)


def test_clamp_warning_states_the_fraction():
    assert clamp_warning("vae", 0, 1000) is None
    assert clamp_warning("vae", 1, 1000) is None  # 0.1 %: at the threshold, silent
    assert clamp_warning("vae", 5, 0) is None
    line = clamp_warning("my-vae", 3, 96)
    assert line is not None and "\n" not in line
    assert line.startswith("my-vae: 3.12% of reconstruction values (3 of 96)")  # 3 / 96 = 3.125 %
    assert "clamped to [-1, 1]" in line


def test_one_nan_or_inf_anywhere_is_an_error_and_counts_match_numpy():
    import numpy as np
    import pytest

    from wetok_bench.core.errors import TokenizerOutputError
    from wetok_bench.metrics.evaluator import CLAMP_THRESHOLD

    ev = ReconstructionEvaluator("standard", ["psnr"])
    originals = torch.full((2, 3, 8, 8), 128, dtype=torch.uint8)
    for bad in (float("nan"), float("inf"), -float("inf")):
        for where in ((0, 0, 0, 0), (1, 2, 7, 7), (1, 0, 3, 5)):
            recon = torch.zeros(2, 3, 8, 8)
            recon[where] = bad
            with pytest.raises(TokenizerOutputError, match="NaN or Inf"):
                ev.update(originals, recon)
    assert ev.clamp_counts == (0, 0)  # nothing counted for a refused batch
    # values on both sides of the float32 threshold, one side at a time and both
    edge = np.float32(CLAMP_THRESHOLD)
    near = [np.nextafter(edge, np.float32(0)), edge, np.nextafter(edge, np.float32(2))]
    rng = np.random.default_rng(0)
    for values in ([near[0]], [near[1]], [near[2]], [-near[2]], [near[2], -near[2], 7.0], [-near[0], -near[1]]):
        recon = rng.uniform(-1, 1, size=(2, 3, 8, 8)).astype(np.float32)
        flat = recon.reshape(-1)
        flat[rng.choice(flat.size, len(values), replace=False)] = values
        ev.reset()
        ev.update(originals, torch.from_numpy(recon))
        assert ev.clamp_counts == (int((np.abs(recon) > edge).sum()), recon.size)
