"""LPIPS (Zhang et al. 2018, v0.1) through the ``lpips`` package, built offline.

The linear heads ship inside the ``lpips`` package (``lpips/weights/v0.1/<net>.pth``); only the
ImageNet backbone comes from elsewhere (torchvision's ``alexnet-owt-7be5be79.pth`` or
``vgg16-397923af.pth``). Instead of letting torchvision download it, the network is built with
a random backbone and the backbone state dict, resolved through :mod:`wetok_bench.weights`, is
loaded into it. The result equals ``lpips.LPIPS(net=...)`` built the package's own way from
the same backbone file.

Inputs must be float images in [-1, 1] (the package's convention): [0, 1] or [0, 255] inputs
give wrong values without any error from the package, so they are refused here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Literal

import torch

from wetok_bench.errors import UsageError
from wetok_bench.hashing import cached_sha256, sha256_file
from wetok_bench.metrics.psnr import check_image_pair
from wetok_bench.torch_files import load_torch_file
from wetok_bench.weights import resolve_weights

#: Registry names (:data:`wetok_bench.weights.KNOWN_WEIGHTS`) of each backbone.
BACKBONE_WEIGHTS = {"alex": "lpips-alex-backbone", "vgg": "lpips-vgg-backbone"}

# Values a hair outside [-1, 1] come from float arithmetic (u8 / 127.5 - 1), not from misuse.
_RANGE_SLACK = 1e-5

# lpips keeps torchvision's ``features`` modules under their original index in slices:
# ``net.slice2.3.weight`` is ``features.3.weight``.
_SLICE_KEY = re.compile(r"^slice\d+\.(\d+)\.(weight|bias)$")


def linear_heads_path(net: str) -> Path:
    """The linear-head file that ships with the ``lpips`` package for ``net``."""
    import lpips

    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"


def load_backbone(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Copy a torchvision ``features.*`` state dict into an lpips backbone (``model.net``).

    Raises :class:`UsageError` naming the missing or mis-shaped keys, so a wrong file (e.g. the
    VGG one for AlexNet) is caught instead of silently leaving random weights.
    """
    wanted = {}
    for name, param in model.net.named_parameters():
        match = _SLICE_KEY.match(name)
        if match is None:  # pragma: no cover - guards against a future lpips layout
            raise RuntimeError(f"unexpected lpips backbone parameter {name!r}")
        wanted[f"features.{match.group(1)}.{match.group(2)}"] = param
    missing = [key for key in wanted if key not in state]
    wrong = [key for key, p in wanted.items() if key in state and tuple(state[key].shape) != tuple(p.shape)]
    if missing or wrong:
        raise UsageError(
            f"LPIPS backbone file {source} does not fit the {model.pnet_type} backbone "
            f"(missing: {missing[:4]}, wrong shape: {wrong[:4]}); pass torchvision's state dict "
            f"({', '.join(f'{n}: {w}' for n, w in BACKBONE_WEIGHTS.items())})"
        )
    with torch.no_grad():
        for key, param in wanted.items():
            param.copy_(state[key])


class LPIPSMetric:
    """LPIPS v0.1 distance per image pair (0 = identical; lower is better).

    Args:
        net: backbone, ``alex`` (every protocol's headline LPIPS) or ``vgg``.
        backbone_weights: torchvision state dict of the backbone; ``None`` resolves the known
            file (``lpips-alex-backbone`` / ``lpips-vgg-backbone``) offline first, raising
            :class:`~wetok_bench.errors.MissingWeightsError` when it is nowhere.
        device: where the network runs.

    Attributes:
        backbone_sha256, heads_sha256: sha256 of the two weight files in use.
    """

    def __init__(
        self,
        net: Literal["alex", "vgg"] = "alex",
        backbone_weights: str | Path | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if net not in BACKBONE_WEIGHTS:
            raise UsageError(f"unknown LPIPS backbone {net!r} (known: {', '.join(BACKBONE_WEIGHTS)})")
        import lpips

        self.net = net
        self.device = torch.device(device)
        path = resolve_weights(BACKBONE_WEIGHTS[net], backbone_weights)
        state = load_torch_file(path, what=f"LPIPS {net} backbone weights")
        if not isinstance(state, dict):
            raise UsageError(f"LPIPS backbone file {path} does not hold a state dict")
        with warnings.catch_warnings():
            # lpips passes torchvision's deprecated ``pretrained=`` flag; nothing is downloaded.
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        load_backbone(model, state, path)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.backbone_path = path
        self.backbone_sha256 = cached_sha256(path)
        self.heads_sha256 = sha256_file(linear_heads_path(net))  # small; no sidecar inside the installed package

    def __call__(self, ref: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """LPIPS of each pair of B x 3 x H x W float images in [-1, 1], as float64 [B]."""
        check_image_pair(ref, rec, f"lpips-{self.net}")
        for name, images in (("original", ref), ("reconstruction", rec)):
            if not images.is_floating_point():
                raise UsageError(
                    f"lpips-{self.net}: the {name} is {images.dtype}; LPIPS takes float images in [-1, 1] "
                    "(convert uint8 with u8 / 127.5 - 1)"
                )
            low, high = images.min().item(), images.max().item()
            if low < -1 - _RANGE_SLACK or high > 1 + _RANGE_SLACK:
                raise UsageError(
                    f"lpips-{self.net}: the {name} has values in [{low:.4g}, {high:.4g}]; LPIPS takes float "
                    "images in [-1, 1] (convert [0, 1] with 2x - 1, uint8 with u8 / 127.5 - 1)"
                )
        with torch.inference_mode():
            out = self.model(ref.to(self.device, torch.float32), rec.to(self.device, torch.float32))
        return out.flatten().to(torch.float64)
