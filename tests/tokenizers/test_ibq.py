"""IBQ family: official test vectors, dot-product codes, EMA weights, cards, suite loading.

References: ``tests/data/ibq_tiny`` (a tiny checkpoint in the official release layout and the
outputs of the official TencentARC/SEED-Voken ``IBQ`` model for it, recorded by its
``make_vectors.py``; see its README.md) and hand-computed compression figures. The same
vectors check the taming encoder/decoder (:mod:`wetok_bench.tokenizers.common.taming_model`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers_vectors import from_suite, official_config, vector_fixtures

from wetok_bench.config.suite import parse_suite
from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.tokenizers.base import discrete_compression
from wetok_bench.tokenizers.cards import get_card, known_cards
from wetok_bench.tokenizers.common.ema_checkpoint import CheckpointError
from wetok_bench.tokenizers.seed_voken import CARDS, IBQTokenizer, create_ibq
from wetok_bench.tokenizers.seed_voken.loading import ibq_config

VECTORS = Path(__file__).resolve().parents[1] / "data" / "ibq_tiny"
CKPT, CONFIG = VECTORS / "IBQ.ckpt", VECTORS / "config.yaml"
TOL = 1e-4
SIZES = ["", "_48"]  # the 32x32 batch (the config's resolution) and one 48x48 image


expected, official_sd = vector_fixtures(VECTORS, CKPT)


@pytest.fixture(scope="module")
def tiny() -> IBQTokenizer:
    return create_ibq(checkpoint=str(CKPT), config=str(CONFIG))


def _config(**init_overrides) -> dict:
    return official_config(CONFIG, **init_overrides)


@pytest.mark.parametrize("size", SIZES)
def test_vectors_latent_codes_and_recon(tiny, expected, size):
    x = expected[f"input{size}"]
    latent = tiny.encode_latent(x)
    assert latent.shape == expected[f"latent{size}"].shape
    assert (latent - expected[f"latent{size}"]).abs().max() < TOL

    codes = tiny.encode(x)
    assert codes.dtype == torch.int64 and codes.shape == expected[f"codes{size}"].shape
    decidable = expected[f"margin{size}"] > TOL  # best and second-best dot products apart
    assert decidable.float().mean() > 0.99
    assert torch.equal(codes[decidable], expected[f"codes{size}"][decidable])

    recon = tiny.decode(expected[f"codes{size}"])
    assert recon.dtype == torch.float32 and recon.shape == x.shape
    assert (recon - expected[f"recon{size}"]).abs().max() < TOL  # the official encode -> decode path
    assert (recon - expected[f"recon_codes{size}"]).abs().max() < TOL  # the official decode of codes


def test_codes_are_the_largest_dot_product_not_the_nearest_entry(tiny, expected, official_sd):
    latent, codes = expected["latent"], expected["codes"]
    codebook = official_sd["model_ema.quantizeembeddingweight"]
    flat = latent.permute(0, 2, 3, 1).reshape(-1, latent.shape[1])
    nearest = torch.cdist(flat, codebook).argmin(dim=1).reshape(codes.shape)
    assert (nearest != codes).float().mean() > 0.1  # the vectors tell the two rules apart
    assert torch.equal(tiny.encode(expected["input"]), codes)


def test_reconstruct_bits_and_token_ids(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], with_tokens=True)
    assert (recon - expected["recon"]).abs().max() < TOL
    assert bits.tolist() == [1536.0, 1536.0]  # 16 x 16 tokens x log2(64) = 6 bits
    assert tiny.codebook_size == 64
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 256, 1)
    assert torch.equal(tokens[..., 0], expected["codes"].reshape(2, 256))
    _, bits_48 = tiny.reconstruct(expected["input_48"])
    assert bits_48.tolist() == [3456.0]  # 24 x 24 tokens x 6 bits


def test_compression_is_tokens_times_log2_codebook(tiny):
    comp = tiny.compression(32, 32)
    assert comp.tokens == 256 and comp.bits_per_token == 6 and comp.bits_per_image == 1536
    assert comp.ratio == pytest.approx(16.0)  # 32 * 32 * 24 / 1536


@pytest.mark.parametrize(
    "card, bits",
    [
        ("ibq-in256-1024", 16 * 16 * 10),
        ("ibq-in256-8192", 16 * 16 * 13),
        ("ibq-in256-16384", 16 * 16 * 14),
        ("ibq-in256-262144", 16 * 16 * 18),
        ("ibq-pretrain256-16384", 16 * 16 * 14),
        ("ibq-pretrain256-262144", 16 * 16 * 18),
    ],
)
def test_card_compression_at_256(card, bits):
    arch = ibq_config(get_card(card, "ibq").params["config"])
    assert arch.downsample == 16 and arch.embed_dim == 256 and arch.ddconfig.attn_resolutions == (16,)
    comp = discrete_compression(256, 256, arch.downsample, arch.n_embed)
    assert comp.bits_per_image == bits
    assert comp.ratio == pytest.approx(256 * 256 * 24 / bits)


def test_cards_are_registered_with_sources_and_status():
    names = {c.name for c in CARDS if c.type == "ibq"}
    assert names == {"ibq-in256-1024", "ibq-in256-8192", "ibq-in256-16384", "ibq-in256-262144",
                     "ibq-pretrain256-16384", "ibq-pretrain256-262144"}
    assert names <= set(known_cards())
    card = get_card("ibq-in256-16384", "ibq")
    assert card.source == "hf://TencentARC/IBQ-Tokenizer-16384/imagenet256_16384.ckpt"
    assert card.license == "Apache-2.0" and "2412.02692" in card.paper and "confirmed" in card.notes
    assert "inferred" in get_card("ibq-in256-262144").notes


def test_ema_weights_of_every_part_are_used(expected, official_sd, tmp_path):
    raw = create_ibq(checkpoint=str(CKPT), config=_config(use_ema=False))
    assert set(raw.weights.values()) == {"raw"}
    assert (raw.encode_latent(expected["input"]) - expected["latent"]).abs().max() > 1e-2

    raw_prefixes = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.", "quantize.")
    poisoned = {k: torch.full_like(v, float("nan")) if k.startswith(raw_prefixes) else v
                for k, v in official_sd.items()}
    path = tmp_path / "poisoned.ckpt"
    torch.save({"state_dict": poisoned}, path)
    tok = create_ibq(checkpoint=str(path), config=str(CONFIG))
    assert tok.weights == dict.fromkeys(("encoder", "decoder", "quant_conv", "post_quant_conv", "quantize"), "ema")
    assert torch.equal(tok.encode(expected["input"]), expected["codes"])
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL


def test_checkpoint_problems_are_clear_errors(official_sd, tmp_path):
    partial = {k: v for k, v in official_sd.items() if k != "model_ema.quantizeembeddingweight"}
    torch.save({"state_dict": partial}, tmp_path / "partial.ckpt")
    with pytest.raises(CheckpointError, match="IBQ checkpoint holds no EMA weights for the quantize"):
        create_ibq(checkpoint=str(tmp_path / "partial.ckpt"), config=str(CONFIG))
    with pytest.raises(CheckpointError, match=r"IBQ checkpoint does not match its config: shape mismatch.*quantize"):
        create_ibq(checkpoint=str(CKPT), config=_config(n_embed=128))
    no_attn = _config()
    no_attn["model"]["init_args"]["ddconfig"]["attn_resolutions"] = []
    with pytest.raises(CheckpointError, match=r"weights the config does not build: model_ema\.decoderup1attn0"):
        create_ibq(checkpoint=str(CKPT), config=no_attn)
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"IBQ checkpoint .*junk\.ckpt"):
        create_ibq(checkpoint=str(tmp_path / "junk.ckpt"), config=str(CONFIG))


def test_bad_inputs_and_configs_are_usage_errors(tiny, expected):
    with pytest.raises(UsageError, match="not a multiple of its downsample factor 2"):
        tiny.encode(torch.zeros(1, 3, 33, 32))
    with pytest.raises(UsageError, match=r"codes must lie in \[0, 64\)"):
        tiny.decode(torch.full((1, 4, 4), 64))
    with pytest.raises(UsageError, match="integer tensor"):
        tiny.decode(expected["codes"].float())
    with pytest.raises(UsageError, match="exactly one of 'model'"):
        create_ibq(checkpoint=str(CKPT))
    with pytest.raises(UsageError, match="unknown ibq model card"):
        create_ibq(model="ibq-in256-4096")
    omv2_yaml = VECTORS.parent / "open_magvit2_tiny" / "config.yaml"
    with pytest.raises(UsageError, match="lfqgan.VQModel"):
        create_ibq(checkpoint=str(CKPT), config=str(omv2_yaml))
    with pytest.raises(UsageError, match="remap"):
        create_ibq(checkpoint=str(CKPT), config=_config(remap="used.npy"))
    odd_width = _config()
    odd_width["model"]["init_args"]["ddconfig"]["ch"] = 48
    with pytest.raises(UsageError, match=r"block widths \[48\] \(ch x ch_mult\) are not multiples of 32"):
        create_ibq(checkpoint=str(CKPT), config=odd_width)
    with pytest.raises(UsageError, match="ibq runs in fp32 or bf16"):
        create_ibq(checkpoint=str(CKPT), config=str(CONFIG), precision="fp16")
    with pytest.raises(MissingWeightsError, match="TencentARC/IBQ-Tokenizer-16384"):
        create_ibq(model="ibq-in256-16384")


def test_bf16_stays_close(expected):
    tok = create_ibq(checkpoint=str(CKPT), config=str(CONFIG), precision="bf16")
    recon = tok.decode(expected["codes"])
    assert recon.dtype == torch.float32
    assert (recon - expected["recon"]).abs().max() < 0.1  # bf16 keeps ~3 significant digits


def test_loads_through_a_suite_and_fingerprints(expected, tmp_path):
    import hashlib
    import shutil

    ckpt = shutil.copy(CKPT, tmp_path / "IBQ.ckpt")  # the sha256 sidecar goes beside the copy
    tok = from_suite({"type": "ibq", "name": "ibq-tiny", "checkpoint": str(ckpt), "config": str(CONFIG)})
    assert isinstance(tok, IBQTokenizer) and tok.name == "ibq-tiny" and tok.kind == "discrete"
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    fp = tok.fingerprint()
    assert fp["family"] == "ibq" and fp["arch"]["n_embed"] == 64
    assert fp["checkpoint"]["sha256"] == hashlib.sha256(CKPT.read_bytes()).hexdigest()
    assert fp["checkpoint"]["weights"] == dict.fromkeys(("encoder", "decoder", "quant_conv", "post_quant_conv", "quantize"), "ema")


def test_code_search_in_blocks_gives_the_same_codes(tiny, expected, monkeypatch):
    from wetok_bench.tokenizers.seed_voken import tokenizer as ibq

    monkeypatch.setattr(ibq, "_SCORE_CHUNK", 64 * 3)  # 3 positions per block, uneven split
    assert torch.equal(tiny.encode(expected["input"]), expected["codes"])


@pytest.mark.parametrize("family, card", [("ibq", "ibq-in256-1024"), ("open-magvit2", "open-magvit2-in256-262144")])
def test_suite_validation_reads_the_declared_parameters(family, card):
    from wetok_bench.config.suite import SuiteError

    entries = [
        {"type": family, "name": "both", "model": card, "config": str(CONFIG), "checkpoint": str(CKPT)},
        {"type": family, "name": "fp16", "config": str(CONFIG), "checkpoint": str(CKPT), "precision": "fp16"},
        {"type": family, "name": "nockpt", "config": str(CONFIG)},
        {"type": family, "name": "typo", "config": str(CONFIG), "checkpoint": str(CKPT), "size_polcy": "pad"},
        {"type": family, "name": "card", "model": f"{card}-x"},
    ]
    with pytest.raises(SuiteError) as err:
        parse_suite({"name": "s", "datasets": [{"type": "samples"}], "tokenizers": entries, "metrics": ["psnr"]})
    problems = dict(err.value.problems)
    assert "give exactly one of 'model'" in problems["tokenizers[0]"]
    assert "'fp16' is not one of fp32, bf16" in problems["tokenizers[1].precision"]
    assert "'checkpoint' is required with 'config'" in problems["tokenizers[2]"]
    assert "did you mean 'size_policy'" in problems["tokenizers[3].size_polcy"]
    assert card in problems["tokenizers[4].model"]


@pytest.mark.parametrize("card", sorted(c.name for c in CARDS if c.type == "ibq"))
def test_card_architecture_equals_the_official_full_size_model(card):
    """Names and shapes of every parameter, against the official IBQ model built from the official
    config file of the release (``official_shapes.json``, recorded by ``record_shapes.py``)."""
    import json

    from wetok_bench.tokenizers.common.vq_model import VQAutoencoder

    recorded = json.loads((VECTORS / "official_shapes.json").read_text())
    official = {**recorded["shapes"], "quantize.embedding.weight": [recorded["n_embed"][card], 256]}
    with torch.device("meta"):
        model = VQAutoencoder(ibq_config(get_card(card, "ibq").params["config"]).arch)
    assert {name: list(p.shape) for name, p in model.named_parameters()} == official
