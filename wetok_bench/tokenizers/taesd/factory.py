"""``create_taesd``: the suite entry's options checked, the weights found and loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wetok_bench.errors import UsageError
from wetok_bench.hashing import cached_sha256
from wetok_bench.params import PRECISION, SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import SizePolicy, parse_precision
from wetok_bench.tokenizers.taesd.loading import (
    load_into,
    locate_diffusers,
    read_diffusers_config,
    read_original,
    split_diffusers_state,
)
from wetok_bench.tokenizers.taesd.model import (
    LATENT_MAGNITUDE,
    LATENT_SHIFT,
    MODELS,
    TaesdModel,
    build_decoder,
    build_encoder,
    get_model,
)
from wetok_bench.tokenizers.taesd.tokenizer import TaesdTokenizer, check_latent_options
from wetok_bench.weights import HF_PREFIX, resolve_checkpoint, resolve_weights


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
            return _from_original(name, spec, encoder_path, decoder_path, options)
        pretrained = spec.hf_repo
    if pretrained is not None:
        if spec.hf_repo is None:
            raise UsageError(
                f"model {spec.name!r} has no diffusers AutoencoderTiny version (no pooling branch there); "
                "give its original encoder/decoder .pth files"
            )
        return _from_diffusers(name, spec, pretrained, options)
    encoder_path = resolve_checkpoint(encoder, what="TAESD encoder weights")
    decoder_path = resolve_checkpoint(decoder, what="TAESD decoder weights")
    return _from_original(name, spec, encoder_path, decoder_path, options)


def _from_original(
    name: str,
    spec: TaesdModel,
    encoder_path: Path,
    decoder_path: Path,
    options: dict[str, Any],
) -> TaesdTokenizer:
    encoder = build_encoder(spec.latent_channels, spec.pooled)
    decoder = build_decoder(spec.latent_channels, spec.pooled)
    load_into(encoder, read_original(encoder_path), source=f"encoder weights {encoder_path}", model=spec)
    load_into(decoder, read_original(decoder_path), source=f"decoder weights {decoder_path}", model=spec)
    return TaesdTokenizer(
        name,
        model=spec,
        encoder=encoder,
        decoder=decoder,
        weights={"encoder": cached_sha256(encoder_path), "decoder": cached_sha256(decoder_path)},
        weights_format="original",
        **options,
    )


def _from_diffusers(
    name: str,
    spec: TaesdModel,
    pretrained: str,
    options: dict[str, Any],
) -> TaesdTokenizer:
    from safetensors.torch import load_file

    config_path, weights_path = locate_diffusers(pretrained)
    config = read_diffusers_config(config_path, spec)
    encoder_state, decoder_state = split_diffusers_state(load_file(weights_path))
    encoder = build_encoder(spec.latent_channels, spec.pooled)
    decoder = build_decoder(spec.latent_channels, spec.pooled)
    load_into(encoder, encoder_state, source=f"diffusers weights {weights_path} (encoder)", model=spec)
    load_into(decoder, decoder_state, source=f"diffusers weights {weights_path} (decoder)", model=spec)
    return TaesdTokenizer(
        name,
        model=spec,
        encoder=encoder,
        decoder=decoder,
        weights={"diffusers": cached_sha256(weights_path)},
        weights_format="diffusers",
        latent_magnitude=float(config.get("latent_magnitude", LATENT_MAGNITUDE)),
        latent_shift=float(config.get("latent_shift", LATENT_SHIFT)),
        **options,
    )
