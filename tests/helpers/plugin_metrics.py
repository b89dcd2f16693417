"""A plug-in metric as a third-party package would ship it: one module, one entry point.

``install_plugin(site)`` writes the installed-package record that declares it in the entry-point
group ``wetok_bench.metrics`` (what ``pip install`` of a package with
``[project.entry-points."wetok_bench.metrics"] mae = "plugin_metrics:MAE"`` leaves behind)."""

from __future__ import annotations

from pathlib import Path

import torch

from wetok_bench.metrics.base import Batch, ImageMetric


class MAE(ImageMetric):
    """Mean absolute error per image on the protocol's uint8 pixel views, in uint8 levels."""

    name = "mae"
    higher_is_better = False
    unit = "levels"
    description = "mean absolute uint8 difference per image; mean over images"
    protocol_options = ("pixel_quantize",)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        ref, rec = batch.view("pixel", lambda: batch.protocol.pixel_views(batch.original_u8, batch.recon))
        return {"mae": (ref.double() - rec.double()).abs().flatten(1).mean(dim=1)}


def install_plugin(site: Path) -> Path:
    info = site / "wetok_bench_test_metrics-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wetok-bench-test-metrics\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[wetok_bench.metrics]\nmae = plugin_metrics:MAE\n")
    return site
