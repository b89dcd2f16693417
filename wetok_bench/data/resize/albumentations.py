"""SEED-Voken IBQ's ImageNet preprocessing: albumentations ``SmallestMaxSize`` + ``CenterCrop``.

As albumentations 1.4.4 (SEED-Voken's pinned version) computes it:

1. ``scale = R / float(min(H, W))``; unless it is exactly 1, each side becomes Python
   ``round(side * scale)`` (half to even), resized by OpenCV ``cv2.resize(..., INTER_LINEAR)``
   (bilinear *without* antialiasing: a downscale aliases where PIL would filter).
2. Crop R x R at the floor offsets ``(H - R) // 2``, ``(W - R) // 2``.

OpenCV's uint8 bilinear is fixed-point arithmetic whose rounding differs between its scalar
and SIMD paths, so the rule calls OpenCV itself rather than imitate it: install
``opencv-python-headless`` (4.10.0.84, the release current when IBQ was published, is the
version the tests verify; ``pip install 'wetok-bench[protocols]'``).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from wetok_bench.core.errors import UsageError

#: The OpenCV release the official pixels were recorded with.
OPENCV_VERSION = "4.10.0"


def _cv2():
    try:
        import cv2
    except ImportError:
        raise UsageError(
            "protocol 'ibq' resizes with OpenCV, as SEED-Voken's albumentations pipeline does: "
            f"install opencv-python-headless {OPENCV_VERSION} (pip install 'wetok-bench[protocols]')"
        ) from None
    return cv2


def smallest_max_size_u8(image: Image.Image, resolution: int) -> torch.Tensor:
    """uint8 3 x R x R tensor of ``image`` by albumentations' SmallestMaxSize + CenterCrop."""
    cv2 = _cv2()
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    height, width = array.shape[:2]
    scale = resolution / float(min(height, width))
    if scale != 1.0:
        new_height, new_width = round(height * scale), round(width * scale)
        if (new_height, new_width) != (height, width):
            array = cv2.resize(array, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
            height, width = new_height, new_width
    top, left = (height - resolution) // 2, (width - resolution) // 2
    crop = array[top : top + resolution, left : left + resolution]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).contiguous()
