"""A metric installed as a plug-in (entry point) is one module: suite validation, directions, the
evaluator and the Python API pick it up; its value equals a numpy computation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import plugin_metrics  # noqa: E402
import pytest
import torch


@pytest.fixture
def mae_plugin(tmp_path, monkeypatch, fresh_plugins):
    from wetok_bench.metrics import registry

    monkeypatch.syspath_prepend(str(plugin_metrics.install_plugin(tmp_path / "site")))
    return registry


def test_plugin_metric_everywhere(mae_plugin):
    from wetok_bench import ReconstructionMetrics
    from wetok_bench.config.settings import check_values
    from wetok_bench.protocols import get_protocol, round_to_u8

    registry = mae_plugin
    assert "mae" in registry.metric_names() and registry.higher_is_better("mae") is False
    assert check_values({"metrics": ["psnr", "mae"]})[1] == []
    # a new metric's options enter the fingerprint only where it is enabled
    standard = get_protocol("standard")
    assert registry.protocol_fingerprint(standard, ["psnr"]) == standard.fingerprint
    assert registry.protocol_fingerprint(standard, ["psnr", "mae"]) != standard.fingerprint

    g = torch.Generator().manual_seed(0)
    originals = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=g)
    recon = standard.original_float(originals) + 0.1 * torch.randn(4, 3, 16, 16, generator=g)
    api = ReconstructionMetrics("standard", ["psnr", "mae"], "cpu")
    api.update(originals[:2], recon[:2])
    api.update(originals[2:], recon[2:])
    values = api.compute()
    expected = np.abs(originals.numpy().astype(np.float64) - round_to_u8(recon).numpy()).reshape(4, -1).mean(axis=1).mean()
    assert values["mae"] == pytest.approx(expected, rel=1e-12)
