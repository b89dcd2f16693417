"""Model cards of the TAESD family (one per member)."""

from __future__ import annotations

from wetok_bench.tokenizers.base import DEFAULT_BITS_PER_VALUE
from wetok_bench.tokenizers.cards import ModelCard
from wetok_bench.tokenizers.taesd.model import DOWNSAMPLE, MODELS, TaesdModel

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
