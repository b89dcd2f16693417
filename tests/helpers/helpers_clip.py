"""Random but non-trivial CLIP ViT-L/14@336px image-tower weights, in OpenAI CLIP's state-dict naming.

``clip_vitl14_336_visual_state_dict(seed)`` returns numpy float32 arrays with the keys and shapes of
the ``visual.*`` part of ``ViT-L-14-336px.pt`` (OpenAI CLIP, as ``torch.jit.load(...).state_dict()``
gives them) plus ``logit_scale``; the text tower is left out (CMMD never calls it). Drawn tensor by
tensor in the order below from one ``torch.Generator`` (``torch.randn``, float32), then scaled:
linear/conv weights N(0, 1/fan_in); ``visual.proj`` N(0, 1/1024); biases N(0, 0.02^2);
LayerNorm weights 1 + N(0, 0.1^2), LayerNorm biases N(0, 0.02^2); ``class_embedding`` N(0, 1);
``positional_embedding`` N(0, 0.5^2); ``logit_scale`` = log(100).

``write_scenic_npy(path, seed)`` saves it the way scenic's ``load_model_vars`` caches a converted
checkpoint (``np.save`` of the dict) at ``~/.cache/scenic/clip/vit_l14_336px.npy``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

WIDTH = 1024
LAYERS = 24
PATCH = 14
GRID = 336 // PATCH  # 24
EMBED = 768


def visual_layout() -> list[tuple[str, tuple[int, ...], str]]:
    w = WIDTH
    rows: list[tuple[str, tuple[int, ...], str]] = [
        ("visual.class_embedding", (w,), "cls"),
        ("visual.positional_embedding", (GRID * GRID + 1, w), "pos"),
        ("visual.proj", (w, EMBED), "proj"),
        ("visual.conv1.weight", (w, 3, PATCH, PATCH), "weight"),
        ("visual.ln_pre.weight", (w,), "norm"),
        ("visual.ln_pre.bias", (w,), "bias"),
    ]
    for i in range(LAYERS):
        b = f"visual.transformer.resblocks.{i}."
        rows += [
            (b + "attn.in_proj_weight", (3 * w, w), "weight"),
            (b + "attn.in_proj_bias", (3 * w,), "bias"),
            (b + "attn.out_proj.weight", (w, w), "weight"),
            (b + "attn.out_proj.bias", (w,), "bias"),
            (b + "ln_1.weight", (w,), "norm"),
            (b + "ln_1.bias", (w,), "bias"),
            (b + "mlp.c_fc.weight", (4 * w, w), "weight"),
            (b + "mlp.c_fc.bias", (4 * w,), "bias"),
            (b + "mlp.c_proj.weight", (w, 4 * w), "weight"),
            (b + "mlp.c_proj.bias", (w,), "bias"),
            (b + "ln_2.weight", (w,), "norm"),
            (b + "ln_2.bias", (w,), "bias"),
        ]
    rows += [("visual.ln_post.weight", (w,), "norm"), ("visual.ln_post.bias", (w,), "bias")]
    return rows


def clip_vitl14_336_visual_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, np.ndarray] = {}
    for key, shape, kind in visual_layout():
        x = torch.randn(shape, generator=generator, dtype=torch.float32)
        if kind == "weight":
            x.mul_(math.prod(shape[1:]) ** -0.5)
        elif kind == "proj":
            x.mul_(shape[0] ** -0.5)
        elif kind == "bias":
            x.mul_(0.02)
        elif kind == "norm":
            x.mul_(0.1).add_(1.0)
        elif kind == "pos":
            x.mul_(0.5)
        out[key] = x.numpy()
    out["logit_scale"] = np.asarray(math.log(100.0), dtype=np.float32)
    return out


def arrays_sha256(state_dict: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key, value in state_dict.items():
        h.update(key.encode() + b"\0")
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def write_scenic_npy(path: Path, seed: int = 0) -> tuple[Path, str]:
    """np.save of the dict, as scenic's load_model_vars writes its converted-checkpoint cache."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = clip_vitl14_336_visual_state_dict(seed)
    with open(path, "wb") as f:
        np.save(f, params)
    return path, arrays_sha256(params)
