"""Inception feature extractors for rFID, one per metric protocol.

``inception-v3-compat`` (protocol ``standard``)
    torch-fidelity's ``FeatureExtractorInceptionV3``: uint8 B x 3 x H x W in, resized inside
    to 299 x 299 the TensorFlow-1 way (torch-fidelity's bilinear), scaled to ``(x - 128) / 128``.
``inception-v3-compat-float64`` (protocol ``titok``)
    the same torch-fidelity network run entirely in float64 (``feature_extractor_internal_dtype``),
    as the 1d-tokenizer (TiTok) evaluator runs its copy of it, with the weights file that
    evaluator downloads: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (the same layout).
    torch-fidelity rounds its outputs to float32; the 2048-d pool features are taken before
    that rounding, in float64 as TiTok's copy returns them.
``pytorch-fid`` (protocol ``wetok``)
    pytorch-fid's InceptionV3 port, as shipped by clean-fid (``cleanfid.inception_pytorch``):
    float B x 3 x H x W in [0, 1]; resized here with ``F.interpolate(size=(299, 299),
    mode='bilinear', align_corners=False)`` and then scaled to [-1, 1] by the module's
    ``normalize_input`` (``2 x - 1``), which is the order pytorch-fid (and the official WeTok
    evaluation) uses. clean-fid's copy refuses to resize inside, so it is built with
    ``resize_input=False``.

Features come out as float64 (the network itself runs in float32, TF32 off, eval mode). Both
ports can stop early and return a smaller layer (64, 192, 768 or 2048 channels, spatially
average-pooled): the same layers torch-fidelity and pytorch-fid offer.

Weights are read with ``torch.load(weights_only=True)``, once; each network is built on the ``meta``
device by its own package's constructor (which checks every key and shape) and the tensors are
then assigned, so no time goes to a random initialisation. Nothing is downloaded here. Without an
explicit path the file is resolved by :func:`wetok_bench.core.weights.resolve_weights`, which
raises :class:`~wetok_bench.core.errors.MissingWeightsError` offline.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from pathlib import Path
from typing import Callable, Iterator
from unittest.mock import patch

import torch
import torch.nn.functional as F

from wetok_bench.core.allocator import keep_freed_memory
from wetok_bench.core.devices import fp32_strict  # noqa: F401 (the scope of every metric network; re-exported)
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256
from wetok_bench.core.torch_files import load_torch_file

#: Extractor kinds and the registry names of their weights files (wetok_bench.core.weights).
WEIGHTS_NAME = {
    "inception-v3-compat": "inception-v3-compat",
    "pytorch-fid": "pytorch-fid-inception",
    "inception-v3-compat-float64": "pytorch-fid-inception",
}
#: The kinds built from torch-fidelity's network (uint8 input), with its internal dtype.
_FIDELITY_DTYPES = {"inception-v3-compat": "float32", "inception-v3-compat-float64": "float64"}
#: Feature dimensions each kind can return (the pooled outputs of its four blocks).
FEATURE_DIMS = (64, 192, 768, 2048)
INPUT_SIZE = 299

# The builders swap module-level functions of torch-fidelity and clean-fid; this lock serialises that.
_LOADER_LOCK = threading.Lock()


class InceptionFeatures:
    """A callable feature extractor: images in, float64 features (B x ``dim``) out.

    Attributes:
        kind: ``inception-v3-compat`` or ``pytorch-fid``.
        dim: feature dimension (2048 unless a smaller layer was asked for).
        weights_path: the weights file used.
        weights_sha256: sha256 of that file (recorded beside every rFID).
        device: where the network runs.
        input_dtype: ``"uint8"`` (inception-v3-compat) or ``"float in [0, 1]"`` (pytorch-fid).
    """

    def __init__(
        self,
        kind: str,
        network: torch.nn.Module,
        forward: Callable[[torch.Tensor], torch.Tensor],
        dim: int,
        weights_path: Path,
        device: torch.device,
    ) -> None:
        self.kind = kind
        self.network = network
        self._forward = forward
        self.dim = dim
        self.weights_path = weights_path
        self.weights_sha256 = cached_sha256(weights_path)
        self.device = device
        self.input_dtype = "uint8" if kind in _FIDELITY_DTYPES else "float in [0, 1]"

    def __repr__(self) -> str:
        return f"InceptionFeatures(kind={self.kind!r}, dim={self.dim}, weights={self.weights_path.name})"

    def fingerprint(self) -> dict:
        """What defines these features (stored with reference statistics and results)."""
        return {"kind": self.kind, "dim": self.dim, "weights_sha256": self.weights_sha256}

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features of ``images`` (B x 3 x H x W) as float64 B x ``dim`` on ``device``."""
        self._check(images)
        with torch.inference_mode(), fp32_strict():
            features = self._forward(images.to(self.device))
        return features.reshape(features.shape[0], -1).to(torch.float64)

    def _check(self, images: torch.Tensor) -> None:
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise UsageError(f"{self.kind}: expected images as a B x 3 x H x W tensor, got {shape}")
        if self.kind in _FIDELITY_DTYPES:
            if images.dtype != torch.uint8:
                raise UsageError(
                    f"{self.kind} takes uint8 images in [0, 255], got {images.dtype} "
                    "(quantize first: protocol 'standard' rounds reconstructions to uint8)"
                )
            return
        if not images.is_floating_point():
            raise UsageError(
                f"pytorch-fid takes float images in [0, 1], got {images.dtype} "
                "(protocol 'wetok' feeds (x + 1) / 2 of the unquantized float images)"
            )
        if not images.numel():
            return
        low, high = torch.stack(images.aminmax()).tolist()  # one host synchronisation
        if low < -1e-6 or high > 1 + 1e-6:
            raise UsageError(
                f"pytorch-fid takes float images in [0, 1], got values in "
                f"[{low:.3g}, {high:.3g}] (images in [-1, 1] must be mapped with (x + 1) / 2)"
            )


