"""Devices and float32 precision, without global state.

:func:`resolve_device` is the one rule from a device name to a ``torch.device`` (the runner,
``score``, the evaluator and the Python API all use it); it changes nothing in torch.
:func:`fp32_strict` is the scope every metric network runs in: full float32 on CUDA (TF32 off
for convolutions and matmuls), the previous settings restored on exit, so a tokenizer may use
TF32 or bf16 outside it and a user's own settings survive an evaluation.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from wetok_bench.core.errors import UsageError


def resolve_device(device: str | torch.device, *, local_rank: int | None = None) -> torch.device:
    """The ``torch.device`` a device name means here.

    ``auto`` is the GPU when CUDA is available, else the CPU. ``cuda`` without a number is
    ``cuda:<local_rank>`` when ``local_rank`` is given (the runner: one GPU per rank), else
    torch's current CUDA device. Other names (``cpu``, ``cuda:1``, ``mps``) and ``torch.device``
    objects are taken as given. An unknown name, or CUDA where there is none, is a
    :class:`~wetok_bench.core.errors.UsageError`.
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {device!r} (use auto, cpu or cuda[:N])") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {str(device)!r} requested but CUDA is not available (use device: cpu or auto)")
        if resolved.index is None and local_rank is not None:
            resolved = torch.device("cuda", local_rank)
    return resolved


@contextlib.contextmanager
def fp32_strict() -> Iterator[None]:
    """Full-precision float32 convolutions and matmuls on CUDA (no TF32) for the duration.

    The metric networks (Inception, LPIPS, any feature extractor) are specified in float32:
    TF32 would move rFID in the third digit. The settings in force before are restored after,
    also when the block raises. Without CUDA there is nothing to change."""
    if not torch.cuda.is_available():
        yield
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        settings = [(conv, "fp32_precision", "ieee"), (torch.backends.cuda.matmul, "fp32_precision", "ieee")]
    else:  # torch before the fp32_precision API
        settings = [(torch.backends.cudnn, "allow_tf32", False), (torch.backends.cuda.matmul, "allow_tf32", False)]
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in settings]
    try:
        for owner, attr, value in settings:
            setattr(owner, attr, value)
        yield
    finally:
        for owner, attr, value in saved:
            setattr(owner, attr, value)
