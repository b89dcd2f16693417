"""LlamaGen VQ tokenizers (suite ``type: llamagen-vq``), from FoundationVision/LlamaGen.

Suite entry::

    - type: llamagen-vq
      model: llamagen-vq16                      # a model card, or a preset: VQ-16 | VQ-8
      checkpoint: hf://FoundationVision/LlamaGen/vq_ds16_c2i.pt   # default with a card
      codebook_size: 16384                      # any field of the official ModelArgs
      codebook_embed_dim: 8

Discrete: one code per position of the (H/f) x (W/f) grid from one codebook, counted as
tokens x log2(codebook_size) bits (the released 16384 codes: 14 bits per token). The model is
the taming-lineage VQ autoencoder with an l2-normalised codebook
(:mod:`wetok_bench.tokenizers.common.vq_model`, :class:`~wetok_bench.tokenizers.common.vq_tokenizer.VQTokenizer`);
presets, official defaults and checkpoint reading are in :mod:`.loading`.
"""

from __future__ import annotations

import os
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import SIZE_POLICY, Param, declare
from wetok_bench.core.weights import resolve_checkpoint
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.common.vq_tokenizer import PRECISIONS, VQTokenizer
from wetok_bench.tokenizers.llamagen.loading import FAMILY, MODEL_ARGS, PRESETS, llamagen_arch, load_llamagen_vq

__all__ = ["CARDS", "create_llamagen_vq"]

_HF = "hf://FoundationVision/LlamaGen"
_PAPER = "Autoregressive Model Beats Diffusion: Llama for Scalable Image Generation, arXiv:2406.06525"


def _card(name: str, model: str, source: str, notes: str) -> ModelCard:
    """A released LlamaGen tokenizer: preset ``model`` with 16384 codes of 8 dims."""
    return ModelCard(
        name=name,
        type=FAMILY,
        params={"model": model, "codebook_size": 16384, "codebook_embed_dim": 8},
        source=source,
        license="MIT",
        paper=_PAPER,
        notes=notes,
    )


CARDS: list[ModelCard] = [
    _card(
        "llamagen-vq16",
        "VQ-16",
        f"{_HF}/vq_ds16_c2i.pt",
        "ImageNet-trained, f16, codebook 16384 x 8 (l2-normalised): 14 bits per token, compression "
        "ratio 438.9 at any size (256x256: 16x16 tokens). 72M parameters; the README reports rFID 2.19 at 256. "
        "Source confirmed (README link); {'model': state_dict} layout from the official sampling scripts.",
    ),
    _card(
        "llamagen-vq8",
        "VQ-8",
        f"{_HF}/vq_ds8_c2i.pt",
        "ImageNet-trained, f8, codebook 16384 x 8 (l2-normalised): 14 bits per token, compression ratio "
        "109.7 (256x256: 32x32 tokens). 70M parameters; the README reports rFID 0.59 at 256. Source confirmed "
        "(README link).",
    ),
    _card(
        "llamagen-vq16-t2i",
        "VQ-16",
        "hf://peizesun/llamagen_t2i/vq_ds16_t2i.pt",
        "Text-to-image tokenizer (LAION COCO 50M + 10M internal images), f16, 16384 x 8. Source confirmed "
        "(README link); the architecture is inferred from the t2i sampling script's defaults (VQ-16, 16384, 8).",
    ),
]

def _resolve_model(model: str) -> tuple[dict[str, Any], str | None, str | None]:
    """(preset/card parameters, card name, card source) for ``model``."""
    if model in PRESETS:
        return {"encoder_ch_mult": PRESETS[model], "decoder_ch_mult": PRESETS[model]}, None, None
    cards = {card.name: card for card in CARDS}
    if model not in cards:
        raise UsageError(
            f"{FAMILY}: unknown model {model!r} (presets: {', '.join(PRESETS)}; cards: {', '.join(cards)})"
        )
    card = cards[model]
    params = dict(card.params)
    preset_args, _, _ = _resolve_model(params.pop("model"))
    return {**preset_args, **params}, card.name, card.source


_POSITIVE = (1, None)


