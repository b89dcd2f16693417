"""Preprocessing shared by every protocol: resize the short side, centre-crop, uint8.

``center_crop_u8(image, R)`` resizes the short side to R with PIL bilinear (antialiased: PIL
filters over the whole footprint when it downsamples, as torchvision's ``Resize`` on a PIL image
does) and crops the centre R x R, the pipeline of the WeTok evaluation and of most tokenizer
papers. Images smaller than R are upscaled by the same rule.

``original`` resolution keeps the image size; tokenizers then pad to their factor and crop back
(see :class:`~wetok_bench.tokenizers.base.Tokenizer`).
"""

from __future__ import annotations

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from wetok_bench.data.images import pil_to_u8_tensor


def center_crop_u8(image: Image.Image, resolution: int) -> torch.Tensor:
    """Resize the short side of an RGB image to ``resolution`` and centre-crop; uint8 3 x R x R."""
    resized = TF.resize(image, resolution, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    cropped = TF.center_crop(resized, [resolution, resolution])
    return pil_to_u8_tensor(cropped)


def preprocess(image: Image.Image, resolution: int | str) -> torch.Tensor:
    """uint8 3 x H x W tensor for one image at ``resolution`` (an int R, or ``"original"``)."""
    if resolution == "original":
        return pil_to_u8_tensor(image)
    return center_crop_u8(image, int(resolution))
