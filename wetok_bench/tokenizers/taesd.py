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

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wetok_bench.envvars import expand_path
from wetok_bench.errors import UsageError
from wetok_bench.hashing import sha256_file
from wetok_bench.params import PRECISION, SIZE_POLICY, Param, declare
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    parse_precision,
)
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.torch_files import load_torch_file
from wetok_bench.weights import HF_PREFIX, resolve_checkpoint, resolve_weights

#: Spatial factor of every model of the family (three stride-2 stages).
DOWNSAMPLE = 8
#: Width of every layer of the small architecture.
WIDTH = 64
#: TAESD's latent storage convention: latent / (2 * magnitude) + shift lies in [0, 1].
LATENT_MAGNITUDE = 3.0
LATENT_SHIFT = 0.5

DIFFUSERS_CONFIG = "config.json"
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass(frozen=True)
class TaesdModel:
    """One member of the family.

    Attributes:
        name: model name (``taesd``, ``taesdxl``, ``taesd3``, ``taef1``, ``taef2``).
        latent_channels: channels of the latent at 1/8 resolution.
        pooled: whether the three deepest blocks of each side have the GroupNorm pooling branch.
        teacher: the VAE it was distilled from.
        hf_repo: Hugging Face repo of the diffusers ``AutoencoderTiny`` version, if published.
    """

    name: str
    latent_channels: int
    pooled: bool
    teacher: str
    hf_repo: str | None


MODELS: dict[str, TaesdModel] = {
    m.name: m
    for m in [
        TaesdModel("taesd", 4, False, "Stable Diffusion 1.x/2.x VAE", "madebyollin/taesd"),
        TaesdModel("taesdxl", 4, False, "SDXL VAE", "madebyollin/taesdxl"),
        TaesdModel("taesd3", 16, False, "SD3 VAE", "madebyollin/taesd3"),
        TaesdModel("taef1", 16, False, "FLUX.1 VAE", "madebyollin/taef1"),
        TaesdModel("taef2", 32, True, "FLUX.2 VAE", None),
    ]
}


# --- architecture ----------------------------------------------------------------------


