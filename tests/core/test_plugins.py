"""docs/extending.md's examples, installed through entry points, each run through a suite.

The plug-in package is tests/plugin_examples.py, made visible as an installed distribution
(a ``*.dist-info`` folder with ``entry_points.txt`` on ``sys.path``). Expected values come from
numpy / skimage on the same uint8 images, not from the harness.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import plugin_examples  # noqa: E402
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench.cli.main import cli
from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite


@pytest.fixture
def examples(tmp_path, monkeypatch, fresh_plugins):
    """The example package installed; every registry reads its entry points afresh."""
    site = plugin_examples.install_examples(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def images(tmp_path, photos) -> Path:
    """Three 64 x 64 photo crops (PNG): the run's preprocessing at R = 64 leaves them as they are."""
    root = tmp_path / "images"
    root.mkdir()
    for name in sorted(photos)[:3]:
        Image.fromarray(np.ascontiguousarray(photos[name][40:104, 60:124])).save(root / f"{name}.png")
    return root


def _run(tmp_path: Path, dataset: dict, tokenizer: dict, metrics: list[str]) -> tuple[dict, list[dict]]:
    suite = parse_suite({
        "name": "plugins", "datasets": [dataset], "tokenizers": [tokenizer], "metrics": metrics,
        "resolution": 64, "batch_size": 2, "num_workers": 0, "device": "cpu", "output": str(tmp_path / "out"),
    })
    report = run_suite(suite, progress=False)
    assert report.exit_code == 0, [o.error for o in report.outcomes]
    job = tmp_path / "out" / "plugins" / report.outcomes[0].job.id
    with open(job / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return json.loads((job / "summary.json").read_text()), rows


def _pooled(image: np.ndarray, factor: int) -> np.ndarray:
    """The pool-and-repeat reconstruction as uint8, in float64 (standard protocol: x/127.5 - 1 in,
    round((y + 1) * 127.5) out)."""
    h, w, c = image.shape
    x = image.astype(np.float64) / 127.5 - 1
    means = x.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))
    y = np.repeat(np.repeat(means, factor, axis=0), factor, axis=1)
    return np.clip(np.round((y + 1) * 127.5), 0, 255).astype(np.uint8)


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_tokenizer_plugin_and_its_model_card(examples, images, tmp_path):
    summary, rows = _run(tmp_path, {"type": "folder", "name": "imgs", "root": str(images)},
                         {"type": "example-pool", "name": "pool4", "model": "example-pool-f4"}, ["psnr"])
    assert len(rows) == 3
    for row in rows:
        original = _load(images / row["key"])
        expected = peak_signal_noise_ratio(original, _pooled(original, 4), data_range=255)
        # ties of the rounding may fall the other way in float32 for a pixel or two
        assert float(row["psnr"]) == pytest.approx(expected, abs=0.01)
    # 64*64*24 bits / (16*16 positions x 3 values x 16 bits) = 8
    assert summary["compression"]["ratio"] == pytest.approx(8.0)
    listing = CliRunner().invoke(cli, ["list", "tokenizers"])
    assert listing.exit_code == 0, listing.output
    assert "example-pool" in listing.output
    cards = listing.output.split("model cards:")[1]
    card_line = next(line for line in cards.splitlines() if "example-pool-f4" in line)
    assert card_line.split()[:2] == ["example-pool-f4", "example-pool"]


def test_metric_plugin(examples, images, tmp_path):
    summary, rows = _run(tmp_path, {"type": "folder", "name": "imgs", "root": str(images)},
                         {"type": "codec", "format": "jpeg", "quality": 40}, ["psnr", "mae"])
    values = []
    for row in rows:
        original = _load(images / row["key"])
        buffer = io.BytesIO()
        Image.fromarray(original).save(buffer, format="JPEG", quality=40)  # Pillow's own round trip
        expected = np.abs(original.astype(np.float64) - np.asarray(Image.open(buffer).convert("RGB"))).mean()
        assert float(row["mae"]) == pytest.approx(expected, abs=1e-9)
        values.append(float(row["mae"]))
    assert summary["metrics"]["mae"] == pytest.approx(np.mean(values))
    assert summary["metric_info"]["mae"]["higher_is_better"] is False


def test_dataset_plugin(examples, images, tmp_path):
    names = sorted(p.name for p in images.glob("*.png"))
    list_file = images / "chosen.txt"
    list_file.write_text(f"# two of three, and one that is not there\n{names[2]}\n\n{names[0]}\nabsent.png\n")
    summary, rows = _run(tmp_path, {"type": "example-list", "name": "chosen", "list_file": str(list_file)},
                         {"type": "identity"}, ["psnr"])
    assert [row["key"] for row in rows] == [names[0], names[2]]
    assert summary["counts"]["images"] == 2
    listing = CliRunner().invoke(cli, ["list", "datasets"])
    assert listing.exit_code == 0 and "example-list" in listing.output and "list_file" in listing.output


def test_broken_dataset_plugin_is_named_not_fatal(examples, tmp_path):
    info = examples / "wetok_bench_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wetok-bench-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[wetok_bench.datasets]\nbroken-kind = no_such_module_xyz:Kind\n")
    listing = CliRunner().invoke(cli, ["list", "datasets"])
    assert listing.exit_code == 0, listing.output
    assert "broken-kind" in listing.output and "cannot load" in listing.output and "example-list" in listing.output
    from wetok_bench.core.errors import UsageError
    from wetok_bench.data.registry import create_dataset

    with pytest.raises(UsageError, match="dataset type 'broken-kind': cannot load plug-in 'no_such_module_xyz:Kind'"):
        create_dataset({"type": "broken-kind", "root": str(tmp_path)})
