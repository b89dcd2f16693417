"""Group-wise lookup-free quantization (WeTok's GQ) at inference.

The latent's C channels are split into ``groups`` contiguous runs of ``bits`` channels. Each
value becomes +1 when it is > 0 and -1 otherwise (0 maps to -1). A group's code is
``sum_k [value_k > 0] * 2**k``: the first channel of a group is the least significant bit.
Codes are laid out B x h x w x groups (int64).
"""

from __future__ import annotations

import torch

from wetok_bench.errors import UsageError


def binarize(latent: torch.Tensor) -> torch.Tensor:
    """+-1 latent of the same shape and dtype; the sign is taken in float32."""
    positive = latent.float() > 0
    return torch.where(positive, 1.0, -1.0).to(latent.dtype)


def _bit_weights(bits: int, device: torch.device) -> torch.Tensor:
    return 2 ** torch.arange(bits, device=device, dtype=torch.int64)


def latent_to_codes(latent: torch.Tensor, groups: int) -> torch.Tensor:
    """Codes (B x h x w x groups, int64) of a latent B x (groups*bits) x h x w."""
    b, c, h, w = latent.shape
    if c % groups:
        raise UsageError(f"latent has {c} channels, not a multiple of {groups} groups")
    bits = c // groups
    positive = (latent.float() > 0).to(torch.int64)
    positive = positive.permute(0, 2, 3, 1).reshape(b, h, w, groups, bits)
    return (positive * _bit_weights(bits, latent.device)).sum(dim=-1)


def codes_to_latent(codes: torch.Tensor, bits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The +-1 latent (B x groups*bits x h x w) that codes B x h x w x groups stand for.

    Raises :class:`UsageError` for non-integer codes, a wrong rank or values outside
    ``[0, 2**bits)``.
    """
    if codes.dim() != 4:
        raise UsageError(f"WeTok codes must be B x h x w x groups, got shape {tuple(codes.shape)}")
    if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
        raise UsageError(f"WeTok codes must be an integer tensor, got {codes.dtype}")
    codes = codes.to(torch.int64)
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= 2**bits):
        raise UsageError(
            f"WeTok codes must lie in [0, {2**bits}), got values from {int(codes.min())} to {int(codes.max())}"
        )
    b, h, w, groups = codes.shape
    on = (codes.unsqueeze(-1) & _bit_weights(bits, codes.device)) != 0
    latent = torch.where(on, 1.0, -1.0).to(dtype)
    return latent.reshape(b, h, w, groups * bits).permute(0, 3, 1, 2).contiguous()