def _conv3(n_in: int, n_out: int, *, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class SoftClamp(nn.Module):
    """``tanh(x / 3) * 3``: keeps decoder inputs in (-3, 3) without a hard edge."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual block; with ``pooled``, the FLUX.2 GroupNorm branch is added to the input first.

    Attribute names (``conv``, ``skip``, ``fuse``, ``pool``) are the original state-dict keys.
    """

    def __init__(self, channels: int, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv3(channels, channels), nn.ReLU(), _conv3(channels, channels), nn.ReLU(), _conv3(channels, channels)
        )
        self.skip = nn.Identity()  # the family only uses equal in/out widths
        self.fuse = nn.ReLU()
        self.pool: nn.Sequential | None = None
        if pooled:
            hidden = 4 * channels
            self.pool = nn.Sequential(
                nn.Conv2d(channels, hidden, 1, bias=False),
                nn.GroupNorm(4, hidden),
                nn.ReLU(),
                nn.Conv2d(hidden, channels, 1, bias=False),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def build_encoder(latent_channels: int, pooled: bool = False) -> nn.Sequential:
    """Encoder: images in [0, 1] (B x 3 x H x W) -> latent (B x C x H/8 x W/8)."""
    layers: list[nn.Module] = [_conv3(3, WIDTH), Block(WIDTH)]
    for stage in range(3):
        deepest = stage == 2
        layers.append(_conv3(WIDTH, WIDTH, stride=2, bias=False))
        layers.extend(Block(WIDTH, pooled and deepest) for _ in range(3))
    layers.append(_conv3(WIDTH, latent_channels))
    return nn.Sequential(*layers)


def build_decoder(latent_channels: int, pooled: bool = False) -> nn.Sequential:
    """Decoder: latent (B x C x h x w) -> images nominally in [0, 1] (B x 3 x 8h x 8w), unclamped."""
    layers: list[nn.Module] = [SoftClamp(), _conv3(latent_channels, WIDTH), nn.ReLU()]
    for stage in range(3):
        deepest = stage == 0
        layers.extend(Block(WIDTH, pooled and deepest) for _ in range(3))
        layers.extend([nn.Upsample(scale_factor=2), _conv3(WIDTH, WIDTH, bias=False)])
    layers.extend([Block(WIDTH), _conv3(WIDTH, 3)])
    return nn.Sequential(*layers)


# --- loading -----------------------------------------------------------------------------


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


def check_latent_options(name: str, latent_bits: int | None, bits_per_value: float | None) -> None:
    """UsageError unless ``latent_bits`` is 1-16 (or None) and ``bits_per_value`` agrees with it."""
    if latent_bits is not None and (
        isinstance(latent_bits, bool) or not isinstance(latent_bits, int) or not 1 <= latent_bits <= 16
    ):
        raise UsageError(
            f"tokenizer {name!r}: latent_bits must be an integer from 1 to 16 (8 is TAESD's own), not {latent_bits!r}"
        )
    if bits_per_value is not None and (
        isinstance(bits_per_value, bool) or not isinstance(bits_per_value, (int, float)) or bits_per_value <= 0
    ):
        raise UsageError(f"tokenizer {name!r}: bits_per_value must be a positive number, not {bits_per_value!r}")
    if latent_bits is not None and bits_per_value is not None and bits_per_value != latent_bits:
        raise UsageError(
            f"tokenizer {name!r}: a latent quantized to {latent_bits} bits is counted at {latent_bits} bits "
            f"per value; drop bits_per_value ({bits_per_value})"
        )


# --- tokenizer ---------------------------------------------------------------------------


class TaesdTokenizer(Tokenizer):
    """A TAESD-family autoencoder as a continuous tokenizer (optionally an 8-bit latent).

    Code: the latent (B x C x H/8 x W/8 float) or, with ``latent_bits``, its integer levels
    (uint8 for up to 8 bits), which is what would be stored.
    """

    kind = "continuous"
    downsample = DOWNSAMPLE

    def __init__(
        self,
        name: str,
        *,
        model: TaesdModel,
        encoder: nn.Sequential,
        decoder: nn.Sequential,
        weights: dict[str, str],
        weights_format: str,
        latent_bits: int | None = None,
        bits_per_value: float | None = None,
        precision: str = "fp32",
        latent_magnitude: float = LATENT_MAGNITUDE,
        latent_shift: float = LATENT_SHIFT,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        check_latent_options(name, latent_bits, bits_per_value)
        self.model = model
        self.precision = precision
        self.dtype = parse_precision(precision)
        self.encoder = encoder.to(self.dtype).eval().requires_grad_(False)
        self.decoder = decoder.to(self.dtype).eval().requires_grad_(False)
        self.weights = weights
        self.weights_format = weights_format
        self.latent_bits = latent_bits
        self._bits_per_value = bits_per_value
        self.latent_magnitude = latent_magnitude
        self.latent_shift = latent_shift

    @property
    def bits_per_value(self) -> float:
        """Bits counted per latent value: ``latent_bits`` when quantized, else ``bits_per_value`` (16)."""
        if self.latent_bits is not None:
            return float(self.latent_bits)
        return float(self._bits_per_value if self._bits_per_value is not None else DEFAULT_BITS_PER_VALUE)

    def modules(self) -> list[nn.Module]:
        return [self.encoder, self.decoder]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        images01 = ((x.to(self.device, torch.float32) + 1) / 2).to(self.dtype)
        latent = self.encoder(images01).float()
        return self.quantize(latent) if self.latent_bits is not None else latent

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        latent = self.dequantize(code) if self.latent_bits is not None else code.float()
        images01 = self.decoder(latent.to(self.device, self.dtype)).float()
        return images01 * 2 - 1

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent -> integer levels in [0, 2**latent_bits - 1] (TAESD's 8-bit storage rule)."""
        levels = 2 ** int(self.latent_bits) - 1
        unit = latent.div(2 * self.latent_magnitude).add(self.latent_shift).clamp(0, 1)
        dtype = torch.uint8 if levels <= 255 else torch.int32
        return unit.mul(levels).round().to(dtype)

    def dequantize(self, code: torch.Tensor) -> torch.Tensor:
        """Integer levels -> latent values (the inverse affine map of :meth:`quantize`)."""
        levels = 2 ** int(self.latent_bits) - 1
        return (code.float() / levels).sub(self.latent_shift).mul(2 * self.latent_magnitude)

    def compression(self, height: int, width: int) -> Compression:
        return continuous_compression(height, width, DOWNSAMPLE, self.model.latent_channels, self.bits_per_value)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "family": "taesd",
            "model": self.model.name,
            "latent_channels": self.model.latent_channels,
            "pooled_blocks": self.model.pooled,
            "weights_format": self.weights_format,
            "weights_sha256": dict(self.weights),
            "latent_bits": self.latent_bits,
            "bits_per_value": self.bits_per_value,
            "latent_magnitude": self.latent_magnitude,
            "latent_shift": self.latent_shift,
            "precision": self.precision,
            "size_policy": self.size_policy,
        }


def get_model(model: str) -> TaesdModel:
    """The family member called ``model``; unknown names are a UsageError listing the known ones."""
    try:
        return MODELS[model]
    except (KeyError, TypeError):
        raise UsageError(f"unknown TAESD model {model!r} (known: {', '.join(MODELS)})") from None


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
        weights={"encoder": sha256_file(encoder_path), "decoder": sha256_file(decoder_path)},
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
        weights={"diffusers": sha256_file(weights_path)},
        weights_format="diffusers",
        latent_magnitude=float(config.get("latent_magnitude", LATENT_MAGNITUDE)),
        latent_shift=float(config.get("latent_shift", LATENT_SHIFT)),
        **options,
    )


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
