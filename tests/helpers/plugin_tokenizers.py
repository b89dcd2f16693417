"""Tokenizers that misbehave on purpose, loaded as a real plug-in through an entry point.

``install_plugin(tmp_dir)`` writes a ``*.dist-info`` folder declaring the entry-point group
``wetok_bench.tokenizers`` and returns the folder to put on ``PYTHONPATH`` (subprocesses) or
``sys.path`` (this process), which is how a third-party package would plug in.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from wetok_bench.tokenizers.base import Compression, Tokenizer

ENTRY_POINTS = {
    "test-flaky": "plugin_tokenizers:create_flaky",
    "test-nan": "plugin_tokenizers:create_nan",
    "test-slow": "plugin_tokenizers:create_slow",
    "test-noisy": "plugin_tokenizers:create_noisy",
}


class _Blur(Tokenizer):
    """A deterministic lossy 'tokenizer': 2x average-pool then nearest upsample (f2, 3 ch x 8 bit)."""

    kind = "continuous"
    downsample = 2

    def encode(self, x):
        return torch.nn.functional.avg_pool2d(x, 2)

    def decode(self, code, *, noise=None):
        return torch.nn.functional.interpolate(code, scale_factor=2, mode="nearest")

    def compression(self, height, width):
        return Compression(height=height, width=width, bits_per_image=height * width * 3 * 8 / 4)

    def fingerprint(self):
        return {"type": type(self).__name__}


class Flaky(_Blur):
    """Raises on the batch that contains the image whose key is in ``$TEST_FAIL_KEYS``."""

    def reconstruct(self, x, **kwargs):
        self.calls = getattr(self, "calls", 0) + 1
        fail_at = int(os.environ.get("TEST_FAIL_AT_CALL", "0"))
        if fail_at and self.calls >= fail_at:
            raise RuntimeError("simulated tokenizer crash")
        return super().reconstruct(x, **kwargs)


class NaNTokenizer(_Blur):
    """Returns NaN for the second image of every batch."""

    def decode(self, code, *, noise=None):
        out = super().decode(code)
        if out.shape[0] > 1:
            out[1, 0, 0, 0] = float("nan")
        return out


class Slow(_Blur):
    """Sleeps ``$TEST_SLOW_S`` seconds per batch, so a test can kill a run mid-way.

    With ``$TEST_CALL_LOG`` set, each call appends a line (the batch size) to that file, so a
    test can count how many images a resumed run measured again.
    """

    def reconstruct(self, x, **kwargs):
        time.sleep(float(os.environ.get("TEST_SLOW_S", "0.3")))
        log = os.environ.get("TEST_CALL_LOG")
        if log:
            with open(log, "a") as handle:
                handle.write(f"{x.shape[0]}\n")
        return super().reconstruct(x, **kwargs)


class Noisy(_Blur):
    """A generative decoder in miniature: the blur plus 0.1 x each image's own standard normal
    noise (from the :class:`ImageNoise` it is given), so its values depend on the noise draw."""

    def decode(self, code, *, noise=None):
        out = super().decode(code)
        if noise is not None:
            out = out + 0.1 * noise.randn(out.shape[1:], device=out.device, dtype=out.dtype)
        return out


def create_noisy(*, name: str = "noisy") -> Tokenizer:
    return Noisy(name)


def create_flaky(*, name: str = "flaky") -> Tokenizer:
    return Flaky(name)


def create_nan(*, name: str = "nan") -> Tokenizer:
    return NaNTokenizer(name)


def create_slow(*, name: str = "slow") -> Tokenizer:
    return Slow(name)


def install_plugin(site: Path) -> Path:
    """Write an installed-package record for this module's entry points under ``site``."""
    info = site / "wetok_bench_test_plugins-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wetok-bench-test-plugins\nVersion: 0.1\n")
    lines = ["[wetok_bench.tokenizers]"] + [f"{k} = {v}" for k, v in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site
