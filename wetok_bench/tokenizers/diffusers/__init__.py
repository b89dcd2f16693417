"""Diffusers image autoencoders as tokenizers (suite ``type: diffusers-vae``, alias ``diffusers``).

The autoencoder class comes from the model folder's ``config.json`` (the classes and how each
encodes and decodes: :mod:`.adapters`); finding the folder and building the model is
:mod:`.loading`, the tokenizer :mod:`.tokenizer`.

Suite entries::

    - {type: diffusers-vae, model: flux-vae}                    # a model card
    - {type: diffusers-vae, pretrained: stabilityai/sd-vae-ft-mse, precision: bf16}
    - {type: diffusers-vae, single_file: /ckpt/ae.safetensors, config: /models/flux-vae-config}

Continuous classes count latent values x ``bits_per_value`` (16 by default) bits; ``VQModel``
counts tokens x log2(codebook size).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import BITS_PER_VALUE, PRECISION, SEED, SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import DEFAULT_BITS_PER_VALUE, SizePolicy, parse_precision
from wetok_bench.tokenizers.cards import ModelCard, get_card
from wetok_bench.tokenizers.diffusers.loading import load_pretrained, load_single_file
from wetok_bench.tokenizers.diffusers.tokenizer import TYPE, DiffusersVAE

__all__ = ["CARDS", "DiffusersVAE", "TYPE", "create_diffusers_vae"]

_FP16_NOTE = "fp16 overflows in some of these decoders (sdxl-vae gives NaN): use fp32 (default) or bf16."

# Model cards of the ``diffusers-vae`` family: released diffusers autoencoders by name.
#
# ``source`` is the Hugging Face folder the weights load from. A card's notes say whether that
# path was confirmed (its ``config.json`` seen, with the class and latent size quoted) or is
# inferred (from the model's announcement or papers, not seen): an inferred path may need
# ``pretrained`` / ``subfolder`` set by hand. The SD / SDXL / SD 3.5 / FLUX.1 cards name the
# long-standing diffusers repos (paths as in the project's references, not re-checked here).
# Compression ratios are at 256x256 and 16 bits per latent value (VQModel: log2 of the codebook
# size per token).

_LDM_PAPER = "Rombach et al., High-Resolution Image Synthesis with Latent Diffusion Models, CVPR 2022 (arXiv:2112.10752)"

_DC_AE_PAPER = "Chen et al., Deep Compression Autoencoder for Efficient High-Resolution Diffusion Models, ICLR 2025 (arXiv:2410.10733)"
_DC_AE_README = "the official README (mit-han-lab/efficientvit, applications/dc_ae) lists it"
_DC_AE_LICENSE = (
    "Apache-2.0 on the original-format dc-ae-f32c32-in-1.0 card (seen); the -diffusers repos hold a LICENSE.txt "
    "(not read here)"
)
_WAN_PAPER = "Wan Team, Wan: Open and Advanced Large-Scale Video Generative Models (arXiv:2503.20314)"


def _hub_card(name: str, repo: str, subfolder: str | None = None, **fields: str) -> ModelCard:
    """A card loading the diffusers folder ``repo`` (``subfolder`` inside it) from the Hugging Face hub;
    ``fields``: license, paper, notes."""
    params = {"pretrained": repo} if subfolder is None else {"pretrained": repo, "subfolder": subfolder}
    source = f"hf://{repo}" if subfolder is None else f"hf://{repo}/{subfolder}"
    return ModelCard(name=name, type=TYPE, params=params, source=source, **fields)


def _dc_ae(name: str, repo: str, factor: int, channels: int, seen: str, extra: str = "") -> ModelCard:
    """A DC-AE card: deterministic latent (AutoencoderDC), compression 48 at 16 bit/value for all
    of them (f32c32, f64c128 and f128c512 keep 2048 values per 256x256 image)."""
    return _hub_card(
        name,
        repo,
        license=_DC_AE_LICENSE,
        paper=_DC_AE_PAPER,
        notes=f"AutoencoderDC, f{factor}, {channels} latent channels, deterministic latent: compression 48 at "
        f"16 bit/value. Path confirmed: {seen}." + (f" {extra}" if extra else ""),
    )


CARDS: list[ModelCard] = [
    _hub_card(
        "sd-vae-ft-mse", "stabilityai/sd-vae-ft-mse",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.70, PSNR 24.5, SSIM 0.71.",
    ),
    _hub_card(
        "sd-vae-ft-ema", "stabilityai/sd-vae-ft-ema",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.42, PSNR 23.8, SSIM 0.69.",
    ),
    _hub_card(
        "sdxl-vae", "stabilityai/sdxl-vae",
        license="MIT",
        paper="Podell et al., SDXL (arXiv:2307.01952)",
        notes="f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k at "
        "256x256: rFID 4.42, PSNR 24.7, SSIM 0.73. fp16 gives NaN: run fp32 (default) or bf16.",
    ),
    _hub_card(
        "sd35-vae", "stabilityai/stable-diffusion-3.5-large", "vae",
        license="Stability AI Community License (gated: accept it on the Hub before downloading)",
        paper="Esser et al., Scaling Rectified Flow Transformers (arXiv:2403.03206)",
        notes="f8, 16 latent channels, no quant convs: compression 6 at 16 bit/value. WeTok paper, "
        "ImageNet-50k zero-shot rFID 0.19.",
    ),
    _hub_card(
        "flux-vae", "black-forest-labs/FLUX.1-dev", "vae",
        license="Apache-2.0 for the autoencoder weights (black-forest-labs/flux README); the FLUX.1-dev "
        "repo itself is gated under the FLUX.1-dev Non-Commercial License",
        paper="https://github.com/black-forest-labs/flux",
        notes="f8, 16 latent channels: compression 6 at 16 bit/value. The same autoencoder ships in "
        "FLUX.1-schnell, and as the single file ae.safetensors (use single_file: <ae.safetensors> with "
        "config: <folder holding the vae/ config.json>). WeTok paper, ImageNet-50k zero-shot rFID 0.18.",
    ),
    _hub_card(
        "flux2-vae", "black-forest-labs/FLUX.2-dev", "vae",
        license="Apache-2.0 for the FLUX.2 autoencoder (black-forest-labs/flux2 README); the FLUX.2-dev repo is "
        "gated under the FLUX.2-dev Non-Commercial License",
        paper="https://github.com/black-forest-labs/flux2",
        notes="AutoencoderKLFlux2, f8, 32 latent channels: compression 3 at 16 bit/value (its 2x2 patchify and "
        "batch norm are for the diffusion model, not part of reconstruction). Path confirmed indirectly: "
        "copied vae/config.json files name black-forest-labs/FLUX.2-dev and the vae/ folders of "
        "FLUX.2-klein-4B (Apache-2.0) and FLUX.2-klein-base-9B as their origin, all with the same "
        "config; that these folders hold identical weights is inferred.",
    ),
    _hub_card(
        "qwen-image-vae", "Qwen/Qwen-Image", "vae",
        license="Apache-2.0 (Qwen-Image model card; inferred, not seen here)",
        paper="Qwen Team, Qwen-Image Technical Report (arXiv:2508.02324)",
        notes="AutoencoderKLQwenImage (a Wan-2.1-style causal video VAE; an image is one frame), f8, z_dim 16: "
        "compression 6 at 16 bit/value. Path confirmed: Qwen/Qwen-Image is a diffusers pipeline repo "
        "(diffusers' QwenImagePipeline docs load it) and copies of its vae/config.json (base_dim 96, dim_mult [1, 2, 4, 4]) name "
        "the Qwen/Qwen-Image snapshot's vae/ folder. Its decoder clamps to [-1, 1].",
    ),
    _hub_card(
        "wan2.1-vae", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "vae",
        license="Apache-2.0 (Wan 2.1 model cards; inferred, not seen here)",
        paper=_WAN_PAPER,
        notes="AutoencoderKLWan, f8, z_dim 16, one frame per image: compression 6 at 16 bit/value. Path "
        "confirmed: diffusers' AutoencoderKLWan docs load it with subfolder='vae'; the same VAE "
        "ships in every Wan 2.1 -Diffusers repo and as diffusers/Wan2.1-VAE (config seen). Its "
        "decoder clamps to [-1, 1].",
    ),
    _hub_card(
        "wan2.2-vae", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", "vae",
        license="Apache-2.0 (Wan 2.2 model cards; inferred, not seen here)",
        paper=_WAN_PAPER,
        notes="AutoencoderKLWan with residual blocks and a 2x2 patchify (patch_size 2), f16, z_dim 48, one "
        "frame per image: compression 8 at 16 bit/value. Path confirmed indirectly: copies of its "
        "vae/config.json (is_residual, patch_size 2, scale_factor_spatial 16, z_dim 48) name "
        "Wan-AI/Wan2.2-TI2V-5B-Diffusers as their origin. The Wan 2.2 A14B models use the Wan 2.1 "
        "VAE (Wan 2.2 README; not seen here). Its config carries clip_output: false, which diffusers "
        "0.42.1 does not read: that decoder clamps its output to [-1, 1].",
    ),
    _hub_card(
        "hunyuanimage-2.1-vae", "hunyuanvideo-community/HunyuanImage-2.1-Diffusers", "vae",
        license="Tencent Hunyuan Community License (inferred, not seen here; it excludes some territories)",
        paper="https://github.com/Tencent-Hunyuan/HunyuanImage-2.1",
        notes="AutoencoderKLHunyuanImage, f32, 64 latent channels: compression 24 at 16 bit/value. Path "
        "confirmed: the repo id is in diffusers' HunyuanImage pipeline docs and the AutoencoderKLHunyuanImage "
        "docs (mindone mirror) load it with subfolder='vae'; copies of the config (block_out_channels "
        "[128, 256, 512, 512, 1024, 1024], spatial_compression_ratio 32) seen.",
    ),
    _dc_ae("dc-ae-f32c32-in", "mit-han-lab/dc-ae-f32c32-in-1.0-diffusers", 32, 32, _DC_AE_README,
           "Trained on ImageNet."),
    _dc_ae("dc-ae-f64c128-in", "mit-han-lab/dc-ae-f64c128-in-1.0-diffusers", 64, 128, _DC_AE_README,
           "Trained on ImageNet. Official README, ImageNet 512x512 val (its own evaluation): rFID 0.2168, "
           "PSNR 26.15, SSIM 0.7105, LPIPS 0.0802."),
    _dc_ae("dc-ae-f128c512-in", "mit-han-lab/dc-ae-f128c512-in-1.0-diffusers", 128, 512,
           "its file listing (config.json, diffusion_pytorch_model.safetensors) seen", "Trained on ImageNet."),
    _dc_ae("dc-ae-f32c32-mix", "mit-han-lab/dc-ae-f32c32-mix-1.0-diffusers", 32, 32,
           "diffusers' single-file loader names it as the f32c32 default", "Trained on a mixture of datasets."),
    _dc_ae("dc-ae-f64c128-mix", "mit-han-lab/dc-ae-f64c128-mix-1.0-diffusers", 64, 128,
           "its file listing seen; diffusers' single-file loader names it", "Trained on a mixture of datasets."),
    _dc_ae("dc-ae-f32c32-sana-1.0", "mit-han-lab/dc-ae-f32c32-sana-1.0-diffusers", 32, 32,
           "its file listing seen; diffusers' single-file loader names it", "The autoencoder of SANA 1.0."),
    _dc_ae("dc-ae-f32c32-sana-1.1", "mit-han-lab/dc-ae-f32c32-sana-1.1-diffusers", 32, 32, _DC_AE_README,
           "SANA 1.1: the SANA 1.0 encoder with an improved decoder."),
    _hub_card(
        "kandinsky-2.2-movq", "kandinsky-community/kandinsky-2-2-decoder", "movq",
        license="Apache-2.0 (Kandinsky 2.2 model card; inferred, not seen here)",
        paper="Zheng et al., MoVQ: Modulating Quantized Vectors for High-Fidelity Image Generation, NeurIPS 2022 "
        "(arXiv:2209.09002)",
        notes="VQModel (MoVQ: spatially modulated decoder norm), f8, 16384 codes: discrete, 32x32 tokens x 14 "
        "bits at 256x256, compression 109.7. Path confirmed: copies of movq/config.json name the "
        "kandinsky-2-2-decoder snapshot's movq/ folder; kandinsky-community/kandinsky-2-1/movq has the "
        "same config (seen).",
    ),
]


def _check_entry(spec: dict[str, Any]) -> None:
    if not any(spec.get(key) is not None for key in ("model", "pretrained", "single_file")):
        raise UsageError(
            f"tokenizer {spec.get('name', TYPE)!r} (type {TYPE}): give model (a card name), pretrained "
            "(a folder or Hugging Face repo id) or single_file (with config)"
        )


@declare(
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a model card"),
    Param("pretrained", str, None, doc="diffusers folder or Hugging Face repo id"),
    Param("subfolder", str, None, doc="folder inside pretrained (vae for SD 3.5 / FLUX.1)"),
    Param("single_file", str, None, path="file", doc="original-format checkpoint (needs config)"),
    Param("config", str, None, path="dir", doc="folder with the diffusers config.json for single_file"),
    Param("sample", bool, False, doc="draw the latent from the posterior (seeded) instead of its mode"),
    SEED,
    PRECISION,
    BITS_PER_VALUE,
    SIZE_POLICY,
    check=_check_entry,
)
def create_diffusers_vae(
    *,
    name: str = "vae",
    model: str | None = None,
    pretrained: str | None = None,
    subfolder: str | None = None,
    single_file: str | None = None,
    config: str | None = None,
    sample: bool = False,
    seed: int | None = None,
    precision: str = "fp32",
    bits_per_value: int = DEFAULT_BITS_PER_VALUE,
    size_policy: SizePolicy = "error",
) -> DiffusersVAE:
    """Build a diffusers autoencoder tokenizer (suite ``type: diffusers-vae`` or ``diffusers``).

    Args:
        model: a card name (``wetok-bench list tokenizers`` lists them: ``sd-vae-ft-mse``,
            ``flux-vae``, ``flux2-vae``, ``qwen-image-vae``, ``wan2.1-vae``, ``dc-ae-f32c32-in``,
            ...); explicit parameters override the card's.
        pretrained: a local diffusers folder (``config.json`` + ``diffusion_pytorch_model.safetensors``)
            or a Hugging Face repo id (looked up in the HF cache; downloaded only when online).
            The class is the config's ``_class_name``.
        subfolder: folder inside ``pretrained`` (``vae`` for SD 3.5, FLUX and Qwen-Image repos).
        single_file: an original-format checkpoint (e.g. FLUX ``ae.safetensors``), a path or
            ``hf://owner/repo/file``; needs ``config``.
        config: a local folder holding the diffusers ``config.json`` for ``single_file``
            (``subfolder`` applies inside it).
        sample: draw the latent from the posterior (seeded) instead of taking its mode; only
            for classes with a posterior (not AutoencoderDC, AutoencoderTiny, VQModel).
        seed: seed of that draw (when not given: the run's seed; 0 for direct library calls).
        precision: ``fp32`` (default), ``bf16`` or ``fp16`` (NaN for sdxl-vae).
        bits_per_value: bits counted per continuous latent value for the compression ratio
            (VQModel counts log2 of its codebook size per token).
        size_policy: ``error`` (default) or ``pad`` for sizes not a multiple of the factor.
    """
    given = {"pretrained": pretrained, "subfolder": subfolder, "single_file": single_file, "config": config}
    if model is not None:
        card = get_card(model, TYPE)
        # a card names one source; an explicit single_file replaces the card's repo
        card_params = {} if single_file is not None else dict(card.params)
        given = {**given, **card_params, **{k: v for k, v in given.items() if v is not None}}
    dtype = parse_precision(precision)
    if dtype == torch.float16:
        warnings.warn(f"tokenizer {name!r}: {_FP16_NOTE}", stacklevel=2)
    if given["single_file"] is not None:
        loaded = load_single_file(given["single_file"], given["config"], given["subfolder"])
    elif given["pretrained"] is not None:
        loaded = load_pretrained(given["pretrained"], given["subfolder"])
    else:
        raise UsageError(
            f"tokenizer {name!r} (type {TYPE}): give model (a card name), pretrained (a folder or "
            f"Hugging Face repo id) or single_file (with config)"
        )
    loaded.source["card"] = model
    return DiffusersVAE(
        name,
        loaded.vae,
        adapter=loaded.adapter,
        weights=loaded.weights,
        source=loaded.source,
        dtype=dtype,
        sample=sample,
        seed=seed,
        bits_per_value=bits_per_value,
        size_policy=size_policy,
    )
