"""VAR's multi-scale residual quantization (``VectorQuantizer2`` of ``models/quant.py``, inference).

For a latent ``f`` (B x C x n x n, n = the last patch number) and scales ``p_1 < ... < p_K = n``:
the residual ``r`` starts as ``f``; at scale ``k`` it is area-downsampled to ``p_k x p_k`` (the
last scale is used as it is), each position takes its nearest codebook entry (squared L2,
``using_znorm=False``), the entries are upsampled back to ``n x n`` bicubically (align_corners
False; not the last scale), passed through a phi and subtracted from ``r``. The decoded latent
``f_hat`` is the sum of those phi outputs, so decoding the codes rebuilds exactly what encoding
subtracted. Scale ``k`` uses phi number ``argmin_j |t_j - (k - 1) / (K - 1)|`` (first on ties),
``t`` = ``linspace(1/(3m), 1 - 1/(3m), m)`` for m = 4 phis, ``linspace(1/(2m), 1 - 1/(2m), m)``
otherwise (computed in float64 as numpy does; the tie at 2/9 for the released 10 scales is decided
by that rounding, checked against the official mapping in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from wetok_bench.errors import UsageError
from wetok_bench.tokenizers.var.model import MultiScaleCodebook, upsample_to
from wetok_bench.tokenizers.vq.quantizer import lookup, nearest_codes


def phi_indices(n_scales: int, n_phis: int) -> list[int]:
    """Which phi each scale uses (see the module doc), for ``n_scales >= 2`` scales."""
    third = 1 / 3 / n_phis if n_phis == 4 else 1 / 2 / n_phis
    ticks = np.linspace(third, 1 - third, n_phis)
    return [int(np.argmin(np.abs(ticks - k / (n_scales - 1)))) for k in range(n_scales)]


def _refined(codebook: MultiScaleCodebook, codes: torch.Tensor, side: int, phi: int) -> torch.Tensor:
    """phi(upsampled entries) of one scale's codes B x p x p: its share of ``f_hat`` (B x C x n x n)."""
    h = lookup(codes, codebook.embedding.weight, l2_norm=False)
    return codebook.quant_resi.qresi_ls[phi](upsample_to(h, side))


def encode_scales(codebook: MultiScaleCodebook, latent: torch.Tensor, patch_nums: Sequence[int]) -> list[torch.Tensor]:
    """Codes of every scale (int64, B x p_k x p_k each, coarse to fine) of a latent B x C x n x n."""
    side = latent.shape[-1]
    if latent.shape[-2] != side or side != patch_nums[-1]:
        raise UsageError(
            f"VAR VQVAE latent is {latent.shape[-2]}x{side}; its scales {list(patch_nums)} need a square "
            f"latent of side {patch_nums[-1]}"
        )
    weight = codebook.embedding.weight
    rest = latent.float().clone()
    codes = []
    for p, phi in zip(patch_nums, phi_indices(len(patch_nums), len(codebook.quant_resi.qresi_ls))):
        small = rest if p == side else F.interpolate(rest, size=(p, p), mode="area")
        scale_codes = nearest_codes(small, weight, l2_norm=False)
        rest = rest - _refined(codebook, scale_codes, side, phi)
        codes.append(scale_codes)
    return codes


def codes_to_latent(codebook: MultiScaleCodebook, codes: Sequence[torch.Tensor], patch_nums: Sequence[int]) -> torch.Tensor:
    """``f_hat`` (float32, B x C x n x n): the sum over scales of phi(upsampled entries)."""
    shapes = [tuple(c.shape[-2:]) for c in codes]
    if len(codes) != len(patch_nums) or shapes != [(p, p) for p in patch_nums]:
        raise UsageError(f"VAR VQVAE codes must be one B x p x p map per scale {list(patch_nums)}, got {shapes}")
    side = patch_nums[-1]
    phis = phi_indices(len(patch_nums), len(codebook.quant_resi.qresi_ls))
    f_hat = _refined(codebook, codes[0], side, phis[0])
    for scale_codes, phi in zip(codes[1:], phis[1:]):
        f_hat = f_hat + _refined(codebook, scale_codes, side, phi)
    return f_hat
