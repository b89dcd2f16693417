"""KID as a registered metric: `wetok-bench score`, a suite run and the Python API against
torch-fidelity's own ``calculate_metrics(kid=True)`` on the same image folders and weights file.

Reconstructions are torch-fidelity's input1, originals its input2. The run and the API must
also give the same PSNR/SSIM/rFID/KID, bit for bit, on the same images in the same batches."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from helpers_inception import fidelity_inception_weights  # noqa: E402,F401 - session fixture
from helpers_runs import one_thread  # noqa: E402
from PIL import Image

COUNT, SIZE, SUBSET, BATCH = 24, 48, 12, 8
CODEC = {"type": "codec", "format": "jpeg", "quality": 5}


@pytest.fixture(scope="module")
def folders(tmp_path_factory, photos):
    """Originals (24 photo crops, 48 x 48 PNG) and their JPEG-q5 reconstructions as PNG files."""
    import torch

    from wetok_bench.protocols import get_protocol, round_to_u8
    from wetok_bench.tokenizers.registry import create_tokenizer

    root = tmp_path_factory.mktemp("kid")
    orig, rec = root / "orig", root / "rec"
    orig.mkdir()
    rec.mkdir()
    rng = np.random.default_rng(5)
    images = list(photos.values())
    codec, protocol = create_tokenizer(CODEC), get_protocol("standard")
    for i in range(COUNT):
        photo = images[i % len(images)]
        top, left = rng.integers(0, photo.shape[0] - 2 * SIZE), rng.integers(0, photo.shape[1] - 2 * SIZE)
        crop = np.ascontiguousarray(photo[top : top + 2 * SIZE : 2, left : left + 2 * SIZE : 2])
        Image.fromarray(crop).save(orig / f"{i:02d}.png")
        original = torch.from_numpy(crop).permute(2, 0, 1)[None].contiguous()
        recon, _ = codec.reconstruct(protocol.original_float(original))
        Image.fromarray(round_to_u8(recon[0]).permute(1, 2, 0).numpy()).save(rec / f"{i:02d}.png")
    return orig, rec


@pytest.fixture(scope="module")
def fidelity_kid(folders, fidelity_inception_weights):
    import torch_fidelity

    orig, rec = folders
    # one intra-op thread, as for our side: float32 convolutions round differently with another
    # thread count, and KID's float32 estimator turns that into ~5e-6 relative
    with one_thread():
        out = torch_fidelity.calculate_metrics(
            input1=str(rec), input2=str(orig), kid=True, kid_subset_size=SUBSET,
            feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(fidelity_inception_weights),
            cuda=False, cache=False, verbose=False, batch_size=BATCH, save_cpu_ram=True,
        )
    return out[torch_fidelity.KEY_METRIC_KID_MEAN], out[torch_fidelity.KEY_METRIC_KID_STD]


@pytest.mark.slow
def test_score_equals_torch_fidelity(folders, fidelity_kid, fidelity_inception_weights, tmp_path):
    from wetok_bench.cli.main import cli

    orig, rec = folders
    out = tmp_path / "score.json"
    with one_thread():
        result = CliRunner().invoke(cli, ["score", str(orig), str(rec), "--metrics", "kid", "--device", "cpu",
                                          "--inception-weights", str(fidelity_inception_weights),
                                          "--setting", f"kid.subset_size={SUBSET}", "--batch-size", str(BATCH),
                                          "--out", str(out), "--results", str(tmp_path / "r1")])
    assert result.exit_code == 0, result.output
    scored = json.loads(out.read_text())
    mean, std = fidelity_kid
    # random-weight features barely tell JPEG-q5 from the originals (KID -4.8e-4 +- 1.6e-3 at
    # subset size 12), but the numbers are far from 0: another subset draw, order or kernel would show
    assert abs(mean) > 1e-5 and std > 1e-4
    assert scored["metrics"]["kid"] == pytest.approx(mean, rel=1e-6)
    assert scored["metrics"]["kid_std"] == pytest.approx(std, rel=1e-6)
    assert scored["kid"]["subset_size"] == SUBSET and scored["kid"]["subsets"] == 100 and scored["kid"]["seed"] == 2020
    assert scored["metric_info"]["kid"]["higher_is_better"] is False
    # The originals' features come from the reference cache the second time: same numbers.
    with one_thread():
        again = CliRunner().invoke(cli, ["score", str(orig), str(rec), "--metrics", "kid", "--device", "cpu",
                                         "--inception-weights", str(fidelity_inception_weights),
                                         "--setting", f"kid.subset_size={SUBSET}", "--batch-size", str(BATCH),
                                         "--out", str(tmp_path / "again.json"), "--results", str(tmp_path / "r2")])
    assert again.exit_code == 0, again.output
    second = json.loads((tmp_path / "again.json").read_text())
    hits = [json.loads(next((tmp_path / r).glob("*/manifest.json")).read_text())["reference_cache_hit"] for r in ("r1", "r2")]
    assert hits == [False, True]
    assert second["metrics"]["kid"] == scored["metrics"]["kid"] and second["metrics"]["kid_std"] == scored["metrics"]["kid_std"]


@pytest.mark.slow
def test_run_and_api_equal_torch_fidelity(folders, fidelity_kid, fidelity_inception_weights, tmp_path):
    import torch

    from wetok_bench import ReconstructionMetrics
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.engine import run_suite
    from wetok_bench.tokenizers.registry import create_tokenizer

    orig, _ = folders
    metrics = ["psnr", "ssim", "rfid", "kid"]
    suite = parse_suite({
        "name": "k", "datasets": [{"type": "folder", "name": "imgs", "root": str(orig)}], "tokenizers": [CODEC],
        "metrics": metrics, "resolution": SIZE, "batch_size": BATCH, "num_workers": 0, "device": "cpu",
        "output": str(tmp_path / "out"), "weights": {"inception": str(fidelity_inception_weights)},
        "kid": {"subset_size": SUBSET},
    })
    with one_thread():
        summary = run_suite(suite, progress=False).outcomes[0].summary
    mean, std = fidelity_kid
    assert summary["metrics"]["kid"] == pytest.approx(mean, rel=1e-6)
    assert summary["metrics"]["kid_std"] == pytest.approx(std, rel=1e-6)
    assert summary["kid"]["subset_size"] == SUBSET and summary["metric_info"]["kid"]["higher_is_better"] is False
    manifest = yaml.safe_load((tmp_path / "out" / "k" / f"jpeg-q5__imgs__{SIZE}" / "manifest.json").read_text())
    assert manifest["metrics"]["metric_settings"] == {"kid": {"subsets": 100, "subset_size": SUBSET, "seed": 2020}}

    # The Python API on the same images in the same order and batches: the run's numbers, exactly.
    api = ReconstructionMetrics("standard", metrics, "cpu", weights={"inception": fidelity_inception_weights},
                                settings={"kid": {"subset_size": SUBSET}})
    codec = create_tokenizer(CODEC)
    files = sorted(orig.iterdir())
    with one_thread():
        for start in range(0, COUNT, BATCH):
            originals = torch.stack([torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)
                                     for f in files[start : start + BATCH]]).contiguous()
            recon, _ = codec.reconstruct(api.protocol.original_float(originals))
            api.update(originals, recon)
        values = api.compute()
    for key in ("psnr", "ssim", "rfid", "kid", "kid_std"):
        assert values[key] == summary["metrics"][key], key

    # Shown in the leaderboard and the plots, and compared by `check` (the baseline's metric_info
    # for kid is removed: the direction comes from the result's, which the registry wrote).
    from wetok_bench.commands.check import check_results
    from wetok_bench.commands.record import record_baseline
    from wetok_bench.report.leaderboard import build_leaderboards
    from wetok_bench.report.plots import plot_metrics
    from wetok_bench.results.records import load_results

    results = tmp_path / "out" / "k"
    board = build_leaderboards(load_results([results]))[0]
    column = next(c for c in board.columns if c.key == "kid")
    assert column.header == "KID" and column.higher_is_better is False
    assert board.rows[0].value("kid") == summary["metrics"]["kid"]
    assert ("kid", "KID") in plot_metrics(board) and ("kid_std", "KID std") not in plot_metrics(board)
    baseline = record_baseline([results], tmp_path / "baseline.json")
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        entry["metrics"]["kid"] = summary["metrics"]["kid"] - 0.5  # the recorded KID was much lower
        entry.get("metric_info", {}).pop("kid", None)
    baseline.write_text(json.dumps(data))
    rows = {row.metric: row for row in check_results([results], baseline).rows}
    assert rows["kid"].status == "regression" and rows["psnr"].status == "ok"
