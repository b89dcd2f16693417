"""Reading the baseline protocols' official-code recordings (``tests/data/protocols/<name>``).

Arrays are stored as the official scripts hold them (N x H x W x C); the project's tensors are
N x C x H x W. Weights files are rebuilt from the recorded seeds and checked against the
recorded sha256, so a test fails loudly if the helpers ever change what they write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from helpers_inception import write_fidelity_inception_weights, write_pytorch_fid_inception_weights
from helpers_lpips import random_backbone_file

from wetok_bench.data.images import load_rgb
from wetok_bench.data.preprocess import preprocess

ROOT = Path(__file__).resolve().parents[1] / "data" / "protocols"

# the file names the recordings wrote (torch.save stores the name inside, so the sha256 needs it)
_BUILDERS: dict[str, tuple[str, Callable[[Path, int], Path]]] = {
    "pytorch_fid": ("pt_inception-2015-12-05-6726825d.pth", write_pytorch_fid_inception_weights),
    "fidelity_as_pytorch_fid": ("pt_inception-2015-12-05-6726825d.pth", write_fidelity_inception_weights),
    "fidelity": ("inception_v3_compat_random.pth", write_fidelity_inception_weights),
    "alex": ("alexnet-owt-7be5be79.pth", lambda path, seed: random_backbone_file("alex", path, seed=seed)),
    "vgg": ("vgg16-397923af.pth", lambda path, seed: random_backbone_file("vgg", path, seed=seed)),
}


class Recording:
    """One protocol's folder: ``meta`` (vectors.json), ``arrays`` (vectors.npz), its inputs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.folder = ROOT / name
        self.meta = json.loads((self.folder / "vectors.json").read_text())
        self.arrays = dict(np.load(self.folder / "vectors.npz"))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def inputs(self, names: list[str] | None = None) -> list[Path]:
        """Input PNGs: ``inputs/<name>.png`` for each name, else all of them sorted."""
        if names is None:
            return sorted((self.folder / "inputs").glob("*.png"))
        return [self.folder / "inputs" / f"{name}.png" for name in names]

    def preprocessed(self, resize: str, size: int, names: list[str] | None = None) -> torch.Tensor:
        """The project's preprocessing of the inputs (N x 3 x S x S uint8) by rule ``resize``."""
        return torch.stack([preprocess(load_rgb(path), size, resize) for path in self.inputs(names)])

    def weights(self, kind: str, seed: int, sha256: str, folder: Path) -> Path:
        """The random weights file ``kind`` rebuilt from ``seed``; its sha256 must be the recorded one."""
        filename, build = _BUILDERS[kind]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        path = build(folder / kind / filename, seed)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == sha256, f"{kind}: rebuilt weights {digest[:12]} differ from the recorded {sha256[:12]}"
        return path


def nchw(hwc: np.ndarray) -> torch.Tensor:
    """N x H x W x C array -> N x C x H x W tensor (same dtype)."""
    return torch.from_numpy(np.ascontiguousarray(hwc)).permute(0, 3, 1, 2).contiguous()


def nhwc(tensor: torch.Tensor) -> np.ndarray:
    """N x C x H x W tensor -> N x H x W x C array."""
    return tensor.permute(0, 2, 3, 1).cpu().numpy()
