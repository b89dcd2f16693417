"""Random but non-trivial DINOv2 ViT-L/14 weights, rebuilt deterministically without the DINOv2 code.

``dinov2_vitl14_state_dict(seed)`` returns a state dict with exactly the keys, shapes and order of
``dinov2_vitl14_pretrain.pth`` (the checkpoint ``torch.hub.load('facebookresearch/dinov2',
'dinov2_vitl14')`` loads with ``strict=True``): 343 tensors, 304,368,640 float32 values.

The values come from one ``torch.Generator`` seeded with ``seed``, drawn tensor by tensor in the
key order below (``torch.randn`` on CPU, float32), then scaled:

- linear/conv weights: N(0, 1/fan_in) (unit-scale activations through the depth);
- biases, ``norm*.bias``: N(0, 0.02^2);  ``norm*.weight``: 1 + N(0, 0.1^2);
- layer-scale ``ls1.gamma`` / ``ls2.gamma``: 0.2 + N(0, 0.02^2) (the residual stream keeps the
  image's information through 24 blocks);
- ``cls_token``: N(0, 1); ``pos_embed``: N(0, 0.5^2); ``mask_token``: zeros (unused at inference).

PyTorch's/DINOv2's own init (trunc-normal std 0.02, ``cls_token`` ~1e-6) would give CLS features
that hardly depend on the image. Building and saving the 1.2 GB file takes about 10-20 s on one
CPU thread.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

EMBED_DIM = 1024
DEPTH = 24
MLP_DIM = 4 * EMBED_DIM
PATCH = 14
NUM_POS = 1 + (518 // PATCH) ** 2  # 1370: img_size=518 in the hub's _make_dinov2_model


def vitl14_layout() -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, kind) of dinov2_vitl14_pretrain.pth, in its state-dict order."""
    d, m = EMBED_DIM, MLP_DIM
    rows: list[tuple[str, tuple[int, ...], str]] = [
        ("cls_token", (1, 1, d), "cls"),
        ("pos_embed", (1, NUM_POS, d), "pos"),
        ("mask_token", (1, d), "zero"),
        ("patch_embed.proj.weight", (d, 3, PATCH, PATCH), "weight"),
        ("patch_embed.proj.bias", (d,), "bias"),
    ]
    for i in range(DEPTH):
        b = f"blocks.{i}."
        rows += [
            (b + "norm1.weight", (d,), "norm"),
            (b + "norm1.bias", (d,), "bias"),
            (b + "attn.qkv.weight", (3 * d, d), "weight"),
            (b + "attn.qkv.bias", (3 * d,), "bias"),
            (b + "attn.proj.weight", (d, d), "weight"),
            (b + "attn.proj.bias", (d,), "bias"),
            (b + "ls1.gamma", (d,), "gamma"),
            (b + "norm2.weight", (d,), "norm"),
            (b + "norm2.bias", (d,), "bias"),
            (b + "mlp.fc1.weight", (m, d), "weight"),
            (b + "mlp.fc1.bias", (m,), "bias"),
            (b + "mlp.fc2.weight", (d, m), "weight"),
            (b + "mlp.fc2.bias", (d,), "bias"),
            (b + "ls2.gamma", (d,), "gamma"),
        ]
    rows += [("norm.weight", (d,), "norm"), ("norm.bias", (d,), "bias")]
    return rows


def dinov2_vitl14_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape, kind in vitl14_layout():
        if kind == "zero":
            out[key] = torch.zeros(shape)
            continue
        x = torch.randn(shape, generator=generator, dtype=torch.float32)
        if kind == "weight":
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            x.mul_(fan_in**-0.5)
        elif kind == "bias":
            x.mul_(0.02)
        elif kind == "norm":
            x.mul_(0.1).add_(1.0)
        elif kind == "gamma":
            x.mul_(0.02).add_(0.2)
        elif kind == "pos":
            x.mul_(0.5)
        out[key] = x
    return out


def tensors_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over key names and raw little-endian float32 bytes, in order (independent of torch.save)."""
    h = hashlib.sha256()
    for key, value in state_dict.items():
        h.update(key.encode() + b"\0")
        h.update(value.contiguous().numpy().tobytes())
    return h.hexdigest()


def write_dinov2_vitl14_weights(path: Path, seed: int = 0) -> tuple[Path, str]:
    """Save the random state dict at ``path`` (torch.save); returns (path, tensors_sha256)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state_dict = dinov2_vitl14_state_dict(seed)
    torch.save(state_dict, path)
    return path, tensors_sha256(state_dict)
