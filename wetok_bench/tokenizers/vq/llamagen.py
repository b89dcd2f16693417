"""LlamaGen VQ tokenizers (suite ``type: llamagen-vq``), from FoundationVision/LlamaGen.

Suite entry::

    - type: llamagen-vq
      model: llamagen-vq16                      # a model card, or a preset: VQ-16 | VQ-8
      checkpoint: hf://FoundationVision/LlamaGen/vq_ds16_c2i.pt   # default with a card
      codebook_size: 16384                      # any field of the official ModelArgs
      codebook_embed_dim: 8

Facts from ``tokenizer/tokenizer_image/vq_model.py`` (read at ce98ec4): ``ModelArgs`` defaults
(codebook 16384 x 8, l2-normalised codebook, z_channels 256, width multipliers
[1, 1, 2, 2, 4]); presets ``VQ-16`` ([1, 1, 2, 2, 4], f16) and ``VQ-8`` ([1, 2, 2, 4], f8);
``VQModel`` builds its encoder and decoder with ``ch=128`` and ``num_res_blocks=2`` always
(exposed here as ``ch`` / ``num_res_blocks`` only so that small test models can be described);
attention after every residual block of the lowest-resolution level of encoder and decoder
(not placed by a resolution as in taming). ``codebook_show_usage``, ``commit_loss_beta``,
``entropy_loss_ratio`` and ``dropout_p`` only matter in training; they are accepted and recorded.

Checkpoints: the released files are ``{"model": state_dict}``; like the official reconstruction
script, ``["ema"]`` is preferred, then ``["model"]``, then ``["state_dict"]``. The official load
is strict: every weight must be there and none may be left over, except the training buffer
``quantize.codebook_used``. Training checkpoints also pickle an ``argparse.Namespace``, which is
allowed (it only holds values).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import torch

from wetok_bench.errors import UsageError
from wetok_bench.params import SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.taming_model import TamingConfig
from wetok_bench.tokenizers.vq.checkpoint import NAMESPACE_ALLOW, load_into, pick_state_dict, read_checkpoint
from wetok_bench.tokenizers.vq.model import VQArch, VQAutoencoder
from wetok_bench.tokenizers.vq.tokenizer import PRECISIONS, VQTokenizer
from wetok_bench.weights import resolve_checkpoint

FAMILY = "llamagen-vq"

#: Width multipliers of the official presets (``VQ_16``, ``VQ_8``), encoder and decoder alike.
PRESETS: dict[str, list[int]] = {"VQ-16": [1, 1, 2, 2, 4], "VQ-8": [1, 2, 2, 4]}
#: ``ModelArgs`` defaults, plus the widths ``VQModel`` hard-codes (``ch``, ``num_res_blocks``).
MODEL_ARGS: dict[str, Any] = {
    "codebook_size": 16384,
    "codebook_embed_dim": 8,
    "codebook_l2_norm": True,
    "codebook_show_usage": True,
    "commit_loss_beta": 0.25,
    "entropy_loss_ratio": 0.0,
    "encoder_ch_mult": [1, 1, 2, 2, 4],
    "decoder_ch_mult": [1, 1, 2, 2, 4],
    "z_channels": 256,
    "dropout_p": 0.0,
    "ch": 128,
    "num_res_blocks": 2,
}
#: Where the weights sit in a checkpoint, in the official reconstruction script's order.
STATE_DICT_KEYS = ("ema", "model", "state_dict")
#: Training state in the state dict that inference ignores (the official model has it as a buffer).
IGNORED_KEYS = frozenset({"quantize.codebook_used"})

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

_ENC_LEVEL = re.compile(r"^encoder\.conv_blocks\.(\d+)\.(res|attn|downsample)\b")
_DEC_LEVEL = re.compile(r"^decoder\.conv_blocks\.(\d+)\.(res|attn|upsample)\b")
_MID = re.compile(r"^(encoder|decoder)\.mid\.([012])\.")
_MID_NAMES = {"0": "block_1", "1": "attn_1", "2": "block_2"}
_PART_NAMES = {"res": "block", "attn": "attn", "downsample": "downsample", "upsample": "upsample"}


def official_key_to_ours(key: str, decoder_levels: int) -> str:
    """A LlamaGen state-dict key in taming's naming (what :class:`VQAutoencoder` uses).

    ``conv_blocks.i.res.j`` -> ``down.i.block.j`` (encoder); the decoder stores its levels
    coarsest first, so its block ``k`` is level ``decoder_levels - 1 - k`` (``up`` is indexed
    by level); ``mid.0/1/2`` -> ``mid.block_1/attn_1/block_2``.
    """
    key = _MID.sub(lambda m: f"{m[1]}.mid.{_MID_NAMES[m[2]]}.", key)
    key = _ENC_LEVEL.sub(lambda m: f"encoder.down.{m[1]}.{_PART_NAMES[m[2]]}", key)
    return _DEC_LEVEL.sub(lambda m: f"decoder.up.{decoder_levels - 1 - int(m[1])}.{_PART_NAMES[m[2]]}", key)


def _taming_config(ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int) -> TamingConfig:
    """LlamaGen's encoder/decoder as a taming config: attention on the lowest level only.

    taming places attention where a level's resolution (halved per level from ``resolution``)
    is in ``attn_resolutions``; ``resolution = 2**(levels-1)`` with ``attn_resolutions = (1,)``
    selects exactly the last level, which is LlamaGen's rule.
    """
    levels = len(ch_mult)
    return TamingConfig(
        ch=ch,
        ch_mult=tuple(int(m) for m in ch_mult),
        num_res_blocks=num_res_blocks,
        attn_resolutions=(1,),
        resolution=2 ** (levels - 1),
        z_channels=z_channels,
    )


def llamagen_arch(args: dict[str, Any]) -> VQArch:
    """The architecture of a full set of LlamaGen arguments (:data:`MODEL_ARGS` keys)."""
    for key in ("encoder_ch_mult", "decoder_ch_mult"):
        value = args[key]
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(m, int) and m > 0 for m in value):
            raise UsageError(f"{FAMILY}: {key} must be a non-empty list of positive integers, got {value!r}")
    return VQArch(
        encoder=_taming_config(args["ch"], args["encoder_ch_mult"], args["num_res_blocks"], args["z_channels"]),
        decoder=_taming_config(args["ch"], args["decoder_ch_mult"], args["num_res_blocks"], args["z_channels"]),
        n_embed=int(args["codebook_size"]),
        embed_dim=int(args["codebook_embed_dim"]),
        l2_norm=bool(args["codebook_l2_norm"]),
    )


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
    what = f"LlamaGen VQ checkpoint {path}"
    obj = read_checkpoint(path, what="LlamaGen VQ checkpoint", allow=NAMESPACE_ALLOW)
    state_dict, where = pick_state_dict(obj, STATE_DICT_KEYS, what="LlamaGen VQ checkpoint", path=path)
    with torch.device("meta"):  # no random init: every weight comes from the file
        vq = VQAutoencoder(arch)
    levels = len(args["decoder_ch_mult"])
    load_into(vq, state_dict, what=what, rename=lambda k: official_key_to_ours(k, levels),
              ignore=IGNORED_KEYS.__contains__)
    return VQTokenizer(vq, name=name, family=FAMILY, precision=precision, size_policy=size_policy,
                       checkpoint=path, weights=where, card=card, settings={"model": model, **args})
