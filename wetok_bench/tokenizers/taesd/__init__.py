"""TAESD family (suite ``type: taesd``): tiny autoencoders distilled from the SD, SDXL, SD3, FLUX.1
and FLUX.2 VAEs (github.com/madebyollin/taesd; architecture in :mod:`.model`).

Suite entries::

    - {type: taesd, model: taef2}                       # weights by name from the weights folder
    - {type: taesd, model: taesdxl}                     # Hugging Face madebyollin/taesdxl (cache)
    - {type: taesd, model: taesd, encoder: /w/taesd_encoder.pth, decoder: /w/taesd_decoder.pth}
    - {type: taesd, model: taesd, pretrained: /models/taesd, latent_bits: 8}

Continuous latent at 1/8 resolution, counted at 16 bits per value (the WeTok paper's
convention; ``bits_per_value`` changes it); with ``latent_bits`` the latent is really quantized
(:mod:`.tokenizer`) and that many bits per value are counted. Weight formats: :mod:`.loading`.
"""

from __future__ import annotations

import os
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import PRECISION, SIZE_POLICY, Param, declare
from wetok_bench.core.weights import HF_PREFIX, resolve_checkpoint, resolve_weights
from wetok_bench.tokenizers.base import DEFAULT_BITS_PER_VALUE, SizePolicy, parse_precision
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.taesd.loading import (
    load_into,
    locate_diffusers,
    read_diffusers_config,
    read_original,
    split_diffusers_state,
    tokenizer_from_diffusers,
    tokenizer_from_original,
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

# Model cards: one per member of the family.
_GITHUB_RAW = "https://github.com/madebyollin/taesd/raw/main"


def _card(spec: TaesdModel) -> ModelCard:
    ratio16 = 24 * DOWNSAMPLE**2 / (spec.latent_channels * DEFAULT_BITS_PER_VALUE)
    original = f"{_GITHUB_RAW}/{spec.name}_encoder.pth and {spec.name}_decoder.pth"
    source = f"hf://{spec.hf_repo}" if spec.hf_repo else f"{_GITHUB_RAW}/{spec.name}_encoder.pth"
    formats = (
        f"diffusers AutoencoderTiny at https://huggingface.co/{spec.hf_repo}; original files {original}"
        if spec.hf_repo
        else f"original files only: {original}"
    )
    return ModelCard(
        name=spec.name,
        type="taesd",
        params={"model": spec.name},
        source=source,
        license="MIT",
        paper="https://github.com/madebyollin/taesd",
        notes=(
            f"tiny autoencoder distilled from the {spec.teacher}; {spec.latent_channels}-channel latent at 1/8; "
            f"compression ratio {ratio16:g} at 16 bits per value, {2 * ratio16:g} with latent_bits: 8; {formats}"
        ),
    )


CARDS: list[ModelCard] = [_card(spec) for spec in MODELS.values()]


def _check_entry(spec: dict[str, Any]) -> None:
    """Suite-time checks of the options together (the factory makes the same ones)."""
    name = str(spec.get("name", "taesd"))
    check_latent_options(name, spec.get("latent_bits"), spec.get("bits_per_value"))
    if ("encoder" in spec) != ("decoder" in spec):
        raise UsageError(f"tokenizer {name!r}: give both 'encoder' and 'decoder' paths, or neither")
    if "encoder" in spec and spec.get("pretrained") is not None:
        raise UsageError(f"tokenizer {name!r}: give either encoder/decoder paths or 'pretrained', not both")


def _needs(spec: dict[str, Any]) -> list[str]:
    """The weights an entry would load (for ``--dry-run``), as :func:`create_taesd` finds them."""
    if "encoder" in spec:
        return [spec["encoder"], spec["decoder"]]
    model = get_model(spec.get("model", "taef2"))
    pretrained = spec.get("pretrained") or model.hf_repo
    if pretrained is None:
        return [f"weights:{model.name}-encoder", f"weights:{model.name}-decoder"]
    return [pretrained if os.path.exists(os.path.expanduser(pretrained)) or pretrained.startswith(HF_PREFIX)
            else f"{HF_PREFIX}{pretrained}"]


@declare(
    Param("model", str, "taef2", choices=tuple(MODELS), doc="architecture and latent channels"),
    Param("encoder", str, None, path="file", doc="original-format encoder .pth (with decoder)"),
    Param("decoder", str, None, path="file", doc="original-format decoder .pth (with encoder)"),
    Param("pretrained", str, None, doc="diffusers AutoencoderTiny folder or Hugging Face repo id"),
    Param("latent_bits", int, None, range=(1, 16), doc="quantize the latent (8: TAESD's own rule)"),
    Param("bits_per_value", float, None, range=(0, None), doc="bits counted per unquantized value (null: 16)"),
    PRECISION,
    SIZE_POLICY,
    check=_check_entry,
    needs=lambda spec: _needs(spec),
    factor=lambda spec: DOWNSAMPLE,
)
def create_taesd(
    *,
    name: str = "taesd",
    model: str = "taef2",
    encoder: str | None = None,
    decoder: str | None = None,
    pretrained: str | None = None,
    latent_bits: int | None = None,
    bits_per_value: float | None = None,
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
) -> TaesdTokenizer:
    """Build a TAESD-family tokenizer (suite ``type: taesd``).

    Args:
        name: label of the tokenizer in results.
        model: ``taesd``, ``taesdxl``, ``taesd3``, ``taef1`` or ``taef2`` (architecture and
            latent channels).
        encoder, decoder: paths (or ``hf://`` locations) of original-format state dicts; give
            both or neither.
        pretrained: a diffusers ``AutoencoderTiny`` folder or Hugging Face repo id (not for taef2).
        latent_bits: quantize the latent to this many bits per value (8 is TAESD's own rule);
            None keeps it continuous.
        bits_per_value: bits counted per value of an unquantized latent (default 16, the
            WeTok paper's convention); with ``latent_bits`` it is ``latent_bits``.
        precision: ``fp32``, ``bf16`` or ``fp16`` for the networks.
        size_policy: ``error`` (sizes must be multiples of 8) or ``pad`` (pad, then crop).

    Without any weights argument, taef2 resolves ``taef2-encoder`` / ``taef2-decoder`` from the
    weights folder (``wetok-bench weights fetch taef2``) and the others use their Hugging Face
    repo ``madebyollin/<model>`` from the local cache.
    """
    spec = get_model(model)
    check_latent_options(name, latent_bits, bits_per_value)
    parse_precision(precision)
    options = {
        "latent_bits": latent_bits,
        "bits_per_value": bits_per_value,
        "precision": precision,
        "size_policy": size_policy,
    }
    if (encoder is None) != (decoder is None):
        raise UsageError(f"tokenizer {name!r}: give both 'encoder' and 'decoder' paths, or neither")
    if encoder is not None and pretrained is not None:
        raise UsageError(f"tokenizer {name!r}: give either encoder/decoder paths or 'pretrained', not both")
    if encoder is None and pretrained is None:
        if spec.hf_repo is None:
            encoder_path = resolve_weights(f"{spec.name}-encoder")
            decoder_path = resolve_weights(f"{spec.name}-decoder")
            return tokenizer_from_original(name, spec, encoder_path, decoder_path, options)
        pretrained = spec.hf_repo
    if pretrained is not None:
        if spec.hf_repo is None:
            raise UsageError(
                f"model {spec.name!r} has no diffusers AutoencoderTiny version (no pooling branch there); "
                "give its original encoder/decoder .pth files"
            )
        return tokenizer_from_diffusers(name, spec, pretrained, options)
    encoder_path = resolve_checkpoint(encoder, what="TAESD encoder weights")
    decoder_path = resolve_checkpoint(decoder, what="TAESD decoder weights")
    return tokenizer_from_original(name, spec, encoder_path, decoder_path, options)
