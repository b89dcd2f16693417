"""Vision-transformer feature extractors: DINOv2 ViT-L/14 (FD-DINOv2) and CLIP ViT-L/14@336 (CMMD).

Both are timm ``VisionTransformer`` models built from the original releases' files, read here
with the project's safe loader (no download, no timm hub lookup): the model is built on the
``meta`` device, timm's own ``checkpoint_filter_fn`` maps the release's key names onto it, and
``load_state_dict(strict=True, assign=True)`` checks every key and shape. timm was chosen because
it loads both releases directly (Meta's ``dinov2_vitl14_pretrain.pth``, OpenAI's CLIP naming)
with the architectures exactly as released (QuickGELU for CLIP), with nothing else to install.

``dinov2-vit-l-14`` (torch-fidelity 0.4's ``dinov2-vit-l-14`` convention, that of EDM2's and the
papers' FD-DINOv2): uint8 images as float32 0..255, resized to 224 x 224 by torch-fidelity's
TensorFlow-1 bilinear (no antialias, aspect not kept), normalised by ImageNet's mean and std x 255,
the CLS token after the final LayerNorm (1024-d). DINOv2's torch.hub model interpolates its 37 x 37
position embedding to the 16 x 16 grid at every forward (bicubic, ``scale_factor = 16.1 / 37``,
no antialias); timm resamples it at load with antialiasing, 0.4 off in the features: the hub's
interpolation is set here, which makes the features those of torch-fidelity's extractor.

``clip-vit-l-14-336`` (google-research ``cmmd``'s convention): the largest centred square (floor
offsets), PIL bicubic to 336 x 336 on uint8, ``/ 255``, CLIP's normalisation in float32, the
image embedding (``ln_post`` of the class token, projected to 768) L2-normalised.

Features come out as float64 (the networks run in float32, TF32 off, eval mode).
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from wetok_bench.core.allocator import keep_freed_memory
from wetok_bench.core.devices import fp32_strict
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256
from wetok_bench.core.torch_files import load_torch_file

DINOV2_SIZE = 224
DINOV2_MEAN = (255 * 0.485, 255 * 0.456, 255 * 0.406)
DINOV2_STD = (255 * 0.229, 255 * 0.224, 255 * 0.225)
CLIP_SIZE = 336
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class VitFeatures:
    """A callable feature extractor: uint8 images in, float64 features (B x ``dim``) out.

    Attributes mirror :class:`~wetok_bench.metrics.networks.inception.InceptionFeatures`:
    ``kind``, ``dim``, ``weights_path``, ``weights_sha256``, ``device``, ``input_dtype``.
    """

    input_dtype = "uint8"

    def __init__(self, kind: str, network: torch.nn.Module, prepare: Callable[[torch.Tensor], torch.Tensor],
                 embed: Callable[[torch.Tensor], torch.Tensor], dim: int, weights_path: Path, device: torch.device) -> None:
        self.kind, self.network, self._prepare, self._embed = kind, network, prepare, embed
        self.dim, self.weights_path, self.device = dim, weights_path, device
        self.weights_sha256 = cached_sha256(weights_path)

    def __repr__(self) -> str:
        return f"VitFeatures(kind={self.kind!r}, dim={self.dim}, weights={self.weights_path.name})"

    def fingerprint(self) -> dict:
        return {"kind": self.kind, "dim": self.dim, "weights_sha256": self.weights_sha256}

    def model_input(self, images: torch.Tensor) -> torch.Tensor:
        """What the network consumes for uint8 ``images`` (float32, normalised, B x 3 x S x S)."""
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise UsageError(f"{self.kind}: expected uint8 images as a B x 3 x H x W tensor, got {shape}")
        return self._prepare(images)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features of uint8 ``images`` as float64 B x ``dim`` on ``device``."""
        x = self.model_input(images).to(self.device)
        with torch.inference_mode(), fp32_strict():
            return self._embed(x).to(torch.float64)


def _timm_model(name: str, **kwargs) -> torch.nn.Module:
    try:
        import timm
    except ImportError:
        raise UsageError("DINOv2 and CLIP features need timm (pip install timm)") from None
    with torch.device("meta"):  # no random initialisation of 300 M parameters
        return timm.create_model(name, pretrained=False, **kwargs)


def _load(network: torch.nn.Module, state: dict, path: Path, what: str) -> None:
    from timm.models.vision_transformer import checkpoint_filter_fn

    try:
        mapped = checkpoint_filter_fn(state, network)
        network.load_state_dict({k: v.contiguous() for k, v in mapped.items()}, strict=True, assign=True)
    except (RuntimeError, KeyError, ValueError) as error:
        raise UsageError(f"{what} weights {path} do not fit the architecture: {str(error).splitlines()[0]}") from None
    network.eval().requires_grad_(False)


