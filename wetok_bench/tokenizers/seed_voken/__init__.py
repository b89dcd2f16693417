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

from wetok_bench.errors import UsageError
from wetok_bench.params import SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import SizePolicy, Tokenizer
from wetok_bench.tokenizers.cards import check_card_or_config
from wetok_bench.tokenizers.seed_voken.cards import CARDS
from wetok_bench.tokenizers.seed_voken.ibq import IBQTokenizer, load_ibq
from wetok_bench.tokenizers.seed_voken.open_magvit2 import OpenMagvit2Tokenizer, load_open_magvit2
from wetok_bench.weights import resolve_checkpoint

__all__ = ["CARDS", "IBQTokenizer", "OpenMagvit2Tokenizer", "create_ibq", "create_open_magvit2"]


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
