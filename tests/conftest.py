"""Shared fixtures: everything offline, real photos from scikit-image, tiny random weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# The shared test helpers (random weights files, runs, plug-in examples) live in tests/helpers/,
# importable by their module names from every test folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WETOK_BENCH_OFFLINE", "1")

# Session fixtures that write random (kaiming-initialised) Inception weights files, shared by
# every test that needs one.
from helpers_inception import fidelity_inception_weights, pytorch_fid_inception_weights  # noqa: E402,F401
# ... and the random DINOv2 / CLIP ViT-L files of the FD-DINOv2 and CMMD vectors (1.2 GB each).
from helpers_vit import clip_weights, dinov2_weights  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VECTORS = SHARED / "vectors"
DATA = Path(__file__).resolve().parent / "data"


def shared_weights_dir() -> Path | None:
    """Folder with the real TAEF2 weights: $WETOK_BENCH_SHARED_WEIGHTS or ../shared/weights."""
    env = os.environ.get("WETOK_BENCH_SHARED_WEIGHTS")
    for candidate in (Path(env) if env else None, SHARED / "weights"):
        if candidate is not None and (candidate / "taef2_encoder.pth").is_file():
            return candidate
    return None


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test gets its own WETOK_BENCH_HOME and TORCH_HOME: no test sees a user's cache."""
    home = tmp_path_factory.mktemp("wb_home")
    monkeypatch.setenv("WETOK_BENCH_HOME", str(home))
    monkeypatch.delenv("WETOK_BENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    return home


@pytest.fixture
def fresh_plugins():
    """Every registry reads its entry points afresh (the test installs plug-ins), and again after it."""
    from wetok_bench.core import plugins

    plugins.reset()
    yield plugins
    plugins.reset()


@pytest.fixture
def registries(fresh_plugins):
    """Every registry as it is now, restored after the test (which may register its own entries
    through the public API, ``overwrite=True`` included); entry points read afresh."""
    from wetok_bench.data.preprocess import RESIZE_RULES
    from wetok_bench.data.registry import DATASETS
    from wetok_bench.metrics.extractors import EXTRACTORS
    from wetok_bench.metrics.registry import METRICS
    from wetok_bench.protocols import PROTOCOLS
    from wetok_bench.tokenizers.registry import TOKENIZERS

    kept = [(registry, registry.snapshot()) for registry in (TOKENIZERS, METRICS, DATASETS, EXTRACTORS, RESIZE_RULES,
                                                             PROTOCOLS)]
    yield
    for registry, snapshot in kept:
        registry.restore(snapshot)


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real RGB photos (uint8 H x W x 3) that ship with scikit-image, of odd sizes."""
    import skimage.data

    return {
        "astronaut": skimage.data.astronaut(),
        "chelsea": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
    }


@pytest.fixture
def taef2_weights_dir() -> Path:
    """The real TAEF2 weights folder; tests that need it skip with the reason elsewhere."""
    found = shared_weights_dir()
    if found is None:
        pytest.skip("real TAEF2 weights not found (set WETOK_BENCH_SHARED_WEIGHTS or place ../shared/weights)")
    return found
