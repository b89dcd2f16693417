"""LPIPS (Zhang et al. 2018, v0.1) through the ``lpips`` package, built offline.

The linear heads ship inside the ``lpips`` package (``lpips/weights/v0.1/<net>.pth``); only the
ImageNet backbone comes from elsewhere (torchvision's ``alexnet-owt-7be5be79.pth`` or
``vgg16-397923af.pth``). Instead of letting torchvision download it, the package's network is
built on the ``meta`` device (no random initialisation, no memory) and the heads and the
backbone state dict, resolved through :mod:`wetok_bench.core.weights` and memory-mapped (only the
``features.*`` tensors are read; the classifier, 90 % of the file, never is), are assigned to
it. The result equals ``lpips.LPIPS(net=...)`` built the package's own way from the same
backbone file.

The forward pass calls the package's own modules and functions (scaling layer, backbone slices,
``normalize_tensor``, linear heads, ``spatial_average``) in the order of ``LPIPS.forward``, one
backbone slice at a time, so a slice's activations are freed once its distance term is added:
for a given batch the values are bit-identical to the package's forward. Large batches are cut
into sub-batches whose widest activation holds at most :data:`MAX_ACTIVATION_VALUES` values
(VGG at 256 x 256: 4 images on a CPU), which bounds the memory per call. A sub-batch boundary
can move a float32 distance by about 1e-9 (the convolution library picks its algorithm by batch
size), far inside the 1e-6 batch-size independence the values are tested to.

Inputs must be float images in [-1, 1] (the package's convention): [0, 1] or [0, 255] inputs
give wrong values without any error from the package, so they are refused here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Literal

import torch

from wetok_bench.core.allocator import keep_freed_memory
from wetok_bench.core.devices import fp32_strict
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256, sha256_file
from wetok_bench.core.torch_files import load_torch_file
from wetok_bench.core.weights import resolve_weights
from wetok_bench.metrics.functional.psnr import check_image_pair

#: Registry names (:data:`wetok_bench.core.weights.KNOWN_WEIGHTS`) of each backbone.
BACKBONE_WEIGHTS = {"alex": "lpips-alex-backbone", "vgg": "lpips-vgg-backbone"}

#: Most values one activation tensor of a sub-batch may hold, per device type (64 MiB of float32
#: on a CPU, where every large temporary costs page faults; 1 GiB on a GPU).
MAX_ACTIVATION_VALUES = {"cpu": 1 << 24, "cuda": 1 << 28}
# Values of the widest activation per input pixel: 64 channels at full (VGG) or 1/4 (AlexNet,
# stride 4) resolution.
_WIDEST_PER_PIXEL = {"alex": 64 / 16, "vgg": 64}

# Values a hair outside [-1, 1] come from float arithmetic (u8 / 127.5 - 1), not from misuse.
_RANGE_SLACK = 1e-5

# lpips keeps torchvision's ``features`` modules under their original index in slices:
# ``net.slice2.3.weight`` is ``features.3.weight``.
_SLICE_KEY = re.compile(r"^net\.slice\d+\.(\d+)\.(weight|bias)$")


def linear_heads_path(net: str) -> Path:
    """The linear-head file that ships with the ``lpips`` package for ``net``."""
    import lpips

    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"


def backbone_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """The backbone tensors of a torchvision ``features.*`` state dict, under the names of an
    lpips model's parameters (``net.slice2.3.weight`` <- ``features.3.weight``).

    Raises :class:`UsageError` naming the missing or mis-shaped keys, so a wrong file (e.g. the
    VGG one for AlexNet) is caught instead of silently leaving random weights.
    """
    wanted: dict[str, tuple[str, torch.Size]] = {}
    for name, param in model.named_parameters():
        if not name.startswith("net."):
            continue
        match = _SLICE_KEY.match(name)
        if match is None:  # pragma: no cover - guards against a future lpips layout
            raise RuntimeError(f"unexpected lpips backbone parameter {name!r}")
        wanted[name] = (f"features.{match.group(1)}.{match.group(2)}", param.shape)
    missing = [key for key, _ in wanted.values() if key not in state]
    wrong = [key for key, shape in wanted.values() if key in state and tuple(state[key].shape) != tuple(shape)]
    if missing or wrong:
        raise UsageError(
            f"LPIPS backbone file {source} does not fit the {model.pnet_type} backbone "
            f"(missing: {missing[:4]}, wrong shape: {wrong[:4]}); pass torchvision's state dict "
            f"({', '.join(f'{n}: {w}' for n, w in BACKBONE_WEIGHTS.items())})"
        )
    # copies: the model must not keep the memory-mapped file open (nor see it change)
    return {name: state[key].clone(memory_format=torch.contiguous_format) for name, (key, _) in wanted.items()}


def build_lpips_model(net: str, backbone: Path) -> torch.nn.Module:
    """The package's ``lpips.LPIPS(net=net)`` (v0.1, eval mode, no gradients) on the CPU, with
    the package's heads and the backbone read from ``backbone`` (built on ``meta``, then assigned)."""
    import lpips

    state = load_torch_file(backbone, what=f"LPIPS {net} backbone weights", mmap=True)
    if not isinstance(state, dict):
        raise UsageError(f"LPIPS backbone file {backbone} does not hold a state dict")
    with warnings.catch_warnings(), torch.device("meta"):
        # lpips passes torchvision's deprecated ``pretrained=`` flag; nothing is downloaded.
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, pretrained=False, pnet_rand=True, verbose=False)
    heads = load_torch_file(linear_heads_path(net), what=f"lpips {net} linear heads")
    loaded = {**heads, **backbone_state(model, state, backbone)}
    result = model.load_state_dict(loaded, strict=False, assign=True)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if result.unexpected_keys or left:  # pragma: no cover - guards against a future lpips layout
        raise RuntimeError(f"lpips {net}: unexpected keys {result.unexpected_keys}, not loaded {left}")
    return model.eval().requires_grad_(False)


