"""uint8 <-> float conversions of the protocols, bit-identical on every device.

Every uint8 -> float conversion goes through a 256-entry table computed once on the CPU
(:func:`u8_float_table`) and indexed by the uint8 values, so every device gives the same bits
(torch on CUDA divides a tensor by a scalar as a multiplication by its reciprocal, which would
give a third set of floats). Reconstructions become uint8 by rounding (:func:`round_to_u8`) or
by the WeTok script's truncation (:func:`truncate_to_u8`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch

QuantizeRule = Literal["round", "truncate", "half_up", "half_up_unit"]
U8FloatRule = Literal["float32", "float64"]


@lru_cache(maxsize=None)
def _table_cpu(rule: U8FloatRule) -> torch.Tensor:
    values = np.arange(256, dtype=np.float64)
    if rule == "float64":
        table = (values / 127.5 - 1.0).astype(np.float32)  # exact arithmetic, one rounding
    elif rule == "float32":
        table = values.astype(np.float32) / np.float32(127.5) - np.float32(1.0)  # two roundings
    else:
        raise ValueError(f"unknown uint8 -> float rule {rule!r} (known: float32, float64)")
    return torch.from_numpy(table)


@lru_cache(maxsize=None)
def _unit_table_cpu() -> torch.Tensor:
    # float32 true division on the CPU, as torch computes ``u8 / 255`` there (CUDA multiplies
    # by the reciprocal, which differs for about half the values)
    return torch.arange(256, dtype=torch.float32) / 255.0


def u8_to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1] as ``u8 / 255`` (float32 division on a CPU), by table lookup."""
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    table = _unit_table_cpu().to(images.device)
    return table.index_select(0, images.reshape(-1).int()).view(images.shape)


def u8_float_table(rule: U8FloatRule = "float64", device: torch.device | str = "cpu") -> torch.Tensor:
    """The 256 float32 values of ``u / 127.5 - 1`` for u = 0..255, computed on the CPU.

    ``rule``: ``float64`` computes exactly and rounds once to float32 (numpy's
    ``(u8 / 127.5 - 1.0).astype(np.float32)``, the official WeTok dataset); ``float32`` rounds
    the division and the subtraction to float32 each (torch's ``u8.float() / 127.5 - 1`` on a
    CPU). The two differ in the last bit for about half the values.
    """
    return _table_cpu(rule).to(device, copy=True)


def u8_to_signed_float(images: torch.Tensor, rule: U8FloatRule = "float64") -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] as ``u8 / 127.5 - 1``, by table lookup (any device).

    ``rule`` as in :func:`u8_float_table`. The default ``float64`` is the float an image file
    becomes in the official WeTok loader; under ``round`` quantization both rules give back
    the same uint8, so the default does not change ``standard`` values (its protocol table is
    ``float32``).
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    # index_select on int32 indices: the same values as fancy indexing, about 4x faster on a CPU
    table = _table_cpu(rule).to(images.device)
    return table.index_select(0, images.reshape(-1).int()).view(images.shape)


def round_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 by rounding ``(x + 1) * 127.5`` (half to even, like torch.round)."""
    # in place on the clamped copy (never on the caller's tensor): the same values, fewer temporaries
    return images.clamp(-1.0, 1.0).to(torch.float32).add_(1.0).mul_(127.5).round_().to(torch.uint8)


def truncate_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 by truncation ``((x + 1) / 2 * 255)`` in float32 (WeTok script)."""
    return ((images.to(torch.float32) + 1.0) / 2.0 * 255.0).to(torch.uint8)


def half_up_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 as LlamaGen writes its samples: ``clamp(127.5 x + 128, 0, 255)``
    in float32 (multiply, then add), then truncated: half-up rounding of ``127.5 (x + 1)``."""
    return (images.to(torch.float32) * 127.5 + 128.0).clamp_(0.0, 255.0).to(torch.uint8)


def half_up_unit_to_u8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 as DC-AE's evaluator does: ``(255 ((x + 1) / 2) + 0.5)`` in float32
    (add, divide, multiply, add), clamped to [0, 255], then truncated: half-up rounding."""
    x = images.to(torch.float32)
    return (((x + 1.0) / 2.0) * 255.0 + 0.5).clamp_(0.0, 255.0).to(torch.uint8)


#: Reconstruction -> uint8 rules by the name a protocol's ``pixel_quantize`` gives.
QUANTIZERS = {
    "round": round_to_u8,
    "truncate": truncate_to_u8,
    "half_up": half_up_to_u8,
    "half_up_unit": half_up_unit_to_u8,
}
