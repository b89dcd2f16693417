"""VAR's multi-scale residual VQVAE (suite ``type: var-vqvae``), from FoundationVision/VAR.

Suite entries::

    - {type: var-vqvae, model: var-vqvae-256}      # the released vae_ch160v4096z32.pth, 10 scales up to 16x16
    - {type: var-vqvae, model: var-vqvae-512}      # the same weights with the official 512 scales
    - {type: var-vqvae, checkpoint: /ckpt/vae_ch160v4096z32.pth, patch_nums: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32]}

An image becomes one token map per scale (``patch_nums``, coarse to fine; the last is the
latent's side, image side / 16), 4096 codes each: 680 tokens x 12 bits = 8160 bits for a
256x256 image, compression ratio 192.8 (512x512 with the official 512 scales: 2,240 tokens, ratio 234.1). Only images
whose side is 16 x the last patch number are accepted (as in the official code).

The architecture and the quantization are in :mod:`.model`, checkpoint reading in :mod:`.loading`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import SIZE_POLICY, Param, declare
from wetok_bench.core.weights import resolve_checkpoint
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.var.loading import WEIGHTS_FILE, load_var_vqvae
from wetok_bench.tokenizers.var.model import PATCH_NUMS_256, PATCH_NUMS_512, VarArch
from wetok_bench.tokenizers.var.tokenizer import FAMILY, PRECISIONS, VarTokenizer

__all__ = ["CARDS", "VarTokenizer", "create_var_vqvae"]

_SOURCE = f"hf://FoundationVision/var/{WEIGHTS_FILE}"
_PAPER = "Visual Autoregressive Modeling: Scalable Image Generation via Next-Scale Prediction, arXiv:2404.02905"


def _card(name: str, patch_nums: tuple[int, ...], notes: str) -> ModelCard:
    return ModelCard(name=name, type=FAMILY, params={"patch_nums": list(patch_nums)}, source=_SOURCE,
                     license="MIT", paper=_PAPER, notes=notes)


CARDS: list[ModelCard] = [
    _card("var-vqvae-256", PATCH_NUMS_256,
          "VAR's VQVAE (ch 160, f16, 4096 codes of 32 dims, 4 shared phis), the scales of the 256x256 VAR "
          "models: 680 tokens x 12 bits = 8160 bits, compression ratio 192.8; 256x256 images only. "
          "Source confirmed (README link). The README states no reconstruction figures."),
    _card("var-vqvae-512", PATCH_NUMS_512,
          "The same weights with the scales of the 512x512 VAR model (--pn 512): 2240 tokens x 12 bits = "
          "26880 bits, compression ratio 234.1; 512x512 images only (train.py loads this one VQVAE file "
          "for every --pn)."),
]

@declare(
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a model card (sets patch_nums)"),
    Param("checkpoint", str, None, path="file", doc=f"local {WEIGHTS_FILE} or hf://owner/repo/file (default: the card's)"),
    Param("patch_nums", list, None, items=int, doc="token-map side per scale, coarse to fine (default 1..16: 256 images)"),
    Param("vocab_size", int, None, range=(2, None), doc="codebook entries (released: 4096)"),
    Param("z_channels", int, None, range=(1, None), doc="latent / codebook channels (released: 32)"),
    Param("ch", int, None, range=(32, None), doc="base width (released: 160)"),
    Param("ch_mult", list, None, items=int, doc="width multipliers per level (released: [1, 1, 2, 2, 4], f16)"),
    Param("num_res_blocks", int, None, range=(1, None), doc="residual blocks per encoder level (released: 2)"),
    Param("quant_resi", float, None, range=(-1, 1), doc="phi mixing ratio (released: 0.5)"),
    Param("share_quant_resi", int, None, range=(2, None), doc="shared phi convs (released: 4)"),
    Param("quant_conv_ks", int, None, range=(1, None), doc="quant_conv kernel size (released: 3)"),
    Param("precision", str, "fp32", choices=PRECISIONS, doc="network precision"),
    SIZE_POLICY,
)
def create_var_vqvae(
    *,
    name: str = FAMILY,
    model: str | None = None,
    checkpoint: str | os.PathLike | None = None,
    patch_nums: Sequence[int] | None = None,
    vocab_size: int | None = None,
    z_channels: int | None = None,
    ch: int | None = None,
    ch_mult: Sequence[int] | None = None,
    num_res_blocks: int | None = None,
    quant_resi: float | None = None,
    share_quant_resi: int | None = None,
    quant_conv_ks: int | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> VarTokenizer:
    """Suite factory for ``type: var-vqvae``.

    ``model`` is a card (its scales and the release's location); without one, ``checkpoint`` is
    required. Architecture fields left out (None) take the card's, then the release's values.
    """
    cards = {card.name: card for card in CARDS}
    if model is not None and model not in cards:
        raise UsageError(f"{FAMILY}: unknown model {model!r} (cards: {', '.join(cards)})")
    card = cards.get(model)
    given = {"patch_nums": patch_nums, "vocab_size": vocab_size, "z_channels": z_channels, "ch": ch,
             "ch_mult": ch_mult, "num_res_blocks": num_res_blocks, "quant_resi": quant_resi,
             "share_quant_resi": share_quant_resi, "quant_conv_ks": quant_conv_ks}
    chosen = {**(card.params if card else {}), **{k: v for k, v in given.items() if v is not None}}
    for key in ("patch_nums", "ch_mult"):
        if key in chosen:
            value = chosen[key]
            if not isinstance(value, (list, tuple)) or not value or not all(isinstance(n, int) and n > 0 for n in value):
                raise UsageError(f"{FAMILY}: {key} must be a non-empty list of positive integers, got {value!r}")
            chosen[key] = tuple(value)
    arch = VarArch(**chosen)
    location = checkpoint if checkpoint is not None else (card.source if card else None)
    if location is None:
        raise UsageError(f"tokenizer {name!r} (type {FAMILY}): give 'model' (a card: "
                         f"{', '.join(c.name for c in CARDS)}) or 'checkpoint'")
    path = resolve_checkpoint(location, what=f"VAR VQVAE weights ({WEIGHTS_FILE}) for {name!r}")
    vae = load_var_vqvae(path, arch)
    return VarTokenizer(vae, name=name, precision=precision, size_policy=size_policy, checkpoint=path,
                        card=card.name if card else None)

