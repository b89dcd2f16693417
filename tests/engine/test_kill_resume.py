"""A run killed with SIGKILL and started again with the same command resumes from its finished
shards and ends with the results of an uninterrupted run; a truncated shard and a corrupt
reference-statistics cache file are recomputed, never trusted; the dead run's lock is taken over."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import plugin_tokenizers
import pytest
import torch
import yaml
from helpers_inception import write_fidelity_inception_weights
from helpers_runs import CORRUPT, TESTS, cli_env, photo_folder, read_rows

from wetok_bench.core.lock import LOCK_FILE

JOB = "slow__imgs__64"
SHARD_RE = re.compile(r"^shard(\d{6})\.pt$")


@pytest.fixture
def setup(tmp_path, photos):
    """Suite file (slow plug-in tokenizer, shards of 2 images, batches of 1) and a run() helper."""
    images = photo_folder(tmp_path / "images", photos, count=9)  # 9 photos + 1 corrupt = 10 records
    site = plugin_tokenizers.install_plugin(tmp_path / "site")
    suite = {
        "name": "kr",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "test-slow", "name": "slow"}],
        "metrics": ["psnr", "ssim", "rfid"],
        "resolution": 64,
        "batch_size": 1,
        "shard_size": 2,
        "num_workers": 0,
        "device": "cpu",
        "output": str(tmp_path / "out"),
        "weights": {"inception": str(write_fidelity_inception_weights(tmp_path / "w" / "inception.pth"))},
    }
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    command = [sys.executable, "-m", "wetok_bench", "run", str(suite_file), "--quiet"]

    def env(home: Path, log: Path, slow_s: float, **extra: str) -> dict[str, str]:
        return cli_env(home, site, TESTS, TEST_CALL_LOG=str(log), TEST_SLOW_S=str(slow_s), **extra)

    return images, command, env


def _calls(log: Path) -> int:
    """Images the slow tokenizer reconstructed (one line per batch, holding its size)."""
    return sum(int(line) for line in log.read_text().split()) if log.exists() else 0


def _finished_shards(partial: Path) -> dict[int, Path]:
    return {int(m.group(1)): p for p in partial.glob("*.pt") if (m := SHARD_RE.search(p.name))}


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, setup):
    images, command, env = setup
    out, home = tmp_path / "out" / "kr", tmp_path / "home"
    partial = out / JOB / ".partial"
    records = sorted(p.name for p in images.iterdir())  # the folder dataset's order: sorted keys
    shards = [records[i : i + 2] for i in range(0, len(records), 2)]
    assert len(shards) == 5 and CORRUPT in records

    # 1. Start the run and SIGKILL it once three of its five shards are on disk.
    with open(tmp_path / "first.err", "w") as first_err:
        first = subprocess.Popen(command, env=env(home, tmp_path / "calls1.log", 0.4),
                                 stdout=subprocess.DEVNULL, stderr=first_err)
    deadline = time.monotonic() + 240
    while len(_finished_shards(partial)) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL, (tmp_path / "first.err").read_text()[-3000:]
    done = _finished_shards(partial)
    assert 3 <= len(done) < len(shards), f"killed too late or too early: shards {sorted(done)}"
    assert sorted(done) == list(range(len(done)))  # one rank finishes its shards in order

    # The dead run's lock stays behind, naming a process that no longer exists.
    lock = json.loads((out / LOCK_FILE).read_text())
    assert lock["pid"] == first.pid and lock["host"] == socket.gethostname()
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid, 0)

    # 2. Damage: truncate the first finished shard and the reference-statistics cache file.
    shard0 = done[0]
    shard0.write_bytes(shard0.read_bytes()[: shard0.stat().st_size // 2])
    (cache_file,) = [p for p in (home / "cache" / "reference_stats").glob("*.pt") if not p.name.endswith(".frechet.pt")]
    cache_file.write_bytes(cache_file.read_bytes()[:1000])

    # 3. The same command again: takes over the stale lock, reuses the intact shards and
    #    recomputes the truncated one and those never finished.
    second = subprocess.run(command, env=env(home, tmp_path / "calls2.log", 0.0), capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    reused = set(done) - {0}
    expected_calls = sum(1 for i, keys in enumerate(shards) if i not in reused for key in keys if key != CORRUPT)
    assert _calls(tmp_path / "calls2.log") == expected_calls
    assert expected_calls < len(records) - 1  # something was really reused
    assert "unusable" in second.stderr and str(cache_file.name) in second.stderr
    assert not (out / LOCK_FILE).exists() and not partial.exists()
    manifest = json.loads((out / JOB / "manifest.json").read_text())
    assert manifest["images"] == len(records) - 1

    # The rewritten cache file verifies itself again: a hit that never calls compute.
    from wetok_bench.metrics.reference_cache import cached_reference_stats

    def must_not_compute():
        raise AssertionError("the recomputed cache file did not verify")

    key = json.loads(torch.load(cache_file, weights_only=True)["key"])
    stats, hit = cached_reference_stats(key, must_not_compute, cache_dir=cache_file.parent)
    assert hit and stats.n == len(records) - 1
    print(f"killed after shards {sorted(done)}; resumed run reconstructed {expected_calls} of {len(records) - 1} images")

    # 4. An uninterrupted run of the same suite, with its own cache home, gives the same results.
    clean = subprocess.run([*command, "--out", str(tmp_path / "clean")], env=env(tmp_path / "home_clean", tmp_path / "calls3.log", 0.0),
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]
    assert _calls(tmp_path / "calls3.log") == len(records) - 1
    resumed_job, clean_job = out / JOB, tmp_path / "clean" / "kr" / JOB
    assert read_rows(resumed_job) == read_rows(clean_job)
    s_resumed, s_clean = (json.loads((j / "summary.json").read_text()) for j in (resumed_job, clean_job))
    assert s_resumed["metrics"] == s_clean["metrics"] and "rfid" in s_clean["metrics"]
    assert s_resumed["counts"] == s_clean["counts"] == {"images": 9, "skipped": 1, "selected": 10, "reference_images": 9}
    assert [s["key"] for s in s_resumed["skipped_files"]] == [CORRUPT]
