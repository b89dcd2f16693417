"""Which images a job's grids call the worst: the rank metric and its direction come from the
metric registry (LPIPS, else PSNR, else any per-image metric measured, a plug-in's included);
the values saved beside each grid image are every per-image metric the rows have."""

from __future__ import annotations

import json

import torch

from wetok_bench.engine.grids import GridPicker, GridSpec, rank_metric, save_grids, select


def _worst(values: dict[str, list[float]], k: int = 2) -> list[str]:
    keys = [f"im{i}" for i in range(len(next(iter(values.values()))))]
    picker = GridPicker(GridSpec(worst_k=k))
    images = torch.zeros(len(keys), 3, 4, 4, dtype=torch.uint8)
    picker.add(keys, images, torch.zeros(len(keys), 3, 4, 4), {m: torch.tensor(v) for m, v in values.items()})
    return [e["key"] for e in select(picker.spec, [picker.state()])[1]]


def test_rank_metric_prefers_lpips_then_psnr_then_any_per_image_metric():
    assert rank_metric(["psnr", "ssim", "lpips", "rfid"]) == "lpips"
    assert rank_metric(["rfid", "ssim", "psnr"]) == "psnr"
    assert rank_metric(["rfid", "ssim"]) == "ssim"  # rFID is set-level: it ranks no image
    assert rank_metric(["rfid", "kid"]) == "psnr"  # nothing per image: every image scores alike


def test_worst_images_in_the_metrics_direction():
    # LPIPS: higher is worse; PSNR, SSIM: lower is worse (hand-picked values)
    assert _worst({"lpips": [0.1, 0.7, 0.3, 0.5], "psnr": [10.0, 40.0, 30.0, 20.0]}) == ["im1", "im3"]
    assert _worst({"psnr": [10.0, 40.0, 30.0, 20.0]}) == ["im0", "im3"]
    assert _worst({"ssim": [0.9, 0.2, 0.5, 0.1]}) == ["im3", "im1"]


def test_a_plugin_metric_ranks_by_its_own_direction(tmp_path, monkeypatch, fresh_plugins):
    import plugin_metrics

    monkeypatch.syspath_prepend(str(plugin_metrics.install_plugin(tmp_path)))  # mae: lower is better
    assert rank_metric(["ssim", "mae"]) == "ssim" and rank_metric(["mae"]) == "mae"
    assert _worst({"mae": [1.0, 5.0, 3.0, 4.0]}) == ["im1", "im3"]


def test_saved_values_are_the_per_image_metrics_the_rows_have(tmp_path):
    keys = ["a.png", "b.png"]
    picker = GridPicker(GridSpec(fixed=tuple(keys)))
    images = torch.full((2, 3, 4, 4), 7, dtype=torch.uint8)
    picker.add(keys, images, torch.zeros(2, 3, 4, 4), {"lpips": torch.tensor([0.2, 0.4])})
    rows = [{"key": "a.png", "psnr": 30.5, "lpips": 0.2, "lpips_vgg": 0.3, "bits": 8.0},
            {"key": "b.png", "psnr": 20.5, "lpips": 0.4, "lpips_vgg": 0.6, "bits": 8.0}]
    save_grids(tmp_path, picker.spec, [picker.state()], ["psnr", "lpips"], rows)
    index = json.loads((tmp_path / "grids" / "index.json").read_text())
    assert index["rank_metric"] == "lpips"
    assert [{k: v for k, v in e.items() if k not in ("file", "fixed", "worst")} for e in index["images"]] == [
        {"key": "a.png", "psnr": 30.5, "lpips": 0.2, "lpips_vgg": 0.3},  # no ssim column: not measured
        {"key": "b.png", "psnr": 20.5, "lpips": 0.4, "lpips_vgg": 0.6},
    ]
