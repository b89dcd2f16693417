"""Reading the official SEED-Voken inference YAMLs and releases (Open-MAGVIT2 and IBQ).

The official configs (``configs/Open-MAGVIT2/*/*.yaml``, ``configs/IBQ/*/*.yaml`` in
TencentARC/SEED-Voken) keep the model under ``model.class_path`` and ``model.init_args``:
``ddconfig`` (encoder/decoder), ``n_embed`` (codebook size), ``embed_dim`` (code channels),
``use_ema``; training keys (loss, learning rate, data) are ignored here. The released
checkpoints are LitEma files (:mod:`wetok_bench.tokenizers.common.ema_checkpoint`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.common.config_files import read_yaml_config
from wetok_bench.tokenizers.common.ema_checkpoint import load_weights
from wetok_bench.tokenizers.common.taming_model import TamingConfig
from wetok_bench.tokenizers.common.vq_model import VQArch, VQAutoencoder
from wetok_bench.tokenizers.seed_voken.tokenizer import IBQTokenizer, OpenMagvit2Tokenizer
from wetok_bench.tokenizers.wetok.model import WeTokConfig, WeTokModel

ConfigSource = str | os.PathLike | Mapping[str, Any]

#: ``model.class_path`` of the official image models, per family (the video model is not one).
CLASS_PATHS = {
    "Open-MAGVIT2": ("src.Open_MAGVIT2.models.lfqgan.VQModel", "src.Open_MAGVIT2.models.lfqgan_pretrain.VQModel"),
    "IBQ": ("src.IBQ.models.ibqgan.IBQ",),
}


def read_init_args(config: ConfigSource, family: str) -> Mapping[str, Any]:
    """``model.init_args`` of an official YAML (path) or mapping of ``family``.

    A mapping may be the whole file's content or its ``init_args`` alone. A ``class_path`` of
    another model (an IBQ config given to Open-MAGVIT2, the video tokenizer) is an error.
    """
    config = read_yaml_config(config, family)
    model = config.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("init_args"), Mapping):
        class_path = model.get("class_path")
        if class_path is not None and class_path not in CLASS_PATHS[family]:
            raise UsageError(
                f"{family} config describes model class {class_path!r}, not an image {family} model "
                f"({' or '.join(CLASS_PATHS[family])})"
            )
        return model["init_args"]
    if isinstance(config.get("ddconfig"), Mapping):
        return config
    raise UsageError(f"{family} config must hold model.init_args (the official YAML layout) or ddconfig")


def open_magvit2_config(config: ConfigSource) -> WeTokConfig:
    """The architecture of an Open-MAGVIT2 model as a one-group :class:`WeTokConfig`.

    Open-MAGVIT2's encoder and decoder are WeTok's (same blocks, same state-dict names) and its
    LFQ is WeTok's group-wise LFQ with a single group of ``log2(n_embed)`` bits.
    """
    init_args = read_init_args(config, "Open-MAGVIT2")
    if init_args.get("token_factorization"):
        raise UsageError("Open-MAGVIT2 configs with token_factorization (AR-stage sub-tokens) are not supported")
    for key in ("num_codebooks", "gan_decoder"):
        if key in init_args:
            raise UsageError(f"Open-MAGVIT2 configs have no {key!r} (is this a WeTok config? use type: wetok)")
    try:
        return WeTokConfig.from_init_args({**init_args, "num_codebooks": 1, "gan_decoder": False})
    except UsageError as err:
        raise UsageError(str(err).replace("WeTok config", "Open-MAGVIT2 config")) from None


def load_open_magvit2(
    checkpoint: str | os.PathLike,
    config: ConfigSource,
    *,
    name: str = "open-magvit2",
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
    card: str | None = None,
) -> OpenMagvit2Tokenizer:
    """Load an official Open-MAGVIT2 release (``{"state_dict": ...}``) described by ``config``.

    ``config`` is the official YAML (path) or its mapping. Weights: the EMA copies when
    ``use_ema`` (all released configs), with no fallback to raw weights.
    Raises :class:`~wetok_bench.tokenizers.common.ema_checkpoint.CheckpointError` for unreadable,
    incomplete or mismatching checkpoints.
    """
    arch = open_magvit2_config(config)
    with torch.device("meta"):  # no random init: every weight comes from the file
        model = WeTokModel(arch)
    weights = load_weights(model, checkpoint, use_ema=arch.use_ema, raw_fallback=(), what="Open-MAGVIT2")
    return OpenMagvit2Tokenizer(
        model,
        name=name,
        precision=precision,
        size_policy=size_policy,
        weights=weights,
        checkpoint=checkpoint,
        card=card,
    )


@dataclass(frozen=True)
class IBQConfig:
    """The architecture of an IBQ model.

    Attributes:
        ddconfig: the taming encoder/decoder (:class:`TamingConfig`).
        n_embed: codebook entries (any positive integer; 1024 ... 262144 released).
        embed_dim: channels of a codebook entry (``quant_conv`` maps z_channels to it).
        use_ema: encode and decode with the EMA weights, as the official evaluation does.
    """

    ddconfig: TamingConfig
    n_embed: int
    embed_dim: int
    use_ema: bool = True

    def __post_init__(self) -> None:
        if self.n_embed < 2 or self.embed_dim < 1:
            raise UsageError(f"invalid IBQ config: n_embed {self.n_embed} and embed_dim {self.embed_dim}")
        if self.ddconfig.double_z:
            raise UsageError("invalid IBQ config: ddconfig.double_z must be false")

    @property
    def downsample(self) -> int:
        return self.ddconfig.downsample

    @property
    def arch(self) -> VQArch:
        """The VQ autoencoder this describes (encoder and decoder share the ddconfig)."""
        return VQArch(encoder=self.ddconfig, decoder=self.ddconfig, n_embed=self.n_embed, embed_dim=self.embed_dim)


def ibq_config(config: ConfigSource) -> IBQConfig:
    """An :class:`IBQConfig` from an official IBQ YAML (path) or mapping."""
    init_args = read_init_args(config, "IBQ")
    if init_args.get("remap") is not None:
        raise UsageError("IBQ configs with 'remap' (a used-code subset file) are not supported")
    try:
        return IBQConfig(
            ddconfig=TamingConfig.from_ddconfig(init_args["ddconfig"]),
            n_embed=int(init_args["n_embed"]),
            embed_dim=int(init_args["embed_dim"]),
            use_ema=bool(init_args.get("use_ema", False)),
        )
    except KeyError as missing:
        raise UsageError(f"IBQ config lacks {missing.args[0]!r} (model.init_args)") from None
    except (TypeError, ValueError) as bad:
        raise UsageError(f"IBQ config has a malformed value: {bad}") from None


#: Checkpoint prefixes of the parts the model loads (each has EMA copies in the releases).
PARTS = ("encoder", "decoder", "quant_conv", "post_quant_conv", "quantize")


def load_ibq(
    checkpoint: str | os.PathLike,
    config: ConfigSource,
    *,
    name: str = "ibq",
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
    card: str | None = None,
) -> IBQTokenizer:
    """Load an official IBQ release (``{"state_dict": ...}``) described by ``config``.

    Weights: the EMA copies of every part when ``use_ema`` (all released configs), no raw
    fallback. Raises :class:`~wetok_bench.tokenizers.common.ema_checkpoint.CheckpointError` for
    unreadable, incomplete or mismatching checkpoints.
    """
    config = ibq_config(config)
    with torch.device("meta"):  # no random init: every weight comes from the file
        model = VQAutoencoder(config.arch)
    weights = load_weights(model, checkpoint, use_ema=config.use_ema, parts=PARTS, raw_fallback=(), what="IBQ")
    return IBQTokenizer(
        model, name=name, precision=precision, size_policy=size_policy, weights=weights, checkpoint=checkpoint, card=card
    )
