"""The protocol drives preprocessing: its ``resize`` names the rule the loader applies."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench import protocols
from wetok_bench.core.errors import UsageError
from wetok_bench.data import preprocess as P
from wetok_bench.data.base import ImageRecord
from wetok_bench.data.loader import iterate_batches


def _squash_nearest(image: Image.Image, resolution: int):
    """A rule other than the default: the whole image squashed to R x R, nearest neighbour."""
    array = np.asarray(image.resize((resolution, resolution), Image.Resampling.NEAREST))
    import torch

    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


@pytest.fixture
def squash_rule(registries):
    P.register_resize_rule("test-squash-nearest", _squash_nearest)
    return "test-squash-nearest"


@pytest.fixture
def images(tmp_path, photos) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name in sorted(photos)[:2]:
        Image.fromarray(np.ascontiguousarray(photos[name][:90, :120])).save(root / f"{name}.png")
    return root


def _records(root: Path) -> list[ImageRecord]:
    return [ImageRecord(p.name, p) for p in sorted(root.glob("*.png"))]


def test_every_protocol_names_a_known_rule():
    assert protocols.MetricProtocol("x", 1).resize == P.DEFAULT_RESIZE
    for protocol in protocols.PROTOCOLS.load_all().values():
        assert callable(P.resize_rule(protocol.resize))
    for name in ("standard", "wetok", "open-magvit2-v1"):  # the torchvision pipeline of the WeTok script
        assert P.resize_rule(protocols.get_protocol(name).resize) is P.center_crop_u8


def test_loader_applies_the_named_rule(images, squash_rule):
    records = _records(images)
    squashed = [b for b in iterate_batches(records, 32, 4, resize=squash_rule)][0].images
    default = [b for b in iterate_batches(records, 32, 4)][0].images
    for i, record in enumerate(records):
        pil = Image.open(record.path).convert("RGB")
        expected = np.asarray(pil.resize((32, 32), Image.Resampling.NEAREST))
        assert np.array_equal(squashed[i].permute(1, 2, 0).numpy(), expected)
    assert not np.array_equal(squashed.numpy(), default.numpy())  # 90 x 120 squashed != centre crop


def test_unknown_rule_fails_before_any_image_is_read(tmp_path):
    records = [ImageRecord("gone.png", tmp_path / "gone.png")]
    with pytest.raises(UsageError, match="unknown resize rule 'no-such-rule'"):
        next(iterate_batches(records, 32, 1, resize="no-such-rule"))
    with pytest.raises(UsageError, match="already registered"):
        P.register_resize_rule(P.DEFAULT_RESIZE, _squash_nearest)


def test_run_preprocesses_by_the_suites_protocol(images, squash_rule, tmp_path, monkeypatch):
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.engine import run_suite

    squash = dataclasses.replace(protocols.get_protocol("standard"), resize=squash_rule)
    protocols.PROTOCOLS.register("standard", squash, overwrite=True)  # undone by the registries fixture
    suite = parse_suite({
        "name": "p", "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 40}], "metrics": ["psnr"],
        "resolution": 32, "batch_size": 2, "num_workers": 0, "device": "cpu", "output": str(tmp_path / "out"),
    })
    assert suite.protocol.resize == squash_rule
    report = run_suite(suite, progress=False)
    assert report.exit_code == 0
    with open(tmp_path / "out" / "p" / "jpeg-q40__imgs__32" / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    for row in rows:
        original = np.asarray(Image.open(images / row["key"]).convert("RGB").resize((32, 32), Image.Resampling.NEAREST))
        buffer = io.BytesIO()
        Image.fromarray(original).save(buffer, format="JPEG", quality=40)
        recon = np.asarray(Image.open(buffer).convert("RGB"))
        assert float(row["psnr"]) == pytest.approx(peak_signal_noise_ratio(original, recon, data_range=255), abs=1e-4)
