"""taming-transformers VQGAN (suite ``type: vqgan``), from CompVis/taming-transformers.

Suite entry::

    - type: vqgan
      checkpoint: /ckpt/vqgan_imagenet_f16_16384/ckpts/last.ckpt
      config: /ckpt/vqgan_imagenet_f16_16384/configs/model.yaml    # the official YAML
      # or model: vqgan-imagenet-f16-16384 (a card: the architecture; checkpoint still needed)

Discrete: one code per position of the (H/f) x (W/f) grid from one codebook, counted as
tokens x log2(n_embed) bits (the released f16 models: 10 or 14 bits per token). The model is
the taming-lineage VQ autoencoder (:mod:`wetok_bench.tokenizers.common.vq_model`,
:class:`~wetok_bench.tokenizers.common.vq_tokenizer.VQTokenizer`); config and checkpoint
reading are in :mod:`.loading`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import SIZE_POLICY, Param, declare
from wetok_bench.core.weights import resolve_checkpoint
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.common.vq_tokenizer import PRECISIONS, VQTokenizer
from wetok_bench.tokenizers.vqgan.loading import TARGET, load_vqgan, load_vqgan_config

__all__ = ["CARDS", "create_vqgan"]

FAMILY = "vqgan"


def _card_config(n_embed: int) -> dict[str, Any]:
    """The released ImageNet f16 models' config (``configs/model.yaml`` of each download)."""
    ddconfig = {
        "double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
        "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16], "dropout": 0.0,
    }
    return {"model": {"target": TARGET, "params": {"embed_dim": 256, "n_embed": n_embed, "ddconfig": ddconfig}}}


_HEIBOX = "https://heibox.uni-heidelberg.de/d/{}/files/?p=%2Fckpts%2Flast.ckpt&dl=1"
_PAPER = "Taming Transformers for High-Resolution Image Synthesis, arXiv:2012.09841"
_SOURCE_NOTE = (
    "The download folder is the taming-transformers README's link; the file inside it (ckpts/last.ckpt, "
    "beside configs/model.yaml) is inferred from that layout as LlamaGen's tokenizer/vqgan scripts use it. "
    "Architecture as in LlamaGen's copy of the config (tokenizer/vqgan/configs/)."
)


def _card(n_embed: int, bits: int, ratio: str, folder: str) -> ModelCard:
    """A released ImageNet f16 VQGAN with ``n_embed`` codes (``bits`` per token, ``ratio`` at 256x256)
    in the heibox download ``folder``."""
    return ModelCard(
        name=f"vqgan-imagenet-f16-{n_embed}",
        type=FAMILY,
        params={"config": _card_config(n_embed)},
        source=_HEIBOX.format(folder),
        license="MIT",
        paper=_PAPER,
        notes=f"ImageNet, f16, codebook {n_embed} x 256: {bits} bits per token, compression ratio {ratio} (256x256: "
        "16x16 tokens). Not on the Hugging Face hub: download last.ckpt and give it as 'checkpoint'. "
        + _SOURCE_NOTE,
    )


CARDS: list[ModelCard] = [
    _card(1024, 10, "614.4", "8088892a516d4e3baf92"),
    _card(16384, 14, "438.9", "a7530b09fed84f80a887"),
]


def _check_source(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Exactly one of ``model`` and ``config``, and a checkpoint (naming a card's download)."""
    problems = []
    if (spec.get("model") is None) == (spec.get("config") is None):
        problems.append(("config", "give exactly one of 'config' (the official YAML) or 'model' (a VQGAN card)"))
    if spec.get("checkpoint") is None:
        card = {c.name: c for c in CARDS}.get(spec.get("model"))
        hint = f"; download it from {card.source}" if card is not None else ""
        problems.append(("checkpoint", f"required{hint}"))
    return problems


@declare(
    Param("checkpoint", str, None, path="file",
          doc="Lightning last.ckpt or {'state_dict': ...} file (local or hf://owner/repo/file)"),
    Param("config", (str, dict), None, path="file", doc="the official YAML (instead of model)"),
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a VQGAN card (architecture)"),
    Param("precision", str, "fp32", choices=PRECISIONS, doc="network precision"),
    SIZE_POLICY,
    check=_check_source,
)
def create_vqgan(
    *,
    name: str = FAMILY,
    checkpoint: str | os.PathLike | None = None,
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    model: str | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> VQTokenizer:
    """Suite factory for ``type: vqgan``.

    Exactly one of ``config`` (the official YAML: path or mapping) and ``model`` (a VQGAN card)
    gives the architecture; ``checkpoint`` (a Lightning ``last.ckpt`` or a plain
    ``{"state_dict": ...}`` file, local path or ``hf://owner/repo/file``) is required, since the
    released files are not on the Hugging Face hub.
    """
    cards = {card.name: card for card in CARDS}
    if (model is None) == (config is None):
        raise UsageError(
            f"tokenizer {name!r} (type {FAMILY}): give exactly one of 'config' (the official YAML) or "
            f"'model' (a card: {', '.join(cards)})"
        )
    if model is not None:
        if model not in cards:
            raise UsageError(f"tokenizer {name!r}: unknown VQGAN model card {model!r} (known: {', '.join(cards)})")
        config = cards[model].params["config"]
    if checkpoint is None:
        hint = f"; download it from {cards[model].source}" if model is not None else ""
        raise UsageError(f"tokenizer {name!r} (type {FAMILY}): 'checkpoint' is required{hint}")
    arch = load_vqgan_config(config)
    path = resolve_checkpoint(checkpoint, what=f"VQGAN checkpoint for {name!r}")
    vq, where = load_vqgan(path, arch)
    return VQTokenizer(vq, name=name, family=FAMILY, precision=precision, size_policy=size_policy,
                       checkpoint=path, weights=where, card=model,
                       settings={"config": config if isinstance(config, Mapping) else os.fspath(config)})
