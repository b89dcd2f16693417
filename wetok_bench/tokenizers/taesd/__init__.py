"""TAESD family: tiny autoencoders distilled from the SD, SDXL, SD3, FLUX.1 and FLUX.2 VAEs.

Our own implementation of the architecture of github.com/madebyollin/taesd (MIT, Ollin Boer
Bohan). Both sides are ``nn.Sequential`` stacks whose indices are the keys of the original
``*_encoder.pth`` / ``*_decoder.pth`` state dicts, so those files load as they are:

- encoder: 3x3 conv 3->64, one residual block, then three times (stride-2 3x3 conv without
  bias, three blocks), then a 3x3 conv to the latent channels (1/8 resolution);
- decoder: soft clamp ``tanh(z / 3) * 3``, 3x3 conv to 64, ReLU, then three times (three
  blocks, nearest 2x upsampling, 3x3 conv without bias), one block, a 3x3 conv to RGB;
- a block is three 3x3 convs with ReLU between, added to its input, then ReLU.
- TAEF2 (FLUX.2) adds to the three deepest blocks of each side (the last three of the
  encoder, the first three of the decoder) a pooling branch added to the block's input:
  1x1 conv to 4x channels, GroupNorm(4), ReLU, 1x1 conv back (no biases on the convs).

The models work on images in [0, 1]; this wrapper converts the harness's [-1, 1] on the way in
and maps the output back to [-1, 1] (not clamped). The latent is continuous and counted at 16
bits per value (the WeTok paper's convention); ``latent_bits: 8`` really quantizes it the way the
TAESD author stores latents as 8-bit images: ``z / (2 * 3) + 0.5`` clamped to [0, 1], times 255,
rounded; decoding divides by 255 and undoes the affine map. Then 8 bits per value are counted.

Weights come either in the original format (``encoder`` / ``decoder`` paths) or in the diffusers
``AutoencoderTiny`` format (``pretrained``: a folder with ``config.json`` and
``diffusion_pytorch_model.safetensors``, or a Hugging Face repo id such as
``madebyollin/taesd``), whose keys are mapped onto the same modules. TAEF2 is published only in
the original format; without paths its files are resolved by name from the weights folder.
"""

from wetok_bench.tokenizers.taesd.cards import CARDS
from wetok_bench.tokenizers.taesd.factory import create_taesd
from wetok_bench.tokenizers.taesd.loading import (
    load_into,
    locate_diffusers,
    read_diffusers_config,
    read_original,
    split_diffusers_state,
)
from wetok_bench.tokenizers.taesd.model import (
    DOWNSAMPLE,
    LATENT_MAGNITUDE,
    LATENT_SHIFT,
    MODELS,
    WIDTH,
    Block,
    SoftClamp,
    TaesdModel,
    build_decoder,
    build_encoder,
    get_model,
)
from wetok_bench.tokenizers.taesd.tokenizer import TaesdTokenizer, check_latent_options

__all__ = [
    "CARDS", "DOWNSAMPLE", "LATENT_MAGNITUDE", "LATENT_SHIFT", "MODELS", "WIDTH", "Block", "SoftClamp",
    "TaesdModel", "TaesdTokenizer", "build_decoder", "build_encoder", "check_latent_options", "create_taesd",
    "get_model", "load_into", "locate_diffusers", "read_diffusers_config", "read_original", "split_diffusers_state",
]
