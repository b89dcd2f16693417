"""Reading taming-transformers VQGAN configs and checkpoints (CompVis/taming-transformers).

Facts from ``taming/models/vqgan.py`` and ``taming/modules/diffusionmodules/model.py`` (read
at 3ba01b2): ``VQModel`` = encoder -> ``quant_conv`` (always there, even when channels match)
-> ``VectorQuantizer2`` (beta 0.25, legacy: plain squared-L2 nearest code, no normalisation,
indices flat in (b, h, w) order) -> ``post_quant_conv`` -> decoder; attention is placed by
``ddconfig.resolution``, not by the input's size. Only ``taming.models.vqgan.VQModel`` configs
are accepted (Gumbel, EMA and segmentation variants are other models); index ``remap`` is not
supported.

Released ``last.ckpt`` files are PyTorch Lightning 1.0 checkpoints; their ``callbacks`` dict is
keyed by Lightning's ``ModelCheckpoint`` class, which is allow-listed to a stand-in
(:mod:`wetok_bench.tokenizers.common.vq_checkpoint`): no code runs and Lightning need not be
installed. Like the official ``init_from_ckpt``, only ``state_dict`` is used, and training
entries there (``loss.*``: the discriminator and LPIPS) are ignored; unlike it (``strict=False``),
a missing or mismatching model weight is an error, never a randomly initialised layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.common.config_files import read_yaml_config
from wetok_bench.tokenizers.common.taming_model import TamingConfig
from wetok_bench.tokenizers.common.vq_checkpoint import LIGHTNING_ALLOW, load_into, pick_state_dict, read_checkpoint
from wetok_bench.tokenizers.common.vq_model import VQArch, VQAutoencoder

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


def load_vqgan(path: str | os.PathLike, arch: VQArch) -> tuple[VQAutoencoder, str]:
    """The model of ``arch`` with the weights of a Lightning ``last.ckpt`` or ``{"state_dict": ...}``
    file, and the entry they came from; a file that does not match ``arch`` is a VQCheckpointError."""
    obj = read_checkpoint(path, what="VQGAN checkpoint", allow=LIGHTNING_ALLOW)
    state_dict, where = pick_state_dict(obj, ("state_dict",), what="VQGAN checkpoint", path=path)
    with torch.device("meta"):  # no random init: every weight comes from the file
        vq = VQAutoencoder(arch)
    load_into(vq, state_dict, what=f"VQGAN checkpoint {path}", ignore=lambda key: not key.startswith(MODEL_PREFIXES))
    return vq, where