def _state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A plain state dict (``torch.save``), or the parameters of a TorchScript archive (OpenAI's
    released CLIP ``.pt`` files are TorchScript)."""
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
                state = torch.jit.load(str(path), map_location="cpu").state_dict()
        except (RuntimeError, ValueError) as error:
            raise UsageError(f"{what} weights {path}: unreadable TorchScript archive ({error})") from None
    else:
        state = load_torch_file(path, what=f"{what} weights")
    if not isinstance(state, dict) or not all(torch.is_tensor(v) or isinstance(v, np.ndarray) for v in state.values()):
        raise UsageError(f"{what} weights {path} is not a state dict of tensors")
    return {k: torch.as_tensor(v) for k, v in state.items()}


def _is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding compiled ``code/``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def hub_position_embedding(pos_embed: torch.Tensor, grid: int, offset: float = 0.1) -> torch.Tensor:
    """DINOv2 torch.hub's ``interpolate_pos_encoding`` of a square grid: the patch positions
    resized bicubic by ``scale_factor = (grid + offset) / side``, no antialias; the class
    position kept in front."""
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:].float()
    side = int(math.isqrt(patches.shape[1]))
    scale = float(grid + offset) / side
    resized = F.interpolate(patches.reshape(1, side, side, -1).permute(0, 3, 1, 2), mode="bicubic", antialias=False,
                            scale_factor=(scale, scale))
    if tuple(resized.shape[-2:]) != (grid, grid):
        raise UsageError(f"DINOv2 position embedding of {side} x {side} cannot be brought to {grid} x {grid}")
    return torch.cat((cls, resized.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)), dim=1).to(pos_embed.dtype)


def build_dinov2(weights_path: str | Path, device: str | torch.device = "cpu") -> VitFeatures:
    """DINOv2 ViT-L/14 from Meta's ``dinov2_vitl14_pretrain.pth`` layout (see the module docstring)."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
    import torchvision.transforms.functional as TF

    path = Path(weights_path)
    state = _state_dict(path, "DINOv2")
    if "pos_embed" not in state:
        raise UsageError(f"DINOv2 weights {path} have no pos_embed: not a DINOv2 checkpoint")
    network = _timm_model("vit_large_patch14_dinov2", img_size=DINOV2_SIZE, num_classes=0)
    _load(network, state, path, "DINOv2")
    with torch.no_grad():
        network.pos_embed = torch.nn.Parameter(hub_position_embedding(state["pos_embed"], DINOV2_SIZE // 14),
                                               requires_grad=False)
    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_memory()
    network.to(device)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        x = interpolate_bilinear_2d_like_tensorflow1x(images.to(torch.float32), size=(DINOV2_SIZE, DINOV2_SIZE),
                                                      align_corners=False)
        return TF.normalize(x, DINOV2_MEAN, DINOV2_STD, inplace=False)

    def embed(x: torch.Tensor) -> torch.Tensor:
        return network.forward_features(x)[:, 0]  # the class token after the final LayerNorm

    return VitFeatures("dinov2-vit-l-14", network, prepare, embed, 1024, path, device)


def clip_square_336(images: torch.Tensor) -> torch.Tensor:
    """uint8 B x 3 x H x W -> float32 B x 3 x 336 x 336 in [0, 1]: the largest centred square
    (floor offsets), PIL bicubic to 336 on uint8, ``/ 255`` (google-research cmmd's ``io_util``)."""
    out = []
    for image in images.cpu():
        height, width = image.shape[-2:]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        pil = Image.fromarray(image[:, top : top + side, left : left + side].permute(1, 2, 0).numpy())
        resized = np.asarray(pil.resize((CLIP_SIZE, CLIP_SIZE), resample=Image.BICUBIC), dtype=np.float32)
        out.append(torch.from_numpy(resized / np.float32(255.0)).permute(2, 0, 1))
    return torch.stack(out)


def build_clip(weights_path: str | Path, device: str | torch.device = "cpu") -> VitFeatures:
    """CLIP ViT-L/14@336 image tower from OpenAI's release (TorchScript ``ViT-L-14-336px.pt`` or
    a state dict with its ``visual.*`` names); see the module docstring."""
    path = Path(weights_path)
    state = {k: v for k, v in _state_dict(path, "CLIP").items() if k.startswith("visual.")}
    if "visual.class_embedding" not in state:
        raise UsageError(f"CLIP weights {path} have no visual.class_embedding: not an OpenAI CLIP image tower")
    network = _timm_model("vit_large_patch14_clip_336", act_layer="quick_gelu", num_classes=768)
    _load(network, state, path, "CLIP")
    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_memory()
    network.to(device)
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32).view(1, 3, 1, 1)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return (clip_square_336(images) - mean) / std

    def embed(x: torch.Tensor) -> torch.Tensor:
        features = network(x)
        return features / features.norm(dim=-1, keepdim=True)

    return VitFeatures("clip-vit-l-14-336", network, prepare, embed, 768, path, device)
