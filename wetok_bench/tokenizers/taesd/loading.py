"""Loading TAESD weights: original ``*_encoder.pth`` / ``*_decoder.pth`` state dicts, or the
diffusers ``AutoencoderTiny`` format (config checked, keys mapped onto the same modules).

Weights come either in the original format (``encoder`` / ``decoder`` paths) or in the diffusers
``AutoencoderTiny`` format (``pretrained``: a folder with ``config.json`` and
``diffusion_pytorch_model.safetensors``, or a Hugging Face repo id such as
``madebyollin/taesd``), whose keys are mapped onto the same modules. TAEF2 is published only in
the original format; without paths its files are resolved by name from the weights folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256
from wetok_bench.core.torch_files import load_torch_file
from wetok_bench.core.weights import HF_PREFIX, resolve_checkpoint
from wetok_bench.tokenizers.taesd.model import (
    DIFFUSERS_CONFIG,
    DIFFUSERS_WEIGHTS,
    LATENT_MAGNITUDE,
    LATENT_SHIFT,
    MODELS,
    WIDTH,
    TaesdModel,
    build_decoder,
    build_encoder,
)
from wetok_bench.tokenizers.taesd.tokenizer import TaesdTokenizer


def _key_list(keys: set[str], limit: int = 6) -> str:
    ordered = sorted(keys)
    more = f" (+{len(ordered) - limit} more)" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def load_into(module: nn.Module, state: dict[str, torch.Tensor], *, source: str, model: TaesdModel) -> None:
    """Copy ``state`` into ``module``; any missing, unexpected or mis-shaped key is a UsageError.

    The message names the keys and, where the keys tell, which model the file is for.
    """
    expected = module.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    problems = []
    if missing:
        problems.append(f"missing keys: {_key_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_key_list(unexpected)}")
    shapes = {
        k: (tuple(state[k].shape), tuple(expected[k].shape))
        for k in set(expected) & set(state)
        if state[k].shape != expected[k].shape
    }
    if shapes:
        problems.append(
            "shape mismatch: "
            + "; ".join(
                f"{k} is {got} in the file, {want} in the model" for k, (got, want) in sorted(shapes.items())[:6]
            )
        )
    if not problems:
        module.load_state_dict(state, strict=True)
        return
    hints = []
    if any(".pool." in k for k in unexpected):
        hints.append("the file has the FLUX.2 pooling branch: use model: taef2")
    if any(".pool." in k for k in missing) and not any(".pool." in k for k in unexpected):
        hints.append("the file has no FLUX.2 pooling branch: use model taesd, taesdxl, taesd3 or taef1")
    if shapes:
        hints.append(
            f"model {model.name!r} has {model.latent_channels} latent channels "
            "(taesd/taesdxl 4, taesd3/taef1 16, taef2 32): check that the file is for this model"
        )
    hint = f"; {'; '.join(hints)}" if hints else ""
    raise UsageError(f"{source} does not fit TAESD model {model.name!r}: {'; '.join(problems)}{hint}")


def read_original(path: Path) -> dict[str, torch.Tensor]:
    """State dict of an original ``*_encoder.pth`` / ``*_decoder.pth`` file (tensors only)."""
    state = load_torch_file(path, what="TAESD weights")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(f"{path} is not a TAESD state dict (expected a dict of tensors with keys like '0.weight')")
    return state


def split_diffusers_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Map ``AutoencoderTiny`` keys onto the original layout: (encoder state, decoder state).

    ``encoder.layers.N.*`` is encoder ``N.*``; ``decoder.layers.N.*`` is decoder ``N+1.*``
    because diffusers applies the soft clamp in ``forward`` instead of as layer 0.
    """
    encoder: dict[str, torch.Tensor] = {}
    decoder: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        side, _, rest = key.partition(".layers.")
        index, _, tail = rest.partition(".")
        if side not in ("encoder", "decoder") or not index.isdigit():
            encoder[key] = value  # reported as an unexpected key by load_into
            continue
        if side == "encoder":
            encoder[f"{index}.{tail}"] = value
        else:
            decoder[f"{int(index) + 1}.{tail}"] = value
    return encoder, decoder


#: AutoencoderTiny config values that the small architecture fixes.
_FIXED_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "encoder_block_out_channels": [WIDTH] * 4,
    "decoder_block_out_channels": [WIDTH] * 4,
    "num_encoder_blocks": [1, 3, 3, 3],
    "num_decoder_blocks": [3, 3, 3, 1],
    "act_fn": "relu",
    "upsample_fn": "nearest",
    "upsampling_scaling_factor": 2,
}


def locate_diffusers(pretrained: str) -> tuple[Path, Path]:
    """(config.json, safetensors) of a local folder or a Hugging Face repo id.

    A repo id is ``owner/repo`` or ``hf://owner/repo``; its files come from the local Hugging
    Face cache, or a download when online.
    """
    local = expand_path(pretrained)
    if local.is_dir():
        config, weights = local / DIFFUSERS_CONFIG, local / DIFFUSERS_WEIGHTS
        for path in (config, weights):
            if not path.is_file():
                raise UsageError(
                    f"{local} is not a diffusers AutoencoderTiny folder: {path.name} is missing "
                    f"(expected {DIFFUSERS_CONFIG} and {DIFFUSERS_WEIGHTS})"
                )
        return config, weights
    repo = pretrained[len(HF_PREFIX):] if pretrained.startswith(HF_PREFIX) else pretrained
    if repo.count("/") != 1:
        raise UsageError(f"pretrained {pretrained!r} is neither a folder nor a Hugging Face repo id (owner/name)")
    return (
        resolve_checkpoint(f"{HF_PREFIX}{repo}/{DIFFUSERS_CONFIG}", what="TAESD config"),
        resolve_checkpoint(f"{HF_PREFIX}{repo}/{DIFFUSERS_WEIGHTS}", what="TAESD weights"),
    )


def read_diffusers_config(path: Path, model: TaesdModel) -> dict[str, Any]:
    """The folder's config, checked against the architecture of ``model``."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    if config.get("_class_name", "AutoencoderTiny") != "AutoencoderTiny":
        raise UsageError(f"{path} describes a {config['_class_name']}, not an AutoencoderTiny")
    wrong = [
        f"{key}={config[key]!r} (expected {want!r})"
        for key, want in _FIXED_CONFIG.items()
        if key in config and _normalise(config[key]) != want
    ]
    if wrong:
        raise UsageError(f"{path}: not the TAESD architecture: {', '.join(wrong)}")
    channels = config.get("latent_channels", 4)
    if channels != model.latent_channels:
        fits = [m.name for m in MODELS.values() if m.latent_channels == channels and not m.pooled]
        suggestion = f"; set model to one of {', '.join(fits)}" if fits else ""
        raise UsageError(
            f"{path} has latent_channels {channels}, model {model.name!r} has {model.latent_channels}{suggestion}"
        )
    return config


def _normalise(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def tokenizer_from_original(
    name: str,
    spec: TaesdModel,
    encoder_path: Path,
    decoder_path: Path,
    options: dict[str, Any],
) -> TaesdTokenizer:
    """The tokenizer of member ``spec`` with original-format encoder and decoder weights."""
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


def tokenizer_from_diffusers(
    name: str,
    spec: TaesdModel,
    pretrained: str,
    options: dict[str, Any],
) -> TaesdTokenizer:
    """The tokenizer of member ``spec`` from a diffusers ``AutoencoderTiny`` folder or repo id."""
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
