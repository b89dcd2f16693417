"""LPIPS built offline from a backbone file equals the lpips package's own construction."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_lpips import lpips_package_reference, random_backbone_file  # noqa: F401 - re-exported for other test modules

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.weights import KNOWN_WEIGHTS
from wetok_bench.metrics.networks.lpips import LPIPSMetric


def photo_pairs(photos: dict[str, np.ndarray], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of real photos in [-1, 1] and noisy, darkened copies of them."""
    crops = [torch.from_numpy(photos[name][:size, :size]).permute(2, 0, 1) for name in ("chelsea", "coffee", "rocket")]
    ref = torch.stack(crops).float() / 127.5 - 1
    gen = torch.Generator().manual_seed(1)
    rec = (ref * 0.9 + 0.1 * torch.randn(ref.shape, generator=gen)).clamp(-1, 1)
    return ref, rec


@pytest.mark.parametrize("net,size", [("alex", 96), ("vgg", 48)])
def test_equals_lpips_package(net, size, tmp_path, photos):
    backbone = random_backbone_file(net, tmp_path / f"{net}.pth")
    ours = LPIPSMetric(net, backbone_weights=backbone)
    reference = lpips_package_reference(net, backbone)
    ref, rec = photo_pairs(photos, size)
    expected = reference(ref, rec).flatten().double()
    got = ours(ref, rec)
    assert got.dtype == torch.float64 and got.shape == (3,)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    # Distinct, non-trivial distances: the random backbone really shapes the value.
    assert got.min() > 1e-3 and len(set(got.tolist())) == 3
    assert torch.allclose(ours(ref, ref), torch.zeros(3, dtype=torch.float64), atol=1e-7)


def test_backbone_resolved_from_home_and_hashes_recorded(tmp_path, monkeypatch):
    spec = KNOWN_WEIGHTS["lpips-alex-backbone"]
    monkeypatch.setitem(KNOWN_WEIGHTS, spec.name, type(spec)(**{**spec.__dict__, "sha256_prefix": None}))
    folder = Path(os.environ["WETOK_BENCH_HOME"]) / "weights"
    folder.mkdir(parents=True)
    backbone = random_backbone_file("alex", folder / spec.filename)
    metric = LPIPSMetric("alex")
    assert metric.backbone_path == backbone
    import hashlib

    assert metric.backbone_sha256 == hashlib.sha256(backbone.read_bytes()).hexdigest()
    assert len(metric.heads_sha256) == 64


def test_missing_backbone_offline_names_the_file():
    with pytest.raises(MissingWeightsError) as info:
        LPIPSMetric("alex")
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message and "download.pytorch.org" in message


def test_wrong_backbone_file_is_refused(tmp_path):
    vgg = random_backbone_file("vgg", tmp_path / "vgg.pth")
    with pytest.raises(UsageError, match="does not fit the alex backbone"):
        LPIPSMetric("alex", backbone_weights=vgg)


@pytest.fixture(scope="module")
def alex_metric(tmp_path_factory) -> LPIPSMetric:
    path = random_backbone_file("alex", tmp_path_factory.mktemp("alex") / "alex.pth")
    return LPIPSMetric("alex", backbone_weights=path)


def test_refuses_inputs_outside_minus_one_one(alex_metric, photos):
    ref, rec = photo_pairs(photos, 32)
    u8 = ((ref + 1) * 127.5).round().to(torch.uint8)
    with pytest.raises(UsageError, match="uint8"):
        alex_metric(u8, u8)
    with pytest.raises(UsageError, match=r"has values in \[\d+, \d+\]"):
        alex_metric(u8.float(), u8.float())
    with pytest.raises(UsageError, match="differ in shape"):
        alex_metric(ref, rec[:, :, :16])


def test_batch_size_independent(alex_metric, photos):
    ref, rec = photo_pairs(photos, 64)
    whole = alex_metric(ref, rec)
    one_by_one = torch.cat([alex_metric(ref[i : i + 1], rec[i : i + 1]) for i in range(3)])
    assert torch.allclose(whole, one_by_one, rtol=0, atol=1e-6)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_values_bit_identical_to_package_forward_and_sub_batches(net, tmp_path, photos, monkeypatch):
    """The slice-by-slice forward gives the package's ``LPIPS.forward`` bits on the same batch;
    with a tiny activation budget the batch is cut into single images, each equal to the
    package's forward on that image alone."""
    from wetok_bench.metrics.networks import lpips as perceptual

    metric = LPIPSMetric(net, backbone_weights=random_backbone_file(net, tmp_path / f"{net}.pth"))
    ref, rec = photo_pairs(photos, 32)
    with torch.inference_mode():
        package = metric.model(ref, rec).flatten().double()
        singles = torch.cat([metric.model(ref[i : i + 1], rec[i : i + 1]).flatten() for i in range(3)]).double()
    assert perceptual.sub_batch_size(net, 32, 32, torch.device("cpu")) >= 3
    assert torch.equal(metric(ref, rec), package)
    monkeypatch.setitem(perceptual.MAX_ACTIVATION_VALUES, "cpu", 1)
    assert perceptual.sub_batch_size(net, 32, 32, torch.device("cpu")) == 1
    assert torch.equal(metric(ref, rec), singles)


def test_sub_batch_bounds_the_widest_activation():
    from wetok_bench.metrics.networks.lpips import MAX_ACTIVATION_VALUES, sub_batch_size

    cpu = torch.device("cpu")
    # VGG's first slice: 64 channels at full resolution, 4 images of 256 x 256 = 2**24 values
    assert sub_batch_size("vgg", 256, 256, cpu) == MAX_ACTIVATION_VALUES["cpu"] // (64 * 256 * 256) == 4
    assert sub_batch_size("alex", 256, 256, cpu) == 64  # AlexNet: stride 4 -> 16x fewer values
    assert sub_batch_size("vgg", 4096, 4096, cpu) == 1


def test_built_without_random_initialisation(tmp_path, monkeypatch):
    """lpips' network is constructed on the meta device: every init call touches a meta tensor
    (before, torchvision initialised the whole VGG16, classifier included, then threw it away)."""
    touched: list[bool] = []
    for name in ("kaiming_uniform_", "kaiming_normal_", "normal_", "uniform_", "constant_"):
        original = getattr(torch.nn.init, name)
        monkeypatch.setattr(torch.nn.init, name, _recording(original, touched))
    backbone = random_backbone_file("vgg", tmp_path / "vgg.pth")
    touched.clear()  # the file writer above initialised a real VGG
    metric = LPIPSMetric("vgg", backbone_weights=backbone)
    assert touched and all(touched)
    assert not any(t.is_meta for t in [*metric.model.parameters(), *metric.model.buffers()])
    expected = torch.load(backbone, weights_only=True)["features.28.weight"]
    assert torch.equal(getattr(metric.model.net.slice5, "28").weight, expected)


def _recording(init, touched: list[bool]):
    """``init`` that first records whether the tensor it fills is a meta tensor."""

    def wrapper(*args, **kwargs):
        touched.append((args[0] if args else kwargs["tensor"]).is_meta)
        return init(*args, **kwargs)

    return wrapper
