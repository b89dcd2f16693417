"""Open-MAGVIT2 (TencentARC/SEED-Voken): WeTok's encoder/decoder with one LFQ group.

The official model (``src/Open_MAGVIT2/models/lfqgan.py``) builds the encoder and decoder of
``improved_model.py``, the architecture WeTok inherited (same blocks, same state-dict names,
no generative decoder), and quantizes with lookup-free quantization: each latent channel
becomes +1 when > 0 and -1 otherwise (0 -> -1), and a token's index is
``sum_c [latent_c > 0] * 2**c`` (channel 0 is the least significant bit). That is WeTok's
group-wise LFQ with a single group of ``log2(n_embed)`` bits, so this family is a
:class:`~wetok_bench.tokenizers.wetok.WeTokTokenizer` built from a one-group config; codes are
int64 B x h x w x 1. Inference uses the EMA weights (``ema_scope``), as the official scripts do.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.seed_voken.config import ConfigSource, open_magvit2_config
from wetok_bench.tokenizers.wetok.checkpoint import load_weights
from wetok_bench.tokenizers.wetok.model import WeTokModel
from wetok_bench.tokenizers.wetok.tokenizer import WeTokTokenizer


class OpenMagvit2Tokenizer(WeTokTokenizer):
    """An Open-MAGVIT2 model: images in [-1, 1] <-> int64 codes B x h x w x 1 in [0, n_embed)."""

    def fingerprint(self) -> dict[str, Any]:
        data = super().fingerprint()
        data["family"] = "open-magvit2"
        for key in ("noise", "seed"):  # no generative decoder
            data.pop(key, None)
        return data


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
    Raises :class:`~wetok_bench.tokenizers.wetok.checkpoint.CheckpointError` for unreadable,
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
