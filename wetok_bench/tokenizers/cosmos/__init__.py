"""NVIDIA Cosmos image tokenizers (suite ``type: cosmos``), Cosmos-0.1-Tokenizer-CI8x8/CI16x16/DI8x8/
DI16x16: TorchScript ``encoder.jit`` / ``decoder.jit`` pairs.

Suite entries::

    - {type: cosmos, model: cosmos-di16x16}                    # a card: hf://nvidia/Cosmos-0.1-Tokenizer-DI16x16
    - {type: cosmos, path: /models/Cosmos-0.1-Tokenizer-CI8x8, precision: fp32}   # encoder.jit + decoder.jit

Discrete (DI): tokens x log2(64000) bits (FSQ levels 8, 8, 8, 5, 5, 5); continuous (CI): latent
values x ``bits_per_value`` (16 by default). The TorchScript contract is in :mod:`.tokenizer`,
finding and loading the files in :mod:`.loading`.
"""

from __future__ import annotations

from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import BITS_PER_VALUE, PRECISION, SIZE_POLICY, Param, declare, with_default
from wetok_bench.core.weights import HF_PREFIX
from wetok_bench.tokenizers.base import DEFAULT_BITS_PER_VALUE, SizePolicy, parse_precision
from wetok_bench.tokenizers.cards import ModelCard, get_card
from wetok_bench.tokenizers.cosmos.loading import FILES, load_script, locate_file, probe_encoder
from wetok_bench.tokenizers.cosmos.tokenizer import CODEBOOK_SIZE, FSQ_LEVELS, TYPE, CosmosTokenizer

__all__ = ["CARDS", "CODEBOOK_SIZE", "FSQ_LEVELS", "TYPE", "CosmosTokenizer", "create_cosmos"]

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
    factor=lambda spec: spec.get("downsample") or next(
        (card.params["downsample"] for card in CARDS if card.name == spec.get("model")), None),
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
    files = {filename: locate_file(path, filename) for filename in FILES}
    encoder, decoder = (load_script(files[f]).to(dtype) for f in FILES)
    found_kind, found_factor, channels = probe_encoder(encoder, dtype, downsample)
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