def build_inception(
    kind: str,
    weights_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    feature_dim: int = 2048,
) -> InceptionFeatures:
    """Build the Inception feature extractor ``kind`` from a local weights file.

    Args:
        kind: ``inception-v3-compat`` (torch-fidelity port, uint8 input), its float64 variant
            ``inception-v3-compat-float64``, or ``pytorch-fid`` (pytorch-fid port via clean-fid,
            float input in [0, 1]).
        weights_path: the weights file; None resolves it offline-first through
            :func:`wetok_bench.core.weights.resolve_weights`. An explicit file is used as given
            (its sha256 is recorded, not checked against the registry), so tests can pass
            random weights.
        device: where the network runs.
        feature_dim: 2048 (pool features, the FID standard) or 64 / 192 / 768 (earlier layers,
            average-pooled; for small tests).

    Raises:
        UsageError: unknown kind or feature_dim, missing file, or a file whose tensors do not
            fit the architecture.
        MissingWeightsError: no path given and the file is not available offline.
    """
    if kind not in WEIGHTS_NAME:
        raise UsageError(f"unknown Inception kind {kind!r} (known: {', '.join(WEIGHTS_NAME)})")
    if feature_dim not in FEATURE_DIMS:
        raise UsageError(f"feature_dim must be one of {FEATURE_DIMS}, got {feature_dim}")
    path = _weights_file(kind, weights_path)
    state_dict = _load_state_dict(path)
    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_memory()  # its activations would page-fault on every call otherwise
    if kind in _FIDELITY_DTYPES:
        network, forward = _build_fidelity(path, state_dict, feature_dim, _FIDELITY_DTYPES[kind])
    else:
        network, forward = _build_pytorch_fid(path, state_dict, feature_dim)
    network.to(device).eval().requires_grad_(False)
    return InceptionFeatures(kind, network, forward, feature_dim, path, device)


def _weights_file(kind: str, weights_path: str | Path | None) -> Path:
    if weights_path is None:
        from wetok_bench.core.weights import resolve_weights

        return resolve_weights(WEIGHTS_NAME[kind])
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise UsageError(f"Inception weights file not found: {path}")
    return path


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    state = load_torch_file(path, what="Inception weights")
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UsageError(f"Inception weights {path} is not a state dict of tensors")
    return state


