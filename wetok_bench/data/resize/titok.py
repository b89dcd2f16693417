"""The 1d-tokenizer (TiTok) evaluation's image pipeline.

Its ImageNet val set is read from webdataset shards, whose writer re-encodes every image as
JPEG at quality 100 (Pillow's default 4:2:0 chroma subsampling); the reader decodes it and
applies torchvision ``Resize(R, BICUBIC, antialias=True)`` (the long side truncated with
``int()``) and ``CenterCrop(R)`` (offsets ``int(round((side - R) / 2))``, half to even). The
same pipeline gives the rFID reference, computed in the same pass.

The JPEG round trip is lossy (about 44-46 dB against the PNG crop): that loss is part of the
published numbers. An image stored in grayscale is re-encoded here after its conversion to RGB
(the shard writer kept the original mode), which can differ by one level.
"""

from __future__ import annotations

import io

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from wetok_bench.data.images import pil_to_u8_tensor

JPEG_QUALITY = 100


def jpeg_q100_bicubic_crop_u8(image: Image.Image, resolution: int) -> torch.Tensor:
    """uint8 3 x R x R tensor of ``image`` through TiTok's shard round trip, resize and crop."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded = decoded.convert("RGB")
    resized = TF.resize(decoded, resolution, interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    return pil_to_u8_tensor(TF.center_crop(resized, [resolution, resolution]))
