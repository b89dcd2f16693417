"""Model cards of the released WeTok checkpoints (Hugging Face repo ``GrayShine/WeTok``).

Architectures are those of the official inference configs (``configs/WeToK/Inference/`` in
zhuangshaobin/WeTok at caa2ad7): every model has ch 256, 4 residual blocks per level, 256-entry
groups (8 bits) and EMA weights. The file paths inside the Hugging Face repo are inferred from
the evaluation scripts' ``--ckpt_path`` arguments, not confirmed against the repo listing.
Compression ratios are at any size (H*W*24 over the code's bits).
"""

from __future__ import annotations

from typing import Any

from wetok_bench.tokenizers.cards import ModelCard

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
