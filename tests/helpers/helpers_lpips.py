"""Random LPIPS backbone files for offline tests (``from helpers_lpips import random_backbone_file``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torchvision

from wetok_bench.core.weights import KNOWN_WEIGHTS


def random_backbone_file(net: str, path: Path, seed: int = 0) -> Path:
    """A full torchvision AlexNet/VGG16 state dict with random but non-trivial conv weights.

    The classifier (unused by LPIPS) is stored as a broadcast zero so the VGG file stays tiny;
    torchvision's ``load_state_dict`` copies it like any tensor.
    """
    torch.manual_seed(seed)
    builder = torchvision.models.alexnet if net == "alex" else torchvision.models.vgg16
    model = builder(weights=None)
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("features.") and name.endswith("weight"):
            tensor = torch.nn.init.kaiming_normal_(torch.empty_like(tensor))
        elif name.startswith("features."):
            tensor = torch.randn_like(tensor) * 0.1
        else:
            tensor = torch.zeros(1).expand(tensor.shape)
        state[name] = tensor
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def lpips_package_reference(net: str, backbone: Path) -> torch.nn.Module:
    """``lpips.LPIPS(net=net)`` the package's way: torchvision loads the backbone from its hub cache."""
    import lpips

    filename = KNOWN_WEIGHTS[f"lpips-{net}-backbone"].filename
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    os.symlink(backbone, cache / filename)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net=net, pnet_rand=False, verbose=False).eval()
