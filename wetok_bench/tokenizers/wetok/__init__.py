"""WeTok tokenizers (suite ``type: wetok``): group-wise lookup-free quantization.

Suite entry::

    - type: wetok
      name: wetok-f16
      model: wetok-imagenet-f16                 # a model card, or:
      # config: configs/WeToK/Inference/ImageNet_downsample16_imagenet.yaml
      checkpoint: hf://GrayShine/WeTok/ImageNet/downsample16/WeTok.ckpt   # or a local path
      precision: fp32                           # or bf16
      seed: 0                                   # noise of the generative (c768) decoder, per image;
                                                # default: the suite's seed

Discrete: codes B x (H/f) x (W/f) x groups, counted as tokens x groups x log2(n_embed) bits
(the releases: 4 or 8 groups of 8 bits per token; ratios H*W*24 over the code's bits, at any size).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import PRECISION, SEED, SIZE_POLICY, Param, declare
from wetok_bench.core.weights import resolve_checkpoint
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard, check_card_or_config
from wetok_bench.tokenizers.common.ema_checkpoint import CheckpointError
from wetok_bench.tokenizers.wetok.loading import load_config
from wetok_bench.tokenizers.wetok.model import WeTokConfig
from wetok_bench.tokenizers.wetok.tokenizer import WeTokTokenizer

__all__ = ["CARDS", "CheckpointError", "WeTokConfig", "WeTokTokenizer", "create_wetok", "load_config"]

# Model cards of the released checkpoints (Hugging Face repo ``GrayShine/WeTok``). Architectures are
# those of the official inference configs (``configs/WeToK/Inference/`` in zhuangshaobin/WeTok at
# caa2ad7): every model has ch 256, 4 residual blocks per level, 256-entry groups (8 bits) and EMA
# weights. The file paths inside the Hugging Face repo are inferred from the evaluation scripts'
# ``--ckpt_path`` arguments, not confirmed against the repo listing. Compression ratios are at any
# size (H*W*24 over the code's bits).

_HF_REPO = "hf://GrayShine/WeTok"
_LICENSE = "Apache-2.0"
_PAPER = "WeTok: Powerful Discrete Tokenization for High-Fidelity Visual Reconstruction, arXiv:2508.05599"
_INFERRED = "Checkpoint path inferred from the official evaluation scripts (not confirmed)."


def _init_args(ch_mult: list[int], embed_dim: int, groups: int, gan_decoder: bool = False) -> dict[str, Any]:
    """``model.init_args`` of an official inference config."""
    return {
        "ddconfig": {
            "double_z": False,
            "z_channels": embed_dim,
            "resolution": 128,
            "in_channels": 3,
            "out_ch": 3,
            "ch": 256,
            "ch_mult": ch_mult,
            "num_res_blocks": 4,
        },
        "n_embed": 256,
        "embed_dim": embed_dim,
        "num_codebooks": groups,
        "use_ema": True,
        "gan_decoder": gan_decoder,
    }


def _card(name: str, path: str, config_file: str, init_args: dict[str, Any], notes: str) -> ModelCard:
    return ModelCard(
        name=name,
        type="wetok",
        params={"config": {"model": {"init_args": init_args}}},
        source=f"{_HF_REPO}/{path}",
        license=_LICENSE,
        paper=_PAPER,
        notes=f"{notes} Architecture of the official {config_file}. {_INFERRED}",
    )


_F8 = [1, 2, 2, 4]
_F16 = [1, 1, 2, 2, 4]
_F32 = [1, 1, 2, 2, 4, 8]

CARDS: list[ModelCard] = [
    _card(
        "wetok-imagenet-f8",
        "ImageNet/downsample8/WeTok.ckpt",
        "configs/WeToK/Inference/ImageNet_downsample8_imagenet.yaml",
        _init_args(_F8, 32, 4),
        "Trained on ImageNet; f8, 4 groups x 8 bits per token; compression ratio 48.",
    ),
    _card(
        "wetok-imagenet-f16",
        "ImageNet/downsample16/WeTok.ckpt",
        "configs/WeToK/Inference/ImageNet_downsample16_imagenet.yaml",
        _init_args(_F16, 32, 4),
        "Trained on ImageNet; f16, 4 groups x 8 bits per token; compression ratio 192.",
    ),
    _card(
        "wetok-general-c24",
        "GeneralDomain/compratio24/WeTok.ckpt",
        "configs/WeToK/Inference/GeneralDomain_compratio24_imagenet.yaml",
        _init_args(_F8, 64, 8),
        "General-domain training data; f8, 8 groups x 8 bits per token; compression ratio 24.",
    ),
    _card(
        "wetok-general-c48",
        "GeneralDomain/compratio48/WeTok.ckpt",
        "configs/WeToK/Inference/GeneralDomain_compratio48_imagenet.yaml",
        _init_args(_F8, 32, 4),
        "General-domain training data; f8, 4 groups x 8 bits per token; compression ratio 48.",
    ),
    _card(
        "wetok-general-c192",
        "GeneralDomain/compratio192/WeTok.ckpt",
        "configs/WeToK/Inference/GeneralDomain_compratio192_imagenet.yaml",
        _init_args(_F16, 32, 4),
        "General-domain training data; f16, 4 groups x 8 bits per token; compression ratio 192.",
    ),
    _card(
        "wetok-general-c768",
        "GeneralDomain/compratio768/WeTok.ckpt",
        "configs/WeToK/Inference/GeneralDomain_compratio768_imagenet.yaml",
        _init_args(_F32, 32, 4, gan_decoder=True),
        "General-domain training data; f32, 4 groups x 8 bits per token; compression ratio 768; "
        "generative decoder (noise input, drawn per image from the entry's or the suite's seed). Stage-2 checkpoint: "
        "the encoder may have no EMA weights, the raw (frozen) ones are used then.",
    ),
]



def _check_source(name: str, model: str | None, config: Any, checkpoint: Any) -> None:
    check_card_or_config("wetok", name, model, config, checkpoint, [card.name for card in CARDS])


@declare(
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a WeTok model card"),
    Param("checkpoint", str, None, path="file", doc="local .ckpt or hf://owner/repo/path (default: the card's)"),
    Param("config", (str, dict), None, path="file", doc="official inference YAML (instead of model)"),
    PRECISION,
    SIZE_POLICY,
    SEED,
    check=lambda spec: _check_source(str(spec.get("name", "wetok")), spec.get("model"), spec.get("config"), spec.get("checkpoint")),
)
def create_wetok(
    *,
    name: str = "wetok",
    checkpoint: str | os.PathLike | None = None,
    model: str | None = None,
    config: str | Mapping[str, Any] | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
    seed: int | None = None,
) -> WeTokTokenizer:
    """Suite factory for ``type: wetok``.

    Exactly one of ``model`` (a WeTok model card name) and ``config`` (official inference YAML
    path or mapping) describes the architecture. ``checkpoint`` is a local path or
    ``hf://owner/repo/path``; with ``model`` it defaults to the card's source. ``seed`` seeds
    the generative decoder's per-image noise (``noise_seed``); without it the runner uses the
    suite's seed.
    """
    _check_source(name, model, config, checkpoint)
    if model is not None:
        cards = {card.name: card for card in CARDS}
        if model not in cards:
            raise UsageError(f"tokenizer {name!r}: unknown WeTok model card {model!r} (known: {', '.join(cards)})")
        if checkpoint is None:
            checkpoint = cards[model].source
    path = resolve_checkpoint(checkpoint, what=f"WeTok checkpoint for {name!r}")
    return WeTokTokenizer.from_checkpoint(
        path,
        model if model is not None else config,
        name=name,
        precision=precision,
        size_policy=size_policy,
        seed=seed,
    )
