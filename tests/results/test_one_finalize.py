"""One finalize: ``run``, ``score`` and the Python API give the same summary record for the same
images and reconstructions (metrics, metric_info, the set metrics' blocks, counts, clamp figures).

The originals are PNG crops of real photos; the reconstructions are the codec tokenizer's JPEG
q30 round trips. ``run`` measures them through a suite (the tokenizer reconstructs in the pass),
``score`` reads the same reconstructions saved as PNG (lossless), and the API gets the same uint8
originals and float reconstructions in one batch. Every metric network has random weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers_lpips import random_backbone_file
from PIL import Image

from wetok_bench.commands.score import score_folders
from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite
from wetok_bench.engine.api import ReconstructionMetrics
from wetok_bench.protocols import round_to_u8
from wetok_bench.tokenizers.registry import create_tokenizer

METRICS = ["psnr", "ssim", "lpips", "rfid", "kid"]
SHARED = ("metrics", "metric_info", "skipped_metrics", "rfid", "kid", "counts", "skipped_files", "clamped")


@pytest.fixture
def images(tmp_path, photos):
    """Four 40 x 48 originals (PNG) and their JPEG q30 reconstructions (PNG, and as floats)."""
    originals, recon = tmp_path / "originals", tmp_path / "recon"
    originals.mkdir()
    recon.mkdir()
    codec = create_tokenizer({"type": "codec", "format": "jpeg", "quality": 30})
    u8, floats = [], []
    for i, name in enumerate(sorted(photos)[:4]):
        crop = np.ascontiguousarray(photos[name][60 + 7 * i: 100 + 7 * i, 80:128])
        Image.fromarray(crop).save(originals / f"{name}.png")
        tensor = torch.from_numpy(crop).permute(2, 0, 1)[None]
        out = codec.reconstruct(tensor.float() / 127.5 - 1)[0]
        Image.fromarray(round_to_u8(out)[0].permute(1, 2, 0).numpy()).save(recon / f"{name}.png")
        u8.append(tensor[0])
        floats.append(out[0])
    return originals, recon, torch.stack(u8), torch.stack(floats)


def _shared(summary: dict) -> dict:
    return {key: summary.get(key) for key in SHARED}


@pytest.mark.parametrize("protocol", ["standard"])
def test_run_score_and_api_write_the_same_record(images, tmp_path, protocol, fidelity_inception_weights):
    originals, recon, originals_u8, recon_float = images
    weights = {"inception": str(fidelity_inception_weights),
               "lpips_alex": str(random_backbone_file("alex", tmp_path / "alex.pth"))}
    settings = {"kid": {"subsets": 5, "subset_size": 3}}

    suite = parse_suite({
        "name": "same", "protocol": protocol, "resolution": "original", "metrics": METRICS, "weights": weights,
        "datasets": [{"type": "folder", "name": "imgs", "root": str(originals)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 30, "name": "jpeg"}],
        "batch_size": 4, "num_workers": 0, "device": "cpu", "output": str(tmp_path / "out"), **settings,
    })
    assert run_suite(suite, progress=False).exit_code == 0
    ran = json.loads((tmp_path / "out" / "same" / "jpeg__imgs__original" / "summary.json").read_text())

    scored = score_folders(originals, recon, protocol=protocol, metrics=METRICS, weights=weights, device="cpu",
                           batch_size=4, metric_settings=settings, out=tmp_path / "score.json")
    written = json.loads((tmp_path / "score.json").read_text())

    api = ReconstructionMetrics(protocol, METRICS, "cpu", weights=weights, settings=settings)
    api.update(originals_u8, recon_float)
    from_api = api.summary().to_dict()

    assert ran["metrics"]["rfid"] > 0 and ran["metrics"]["psnr"] > 10 and ran["kid"]["subset_size"] == 3
    assert _shared(written) == _shared(ran)  # score --out writes summary.json's schema, with the same values
    assert _shared(from_api) == _shared(ran)
    assert _shared(scored.summary.to_dict()) == _shared(ran)
    # per-image values too: the run's per_image.csv and score's rows
    with open(tmp_path / "out" / "same" / "jpeg__imgs__original" / "per_image.csv") as handle:
        header, *lines = [line.strip().split(",") for line in handle]
    run_rows = {line[0]: dict(zip(header, line)) for line in lines}
    for row in scored.rows:
        for key in ("psnr", "ssim", "lpips"):
            assert float(run_rows[row["key"]][key]) == row[key], (row["key"], key)
    assert api.compute() == ran["metrics"]


def test_the_vit_feature_metrics_take_the_same_paths(images, tmp_path, dinov2_weights, clip_weights):
    """FD-DINOv2 and CMMD through run, score and the API: the same records (weights given the one
    way every network takes them: by slot)."""
    originals, recon, originals_u8, recon_float = images
    for path in sorted(originals.glob("*.png"))[2:] + sorted(recon.glob("*.png"))[2:]:
        path.unlink()  # two images: a ViT-L forward costs about a second on a CPU
    originals_u8, recon_float = originals_u8[:2], recon_float[:2]
    metrics = ["psnr", "fd_dinov2", "cmmd"]
    weights = {"dinov2": str(dinov2_weights), "clip": str(clip_weights)}
    suite = parse_suite({
        "name": "vit", "resolution": "original", "metrics": metrics, "weights": weights,
        "datasets": [{"type": "folder", "name": "imgs", "root": str(originals)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 30, "name": "jpeg"}],
        "batch_size": 4, "num_workers": 0, "device": "cpu", "output": str(tmp_path / "out"),
    })
    assert run_suite(suite, progress=False).exit_code == 0
    ran = json.loads((tmp_path / "out" / "vit" / "jpeg__imgs__original" / "summary.json").read_text())
    scored = score_folders(originals, recon, metrics=metrics, weights=weights, device="cpu", batch_size=4).summary.to_dict()
    api = ReconstructionMetrics("standard", metrics, "cpu", weights=weights)
    api.update(originals_u8, recon_float)
    keys = ("metrics", "metric_info", "skipped_metrics", "fd_dinov2", "cmmd", "counts")
    assert ran["metrics"]["fd_dinov2"] > 0 and ran["metrics"]["cmmd"] > 0
    assert ran["fd_dinov2"]["unreliable"] and ran["cmmd"]["n"] == 2
    for other in (scored, api.summary().to_dict()):
        assert {k: other.get(k) for k in keys} == {k: ran.get(k) for k in keys}
    manifest = json.loads((tmp_path / "out" / "vit" / "jpeg__imgs__original" / "manifest.json").read_text())
    assert set(manifest["metrics"]["weights"]) == {"dinov2", "clip"}
    # the leaderboard and the gate read them from the metric registry like any other
    from wetok_bench.commands.record import record_baseline
    from wetok_bench.report.leaderboard import build_leaderboards
    from wetok_bench.results.records import load_results

    (board,) = build_leaderboards(load_results([tmp_path / "out" / "vit"]))
    assert {"fd_dinov2", "cmmd"} <= {column.key for column in board.columns}
    recorded = json.loads(record_baseline([tmp_path / "out" / "vit"], tmp_path / "b.json").read_text())
    assert recorded["entries"][0]["metric_info"]["cmmd"]["higher_is_better"] is False
