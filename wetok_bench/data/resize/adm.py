"""ADM's ``center_crop_arr`` (openai/guided-diffusion), used by LlamaGen and DC-AE (``DMCrop``).

1. While the short side is at least 2 R, halve both sides (integer division) with PIL ``BOX``.
2. Scale so that the short side is R: each side becomes Python ``round(side * R / short)``
   (half to even: 64.5 -> 64) by PIL ``BICUBIC`` (antialiased: its support widens when it
   shrinks).
3. Crop R x R at the floor offsets ``(H - R) // 2``, ``(W - R) // 2`` (torchvision rounds them).

An image already R x R comes out unchanged (PIL's resize to the same size is a copy, and DMCrop
returns it early).
"""

from __future__ import annotations

import torch
from PIL import Image

from wetok_bench.data.images import pil_to_u8_tensor


def adm_center_crop_u8(image: Image.Image, resolution: int) -> torch.Tensor:
    """uint8 3 x R x R tensor of ``image`` by ADM's ``center_crop_arr`` (module docstring)."""
    size = resolution
    while min(image.size) >= 2 * size:
        image = image.resize((image.width // 2, image.height // 2), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), resample=Image.BICUBIC)
    top, left = (image.height - size) // 2, (image.width - size) // 2
    return pil_to_u8_tensor(image)[:, top : top + size, left : left + size].contiguous()
