"""LlamaGen VQ family (``type: llamagen-vq``): official test vectors, checkpoint rules, cards.

References: ``tests/data/llamagen_vq_tiny`` (a tiny checkpoint in the release layout
``{"model": state_dict}`` and the outputs of the official ``vq_model.py`` for it, recorded by
its ``make_vectors.py``), the parameter counts in LlamaGen's README, hand-computed bit counts.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch
from helpers_vectors import CodePayload, from_suite, vector_fixtures

from wetok_bench.config.suite import parse_suite
from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.base import ImageNoise
from wetok_bench.tokenizers.cards import get_card
from wetok_bench.tokenizers.common.vq_checkpoint import VQCheckpointError
from wetok_bench.tokenizers.common.vq_model import VQAutoencoder
from wetok_bench.tokenizers.common.vq_tokenizer import VQTokenizer
from wetok_bench.tokenizers.llamagen import create_llamagen_vq
from wetok_bench.tokenizers.llamagen.loading import MODEL_ARGS, PRESETS, llamagen_arch
from wetok_bench.tokenizers.registry import factory_parameters

VECTORS = Path(__file__).resolve().parents[1] / "data" / "llamagen_vq_tiny"
CKPT = VECTORS / "vq_tiny.pt"
TOL = 1e-4
#: The tiny model's ModelArgs (and the ch / num_res_blocks its make_vectors.py used).
TINY = {"model": "VQ-16", "codebook_size": 64, "codebook_embed_dim": 4, "encoder_ch_mult": [1, 1],
        "decoder_ch_mult": [1, 1], "z_channels": 32, "ch": 32, "num_res_blocks": 1}


expected, official_sd = vector_fixtures(VECTORS, CKPT, weights_key="model")


@pytest.fixture(scope="module")
def tiny() -> VQTokenizer:
    return create_llamagen_vq(checkpoint=str(CKPT), **TINY)


def _save(obj: dict, path: Path) -> str:
    torch.save(obj, path)
    return str(path)


def test_vectors_latent_codes_and_recon(tiny, expected):
    latent = tiny.encode_latent(expected["input"])
    assert latent.shape == expected["latent"].shape == (2, 4, 12, 8)
    assert (latent - expected["latent"]).abs().max() < TOL

    codes = tiny.encode(expected["input"])
    assert codes.dtype == torch.int64 and codes.shape == expected["codes"].shape
    decidable = expected["code_margin"] >= TOL  # best and second-best code further apart than rounding
    assert decidable.float().mean() > 0.9
    assert torch.equal(codes[decidable], expected["codes"][decidable])

    recon = tiny.decode(expected["codes"])
    assert recon.dtype == torch.float32 and recon.shape == expected["recon"].shape
    assert (recon - expected["recon"]).abs().max() < TOL


def test_reconstruct_tokens_and_bits(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], noise=ImageNoise.for_images(0, ["a", "b"]),
                                           with_tokens=True)
    assert (recon - expected["recon"]).abs().max() < TOL
    # 12 x 8 tokens x log2(64) = 6 bits
    assert bits.tolist() == [12 * 8 * 6.0] * 2
    assert tiny.codebook_size == 64
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 96, 1)
    decidable = (expected["code_margin"] >= TOL).reshape(2, 96)
    assert torch.equal(tokens[..., 0][decidable], expected["codes"].reshape(2, 96)[decidable])


def test_codebook_is_l2_normalised_at_use(expected, official_sd):
    rows = official_sd["quantize.embedding.weight"].norm(dim=1)
    assert (rows - 1).abs().max() > 0.2  # the stored rows are not unit length ...
    plain = create_llamagen_vq(checkpoint=str(CKPT), **{**TINY, "codebook_l2_norm": False})
    # ... so skipping the normalisation changes both the codes and the decoded images
    assert not torch.equal(plain.encode(expected["input"]), expected["codes"])
    assert (plain.decode(expected["codes"]) - expected["recon"]).abs().max() > 1e-2


def test_suite_entry_builds_it(expected):
    tok = from_suite({"name": "lg", "type": "llamagen-vq", "checkpoint": str(CKPT), **TINY})
    assert isinstance(tok, VQTokenizer) and tok.name == "lg" and tok.kind == "discrete" and tok.downsample == 2
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    assert {"codebook_size", "codebook_embed_dim", "codebook_l2_norm", "encoder_ch_mult", "decoder_ch_mult",
            "z_channels", "dropout_p", "model", "checkpoint"} <= set(factory_parameters("llamagen-vq"))
    with pytest.raises(UsageError, match="has no parameter 'codebook_embed'"):
        create_tokenizer({"type": "llamagen-vq", "checkpoint": str(CKPT), "codebook_embed": 8})


def test_ema_then_model_then_state_dict(expected, official_sd, tmp_path):
    poisoned = {k: torch.full_like(v, float("nan")) for k, v in official_sd.items()}
    # a training checkpoint: EMA weights preferred, raw ones beside them, args as a Namespace
    training = {"model": poisoned, "ema": official_sd, "steps": 10, "args": argparse.Namespace(vq_model="VQ-16")}
    tok = create_llamagen_vq(checkpoint=_save(training, tmp_path / "train.pt"), **TINY)
    assert tok.weights == "ema"
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    tok = create_llamagen_vq(checkpoint=_save({"state_dict": official_sd}, tmp_path / "sd.pt"), **TINY)
    assert tok.weights == "state_dict"
    assert (tok.encode_latent(expected["input"]) - expected["latent"]).abs().max() < TOL
    with pytest.raises(VQCheckpointError, match="holds none of 'ema', 'model', 'state_dict'"):
        create_llamagen_vq(checkpoint=_save({"weights": 1}, tmp_path / "none.pt"), **TINY)


def test_checkpoint_needing_code_is_refused_without_running_it(official_sd, tmp_path):
    marker = tmp_path / "ran"
    path = _save({"model": official_sd, "extra": CodePayload(marker)}, tmp_path / "code.pt")
    with pytest.raises(VQCheckpointError, match=r"is not a tensor-only file: it pickles .*pathlib"):
        create_llamagen_vq(checkpoint=path, **TINY)
    assert not marker.exists()


def test_strict_load_names_what_does_not_fit(official_sd, tmp_path):
    partial = {k: v for k, v in official_sd.items() if k != "decoder.conv_blocks.1.res.0.conv1.weight"}
    with pytest.raises(VQCheckpointError, match=r"decoder\.up\.0\.block\.0\.conv1\.weight"):
        create_llamagen_vq(checkpoint=_save({"model": partial}, tmp_path / "partial.pt"), **TINY)
    extra = {**official_sd, "quantize.extra_buffer": torch.zeros(3)}
    with pytest.raises(VQCheckpointError, match="does not build: quantize.extra_buffer"):
        create_llamagen_vq(checkpoint=_save({"model": extra}, tmp_path / "extra.pt"), **TINY)
    with pytest.raises(VQCheckpointError, match=r"quantize\.embedding\.weight: checkpoint \(64, 4\), config \(128, 4\)"):
        create_llamagen_vq(checkpoint=str(CKPT), **{**TINY, "codebook_size": 128})
    # the release's training buffer is not a model weight, and its absence is fine too
    no_usage = {k: v for k, v in official_sd.items() if k != "quantize.codebook_used"}
    create_llamagen_vq(checkpoint=_save({"model": no_usage}, tmp_path / "no_usage.pt"), **TINY)


def test_bad_inputs(tiny, expected):
    with pytest.raises(UsageError, match="multiple of its downsample factor 2"):
        tiny.encode(torch.zeros(1, 3, 23, 16))
    with pytest.raises(UsageError, match=r"\[0, 64\)"):
        tiny.decode(torch.full((1, 4, 4), 64))
    with pytest.raises(UsageError, match="integer"):
        tiny.decode(expected["codes"].float())
    with pytest.raises(UsageError, match="unknown model 'VQ-32'"):
        create_llamagen_vq(checkpoint=str(CKPT), model="VQ-32")
    with pytest.raises(UsageError, match="'checkpoint' is required"):
        create_llamagen_vq(model="VQ-8")
    with pytest.raises(UsageError, match="positive integers"):
        create_llamagen_vq(checkpoint=str(CKPT), **{**TINY, "encoder_ch_mult": []})


def _meta_tokenizer(**args) -> VQTokenizer:
    with torch.device("meta"):
        model = VQAutoencoder(llamagen_arch({**MODEL_ARGS, **args}))
    return VQTokenizer(model, name="meta", family="llamagen-vq")


@pytest.mark.parametrize("preset, millions", [("VQ-16", 72), ("VQ-8", 70)])
def test_preset_sizes_match_the_readme(preset, millions):
    # LlamaGen's README: vq_ds16_c2i 72M parameters, vq_ds8_c2i 70M
    tok = _meta_tokenizer(encoder_ch_mult=PRESETS[preset], decoder_ch_mult=PRESETS[preset])
    assert round(sum(p.numel() for p in tok.model.parameters()) / 1e6) == millions


@pytest.mark.parametrize("card, downsample, tokens", [("llamagen-vq16", 16, 256), ("llamagen-vq8", 8, 1024)])
def test_card_compression_at_256(card, downsample, tokens):
    params = dict(get_card(card, "llamagen-vq").params)
    preset = PRESETS[params.pop("model")]
    tok = _meta_tokenizer(encoder_ch_mult=preset, decoder_ch_mult=preset, **params)
    assert tok.downsample == downsample and tok.codebook_size == 16384
    comp = tok.compression(256, 256)
    assert comp.tokens == tokens and comp.bits_per_image == tokens * 14  # log2(16384) = 14
    assert math.isclose(comp.ratio, 256 * 256 * 24 / (tokens * 14))  # 438.86 (f16), 109.71 (f8)


def test_cards_and_offline_sources():
    card = get_card("llamagen-vq16", "llamagen-vq")
    assert card.source == "hf://FoundationVision/LlamaGen/vq_ds16_c2i.pt" and card.license == "MIT"
    assert get_card("llamagen-vq8", "llamagen-vq").source == "hf://FoundationVision/LlamaGen/vq_ds8_c2i.pt"
    with pytest.raises(MissingWeightsError, match="FoundationVision/LlamaGen"):
        create_tokenizer({"type": "llamagen-vq", "model": "llamagen-vq16"})


@pytest.mark.parametrize("preset", ["VQ-16", "VQ-8"])
def test_full_size_presets_have_the_official_names_and_shapes(preset):
    """Every key of the official full-size model (recorded by record_shapes.py), renamed, is one
    of ours with the same shape, and nothing else: the released files load as they are."""
    from wetok_bench.tokenizers.llamagen.loading import IGNORED_KEYS, official_key_to_ours

    official = json.loads((VECTORS / "official_shapes.json").read_text())[preset]
    levels = len(PRESETS[preset])
    renamed = {official_key_to_ours(k, levels): shape for k, shape in official.items() if k not in IGNORED_KEYS}
    tok = _meta_tokenizer(encoder_ch_mult=PRESETS[preset], decoder_ch_mult=PRESETS[preset])
    ours = {name: list(p.shape) for name, p in tok.model.named_parameters()}
    assert ours == renamed


def test_suite_validation_names_bad_parameters():
    from wetok_bench.config.suite import SuiteError

    entry = {"type": "llamagen-vq", "checkpoint": str(CKPT), "model": "VQ-4", "codebook_size": "big",
             "encoder_ch_mult": [1, "2"]}
    with pytest.raises(SuiteError) as err:
        parse_suite({"name": "t", "datasets": [{"name": "samples", "type": "samples"}], "tokenizers": [entry]})
    message = str(err.value)
    assert "tokenizers[0].model: 'VQ-4' is not one of VQ-16, VQ-8" in message
    assert "tokenizers[0].codebook_size" in message and "'big'" in message
    assert "tokenizers[0].encoder_ch_mult" in message


def test_fingerprint_hashes_the_checkpoint(tmp_path):
    import hashlib
    import shutil

    path = tmp_path / "vq.pt"
    shutil.copyfile(CKPT, path)  # the hash is cached beside the file: keep it out of tests/data
    fp = create_llamagen_vq(checkpoint=str(path), **TINY).fingerprint()
    assert fp["checkpoint"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fp["checkpoint"]["weights"] == "model" and fp["family"] == "llamagen-vq"
    assert fp["arch"]["l2_norm"] is True and fp["settings"]["codebook_size"] == 64
