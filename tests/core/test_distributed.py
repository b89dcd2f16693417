"""torchrun on CPU (gloo, 2 processes) gives the single-process results: same per-image values
bit for bit, same counts, every image measured once, and the same statistics in float64."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import plugin_tokenizers
import pytest
import torch
import yaml
from helpers_inception import write_fidelity_inception_weights
from helpers_lock import hold_lock
from helpers_lpips import random_backbone_file
from helpers_runs import CORRUPT, TESTS, cli_env, photo_folder, read_rows, run_here

from wetok_bench.core.lock import LOCK_FILE

pytest.importorskip("torch.distributed.run")
pytestmark = pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="torch built without gloo")

JOB = "jpeg-q30__imgs__64"


def _write(path: Path, suite: dict) -> Path:
    path.write_text(yaml.safe_dump(suite))
    return path


def _torchrun(suite_file: Path, out: Path, home: Path, *python_paths: Path) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m wetok_bench run SUITE`` on CPU (gloo)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "wetok_bench", "run", str(suite_file), "--quiet", "--out", str(out)]
    return subprocess.run(command, env=cli_env(home, *python_paths), capture_output=True, text=True, timeout=300)


def _reference_stats(home: Path):
    """The reference-statistics cache file a run left in ``home`` (exactly one dataset)."""
    from wetok_bench.metrics.functional.fid import FeatureStats

    # the statistics file, not the Frechet factor cached beside it (<file>.frechet.pt)
    (path,) = [p for p in (home / "cache" / "reference_stats").glob("*.pt") if not p.name.endswith(".frechet.pt")]
    return FeatureStats.from_state_dict(torch.load(path, weights_only=True)["state"])


def test_torchrun_two_ranks_equals_one_process(tmp_path, photos, _isolated_home, monkeypatch, fresh_plugins):
    # A plug-in tokenizer that draws noise per image: 1 and 2 ranks give each image the same draw.
    site = plugin_tokenizers.install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    # 8 photos + 1 corrupt file = 9 records: an odd count, so the ranks' slices differ in size
    # (with batch_size 2 they are cut at batch boundaries: 4 and 5 records).
    images = photo_folder(tmp_path / "images", photos, count=8)
    weights = tmp_path / "weights"
    suite = {
        "name": "dist",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 30}, {"type": "test-noisy", "name": "noisy"}],
        "metrics": ["psnr", "ssim", "lpips", "rfid"],
        "resolution": 64,
        "batch_size": 2,
        "shard_size": 3,
        "grids": {"count": 2, "worst_k": 3},
        "num_workers": 0,
        "device": "cpu",
        "output": str(tmp_path / "unused"),
        "weights": {
            "inception": str(write_fidelity_inception_weights(weights / "inception.pth")),
            "lpips_alex": str(random_backbone_file("alex", weights / "alex.pth")),
        },
    }
    suite_file = _write(tmp_path / "suite.yaml", suite)

    single = run_here(suite_file, tmp_path / "one")
    assert single.exit_code == 0

    # The distributed run gets its own cache home: it must compute the reference statistics
    # across both ranks, not read the single run's.
    home = tmp_path / "home2"
    result = _torchrun(suite_file, tmp_path / "two", home, site, TESTS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _same_noisy_job_and_grids(tmp_path / "one" / "dist" / "noisy__imgs__64", tmp_path / "two" / "dist" / "noisy__imgs__64")
    assert result.stdout.count(JOB) == 1  # only rank 0 prints the table

    one, two = tmp_path / "one" / "dist" / JOB, tmp_path / "two" / "dist" / JOB
    rows_one, rows_two = read_rows(one), read_rows(two)
    # Bit-identical per-image values (the CSV text holds the full float repr), same order.
    assert rows_two == rows_one
    keys = [r["key"] for r in rows_two]
    expected = sorted(p.name for p in images.iterdir() if p.name != CORRUPT)
    assert sorted(keys) == expected and len(set(keys)) == len(keys) == 8

    s1, s2 = (json.loads((f / "summary.json").read_text()) for f in (one, two))
    m2 = json.loads((two / "manifest.json").read_text())
    assert m2["world_size"] == 2 and m2["images"] == 8
    assert s2["counts"] == s1["counts"] == {"images": 8, "skipped": 1, "selected": 9, "reference_images": 8}
    assert s2["skipped_files"] == s1["skipped_files"] and [s["key"] for s in s2["skipped_files"]] == [CORRUPT]
    for name in ("psnr", "ssim", "lpips"):
        assert s2["metrics"][name] == s1["metrics"][name]  # means of identical values in the same order

    # Reference statistics: the same per-shard float64 sums folded in shard order on both
    # sides, hence the same bits (an all_reduce of per-rank totals would differ in the last bits).
    ref1, ref2 = _reference_stats(_isolated_home), _reference_stats(home)
    assert ref1.n == ref2.n == 8
    assert torch.equal(ref2.mean(), ref1.mean()) and torch.equal(ref2.covariance(), ref1.covariance())

    # rFID: with 8 images against 2048 features both covariances are rank-deficient, where
    # float64 rounding in the sums would move the distance by ~1e-7 relative; ordered folding
    # removes that, so the 1e-9 relative bound holds (in fact the values are equal).
    assert s2["metrics"]["rfid"] == pytest.approx(s1["metrics"]["rfid"], rel=1e-9)
    assert s1["rfid"]["n"] == s2["rfid"]["n"] == s1["rfid"]["n_ref"] == 8

    assert not (two / ".partial").exists() and not (tmp_path / "two" / "dist" / ".wetok-bench.lock").exists()


def _same_noisy_job_and_grids(one: Path, two: Path) -> None:
    """The noisy tokenizer's rows and grid images are the same bits from 1 and 2 ranks."""
    import numpy as np

    from wetok_bench.results.grid_files import load_grid_images

    assert len(read_rows(one)) == 8 and read_rows(two) == read_rows(one)
    (metric1, grid1), (metric2, grid2) = load_grid_images(one), load_grid_images(two)
    assert metric1 == metric2 == "lpips" and len(grid1) >= 3
    assert [(g.key, g.fixed, g.worst, g.values) for g in grid2] == [(g.key, g.fixed, g.worst, g.values) for g in grid1]
    for a, b in zip(grid1, grid2):
        assert np.array_equal(a.original, b.original) and np.array_equal(a.recon, b.recon)


