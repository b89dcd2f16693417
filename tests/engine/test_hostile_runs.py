"""Odd runs (issue 20: 3, 7, 8, 9, 10): resumed throughput, original resolution, git locks, a full
disk, enlarged images."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite
from wetok_bench.engine.shards import ShardStore

DATA = Path(__file__).resolve().parents[1] / "data"


def _folder(root: Path, photos, sizes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, (name, (h, w)) in enumerate(zip(sorted(photos), sizes)):
        Image.fromarray(np.ascontiguousarray(photos[name][:h, :w])).save(root / f"{i}_{name}.png")
    return root


def _suite(tmp_path, root, **changes):
    data = {"name": "s", "output": str(tmp_path / "out"), "metrics": ["psnr"], "resolution": 32, "batch_size": 2,
            "shard_size": 2, "num_workers": 0, "device": "cpu",
            "datasets": [{"type": "folder", "name": "d", "root": str(root)}],
            "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 50, "name": "jpeg"}]}
    data.update(changes)
    return parse_suite(data)


def test_a_resumed_job_counts_only_the_images_this_run_measured(tmp_path, photos, monkeypatch):
    root = _folder(tmp_path / "imgs", photos, [(40, 40)] * 5)
    monkeypatch.setattr(ShardStore, "discard", lambda self: None)  # keep the shards, as a killed run leaves them
    first = run_suite(_suite(tmp_path, root), progress=False).outcomes[0]
    assert first.summary["cost"]["resumed_images"] == 0 and first.summary["cost"]["images_per_s"] > 0
    job = first.folder
    (job / "summary.json").unlink()  # not finished: measured again from its shards
    again = run_suite(_suite(tmp_path, root), progress=False).outcomes[0].summary
    assert again["counts"]["images"] == 5 and again["cost"]["resumed_images"] == 5
    assert again["cost"]["images_per_s"] is None  # nothing measured now: no rate from this run's time
    assert json.loads((job / "manifest.json").read_text()).get("images_per_s") is None  # not recorded
    (job / "summary.json").unlink()
    (job / ".partial" / "shard000002.pt").unlink()  # the last shard (1 image) is measured again
    part = run_suite(_suite(tmp_path, root), progress=False).outcomes[0].summary
    assert part["cost"]["resumed_images"] == 4
    assert 0 < part["cost"]["images_per_s"] <= 1 / part["cost"]["wall_s"] + 1e-9  # 1 image over this run's time


def test_original_resolution_pads_to_the_factor_and_an_explicit_policy_is_kept(tmp_path, photos):
    """An odd-sized image at ``resolution: original`` is padded to the tokenizer's factor (here 2:
    the tiny WeTok of the test vectors) and cropped back, as documented; ``size_policy: error``
    written out is honoured (a clear failure)."""
    root = _folder(tmp_path / "imgs", photos, [(45, 46), (33, 40)])
    wetok = {"type": "wetok", "name": "w", "checkpoint": str(DATA / "wetok_tiny_f2" / "WeTok.ckpt"),
             "config": str(DATA / "wetok_tiny_f2" / "config.yaml")}
    ok = run_suite(_suite(tmp_path, root, resolution="original", tokenizers=[wetok]), progress=False)
    assert ok.exit_code == 0 and ok.outcomes[0].summary["counts"]["images"] == 2
    strict = run_suite(_suite(tmp_path, root, resolution="original", name="s2",
                              tokenizers=[{**wetok, "size_policy": "error"}]), progress=False)
    assert strict.exit_code == 1 and "multiple" in strict.outcomes[0].error


def test_enlarged_images_are_counted_and_named(tmp_path, photos, caplog):
    root = _folder(tmp_path / "imgs", photos, [(1, 1), (200, 3), (40, 40)])
    report = run_suite(_suite(tmp_path, root), progress=False)
    assert report.outcomes[0].summary["counts"]["upscaled"] == 2
    assert any("2 of 3 images are smaller than 32 px" in r.getMessage() for r in caplog.records)


def test_reading_the_commit_takes_no_git_lock(tmp_path):
    """``git status`` refreshes the index of a checkout whose files changed stamps, writing
    ``.git/index`` under ``.git/index.lock``; the harness reads the commit without that."""
    from wetok_bench.core.versions import git_commit

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    stamp = (repo / "a.txt").stat().st_mtime + 10
    os.utime(repo / "a.txt", (stamp, stamp))  # same content, new stamps: a plain `git status` rewrites the index
    index = repo / ".git" / "index"
    before = index.stat().st_mtime_ns, index.read_bytes()
    assert git_commit(repo) is not None and not git_commit(repo).endswith("+dirty")
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before
    subprocess.run([*git, "status", "--porcelain"], check=True, capture_output=True)
    assert index.read_bytes() != before[1]  # what the harness avoids: git itself refreshes it


def test_a_full_disk_says_so_and_leaves_no_temporary_file(tmp_path, photos, monkeypatch):
    """torch's zip writer fails on a full disk with ``RuntimeError: [enforce fail ...]``: the job
    fails with a message saying what happened, and no ``.tmp`` shard stays behind."""
    root = _folder(tmp_path / "imgs", photos, [(40, 40)] * 3)
    real_save = torch.save

    def full(obj, path):
        real_save({"partial": torch.zeros(10)}, path)  # some bytes written, then the disk is full
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr("wetok_bench.engine.shards.torch.save", full)
    report = run_suite(_suite(tmp_path, root), progress=False)
    assert report.exit_code == 1
    error = report.outcomes[0].error
    assert "cannot write" in error or "no space left" in error, error
    assert "shard000000.pt" in error and "enforce fail" not in error.split(":")[0]
    assert not list((tmp_path / "out").rglob("*.tmp"))