def _factor(spec: dict[str, Any]) -> int | None:
    """The spatial factor of an entry: 2 ** (encoder levels - 1), from its ``encoder_ch_mult`` or its model's."""
    try:
        mult = spec.get("encoder_ch_mult") or _resolve_model(spec.get("model", "VQ-16"))[0].get("encoder_ch_mult")
    except UsageError:
        return None
    return 2 ** (len(mult) - 1) if mult else None


@declare(
    Param("model", str, "VQ-16", choices=(*PRESETS, *(card.name for card in CARDS)),
          doc="an official preset or a model card"),
    Param("checkpoint", str, None, path="file", doc="local .pt or hf://owner/repo/file (default: the card's)"),
    Param("codebook_size", int, None, range=(2, None), doc="codebook entries (ModelArgs; default 16384)"),
    Param("codebook_embed_dim", int, None, range=_POSITIVE, doc="channels of an entry (default 8)"),
    Param("codebook_l2_norm", bool, None, doc="l2-normalise latent and codebook (default true)"),
    Param("codebook_show_usage", bool, None, doc="training only; recorded"),
    Param("commit_loss_beta", float, None, doc="training only; recorded"),
    Param("entropy_loss_ratio", float, None, doc="training only; recorded"),
    Param("encoder_ch_mult", list, None, items=int, doc="encoder width multipliers (default: the preset's)"),
    Param("decoder_ch_mult", list, None, items=int, doc="decoder width multipliers (default: the preset's)"),
    Param("z_channels", int, None, range=_POSITIVE, doc="encoder output channels (default 256)"),
    Param("dropout_p", float, None, range=(0, 1), doc="training only; recorded"),
    Param("ch", int, None, range=(32, None), doc="base width; the official VQModel always uses 128"),
    Param("num_res_blocks", int, None, range=_POSITIVE, doc="residual blocks per level; officially always 2"),
    Param("precision", str, "fp32", choices=PRECISIONS, doc="network precision"),
    SIZE_POLICY,
    factor=_factor,
)
def create_llamagen_vq(
    *,
    name: str = FAMILY,
    checkpoint: str | os.PathLike | None = None,
    model: str = "VQ-16",
    codebook_size: int | None = None,
    codebook_embed_dim: int | None = None,
    codebook_l2_norm: bool | None = None,
    codebook_show_usage: bool | None = None,
    commit_loss_beta: float | None = None,
    entropy_loss_ratio: float | None = None,
    encoder_ch_mult: list[int] | None = None,
    decoder_ch_mult: list[int] | None = None,
    z_channels: int | None = None,
    dropout_p: float | None = None,
    ch: int | None = None,
    num_res_blocks: int | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> VQTokenizer:
    """Suite factory for ``type: llamagen-vq``.

    ``model`` is a preset (``VQ-16``, ``VQ-8``) or a model card (``llamagen-vq16``, ...); a
    card also gives the checkpoint's default location. Fields left out (None) take the card's,
    then the preset's, then the official ``ModelArgs`` defaults. ``checkpoint`` is a local path
    or ``hf://owner/repo/file``.
    """
    chosen, card, source = _resolve_model(model)
    given = {
        "codebook_size": codebook_size, "codebook_embed_dim": codebook_embed_dim,
        "codebook_l2_norm": codebook_l2_norm, "codebook_show_usage": codebook_show_usage,
        "commit_loss_beta": commit_loss_beta, "entropy_loss_ratio": entropy_loss_ratio,
        "encoder_ch_mult": encoder_ch_mult, "decoder_ch_mult": decoder_ch_mult, "z_channels": z_channels,
        "dropout_p": dropout_p, "ch": ch, "num_res_blocks": num_res_blocks,
    }
    args = {**MODEL_ARGS, **chosen, **{k: v for k, v in given.items() if v is not None}}
    arch = llamagen_arch(args)
    location = checkpoint if checkpoint is not None else source
    if location is None:
        raise UsageError(f"tokenizer {name!r} (type {FAMILY}): 'checkpoint' is required with a preset model")
    path = resolve_checkpoint(location, what=f"LlamaGen VQ checkpoint for {name!r}")
    vq, where = load_llamagen_vq(path, arch)
    return VQTokenizer(vq, name=name, family=FAMILY, precision=precision, size_policy=size_policy,
                       checkpoint=path, weights=where, card=card, settings={"model": model, **args})
