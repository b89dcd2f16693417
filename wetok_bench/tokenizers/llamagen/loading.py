"""Reading LlamaGen VQ checkpoints and architectures (FoundationVision/LlamaGen).

Facts from ``tokenizer/tokenizer_image/vq_model.py`` (read at ce98ec4): ``ModelArgs`` defaults
(codebook 16384 x 8, l2-normalised codebook, z_channels 256, width multipliers
[1, 1, 2, 2, 4]); presets ``VQ-16`` ([1, 1, 2, 2, 4], f16) and ``VQ-8`` ([1, 2, 2, 4], f8);
``VQModel`` builds its encoder and decoder with ``ch=128`` and ``num_res_blocks=2`` always
(exposed here as ``ch`` / ``num_res_blocks`` only so that small test models can be described);
attention after every residual block of the lowest-resolution level of encoder and decoder
(not placed by a resolution as in taming). ``codebook_show_usage``, ``commit_loss_beta``,
``entropy_loss_ratio`` and ``dropout_p`` only matter in training; they are accepted and recorded.

Checkpoints: the released files are ``{"model": state_dict}``; like the official reconstruction
script, ``["ema"]`` is preferred, then ``["model"]``, then ``["state_dict"]``. The official load
is strict: every weight must be there and none may be left over, except the training buffer
``quantize.codebook_used``. Training checkpoints also pickle an ``argparse.Namespace``, which is
allowed (it only holds values). LlamaGen's state-dict names are renamed into taming's
(:func:`official_key_to_ours`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.common.taming_model import TamingConfig
from wetok_bench.tokenizers.common.vq_checkpoint import NAMESPACE_ALLOW, load_into, pick_state_dict, read_checkpoint
from wetok_bench.tokenizers.common.vq_model import VQArch, VQAutoencoder

FAMILY = "llamagen-vq"

#: Width multipliers of the official presets (``VQ_16``, ``VQ_8``), encoder and decoder alike.
PRESETS: dict[str, list[int]] = {"VQ-16": [1, 1, 2, 2, 4], "VQ-8": [1, 2, 2, 4]}
#: ``ModelArgs`` defaults, plus the widths ``VQModel`` hard-codes (``ch``, ``num_res_blocks``).
MODEL_ARGS: dict[str, Any] = {
    "codebook_size": 16384,
    "codebook_embed_dim": 8,
    "codebook_l2_norm": True,
    "codebook_show_usage": True,
    "commit_loss_beta": 0.25,
    "entropy_loss_ratio": 0.0,
    "encoder_ch_mult": [1, 1, 2, 2, 4],
    "decoder_ch_mult": [1, 1, 2, 2, 4],
    "z_channels": 256,
    "dropout_p": 0.0,
    "ch": 128,
    "num_res_blocks": 2,
}
#: Where the weights sit in a checkpoint, in the official reconstruction script's order.
STATE_DICT_KEYS = ("ema", "model", "state_dict")
#: Training state in the state dict that inference ignores (the official model has it as a buffer).
IGNORED_KEYS = frozenset({"quantize.codebook_used"})

_ENC_LEVEL = re.compile(r"^encoder\.conv_blocks\.(\d+)\.(res|attn|downsample)\b")
_DEC_LEVEL = re.compile(r"^decoder\.conv_blocks\.(\d+)\.(res|attn|upsample)\b")
_MID = re.compile(r"^(encoder|decoder)\.mid\.([012])\.")
_MID_NAMES = {"0": "block_1", "1": "attn_1", "2": "block_2"}
_PART_NAMES = {"res": "block", "attn": "attn", "downsample": "downsample", "upsample": "upsample"}


def official_key_to_ours(key: str, decoder_levels: int) -> str:
    """A LlamaGen state-dict key in taming's naming (what :class:`VQAutoencoder` uses).

    ``conv_blocks.i.res.j`` -> ``down.i.block.j`` (encoder); the decoder stores its levels
    coarsest first, so its block ``k`` is level ``decoder_levels - 1 - k`` (``up`` is indexed
    by level); ``mid.0/1/2`` -> ``mid.block_1/attn_1/block_2``.
    """
    key = _MID.sub(lambda m: f"{m[1]}.mid.{_MID_NAMES[m[2]]}.", key)
    key = _ENC_LEVEL.sub(lambda m: f"encoder.down.{m[1]}.{_PART_NAMES[m[2]]}", key)
    return _DEC_LEVEL.sub(lambda m: f"decoder.up.{decoder_levels - 1 - int(m[1])}.{_PART_NAMES[m[2]]}", key)


def _taming_config(ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int) -> TamingConfig:
    """LlamaGen's encoder/decoder as a taming config: attention on the lowest level only.

    taming places attention where a level's resolution (halved per level from ``resolution``)
    is in ``attn_resolutions``; ``resolution = 2**(levels-1)`` with ``attn_resolutions = (1,)``
    selects exactly the last level, which is LlamaGen's rule.
    """
    levels = len(ch_mult)
    return TamingConfig(
        ch=ch,
        ch_mult=tuple(int(m) for m in ch_mult),
        num_res_blocks=num_res_blocks,
        attn_resolutions=(1,),
        resolution=2 ** (levels - 1),
        z_channels=z_channels,
    )


def llamagen_arch(args: dict[str, Any]) -> VQArch:
    """The architecture of a full set of LlamaGen arguments (:data:`MODEL_ARGS` keys)."""
    for key in ("encoder_ch_mult", "decoder_ch_mult"):
        value = args[key]
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(m, int) and m > 0 for m in value):
            raise UsageError(f"{FAMILY}: {key} must be a non-empty list of positive integers, got {value!r}")
    return VQArch(
        encoder=_taming_config(args["ch"], args["encoder_ch_mult"], args["num_res_blocks"], args["z_channels"]),
        decoder=_taming_config(args["ch"], args["decoder_ch_mult"], args["num_res_blocks"], args["z_channels"]),
        n_embed=int(args["codebook_size"]),
        embed_dim=int(args["codebook_embed_dim"]),
        l2_norm=bool(args["codebook_l2_norm"]),
    )




def load_llamagen_vq(path: str | os.PathLike, arch: VQArch) -> tuple[VQAutoencoder, str]:
    """The model of ``arch`` with the weights of checkpoint ``path``, and the entry they came from
    (``"ema"``, ``"model"``, ...); a file that does not match ``arch`` is a VQCheckpointError."""
    what = f"LlamaGen VQ checkpoint {path}"
    obj = read_checkpoint(path, what="LlamaGen VQ checkpoint", allow=NAMESPACE_ALLOW)
    state_dict, where = pick_state_dict(obj, STATE_DICT_KEYS, what="LlamaGen VQ checkpoint", path=path)
    with torch.device("meta"):  # no random init: every weight comes from the file
        vq = VQAutoencoder(arch)
    levels = len(arch.decoder.ch_mult)
    load_into(vq, state_dict, what=what, rename=lambda k: official_key_to_ours(k, levels),
              ignore=IGNORED_KEYS.__contains__)
    return vq, where
