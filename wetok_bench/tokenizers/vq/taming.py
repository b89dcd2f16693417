"""taming-transformers VQGAN (suite ``type: vqgan``), from CompVis/taming-transformers.

Suite entry::

    - type: vqgan
      checkpoint: /ckpt/vqgan_imagenet_f16_16384/ckpts/last.ckpt
      config: /ckpt/vqgan_imagenet_f16_16384/configs/model.yaml    # the official YAML
      # or model: vqgan-imagenet-f16-16384 (a card: the architecture; checkpoint still needed)

Facts from ``taming/models/vqgan.py`` and ``taming/modules/diffusionmodules/model.py`` (read
at 3ba01b2): ``VQModel`` = encoder -> ``quant_conv`` (always there, even when channels match)
-> ``VectorQuantizer2`` (beta 0.25, legacy: plain squared-L2 nearest code, no normalisation,
indices flat in (b, h, w) order) -> ``post_quant_conv`` -> decoder; attention is placed by
``ddconfig.resolution``, not by the input's size. Only ``taming.models.vqgan.VQModel`` configs
are accepted (Gumbel, EMA and segmentation variants are other models); index ``remap`` is not
supported.

Released ``last.ckpt`` files are PyTorch Lightning 1.0 checkpoints; their ``callbacks`` dict is
keyed by Lightning's ``ModelCheckpoint`` class, which is allow-listed to a stand-in
(:mod:`.checkpoint`): no code runs and Lightning need not be installed. Like the official
``init_from_ckpt``, only ``state_dict`` is used, and training entries there (``loss.*``: the
discriminator and LPIPS) are ignored; unlike it (``strict=False``), a missing or mismatching
model weight is an error, never a randomly initialised layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from wetok_bench.errors import UsageError
from wetok_bench.params import SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.config_files import read_yaml_config
from wetok_bench.tokenizers.taming_model import TamingConfig
from wetok_bench.tokenizers.vq.checkpoint import LIGHTNING_ALLOW, load_into, pick_state_dict, read_checkpoint
from wetok_bench.tokenizers.vq.model import VQArch, VQAutoencoder
from wetok_bench.tokenizers.vq.tokenizer import PRECISIONS, VQTokenizer
from wetok_bench.weights import resolve_checkpoint

FAMILY = "vqgan"
TARGET = "taming.models.vqgan.VQModel"
#: State-dict prefixes of the inference model; every other entry (``loss.*``) is training state.
MODEL_PREFIXES = ("encoder.", "decoder.", "quantize.", "quant_conv.", "post_quant_conv.")

ConfigLike = str | os.PathLike | Mapping[str, Any]


def _model_params(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """``model.params`` of a whole config file, of its ``model`` section, or the params themselves."""
    section = config.get("model", config)
    if not isinstance(section, Mapping):
        raise UsageError("VQGAN config: 'model' is not a mapping")
    target = section.get("target", TARGET)
    if target != TARGET:
        raise UsageError(f"VQGAN config: model.target is {target!r}; only {TARGET} is supported")
    params = section.get("params", section)
    if not isinstance(params, Mapping):
        raise UsageError("VQGAN config: model.params is not a mapping")
    return params


def load_vqgan_config(config: ConfigLike) -> VQArch:
    """The architecture of an official taming YAML (path) or its parsed mapping."""
    config = read_yaml_config(config, "VQGAN")
    params = _model_params(config)
    missing = [key for key in ("ddconfig", "n_embed", "embed_dim") if key not in params]
    if missing:
        raise UsageError(f"VQGAN config: model.params lacks {', '.join(map(repr, missing))}")
    if params.get("remap") is not None:
        raise UsageError("VQGAN config: index remapping (model.params.remap) is not supported")
    ddconfig = TamingConfig.from_ddconfig(params["ddconfig"])
    try:
        n_embed, embed_dim = int(params["n_embed"]), int(params["embed_dim"])
    except (TypeError, ValueError):
        raise UsageError("VQGAN config: n_embed and embed_dim must be integers") from None
    return VQArch(encoder=ddconfig, decoder=ddconfig, n_embed=n_embed, embed_dim=embed_dim, l2_norm=False)


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
    obj = read_checkpoint(path, what="VQGAN checkpoint", allow=LIGHTNING_ALLOW)
    state_dict, where = pick_state_dict(obj, ("state_dict",), what="VQGAN checkpoint", path=path)
    with torch.device("meta"):  # no random init: every weight comes from the file
        vq = VQAutoencoder(arch)
    load_into(vq, state_dict, what=f"VQGAN checkpoint {path}", ignore=lambda key: not key.startswith(MODEL_PREFIXES))
    return VQTokenizer(vq, name=name, family=FAMILY, precision=precision, size_policy=size_policy,
                       checkpoint=path, weights=where, card=model,
                       settings={"config": config if isinstance(config, Mapping) else os.fspath(config)})
