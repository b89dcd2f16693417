"""Model cards of the ``diffusers-vae`` family: released diffusers autoencoders by name.

``source`` is the Hugging Face folder the weights load from. A card's notes say whether that
path was confirmed (its ``config.json`` seen, with the class and latent size quoted) or is
inferred (from the model's announcement or papers, not seen): an inferred path may need
``pretrained`` / ``subfolder`` set by hand. Compression ratios are at 16 bits per latent value.
"""

from __future__ import annotations

from wetok_bench.tokenizers.cards import ModelCard

TYPE = "diffusers-vae"

_LDM_PAPER = "Rombach et al., High-Resolution Image Synthesis with Latent Diffusion Models, CVPR 2022 (arXiv:2112.10752)"

CARDS: list[ModelCard] = [
    ModelCard(
        name="sd-vae-ft-mse",
        type=TYPE,
        params={"pretrained": "stabilityai/sd-vae-ft-mse"},
        source="hf://stabilityai/sd-vae-ft-mse",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.70, PSNR 24.5, SSIM 0.71.",
    ),
    ModelCard(
        name="sd-vae-ft-ema",
        type=TYPE,
        params={"pretrained": "stabilityai/sd-vae-ft-ema"},
        source="hf://stabilityai/sd-vae-ft-ema",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.42, PSNR 23.8, SSIM 0.69.",
    ),
    ModelCard(
        name="sdxl-vae",
        type=TYPE,
        params={"pretrained": "stabilityai/sdxl-vae"},
        source="hf://stabilityai/sdxl-vae",
        license="MIT",
        paper="Podell et al., SDXL (arXiv:2307.01952)",
        notes="f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k at "
        "256x256: rFID 4.42, PSNR 24.7, SSIM 0.73. fp16 gives NaN: run fp32 (default) or bf16.",
    ),
    ModelCard(
        name="sd35-vae",
        type=TYPE,
        params={"pretrained": "stabilityai/stable-diffusion-3.5-large", "subfolder": "vae"},
        source="hf://stabilityai/stable-diffusion-3.5-large/vae",
        license="Stability AI Community License (gated: accept it on the Hub before downloading)",
        paper="Esser et al., Scaling Rectified Flow Transformers (arXiv:2403.03206)",
        notes="f8, 16 latent channels, no quant convs: compression 6 at 16 bit/value. WeTok paper, "
        "ImageNet-50k zero-shot rFID 0.19.",
    ),
    ModelCard(
        name="flux-vae",
        type=TYPE,
        params={"pretrained": "black-forest-labs/FLUX.1-dev", "subfolder": "vae"},
        source="hf://black-forest-labs/FLUX.1-dev/vae",
        license="Apache-2.0 for the autoencoder weights (black-forest-labs/flux README); the FLUX.1-dev "
        "repo itself is gated under the FLUX.1-dev Non-Commercial License",
        paper="https://github.com/black-forest-labs/flux",
        notes="f8, 16 latent channels: compression 6 at 16 bit/value. The same autoencoder ships in "
        "FLUX.1-schnell, and as the single file ae.safetensors (use single_file: <ae.safetensors> with "
        "config: <folder holding the vae/ config.json>). WeTok paper, ImageNet-50k zero-shot rFID 0.18.",
    ),
]
