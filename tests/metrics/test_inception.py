"""Inception feature extractors against torch-fidelity and clean-fid's pytorch-fid port.

All weights are random (kaiming-initialised) files written by ``helpers_inception``; they go
through the real loading code of each package. The images are crops of real photos.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import skimage.filters
import torch
import torch.nn.functional as F
from PIL import Image

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.metrics.functional.fid import KEY_RFID, KEY_UNRELIABLE, FeatureStats, fid_result
from wetok_bench.metrics.networks.inception import build_inception


def photo_crops(photos: dict[str, np.ndarray], count: int, size: int, seed: int) -> np.ndarray:
    """``count`` uint8 crops (N x size x size x 3), every other pixel of a 2*size window."""
    rng = np.random.default_rng(seed)
    images = list(photos.values())
    crops = []
    for i in range(count):
        photo = images[i % len(images)]
        top = rng.integers(0, photo.shape[0] - 2 * size)
        left = rng.integers(0, photo.shape[1] - 2 * size)
        crops.append(photo[top : top + 2 * size : 2, left : left + 2 * size : 2])
    return np.stack(crops)


def degrade(images: np.ndarray, seed: int) -> np.ndarray:
    """A reconstruction stand-in: Gaussian blur (sigma 1) plus noise (sigma 6), back to uint8."""
    rng = np.random.default_rng(seed)
    blurred = skimage.filters.gaussian(images, sigma=(0, 1, 1, 0), preserve_range=True)
    return np.clip(blurred + rng.normal(0, 6, images.shape), 0, 255).round().astype(np.uint8)


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def rel_err(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours - reference.double()).abs().max() / reference.double().abs().max())


def test_compat_features_equal_torch_fidelity_extractor(fidelity_inception_weights, photos):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    images = nchw(photo_crops(photos, 1, 64, seed=1))
    reference = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(fidelity_inception_weights)
    )
    with torch.no_grad():
        (expected,) = reference(images)
    extractor = build_inception("inception-v3-compat", fidelity_inception_weights)
    features = extractor(images)
    assert features.dtype == torch.float64 and tuple(features.shape) == (1, 2048)
    assert float(expected.std()) > 1e-3  # random weights that do not collapse the features
    assert rel_err(features, expected) < 1e-6
    assert (extractor.kind, extractor.dim) == ("inception-v3-compat", 2048)
    assert extractor.weights_sha256 == hashlib.sha256(Path(fidelity_inception_weights).read_bytes()).hexdigest()


def test_rfid_parity_with_torch_fidelity(fidelity_inception_weights, photos, tmp_path):
    import torch_fidelity

    # feature layer "64" keeps N small while N > d, so both covariances are full rank
    count, dim = 72, 64
    originals = photo_crops(photos, count, 48, seed=2)
    recons = degrade(originals, seed=3)
    folders = []
    for name, images in (("originals", originals), ("recons", recons)):
        folder = tmp_path / name
        folder.mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{i:03d}.png")
        folders.append(str(folder))
    expected = torch_fidelity.calculate_metrics(
        input1=folders[0],
        input2=folders[1],
        fid=True,
        feature_extractor="inception-v3-compat",
        feature_layer_fid=str(dim),
        feature_extractor_weights_path=str(fidelity_inception_weights),
        cuda=False,
        cache=False,
        verbose=False,
        batch_size=36,
        save_cpu_ram=True,  # no DataLoader worker processes on a 2-core machine
    )[torch_fidelity.KEY_METRIC_FID]

    extractor = build_inception("inception-v3-compat", fidelity_inception_weights, feature_dim=dim)
    ref, rec = FeatureStats(dim), FeatureStats(dim)
    for start in range(0, count, 25):  # another batching than torch-fidelity's
        ref.update(extractor(nchw(originals[start : start + 25])))
        rec.update(extractor(nchw(recons[start : start + 25])))
    result = fid_result(ref, rec)
    assert expected > 1e-3 and result[KEY_UNRELIABLE] is False
    assert result[KEY_RFID] == pytest.approx(expected, rel=1e-4)


def place_in_torch_hub(weights: Path, filename: str) -> Path:
    """Make ``weights`` visible where torch hub looks for ``filename`` (TORCH_HOME is per test)."""
    target = Path(torch.hub.get_dir()) / "checkpoints" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(weights, target)
    return target


@pytest.mark.parametrize("dim", [2048, 192])
# clean-fid's own build passes torchvision's deprecated `pretrained=False`
@pytest.mark.filterwarnings("ignore:The parameter 'pretrained' is deprecated:UserWarning")
@pytest.mark.filterwarnings("ignore:Arguments other than a weight enum:UserWarning")
def test_pytorch_fid_port_matches_cleanfid_module_run_the_pytorch_fid_way(pytorch_fid_inception_weights, photos, dim):
    from cleanfid.inception_pytorch import InceptionV3

    # clean-fid loads its weights itself, from the torch hub cache: an independent loading path
    place_in_torch_hub(pytorch_fid_inception_weights, "pt_inception-2015-12-05-6726825d.pth")
    reference = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[dim]], resize_input=False).eval()

    # protocol 'wetok': float images in [-1, 1] enter the Inception as (x + 1) / 2
    signed = nchw(photo_crops(photos, 1, 40, seed=4)).float() / 127.5 - 1.0
    images = (signed + 1.0) / 2.0
    with torch.no_grad():
        # pytorch-fid: bilinear resize to 299 (align_corners=False), then 2x - 1 inside the module
        (expected,) = reference(F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False))
        expected = F.adaptive_avg_pool2d(expected, (1, 1)).flatten(1)
    features = build_inception("pytorch-fid", pytorch_fid_inception_weights, feature_dim=dim)(images)
    assert tuple(features.shape) == (1, dim) and features.dtype == torch.float64
    assert float(expected.std()) > 1e-3
    assert rel_err(features, expected) < 1e-5


def test_weights_resolved_from_home_and_missing_offline(fidelity_inception_weights, _isolated_home):
    weights_dir = _isolated_home / "weights"
    weights_dir.mkdir()
    os.symlink(fidelity_inception_weights, weights_dir / "weights-inception-2015-12-05-6726825d.pth")
    extractor = build_inception("inception-v3-compat", feature_dim=64)
    assert extractor.weights_path.parent == weights_dir
    with pytest.raises(MissingWeightsError, match="pt_inception-2015-12-05-6726825d.pth"):
        build_inception("pytorch-fid")


def test_bad_arguments_and_weights_files(tmp_path, pytorch_fid_inception_weights):
    with pytest.raises(UsageError, match="unknown Inception kind"):
        build_inception("inception-v4", tmp_path / "x.pth")
    with pytest.raises(UsageError, match="feature_dim"):
        build_inception("pytorch-fid", pytorch_fid_inception_weights, feature_dim=1000)
    with pytest.raises(UsageError, match="not found"):
        build_inception("pytorch-fid", tmp_path / "missing.pth")
    foreign = tmp_path / "foreign.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, foreign)
    for kind in ("pytorch-fid", "inception-v3-compat"):
        with pytest.raises(UsageError, match="do not fit"):
            build_inception(kind, foreign)
    pickled = tmp_path / "pickled.pth"
    torch.save({"w": torch.zeros(1), "config": argparse.Namespace(a=1)}, pickled)
    with pytest.raises(UsageError, match="tensor-only"):
        build_inception("pytorch-fid", pickled)


def test_wrong_image_inputs_are_refused(fidelity_inception_weights, pytorch_fid_inception_weights):
    compat = build_inception("inception-v3-compat", fidelity_inception_weights, feature_dim=64)
    port = build_inception("pytorch-fid", pytorch_fid_inception_weights, feature_dim=64)
    with pytest.raises(UsageError, match="uint8"):
        compat(torch.rand(1, 3, 32, 32))
    with pytest.raises(UsageError, match="B x 3 x H x W"):
        compat(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))
    with pytest.raises(UsageError, match="float images"):
        port(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(UsageError, match=r"\(x \+ 1\) / 2"):
        port(torch.rand(1, 3, 32, 32) * 2 - 1)


@pytest.mark.parametrize("kind", ["inception-v3-compat", "pytorch-fid"])
def test_built_without_random_initialisation(kind, fidelity_inception_weights, pytorch_fid_inception_weights, monkeypatch):
    """The packages' constructors run on the meta device: every init call they make touches a
    meta tensor (a CPU tensor would be a random initialisation thrown away by the load)."""
    touched: list[bool] = []
    for name in ("kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "normal_", "uniform_", "constant_"):
        original = getattr(torch.nn.init, name)
        monkeypatch.setattr(torch.nn.init, name, _recording(original, touched))
    weights = fidelity_inception_weights if kind == "inception-v3-compat" else pytorch_fid_inception_weights
    extractor = build_inception(kind, weights, feature_dim=64)
    assert touched and all(touched)
    # and the network holds the file's tensors, not meta ones
    state = torch.load(weights, weights_only=True)
    params = dict(extractor.network.named_parameters())
    first = next(k for k in params if k.endswith("conv.weight"))
    expected = next(v for k, v in state.items() if k.endswith("Conv2d_1a_3x3.conv.weight"))
    assert not params[first].is_meta and torch.equal(params[first], expected)


def _recording(init, touched: list[bool]):
    """``init`` that first records whether the tensor it fills is a meta tensor."""

    def wrapper(*args, **kwargs):
        touched.append((args[0] if args else kwargs["tensor"]).is_meta)
        return init(*args, **kwargs)

    return wrapper
