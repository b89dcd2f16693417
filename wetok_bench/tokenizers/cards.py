"""Model cards: the released checkpoints the harness knows by name (timm's pretrained cfgs).

A card records where a model's weights come from, the parameters its family needs, and its
provenance. Suites can say ``model: <card name>`` instead of spelling the architecture out;
``wetok-bench list tokenizers`` shows every card and whether its weights are present locally.

Each family module exposes ``CARDS: list[ModelCard]``; :func:`known_cards` collects them, from the
built-in family modules and from the module of every plug-in factory (entry-point group
``wetok_bench.tokenizers``), so a plug-in family's cards are listed and usable like built-in ones.
A plug-in card cannot replace a built-in card of the same name.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wetok_bench.core.errors import UsageError

logger = logging.getLogger(__name__)

_FAMILY_MODULES = (
    "wetok_bench.tokenizers.wetok",
    "wetok_bench.tokenizers.diffusers",
    "wetok_bench.tokenizers.cosmos",
    "wetok_bench.tokenizers.taesd",
    "wetok_bench.tokenizers.seed_voken",
    "wetok_bench.tokenizers.llamagen",
    "wetok_bench.tokenizers.vqgan",
    "wetok_bench.tokenizers.var",
)


@dataclass(frozen=True)
class ModelCard:
    """A released tokenizer checkpoint.

    Attributes:
        name: card name (``wetok-imagenet-f16``, ``sd-vae-ft-mse``, ...).
        type: registry type of the family that loads it.
        params: family parameters the card fixes (architecture, subfolder, dtype, ...).
        source: where the weights live (``hf://owner/repo/path`` or a URL).
        license: licence of the weights.
        paper: citation or URL.
        notes: anything a user should know (compression ratio, caveats).
    """

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    license: str = ""
    paper: str = ""
    notes: str = ""


def known_cards() -> dict[str, ModelCard]:
    """Every card of every built-in and plug-in family, by name (built-in cards win a clash)."""
    from wetok_bench.tokenizers.registry import plugin_modules

    cards: dict[str, ModelCard] = {}
    for module_name in _FAMILY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for card in getattr(module, "CARDS", []):
            cards[card.name] = card
    for module_name in plugin_modules():
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # a broken plug-in must not hide every other card
            logger.warning("cannot read model cards of plug-in module %s: %s", module_name, error)
            continue
        for card in getattr(module, "CARDS", []):
            if not isinstance(card, ModelCard):
                logger.warning("plug-in module %s: CARDS holds %r, not a ModelCard; ignored", module_name, card)
            elif card.name in cards:
                logger.warning("plug-in module %s: card %r already exists; ignored", module_name, card.name)
            else:
                cards[card.name] = card
    return cards


def check_card_or_config(
    type_name: str, name: str, model: Any, config: Any, checkpoint: Any, cards: Iterable[str]
) -> None:
    """UsageError unless exactly one of ``model`` (a card of ``cards``) and ``config`` (the
    family's official inference YAML) is given, and ``config`` comes with a ``checkpoint``."""
    if (model is None) == (config is None):
        raise UsageError(
            f"tokenizer {name!r} (type {type_name}): give exactly one of 'model' (a card: "
            f"{', '.join(cards)}) or 'config' (an official inference YAML)"
        )
    if config is not None and checkpoint is None:
        raise UsageError(f"tokenizer {name!r} (type {type_name}): 'checkpoint' is required with 'config'")


def get_card(name: str, type_name: str | None = None) -> ModelCard:
    """The card ``name`` (of family ``type_name`` when given); unknown names are a UsageError."""
    cards = known_cards()
    card = cards.get(name)
    if card is None or (type_name is not None and card.type != type_name):
        names = sorted(n for n, c in cards.items() if type_name is None or c.type == type_name)
        raise UsageError(f"unknown model card {name!r} (known: {', '.join(names)})")
    return card