def _build_fidelity(path: Path, state_dict: dict, feature_dim: int, dtype: str = "float32"):
    """torch-fidelity's extractor with the weights read from ``path`` (already tensor-only).

    Built on the ``meta`` device (no random initialisation) with the state dict given to its
    constructor through its module-level downloader, whose strict ``load_state_dict`` checks
    every key and shape; the tensors are then assigned (no copy, no second read of the file).
    """
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    layer = str(feature_dim)
    with (
        _LOADER_LOCK,
        patch.object(fidelity, "load_state_dict_from_url", lambda *a, **k: state_dict),
        _on_meta(),
    ):
        try:
            network = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", [layer])
        except RuntimeError as error:
            raise UsageError(f"Inception weights {path} do not fit torch-fidelity's InceptionV3: {error}") from None
    _assign(network, state_dict)
    # set here rather than through its feature_extractor_internal_dtype argument: torch-fidelity
    # 0.4.0's text_to_dtype maps "float64" to torch.float32
    network.feature_extractor_internal_dtype = getattr(torch, dtype)
    network.to(network.feature_extractor_internal_dtype)

    if dtype == "float64" and layer == "2048":
        # torch-fidelity rounds its outputs to float32; the pool output is kept as computed
        pooled: list[torch.Tensor] = []
        network.AvgPool.register_forward_hook(lambda module, args, output: pooled.append(output))

        def forward(images: torch.Tensor) -> torch.Tensor:
            pooled.clear()
            network(images)
            return pooled.pop().flatten(1)

        return network, forward

    def forward(images: torch.Tensor) -> torch.Tensor:
        (features,) = network(images)
        return features

    return network, forward


def _build_pytorch_fid(path: Path, state_dict: dict, feature_dim: int):
    """clean-fid's copy of pytorch-fid's InceptionV3, with ``state_dict`` and no download.

    clean-fid's ``fid_inception_v3`` builds torchvision's Inception3 with the FID blocks and
    loads the weights through its module-level ``load_state_dict_from_url``; here it runs on the
    ``meta`` device with that loader returning the state dict read above (its strict
    ``load_state_dict`` checks every key and shape), and the tensors are then assigned.
    """
    from cleanfid import inception_pytorch

    block = inception_pytorch.InceptionV3.BLOCK_INDEX_BY_DIM[feature_dim]
    build_inner = inception_pytorch.fid_inception_v3

    def fid_inception_v3_assigned():
        with _on_meta():
            inner = build_inner()
        _assign(inner, state_dict)
        return inner

    with (
        _LOADER_LOCK,
        patch.object(inception_pytorch, "load_state_dict_from_url", lambda *a, **k: state_dict),
        patch.object(inception_pytorch, "fid_inception_v3", fid_inception_v3_assigned),
        warnings.catch_warnings(),
    ):
        # clean-fid calls torchvision's inception_v3 with the deprecated `pretrained=False`
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.models\._utils")
        try:
            network = inception_pytorch.InceptionV3([block], resize_input=False, normalize_input=True)
        except RuntimeError as error:
            raise UsageError(f"Inception weights {path} do not fit pytorch-fid's InceptionV3: {error}") from None
    _check_materialized(network)

    def forward(images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.to(torch.float32), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        (features,) = network(x)
        # blocks before the last end in a feature map; pytorch-fid pools it to 1 x 1
        if features.shape[-1] != 1 or features.shape[-2] != 1:
            features = F.adaptive_avg_pool2d(features, output_size=(1, 1))
        return features

    return network, forward


@contextlib.contextmanager
def _on_meta() -> Iterator[None]:
    """Modules built here get ``meta`` tensors; the packages' own loads into them are key and shape
    checks only (torch warns that they copy nothing, which is the point)."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*copying from a non-meta parameter", category=UserWarning)
        yield


def _assign(network: torch.nn.Module, state_dict: dict) -> None:
    """Give a module built on ``meta`` the tensors of ``state_dict`` (keys already checked)."""
    network.load_state_dict({k: v.contiguous() for k, v in state_dict.items()}, strict=True, assign=True)
    _check_materialized(network)


def _check_materialized(network: torch.nn.Module) -> None:
    left = [name for name, t in [*network.named_parameters(), *network.named_buffers()] if t.is_meta]
    if left:  # pragma: no cover - guards against a future torch-fidelity / clean-fid layout
        raise RuntimeError(f"Inception tensors left without weights: {left[:4]}")
