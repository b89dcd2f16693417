"""Random Inception weights files for offline tests (importable: ``from helpers_inception import ...``).

Each builder constructs the architecture the way its own package does, initialises every conv
and linear weight with ``kaiming_normal_`` (PyTorch's default init makes the pool features
collapse to about 0, so every FID would be about 1e-15), and saves the state dict. The files
then go through the real loading code of wetok-bench, torch-fidelity and clean-fid.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn


def _randomize(module: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                # fan_in / relu scaling keeps activations at unit scale through the depth
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()


def fidelity_inception_skeleton(tmp_dir: Path) -> nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` with freshly initialised weights.

    Its constructor always loads a state dict; a subclass that ignores the (empty) one read
    from ``tmp_dir/empty.pth`` keeps the constructor's own parameters.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: D401
            assert state_dict == {}, "skeleton expects the empty placeholder state dict"

    empty = Path(tmp_dir) / "empty.pth"
    torch.save({}, empty)
    return _Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))


def pytorch_fid_inception_skeleton() -> nn.Module:
    """pytorch-fid's FID Inception (torchvision Inception3 with the FID blocks), as
    ``cleanfid.inception_pytorch.fid_inception_v3`` builds it before loading weights."""
    import torchvision
    from cleanfid import inception_pytorch as ip

    net = torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
    for name, block in [
        ("Mixed_5b", ip.FIDInceptionA(192, pool_features=32)),
        ("Mixed_5c", ip.FIDInceptionA(256, pool_features=64)),
        ("Mixed_5d", ip.FIDInceptionA(288, pool_features=64)),
        ("Mixed_6b", ip.FIDInceptionC(768, channels_7x7=128)),
        ("Mixed_6c", ip.FIDInceptionC(768, channels_7x7=160)),
        ("Mixed_6d", ip.FIDInceptionC(768, channels_7x7=160)),
        ("Mixed_6e", ip.FIDInceptionC(768, channels_7x7=192)),
        ("Mixed_7b", ip.FIDInceptionE_1(1280)),
        ("Mixed_7c", ip.FIDInceptionE_2(2048)),
    ]:
        setattr(net, name, block)
    return net


def write_fidelity_inception_weights(path: Path, seed: int = 0) -> Path:
    """Save random weights for torch-fidelity's InceptionV3 (``inception-v3-compat``) at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = fidelity_inception_skeleton(path.parent)
    _randomize(net, seed)
    torch.save(net.state_dict(), path)
    return path


def write_pytorch_fid_inception_weights(path: Path, seed: int = 1) -> Path:
    """Save random weights with the layout of ``pt_inception-2015-12-05-6726825d.pth`` at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = pytorch_fid_inception_skeleton()
    _randomize(net, seed)
    torch.save(net.state_dict(), path)
    return path


# Session fixtures: import them into a test module (``from helpers_inception import
# fidelity_inception_weights``) and pytest provides them. Each test module that imports a
# fixture holds its own copy of it, so the files are memoised here to be built once per run.
_BUILT: dict[str, Path] = {}


def _once(name: str, tmp_path_factory, write) -> Path:
    if name not in _BUILT or not _BUILT[name].is_file():
        _BUILT[name] = write(tmp_path_factory.mktemp(name) / f"{name}.pth")
    return _BUILT[name]


@pytest.fixture(scope="session")
def fidelity_inception_weights(tmp_path_factory) -> Path:
    """Random weights file for ``inception-v3-compat`` (torch-fidelity's InceptionV3)."""
    return _once("inception_v3_compat_random", tmp_path_factory, write_fidelity_inception_weights)


@pytest.fixture(scope="session")
def pytorch_fid_inception_weights(tmp_path_factory) -> Path:
    """Random weights file for ``pytorch-fid`` (pytorch-fid's InceptionV3 port)."""
    return _once("pytorch_fid_inception_random", tmp_path_factory, write_pytorch_fid_inception_weights)
