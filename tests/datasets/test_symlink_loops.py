"""Symbolic links in a folder dataset (issue 20, 2): each image counts once, a loop is named and
never walked twice, a link to nothing is a recorded skip of every job, not a crash."""

from __future__ import annotations

import os
import time

import numpy as np
from PIL import Image

from wetok_bench.config.suite import parse_suite
from wetok_bench.data.folder import FolderDataset
from wetok_bench.engine import run_suite


def _images(root, photos, count=3):
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(sorted(photos)[:count]):
        Image.fromarray(np.ascontiguousarray(photos[name][:40, :40])).save(root / f"{name}.png")
    return root


def test_a_folder_loop_counts_each_image_once_and_is_named(tmp_path, photos):
    root = _images(tmp_path / "imgs", photos)
    os.symlink(".", root / "again")  # ln -s . again
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "up")
    dataset = FolderDataset(root)
    assert [r.key for r in dataset.records()] == sorted(p.name for p in root.glob("*.png"))
    assert any("folder link(s) lead back" in w and "again" in w for w in dataset.warnings)


def test_two_loops_finish_at_once(tmp_path, photos):
    root = _images(tmp_path / "imgs", photos)
    for name in ("a", "b"):
        os.symlink(".", root / name)
    start = time.perf_counter()
    assert len(FolderDataset(root).records()) == 3
    assert time.perf_counter() - start < 5  # not exponential


def test_a_file_link_to_nothing_is_a_recorded_skip(tmp_path, photos):
    root = _images(tmp_path / "imgs", photos)
    os.symlink("loop.png", root / "loop.png")  # a link to itself
    os.symlink("gone.png", root / "broken.png")
    dataset = FolderDataset(root)
    assert len(dataset.records()) == 3
    assert sorted(key for key, _ in dataset.missing) == ["broken.png", "loop.png"]
    suite = parse_suite({"name": "s", "output": str(tmp_path / "out"), "metrics": ["psnr"], "resolution": 32,
                         "num_workers": 0, "device": "cpu", "datasets": [{"type": "folder", "name": "d", "root": str(root)}],
                         "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 50}]})
    report = run_suite(suite, progress=False)
    assert report.exit_code == 0
    summary = report.outcomes[0].summary
    assert summary["counts"]["images"] == 3 and summary["counts"]["skipped"] == 2
    assert {s["key"] for s in summary["skipped_files"]} == {"broken.png", "loop.png"}
