"""Shared pieces of the tests that run whole suites in subprocesses (torchrun, kill and resume).

``photo_folder`` writes small crops of scikit-image's real photos plus one corrupt file;
``cli_env`` is the environment of a ``python -m wetok_bench`` subprocess (offline, one
intra-op thread, its own cache home, plug-ins importable); ``run_here`` runs the same suite in
this process with one thread, so its float32 kernels take the same paths as the subprocesses'.
"""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

TESTS = Path(__file__).resolve().parent
CORRUPT = "broken.jpg"


def photo_folder(root: Path, photos: dict[str, np.ndarray], count: int, size: int = 64) -> Path:
    """``count`` distinct ``size`` x ``size`` crops of the photos (PNG) and one corrupt JPEG."""
    root.mkdir(parents=True, exist_ok=True)
    names = sorted(photos)
    for i in range(count):
        array = photos[names[i % len(names)]]
        step = i // len(names)  # a second crop of the same photo starts further in
        y, x = 30 + 45 * step, 50 + 60 * step
        Image.fromarray(np.ascontiguousarray(array[y : y + size, x : x + size])).save(root / f"{names[i % len(names)]}_{step}.png")
    (root / CORRUPT).write_bytes(b"\xff\xd8\xff\xe0 truncated: not really a jpeg")
    return root


def cli_env(home: Path, *python_paths: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``python -m wetok_bench`` (or torchrun) subprocess."""
    env = dict(os.environ)
    env.update({
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "WETOK_BENCH_OFFLINE": "1",
        "WETOK_BENCH_HOME": str(home),
        "TORCH_HOME": str(home / "torch"),
        "PYTHONPATH": os.pathsep.join([*map(str, python_paths), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    })
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)  # the parent's own launcher must not leak into the child
    env.update(extra)
    return env


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Intra-op threads = 1 for the block (what OMP_NUM_THREADS=1 gives the subprocesses)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_here(suite_file: Path, out: Path):
    """``wetok-bench run SUITE --out OUT`` in this process, single rank, one thread."""
    from wetok_bench.config.suite import load_suite
    from wetok_bench.engine import run_suite

    with one_thread():
        return run_suite(load_suite(suite_file), out=out, progress=False)


def read_rows(job_folder: Path) -> list[dict[str, str]]:
    """``per_image.csv`` of a job as text rows (exact comparison, no float parsing)."""
    with open(job_folder / "per_image.csv", newline="") as handle:
        return list(csv.DictReader(handle))
