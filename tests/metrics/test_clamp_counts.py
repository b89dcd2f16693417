"""Contract 5: the evaluator counts reconstruction values clamped far outside [-1, 1], and warns
when the output looks like [0, 1] or [0, 255] (not when a decoder only overshoots a little)."""

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
    # 2 images x 3 x 4 x 4 values; 2 below -0.25 (-1.0035 and -3.0), none of the originals (128); max |x| 255
    assert ev.clamp_counts == [3, 96, 2, 0, 255.0]
    ev.update(originals[:1], torch.ones(1, 3, 4, 4))
    assert ev.clamp_counts == [3, 144, 2, 0, 255.0]
    ev.reset()
    assert ev.clamp_counts == [0, 0, 0, 0, 0.0]


def test_clamp_warning_names_the_range_it_suspects():
    assert clamp_warning("vae", [0, 1000, 0, 0, 0.9]) is None
    assert clamp_warning("vae", [5, 0, 0, 0, 0.0]) is None  # nothing seen
    assert clamp_warning("vae", [3, 96]) is None  # a shard written before the range counts: no guess
    line = clamp_warning("my-vae", [3, 96, 1, 0, 255.0])
    assert line is not None and "\n" not in line
    assert line.startswith("my-vae: reconstruction values reach 255 (3.12% beyond +-1.0039")  # 3 / 96 = 3.125 %
    assert "not [0, 255]" in line
    # no dark value where a tenth of the originals' values are dark: [0, 1]
    line = clamp_warning("unit", [0, 1000, 0, 100, 1.0])
    assert line is not None and "10.0% of the originals' values are below -0.25" in line and "not [0, 1]" in line
    # a decoder overshooting a little (every tenth value beyond the threshold, up to 1.2) is right
    assert clamp_warning("taesd", [100, 1000, 90, 100, 1.2]) is None


def _photos_batch(photos) -> torch.Tensor:
    return torch.stack([torch.from_numpy(photos[name][:64, :64].copy()).permute(2, 0, 1)
                        for name in ("astronaut", "chelsea", "coffee", "rocket")])


def test_range_rule_on_real_images(photos):
    """Real photos: a right [-1, 1] output with an overshoot is silent; the same output mapped to
    [0, 1] or [0, 255] is named."""
    originals = _photos_batch(photos)
    x = originals.float() / 127.5 - 1
    overshoot = (x * 1.15).clamp(-1.2, 1.2)  # beyond +-1 in a few percent of the values, as TAEF2's
    for output, expected in ((overshoot, None), ((x + 1) / 2, "not [0, 1]"), ((x + 1) * 127.5, "not [0, 255]")):
        ev = ReconstructionEvaluator("standard", ["psnr"])
        ev.update(originals, output)
        counts = ev.clamp_counts
        line = clamp_warning("t", counts)
        assert (line is None) if expected is None else (expected in line), (counts, line)
    assert ReconstructionEvaluator("standard", ["psnr"]).clamp_counts[0] == 0


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
    assert ev.clamp_counts == [0, 0, 0, 0, 0.0]  # nothing counted for a refused batch
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
        assert ev.clamp_counts[:2] == [int((np.abs(recon) > edge).sum()), recon.size]


def test_real_taef2_overshoot_is_recorded_without_a_warning(taef2_weights_dir, photos, monkeypatch):
    """The pretrained TAEF2 decoder has no output clamp and overshoots [-1, 1] on the bundled
    photos (its README leaves the clamp to the user): the clamped share is counted, no warning."""
    from wetok_bench.tokenizers.registry import create_tokenizer

    monkeypatch.setenv("WETOK_BENCH_WEIGHTS", str(taef2_weights_dir))
    originals = torch.stack([torch.from_numpy(photos[name][:256, :256].copy()).permute(2, 0, 1)
                             for name in ("astronaut", "coffee")])
    recon = create_tokenizer({"type": "taesd", "model": "taef2"}).reconstruct(originals.float() / 127.5 - 1)[0]
    ev = ReconstructionEvaluator("standard", ["psnr"])
    ev.update(originals, recon)
    counts = ev.clamp_counts
    assert counts[0] > 0 and 1.0 < counts[4] < 2.0  # it overshoots, a little
    assert clamp_warning("taef2", counts) is None