def sub_batch_size(net: str, height: int, width: int, device: torch.device) -> int:
    """Images per forward call so that the widest activation stays within
    :data:`MAX_ACTIVATION_VALUES` of ``device``'s type (at least one image)."""
    budget = MAX_ACTIVATION_VALUES.get(device.type, MAX_ACTIVATION_VALUES["cuda"])
    return max(1, int(budget // (_WIDEST_PER_PIXEL[net] * height * width)))


def lpips_forward(model: torch.nn.Module, in0: torch.Tensor, in1: torch.Tensor) -> torch.Tensor:
    """``model(in0, in1)`` of an ``lpips.LPIPS`` (v0.1, linear heads, not spatial) computed one
    backbone slice at a time: the same calls in the same order, so the same bits, with only one
    slice's activations alive. Returns B x 1 x 1 x 1 like the package."""
    import lpips

    h0, h1 = model.scaling_layer(in0), model.scaling_layer(in1)
    value: torch.Tensor | int = 0
    for index in range(model.L):
        block = getattr(model.net, f"slice{index + 1}")
        h0, h1 = block(h0), block(h1)
        diff = (lpips.normalize_tensor(h0) - lpips.normalize_tensor(h1)) ** 2
        value += lpips.lpips.spatial_average(model.lins[index](diff), keepdim=True)
        del diff
    return value


class LPIPSMetric:
    """LPIPS v0.1 distance per image pair (0 = identical; lower is better).

    Args:
        net: backbone, ``alex`` (every protocol's headline LPIPS) or ``vgg``.
        backbone_weights: torchvision state dict of the backbone; ``None`` resolves the known
            file (``lpips-alex-backbone`` / ``lpips-vgg-backbone``) offline first, raising
            :class:`~wetok_bench.core.errors.MissingWeightsError` when it is nowhere.
        device: where the network runs.

    Attributes:
        model: the package's ``lpips.LPIPS`` module.
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
        self.net = net
        self.device = torch.device(device)
        if self.device.type == "cpu":
            keep_freed_memory()  # its activations would page-fault on every call otherwise
        path = resolve_weights(BACKBONE_WEIGHTS[net], backbone_weights)
        self.model = build_lpips_model(net, path).to(self.device)
        self.backbone_path = path
        self.backbone_sha256 = cached_sha256(path)
        self.heads_sha256 = sha256_file(linear_heads_path(net))  # small; no sidecar inside the installed package

    def __call__(self, ref: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """LPIPS of each pair of B x 3 x H x W float images in [-1, 1], as float64 [B] on ``device``."""
        check_image_pair(ref, rec, f"lpips-{self.net}")
        self._check_range(ref, rec)
        ref, rec = ref.to(self.device, torch.float32), rec.to(self.device, torch.float32)
        step = sub_batch_size(self.net, ref.shape[-2], ref.shape[-1], self.device)
        with torch.inference_mode(), fp32_strict():  # float32 as specified, TF32 off on CUDA
            parts = [lpips_forward(self.model, ref[i : i + step], rec[i : i + step]).flatten()
                     for i in range(0, ref.shape[0], step)]
        return (torch.cat(parts) if len(parts) != 1 else parts[0]).to(torch.float64)

    def _check_range(self, ref: torch.Tensor, rec: torch.Tensor) -> None:
        """Refuse non-float inputs and values outside [-1, 1] (one host synchronisation per call)."""
        pairs = (("original", ref), ("reconstruction", rec))
        for name, images in pairs:
            if not images.is_floating_point():
                raise UsageError(
                    f"lpips-{self.net}: the {name} is {images.dtype}; LPIPS takes float images in [-1, 1] "
                    "(convert uint8 with u8 / 127.5 - 1)"
                )
        if ref.numel() == 0:
            return
        bounds = torch.stack([torch.stack(images.aminmax()).to(ref.device, torch.float64) for _, images in pairs]).tolist()
        for (name, _), (low, high) in zip(pairs, bounds):
            if low < -1 - _RANGE_SLACK or high > 1 + _RANGE_SLACK:
                raise UsageError(
                    f"lpips-{self.net}: the {name} has values in [{low:.4g}, {high:.4g}]; LPIPS takes float "
                    "images in [-1, 1] (convert [0, 1] with 2x - 1, uint8 with u8 / 127.5 - 1)"
                )
