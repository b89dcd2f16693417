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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from wetok_bench.errors import UsageError
from wetok_bench.params import PRECISION, SEED, SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import check_card_or_config
from wetok_bench.tokenizers.wetok.cards import CARDS
from wetok_bench.tokenizers.wetok.checkpoint import CheckpointError
from wetok_bench.tokenizers.wetok.config import WeTokConfig, load_config
from wetok_bench.tokenizers.wetok.tokenizer import WeTokTokenizer
from wetok_bench.weights import resolve_checkpoint

__all__ = ["CARDS", "CheckpointError", "WeTokConfig", "WeTokTokenizer", "create_wetok", "load_config"]


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
