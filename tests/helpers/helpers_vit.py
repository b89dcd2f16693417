"""Session fixtures writing the random DINOv2 ViT-L/14 and CLIP ViT-L/14@336 weights files that
the FD-DINOv2 and CMMD vectors were recorded with (1.2 GB each, a few seconds to write)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_clip import arrays_sha256, clip_vitl14_336_visual_state_dict
from helpers_dinov2 import write_dinov2_vitl14_weights

#: the recordings' digests of the weights (key names + raw float32 bytes; independent of torch.save)
DINOV2_TENSORS_SHA256 = "8c12b4e034e997fb01df8e167e4e4b737c5e13aafd00dec82e8635375b11a5a2"
CLIP_ARRAYS_SHA256 = "8a41c4fef9fd9114faf401c496c096bfe3f04d152985e9c913a11d912c8d7f75"


@pytest.fixture(scope="session")
def dinov2_weights(tmp_path_factory) -> Path:
    path, digest = write_dinov2_vitl14_weights(tmp_path_factory.mktemp("dinov2") / "dinov2_vitl14_pretrain.pth", seed=0)
    assert digest == DINOV2_TENSORS_SHA256
    yield path
    path.unlink(missing_ok=True)  # 1.2 GB: not left in pytest's kept temporary folders


@pytest.fixture(scope="session")
def clip_weights(tmp_path_factory) -> Path:
    arrays = clip_vitl14_336_visual_state_dict(seed=0)
    assert arrays_sha256(arrays) == CLIP_ARRAYS_SHA256
    path = tmp_path_factory.mktemp("clip") / "clip_vitl14_336_visual.pth"
    torch.save({key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}, path)
    yield path
    path.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
