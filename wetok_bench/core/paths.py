"""Where wetok-bench keeps its own files: the home folder and the caches under it."""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """``$WETOK_BENCH_HOME`` or ``~/.cache/wetok_bench``."""
    return Path(os.environ.get("WETOK_BENCH_HOME") or Path.home() / ".cache" / "wetok_bench")


def cache_dir(name: str) -> Path:
    """``<home>/cache/<name>``: one cache (sha256 digests, reference statistics, sample photos)."""
    return home_dir() / "cache" / name
