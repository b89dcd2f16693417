"""NVIDIA Cosmos image tokenizers (Cosmos-0.1-Tokenizer-CI8x8/CI16x16/DI8x8/DI16x16).

The released checkpoints are TorchScript pairs ``encoder.jit`` / ``decoder.jit`` (NVIDIA's
``cosmos_tokenizer`` package, which only wraps them, is not on PyPI). Their contract, read from
NVIDIA/Cosmos-Tokenizer (``cosmos_tokenizer/image_lib.py`` and ``networks/*_image.py``):

- input B x 3 x H x W in [-1, 1];
- continuous (CI): the encoder returns a tuple whose first item is the latent B x 16 x h x w
  (the rest is the posterior's bookkeeping); the decoder takes that latent;
- discrete (DI): the encoder returns (indices B x h x w int, codes B x 6 x h x w, loss); the
  decoder takes the indices. FSQ levels (8, 8, 8, 5, 5, 5) give 64,000 codes, so a token
  carries log2(64000) = 15.97 bits;
- NVIDIA ran them in bfloat16 only, hence the bf16 default.

TorchScript executes code from the file, so it is loaded only from a folder the user named (or
the card's Hugging Face repo the user chose); nothing is searched for.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from wetok_bench.envvars import expand_path
from wetok_bench.errors import UsageError
from wetok_bench.hashing import cached_sha256
from wetok_bench.params import BITS_PER_VALUE, PRECISION, SIZE_POLICY, Param, declare, with_default
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    discrete_compression,
    parse_precision,
)
from wetok_bench.tokenizers.cards import ModelCard, get_card
from wetok_bench.weights import HF_PREFIX, resolve_checkpoint

TYPE = "cosmos"

#: FSQ levels of the DI tokenizers; their product is the codebook size.
FSQ_LEVELS = (8, 8, 8, 5, 5, 5)
CODEBOOK_SIZE = math.prod(FSQ_LEVELS)  # 64,000

_FILES = ("encoder.jit", "decoder.jit")
_PAPER = "Agarwal et al., Cosmos World Foundation Model Platform for Physical AI (arXiv:2501.03575)"
_LICENSE = "NVIDIA Open Model License"


def _card(name: str, kind: str, factor: int, notes: str) -> ModelCard:
    repo = f"nvidia/Cosmos-0.1-Tokenizer-{'CI' if kind == 'continuous' else 'DI'}{factor}x{factor}"
    return ModelCard(
        name=name,
        type=TYPE,
        params={"path": f"{HF_PREFIX}{repo}", "kind": kind, "downsample": factor},
        source=f"{HF_PREFIX}{repo}",
        license=_LICENSE,
        paper=_PAPER,
        notes=notes,
    )


CARDS: list[ModelCard] = [
    _card("cosmos-ci8x8", "continuous", 8, "16 latent channels at f8: compression 6 at 16 bit/value."),
    _card("cosmos-ci16x16", "continuous", 16, "16 latent channels at f16: compression 24 at 16 bit/value."),
    _card(
        "cosmos-di8x8", "discrete", 8,
        "FSQ 64,000 codes at f8: compression 96.2 (tokens x log2 64000 bits).",
    ),
    _card(
        "cosmos-di16x16", "discrete", 16,
        "FSQ 64,000 codes at f16: compression 384.8 (the WeTok paper rounds to 384, i.e. 16 bits a "
        "token). Published 256x256: Open-MAGVIT2 docs COCO rFID 11.97 / PSNR 19.22 / SSIM 0.48, "
        "ImageNet 4.57 / 19.93 / 0.49; WeTok paper ImageNet rFID 4.57.",
    ),
]


class CosmosTokenizer(Tokenizer):
    """A Cosmos TorchScript encoder/decoder pair.

    Args:
        name: the tokenizer's name in results.
        encoder, decoder: the loaded TorchScript modules.
        files: the ``encoder.jit`` and ``decoder.jit`` paths (hashed for the fingerprint).
        kind: ``continuous`` (CI: the code is the latent) or ``discrete`` (DI: the code is the
            token indices).
        downsample: spatial factor (8 or 16).
        latent_channels: channels of the CI latent (16 for the releases; unused for DI).
        dtype: compute dtype (bf16 is what NVIDIA tested).
        bits_per_value: bits counted per CI latent value for the compression ratio.
    """

    def __init__(
        self,
        name: str,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        *,
        files: dict[str, Path],
        source: str,
        kind: str,
        downsample: int,
        latent_channels: int,
        dtype: torch.dtype = torch.bfloat16,
        bits_per_value: float = DEFAULT_BITS_PER_VALUE,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        self.encoder, self.decoder = encoder, decoder
        self.files = dict(files)
        self.source = source
        self.kind = kind  # type: ignore[assignment]
        self.downsample = downsample
        self.latent_channels = latent_channels
        self.dtype = dtype
        self.bits_per_value = bits_per_value
        self.codebook_size = CODEBOOK_SIZE if kind == "discrete" else None
        self._sha256: dict[str, str] | None = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """CI: latent B x C x h x w; DI: token indices B x h x w (integers in [0, 64000))."""
        return _first(self.encoder(x.to(self.device, self.dtype)))

    def token_ids(self, code: torch.Tensor) -> torch.Tensor | None:
        """DI: indices B x h x w as token ids B x (h*w) x 1 (raster order, int64); CI: None."""
        if self.kind != "discrete":
            return None
        return code.to(torch.int64).reshape(code.shape[0], -1, 1)

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images B x 3 x H x W (nominally [-1, 1]) from a latent (CI) or indices (DI)."""
        if self.kind == "continuous":
            code = code.to(self.device, self.dtype)
        return _first(self.decoder(code.to(self.device)))

    def compression(self, height: int, width: int) -> Compression:
        if self.kind == "discrete":
            return discrete_compression(height, width, self.downsample, CODEBOOK_SIZE, 1)
        return continuous_compression(height, width, self.downsample, self.latent_channels, self.bits_per_value)

    def modules(self) -> list[torch.nn.Module]:
        return [self.encoder, self.decoder]

    def fingerprint(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = {name: cached_sha256(path) for name, path in self.files.items()}
        code = (
            {"fsq_levels": list(FSQ_LEVELS), "codebook_size": CODEBOOK_SIZE}
            if self.kind == "discrete"
            else {"latent_channels": self.latent_channels, "bits_per_value": self.bits_per_value}
        )
        return {
            "family": TYPE,
            "source": self.source,
            "kind": self.kind,
            "downsample": self.downsample,
            "code": code,
            "weights_sha256": self._sha256,
            "precision": str(self.dtype).removeprefix("torch."),
        }


def _check_entry(spec: dict[str, Any]) -> None:
    if spec.get("model") is None and spec.get("path") is None:
        raise UsageError(f"tokenizer {spec.get('name', TYPE)!r} (type {TYPE}): give model (a card name) or path")


@declare(
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a Cosmos model card"),
    Param("path", str, None, path="dir", doc="folder with encoder.jit and decoder.jit, or hf://OWNER/REPO"),
    Param("kind", str, None, choices=("continuous", "discrete"), doc="checked against the encoder"),
    Param("downsample", int, None, range=(1, None), doc="checked against the encoder"),
    with_default(PRECISION, "bf16"),
    BITS_PER_VALUE,
    SIZE_POLICY,
    check=_check_entry,
)
def create_cosmos(
    *,
    name: str = "cosmos",
    model: str | None = None,
    path: str | None = None,
    kind: str | None = None,
    downsample: int | None = None,
    precision: str = "bf16",
    bits_per_value: int = DEFAULT_BITS_PER_VALUE,
    size_policy: SizePolicy = "error",
) -> CosmosTokenizer:
    """Build a Cosmos tokenizer (suite ``type: cosmos``).

    Args:
        model: a card name (``cosmos-ci8x8``, ``cosmos-ci16x16``, ``cosmos-di8x8``,
            ``cosmos-di16x16``); explicit parameters override the card's.
        path: a folder holding ``encoder.jit`` and ``decoder.jit``, or ``hf://OWNER/REPO`` (looked
            up in the Hugging Face cache, downloaded only when online).
        kind: ``continuous`` or ``discrete``; when not given it is read from what the encoder
            returns (integer indices mean discrete).
        downsample: spatial factor; when not given it is measured on a probe image. A given
            value is checked against the files.
        precision: ``bf16`` (default; what NVIDIA tested), ``fp32`` or ``fp16``.
        bits_per_value: bits counted per continuous latent value (CI only).
        size_policy: ``error`` (default) or ``pad`` for sizes not a multiple of the factor.
    """
    if model is not None:
        card = get_card(model, TYPE)
        given = {"path": path, "kind": kind, "downsample": downsample}
        merged = {**card.params, **{k: v for k, v in given.items() if v is not None}}
        path, kind, downsample = merged.get("path"), merged.get("kind"), merged.get("downsample")
    if path is None:
        raise UsageError(
            f"tokenizer {name!r} (type {TYPE}): give model (a card name) or path (a folder with "
            f"encoder.jit and decoder.jit, or hf://nvidia/Cosmos-0.1-Tokenizer-DI16x16)"
        )
    if kind not in (None, "continuous", "discrete"):
        raise UsageError(f"tokenizer {name!r}: kind must be 'continuous' or 'discrete', not {kind!r}")
    dtype = parse_precision(precision)
    files = {filename: _locate(path, filename) for filename in _FILES}
    encoder, decoder = (_load_script(files[f]).to(dtype) for f in _FILES)
    found_kind, found_factor, channels = _probe(encoder, dtype, downsample)
    if kind is not None and kind != found_kind:
        raise UsageError(f"tokenizer {name!r}: kind is {kind!r} but the encoder in {path} is {found_kind}")
    if downsample is not None and downsample != found_factor:
        raise UsageError(
            f"tokenizer {name!r}: downsample is {downsample} but the encoder in {path} downsamples by {found_factor}"
        )
    return CosmosTokenizer(
        name,
        encoder,
        decoder,
        files=files,
        source=str(path) if model is None else f"{model} ({path})",
        kind=found_kind,
        downsample=found_factor,
        latent_channels=channels,
        dtype=dtype,
        bits_per_value=bits_per_value,
        size_policy=size_policy,
    )


def _locate(path: str, filename: str) -> Path:
    """``path/filename`` for a local folder or an ``hf://`` repo (the cache, then a download)."""
    text = os.fspath(path)
    if text.startswith(HF_PREFIX):
        return resolve_checkpoint(f"{text.rstrip('/')}/{filename}", what=f"Cosmos {filename}")
    folder = expand_path(text)
    if not folder.is_dir():
        raise UsageError(f"Cosmos tokenizer folder not found: {folder}")
    file = folder / filename
    if not file.is_file():
        raise UsageError(
            f"{folder} has no {filename}: a Cosmos tokenizer folder holds encoder.jit and decoder.jit "
            f"(e.g. `huggingface-cli download nvidia/Cosmos-0.1-Tokenizer-DI16x16 encoder.jit decoder.jit "
            f"--local-dir {folder}`)"
        )
    return file


def _load_script(file: Path) -> torch.nn.Module:
    try:
        with warnings.catch_warnings():
            # torch >= 2.14 deprecates TorchScript; NVIDIA ships only TorchScript, so the warning
            # would be noise the user cannot act on
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
            return torch.jit.load(str(file), map_location="cpu").eval()
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"{file} is not a TorchScript file torch.jit.load can read: {error}") from None


def _first(output: Any) -> torch.Tensor:
    """The first tensor of a Cosmos module's output (a tensor or a tuple)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _probe(encoder: torch.nn.Module, dtype: torch.dtype, downsample: int | None) -> tuple[str, int, int]:
    """(kind, downsample, latent channels) read from the encoder's output on a blank image."""
    size = 64 if downsample is None else 4 * downsample
    with torch.inference_mode():
        out = _first(encoder(torch.zeros(1, 3, size, size, dtype=dtype)))
    if out.is_floating_point():
        if out.ndim != 4:
            raise UsageError(f"Cosmos continuous encoder returned shape {tuple(out.shape)}, expected B x C x h x w")
        return "continuous", size // out.shape[-1], int(out.shape[1])
    if out.ndim != 3:
        raise UsageError(f"Cosmos discrete encoder returned indices of shape {tuple(out.shape)}, expected B x h x w")
    return "discrete", size // out.shape[-1], 0
