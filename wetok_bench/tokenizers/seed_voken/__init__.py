"""Open-MAGVIT2 and IBQ tokenizers (TencentARC/SEED-Voken), from their official releases.

Suite entries::

    - {type: open-magvit2, model: open-magvit2-in256-262144}            # a model card, or:
    - {type: open-magvit2, checkpoint: /ckpt/imagenet_256_L.ckpt,
       config: configs/Open-MAGVIT2/gpu/imagenet_lfqgan_256_L.yaml}   # the official YAML
    - {type: ibq, model: ibq-in256-16384, precision: bf16}
    - {type: ibq, checkpoint: /ckpt/imagenet256_16384.ckpt, config: configs/IBQ/gpu/imagenet_ibqgan_16384.yaml}

Both are discrete: compression is counted as tokens x log2(codebook size); ``token_ids``
gives B x N x 1 codes in ``[0, codebook_size)``. Both use the EMA weights, as the official
evaluation does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import SIZE_POLICY, Param, declare
from wetok_bench.core.weights import resolve_checkpoint
from wetok_bench.tokenizers.base import SizePolicy, Tokenizer
from wetok_bench.tokenizers.cards import ModelCard, check_card_or_config
from wetok_bench.tokenizers.seed_voken.loading import load_ibq, load_open_magvit2
from wetok_bench.tokenizers.seed_voken.tokenizer import IBQTokenizer, OpenMagvit2Tokenizer

__all__ = ["CARDS", "IBQTokenizer", "OpenMagvit2Tokenizer", "create_ibq", "create_open_magvit2"]

# Model cards of the released Open-MAGVIT2 and IBQ tokenizers (TencentARC on Hugging Face).
#
# Architectures are those of the official configs in TencentARC/SEED-Voken (read at b9a17ea);
# sources are the checkpoint links of its ``docs/Open-MAGVIT2.md`` and ``docs/IBQ.md``. A card
# says "confirmed" where the file was seen in the Hugging Face repo's file listing, "inferred"
# where only the docs' link names it. Compression ratios: tokens x log2(codebook) bits
# (256x256 -> 16x16 tokens: 2^18 -> 4608 bits, ratio 341.3; 2^14 -> 3584 bits, ratio 438.9;
# 1024 -> 2560 bits, ratio 614.4; 8192 -> 3328 bits, ratio 472.6).

_LICENSE = "Apache-2.0"
_OMV2_PAPER = "Open-MAGVIT2: An Open-Source Project Toward Democratizing Auto-regressive Visual Generation, arXiv:2409.04410"
_IBQ_PAPER = "Scalable Image Tokenization with Index Backpropagation Quantization, arXiv:2412.02692"
_CONFIRMED = "Checkpoint path confirmed in the Hugging Face repo's file listing."
_INFERRED = "Checkpoint path inferred from the official docs' link (not seen in the repo listing)."


def _omv2_config(ch_mult: list[int], bits: int, pretrain: bool) -> dict[str, Any]:
    module = "lfqgan_pretrain" if pretrain else "lfqgan"
    ddconfig = {"double_z": False, "z_channels": bits, "resolution": 128, "in_channels": 3, "out_ch": 3,
                "ch": 128, "ch_mult": ch_mult, "num_res_blocks": 4}
    return {"model": {"class_path": f"src.Open_MAGVIT2.models.{module}.VQModel",
                      "init_args": {"ddconfig": ddconfig, "n_embed": 2**bits, "embed_dim": bits, "use_ema": True}}}


def _ibq_config(n_embed: int) -> dict[str, Any]:
    ddconfig = {"double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 4, "attn_resolutions": [16],
                "dropout": 0.0}
    return {"model": {"class_path": "src.IBQ.models.ibqgan.IBQ",
                      "init_args": {"ddconfig": ddconfig, "n_embed": n_embed, "embed_dim": 256, "use_ema": True}}}


def _card(name: str, type_: str, repo_file: str, config: dict, paper: str, notes: str, confirmed: bool) -> ModelCard:
    return ModelCard(
        name=name,
        type=type_,
        params={"config": config},
        source=f"hf://TencentARC/{repo_file}",
        license=_LICENSE,
        paper=paper,
        notes=f"{notes} {_CONFIRMED if confirmed else _INFERRED}",
    )


CARDS: list[ModelCard] = [
    _card("open-magvit2-in128-262144", "open-magvit2", "Open-MAGVIT2-Tokenizer-128-resolution/imagenet_128_L.ckpt",
          _omv2_config([1, 2, 2, 4], 18, pretrain=False), _OMV2_PAPER,
          "ImageNet 128x128; f8, LFQ 2^18 (18 bits per token); configs/Open-MAGVIT2/gpu/imagenet_lfqgan_128_L.yaml; "
          "compression ratio 85.3.", confirmed=False),
    _card("open-magvit2-in256-262144", "open-magvit2", "Open-MAGVIT2-Tokenizer-256-resolution/imagenet_256_L.ckpt",
          _omv2_config([1, 1, 2, 2, 4], 18, pretrain=False), _OMV2_PAPER,
          "ImageNet 256x256; f16, LFQ 2^18; configs/Open-MAGVIT2/gpu/imagenet_lfqgan_256_L.yaml; "
          "compression ratio 341.3.", confirmed=True),
    _card("open-magvit2-pretrain256-16384", "open-magvit2", "Open-MAGVIT2-Tokenizer-16384-Pretrain/pretrain256_16384.ckpt",
          _omv2_config([1, 1, 2, 2, 4], 14, pretrain=True), _OMV2_PAPER,
          "Text-to-image pretraining data (100M images) at 256x256; f16, LFQ 2^14; "
          "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_16384.yaml; compression ratio 438.9.", confirmed=True),
    _card("open-magvit2-pretrain256-262144", "open-magvit2", "Open-MAGVIT2-Tokenizer-262144-Pretrain/pretrain256_262144.ckpt",
          _omv2_config([1, 1, 2, 2, 4], 18, pretrain=True), _OMV2_PAPER,
          "Text-to-image pretraining data (100M images) at 256x256; f16, LFQ 2^18; "
          "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_262144.yaml; compression ratio 341.3.", confirmed=False),
    _card("ibq-in256-1024", "ibq", "IBQ-Tokenizer-1024/imagenet256_1024.ckpt", _ibq_config(1024), _IBQ_PAPER,
          "ImageNet 256x256; f16, 1024 codes of 256 dims; configs/IBQ/gpu/imagenet_ibqgan_1024.yaml; "
          "compression ratio 614.4.", confirmed=True),
    _card("ibq-in256-8192", "ibq", "IBQ-Tokenizer-8192/imagenet256_8192.ckpt", _ibq_config(8192), _IBQ_PAPER,
          "ImageNet 256x256; f16, 8192 codes; configs/IBQ/gpu/imagenet_ibqgan_8192.yaml; compression ratio 472.6.",
          confirmed=False),
    _card("ibq-in256-16384", "ibq", "IBQ-Tokenizer-16384/imagenet256_16384.ckpt", _ibq_config(16384), _IBQ_PAPER,
          "ImageNet 256x256; f16, 16384 codes; configs/IBQ/gpu/imagenet_ibqgan_16384.yaml; compression ratio 438.9.",
          confirmed=True),
    _card("ibq-in256-262144", "ibq", "IBQ-Tokenizer-262144/imagenet256_262144.ckpt", _ibq_config(262144), _IBQ_PAPER,
          "ImageNet 256x256; f16, 262144 codes; configs/IBQ/gpu/imagenet_ibqgan_262144.yaml; "
          "compression ratio 341.3.", confirmed=False),
    _card("ibq-pretrain256-16384", "ibq", "IBQ-Tokenizer-16384-Pretrain/IBQ_pretrain_16384.ckpt", _ibq_config(16384),
          _IBQ_PAPER, "Text-to-image pretraining data (200M images) at 256x256; f16, 16384 codes; "
          "configs/IBQ/gpu/pretrain_ibqgan_16384.yaml; compression ratio 438.9.", confirmed=False),
    _card("ibq-pretrain256-262144", "ibq", "IBQ-Tokenizer-262144-Pretrain/IBQ_pretrain_262144.ckpt",
          _ibq_config(262144), _IBQ_PAPER, "Text-to-image pretraining data (200M images) at 256x256; f16, 262144 "
          "codes; configs/IBQ/gpu/pretrain_ibqgan_262144.yaml; compression ratio 341.3.", confirmed=False),
]



def _cards(type_name: str) -> dict:
    return {card.name: card for card in CARDS if card.type == type_name}


def _check_source(type_name: str, name: str, model: Any, config: Any, checkpoint: Any) -> None:
    check_card_or_config(type_name, name, model, config, checkpoint, _cards(type_name))


def _declaration(type_name: str) -> Callable[[Callable], Callable]:
    """The suite parameters of ``type_name`` (contract 6): card, checkpoint, config, precision, size policy."""
    def check(spec: dict) -> None:
        _check_source(type_name, str(spec.get("name", type_name)), spec.get("model"), spec.get("config"),
                      spec.get("checkpoint"))

    return declare(
        Param("model", str, None, choices=tuple(_cards(type_name)), doc=f"a {type_name} model card"),
        Param("checkpoint", str, None, path="file", doc="local .ckpt or hf://owner/repo/path (default: the card's)"),
        Param("config", (str, dict), None, path="file", doc="official inference YAML (instead of model)"),
        Param("precision", str, "fp32", choices=("fp32", "bf16"), doc="network precision (codes chosen in fp32)"),
        SIZE_POLICY,
        check=check,
    )


def _create(
    loader: Callable[..., Tokenizer],
    type_name: str,
    *,
    name: str,
    checkpoint: str | os.PathLike | None,
    model: str | None,
    config: str | os.PathLike | Mapping[str, Any] | None,
    precision: str,
    size_policy: SizePolicy,
) -> Tokenizer:
    """Resolve card / config / checkpoint of one entry, then load it with ``loader``."""
    _check_source(type_name, name, model, config, checkpoint)
    cards = _cards(type_name)
    if model is not None:
        if model not in cards:
            raise UsageError(f"tokenizer {name!r}: unknown {type_name} model card {model!r} (known: {', '.join(cards)})")
        config = cards[model].params["config"]
        if checkpoint is None:
            checkpoint = cards[model].source
    path = resolve_checkpoint(checkpoint, what=f"{type_name} checkpoint for {name!r}")
    return loader(path, config, name=name, precision=precision, size_policy=size_policy, card=model)


@_declaration("open-magvit2")
def create_open_magvit2(
    *,
    name: str = "open-magvit2",
    checkpoint: str | os.PathLike | None = None,
    model: str | None = None,
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> OpenMagvit2Tokenizer:
    """Suite factory for ``type: open-magvit2``.

    Exactly one of ``model`` (a card name) and ``config`` (the official inference YAML, path or
    mapping) gives the architecture; ``checkpoint`` is a local path or ``hf://owner/repo/path``
    (with ``model`` it defaults to the card's source). ``precision``: fp32 or bf16.
    """
    return _create(load_open_magvit2, "open-magvit2", name=name, checkpoint=checkpoint, model=model,
                   config=config, precision=precision, size_policy=size_policy)


@_declaration("ibq")
def create_ibq(
    *,
    name: str = "ibq",
    checkpoint: str | os.PathLike | None = None,
    model: str | None = None,
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> IBQTokenizer:
    """Suite factory for ``type: ibq`` (parameters as for :func:`create_open_magvit2`)."""
    return _create(load_ibq, "ibq", name=name, checkpoint=checkpoint, model=model,
                   config=config, precision=precision, size_policy=size_policy)
