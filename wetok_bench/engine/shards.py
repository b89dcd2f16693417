"""A job's resumable shards: ``<job>/.partial/`` with ``state.json`` and ``shardNNNNNN.pt``.

Each finished shard (rows, skipped files and partial float64 sums) is written atomically. The
partial state is kept only when ``state.json`` holds exactly this job's resume fingerprint
(what changes the shards' numbers or layout); a changed fingerprint discards it instead of
mixing it in. Shard files are numbered globally, so a resumed run finds its shards whatever the
number of ranks.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path

import torch

from wetok_bench.core import distributed as D
from wetok_bench.core.errors import WetokBenchError

PARTIAL_DIR = ".partial"


class ShardWriteError(WetokBenchError):
    """A finished shard could not be written (no space left, a read-only folder ...)."""


def write_failure(path: Path, error: BaseException) -> str:
    """Why writing ``path`` failed, in words: ``no space left on device`` when the disk is full."""
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(path.parent).free
        if getattr(error, "errno", None) == errno.ENOSPC or free < 16 << 20:
            return f"no space left on device writing {path} ({free:,} bytes free): free space or choose another output"
    reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
    return f"cannot write {path}: {reason}"


class ShardStore:
    """The ``.partial`` folder of one job."""

    def __init__(self, job_folder: Path, fingerprint: dict, ctx: D.DistContext) -> None:
        self.folder = job_folder / PARTIAL_DIR
        self.fingerprint, self.ctx = fingerprint, ctx

    def prepare(self) -> None:
        """Keep the folder only when it was written for exactly this fingerprint (a collective call)."""
        from wetok_bench.results.records import atomic_write_text

        state_file = self.folder / "state.json"
        if self.ctx.is_main:
            keep = False
            with contextlib.suppress(OSError, ValueError):
                keep = json.loads(state_file.read_text()) == json.loads(json.dumps(self.fingerprint, default=str))
            if not keep:
                shutil.rmtree(self.folder, ignore_errors=True)
                self.folder.mkdir(parents=True, exist_ok=True)
                atomic_write_text(state_file, json.dumps(self.fingerprint, default=str, sort_keys=True))
        D.barrier(self.ctx)

    def path(self, index: int) -> Path:
        return self.folder / f"shard{index:06d}.pt"

    def load(self, index: int, keys: list[str]) -> dict | None:
        """Shard ``index`` when it exists and covers exactly ``keys``; None otherwise."""
        path = self.path(index)
        if not path.is_file():
            return None
        try:
            shard = torch.load(path, map_location="cpu", weights_only=True)
            if shard.get("keys") != keys:
                return None
            return shard
        except Exception:  # noqa: BLE001 - a torn or corrupt shard is recomputed, never trusted
            return None

    def save(self, index: int, shard: dict) -> None:
        """Write shard ``index`` atomically (temporary file, then rename). A write that fails (a
        full disk: torch's zip writer raises ``RuntimeError: [enforce fail ...]``) removes the
        temporary file and is a :class:`ShardWriteError` saying why."""
        path = self.path(index)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            torch.save(shard, tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as error:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ShardWriteError(write_failure(path, error)) from error

    def discard(self) -> None:
        """Remove the partial state once the job's results are written."""
        shutil.rmtree(self.folder, ignore_errors=True)
