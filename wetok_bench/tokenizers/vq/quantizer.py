"""Nearest-codebook-entry quantization (VQ-VAE / VQGAN) and the inverse lookup.

A latent vector ``z`` (one per position, ``C`` channels) maps to the index of the codebook row
``e_j`` with the smallest squared distance, computed as ``|z|^2 + |e_j|^2 - 2 z.e_j`` (the
expansion both official quantizers use, so near-ties break the same way), the first index on
exact ties (``argmin``). With ``l2_norm`` (LlamaGen) both ``z`` and the rows are scaled to unit
length first, and the lookup returns the unit-length rows; the stored rows need not be unit norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wetok_bench.errors import UsageError

#: Positions per distance block: bounds the (positions x codebook) distance matrix to
#: 4096 x 16384 floats (256 MiB) whatever the batch; argmin is per row, so blocks change nothing.
_BLOCK = 4096


def codebook_vectors(weight: torch.Tensor, l2_norm: bool) -> torch.Tensor:
    """The codebook rows as the quantizer uses them (float32; unit length with ``l2_norm``)."""
    weight = weight.float()
    return F.normalize(weight, p=2, dim=-1) if l2_norm else weight


def nearest_codes(latent: torch.Tensor, weight: torch.Tensor, *, l2_norm: bool) -> torch.Tensor:
    """Codes (int64, B x h x w) of a latent B x C x h x w against codebook rows ``weight`` (n x C)."""
    b, c, h, w = latent.shape
    if c != weight.shape[1]:
        raise UsageError(f"latent has {c} channels, the codebook {weight.shape[1]}")
    z = latent.float().permute(0, 2, 3, 1).reshape(-1, c)
    if l2_norm:
        z = F.normalize(z, p=2, dim=-1)
    e = codebook_vectors(weight, l2_norm)
    e_sq = (e**2).sum(dim=1)
    codes = [
        ((zb**2).sum(dim=1, keepdim=True) + e_sq - 2 * zb @ e.t()).argmin(dim=1)
        for zb in z.split(_BLOCK)
    ]
    return torch.cat(codes).reshape(b, h, w)


def lookup(codes: torch.Tensor, weight: torch.Tensor, *, l2_norm: bool) -> torch.Tensor:
    """The quantized latent (float32, B x C x h x w) for codes B x h x w; bad codes are a UsageError."""
    if codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise UsageError(f"codes must be an integer tensor, got {codes.dtype}")
    if codes.dim() != 3:
        raise UsageError(f"codes must be B x h x w, got shape {tuple(codes.shape)}")
    n = weight.shape[0]
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= n):
        raise UsageError(f"codes must lie in [0, {n}), got [{int(codes.min())}, {int(codes.max())}]")
    vectors = codebook_vectors(weight, l2_norm)[codes.to(weight.device, torch.int64)]
    return vectors.permute(0, 3, 1, 2).contiguous()