def test_torchrun_on_a_locked_folder_stops_every_rank_with_the_message(tmp_path, photos):
    images = photo_folder(tmp_path / "images", photos, count=3)
    suite_file = _write(tmp_path / "suite.yaml", {
        "name": "dist", "datasets": [{"type": "folder", "root": str(images)}], "tokenizers": [{"type": "identity"}],
        "metrics": ["psnr"], "resolution": 64, "num_workers": 0, "device": "cpu"})
    folder = tmp_path / "out" / "dist"
    owner = hold_lock(folder)
    try:
        holder = json.loads((folder / LOCK_FILE).read_text())
        result = _torchrun(suite_file, tmp_path / "out", tmp_path / "home")
    finally:
        owner.kill()
        owner.wait()
    assert result.returncode != 0
    # Both ranks stop on the lock's message; none is left to die in a collective.
    assert result.stderr.count(f"is in use by another run (pid {owner.pid}") == 2, result.stderr[-3000:]
    assert "internal error" not in result.stderr and "Connection reset" not in result.stderr
    assert json.loads((folder / LOCK_FILE).read_text()) == holder  # the owner's lock is untouched
    assert [p.name for p in folder.iterdir()] == [LOCK_FILE]  # nothing written


@pytest.mark.parametrize("world", [1, 2, 3, 8])
@pytest.mark.parametrize("unit", [1, 2, 5])
def test_shard_plan_covers_once_at_batch_boundaries(world, unit):
    from wetok_bench.core.distributed import ShardPlan

    for n in range(0, 23):
        for shard_size in (1, 3, 7):
            plan = ShardPlan.build(n, unit, shard_size, world)
            assert plan.size % unit == 0 and plan.size >= shard_size  # shards hold whole batches
            owned = [g for r in range(world) for g in plan.shards_of(r)]
            assert owned == list(range(plan.count))  # each shard once, ranks in shard order
            assert all(plan.owner(g) == r for r in range(world) for g in plan.shards_of(r))
            covered = [i for g in range(plan.count) for i in range(*plan.bounds(g))]
            assert covered == list(range(n))  # every image once, in order
            counts = [len(plan.shards_of(r)) for r in range(world)]
            assert max(counts) - min(counts) <= 1 and plan.max_per_rank == max(counts, default=0)
            # Shards do not depend on the number of ranks: the same as one process's.
            assert [plan.bounds(g) for g in range(plan.count)] == [
                ShardPlan.build(n, unit, shard_size, 1).bounds(g) for g in range(plan.count)]
