"""Preprocessing: the resize rule a protocol names brings each image to R x R uint8.

The protocol's ``resize`` field (:class:`~wetok_bench.protocols.MetricProtocol`) names a rule
in :data:`RESIZE_RULES`; the loader looks it up (:func:`resize_rule`) and applies it, so a
protocol with another rule gets other pixels, and the rule's name is part of the protocol's
fingerprint and of the reference-statistics cache key. The rule of ``standard`` and ``wetok``
(:data:`DEFAULT_RESIZE`) is here; the official scripts' other rules are modules of
:mod:`wetok_bench.data.resize` (ADM's ``center_crop_arr``, albumentations' ``SmallestMaxSize``,
TiTok's JPEG round trip):

``center_crop_u8(image, R)`` resizes the short side to R with PIL bilinear (antialiased: PIL
filters over the whole footprint when it downsamples, as torchvision's ``Resize`` on a PIL image
does) and crops the centre R x R, the pipeline of the WeTok evaluation and of most tokenizer
papers. Images smaller than R are upscaled by the same rule.

``original`` resolution keeps the image size; tokenizers then pad to their factor and crop back
(see :class:`~wetok_bench.tokenizers.base.Tokenizer`).
"""

from __future__ import annotations

import re
from typing import Callable

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from wetok_bench.core.registry import Registry, callable_object
from wetok_bench.data.images import pil_to_u8_tensor

#: A resize rule: (RGB image, R) -> uint8 3 x R x R tensor.
ResizeRule = Callable[[Image.Image, int], torch.Tensor]
#: The rule of the ``standard`` and ``wetok`` protocols (their ``resize`` field).
DEFAULT_RESIZE = "short-side-bilinear-antialias+center-crop"


def center_crop_u8(image: Image.Image, resolution: int) -> torch.Tensor:
    """Resize the short side of an RGB image to ``resolution`` and centre-crop; uint8 3 x R x R."""
    resized = TF.resize(image, resolution, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    cropped = TF.center_crop(resized, [resolution, resolution])
    return pil_to_u8_tensor(cropped)


#: Resize rules by the name a protocol's ``resize`` field gives.
RESIZE_RULES: Registry[ResizeRule] = Registry("resize rule", check=callable_object, name_re=re.compile(r"^\S.*$"))
RESIZE_RULES.register(DEFAULT_RESIZE, center_crop_u8)
#: The official scripts' rules (wetok_bench/data/resize/), imported on first use.
RESIZE_RULES.builtin("adm-center-crop", "wetok_bench.data.resize.adm:adm_center_crop_u8")
RESIZE_RULES.builtin("albumentations-smallest-max-size+floor-crop",
                     "wetok_bench.data.resize.albumentations:smallest_max_size_u8")
RESIZE_RULES.builtin("jpeg-q100+bicubic+center-crop", "wetok_bench.data.resize.titok:jpeg_q100_bicubic_crop_u8")


def register_resize_rule(name: str, rule: ResizeRule, *, overwrite: bool = False) -> ResizeRule:
    """Add a resize rule a protocol can name; a name taken by another rule is refused."""
    return RESIZE_RULES.register(name, rule, overwrite=overwrite)


def resize_rule(name: str) -> ResizeRule:
    """The rule called ``name`` (a protocol's ``resize``); unknown names are a RegistryError."""
    return RESIZE_RULES.get(name)


def preprocess(image: Image.Image, resolution: int | str, resize: str | ResizeRule = DEFAULT_RESIZE) -> torch.Tensor:
    """uint8 3 x H x W tensor for one image at ``resolution`` (an int R, or ``"original"``,
    which keeps the image's size), by the resize rule ``resize`` (a name, or the rule itself)."""
    if resolution == "original":
        return pil_to_u8_tensor(image)
    rule = resize if callable(resize) else resize_rule(resize)
    return rule(image, int(resolution))
