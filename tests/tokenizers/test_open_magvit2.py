"""Open-MAGVIT2 family: official test vectors, EMA weights, cards, compression, suite loading.

References: ``tests/data/open_magvit2_tiny`` (a tiny checkpoint in the official release layout
and the outputs of the official TencentARC/SEED-Voken ``VQModel`` for it, recorded by its
``make_vectors.py``; see its README.md) and hand-computed compression figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers_vectors import CodePayload, from_suite, official_config, vector_fixtures

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.cards import get_card, known_cards
from wetok_bench.tokenizers.common.ema_checkpoint import CheckpointError
from wetok_bench.tokenizers.seed_voken import CARDS, OpenMagvit2Tokenizer, create_open_magvit2
from wetok_bench.tokenizers.seed_voken.loading import open_magvit2_config
from wetok_bench.tokenizers.wetok.tokenizer import wetok_compression

VECTORS = Path(__file__).resolve().parents[1] / "data" / "open_magvit2_tiny"
CKPT, CONFIG = VECTORS / "OpenMAGVIT2.ckpt", VECTORS / "config.yaml"
TOL = 1e-4
#: The official output itself moves by 1.9e-4 between memory layouts of the same +-1 latent
#: (see the vectors' README), so the literal forward-path recording is compared more loosely.
FORWARD_TOL = 1e-3


expected, official_sd = vector_fixtures(VECTORS, CKPT)


@pytest.fixture(scope="module")
def tiny() -> OpenMagvit2Tokenizer:
    return create_open_magvit2(checkpoint=str(CKPT), config=str(CONFIG))


def _config(**init_overrides) -> dict:
    return official_config(CONFIG, **init_overrides)


def _decidable(latent: torch.Tensor) -> torch.Tensor:
    """B x h x w: tokens whose every channel is farther from 0 than float rounding."""
    return (latent.abs() >= TOL).all(dim=1)


def test_vectors_latent_codes_and_recon(tiny, expected):
    latent = tiny.encode_latent(expected["input"])
    assert latent.shape == expected["latent"].shape == (2, 10, 16, 16)
    assert (latent - expected["latent"]).abs().max() < TOL

    codes = tiny.encode(expected["input"])
    assert codes.dtype == torch.int64 and codes.shape == (2, 16, 16, 1)
    decidable = _decidable(expected["latent"])
    assert decidable.float().mean() > 0.99
    assert torch.equal(codes[..., 0][decidable], expected["codes"][decidable])
    assert expected["codes"].unique().numel() > 100  # many distinct codes: the bit order is exercised

    recon = tiny.decode(expected["codes"][..., None])
    assert recon.dtype == torch.float32 and recon.shape == (2, 3, 32, 32)
    assert (recon - expected["recon"]).abs().max() < TOL
    assert (recon - expected["recon_forward"]).abs().max() < FORWARD_TOL


def test_reconstruct_bits_and_token_ids(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], with_tokens=True)
    assert (recon - expected["recon"]).abs().max() < TOL
    assert bits.tolist() == [2560.0, 2560.0]  # 16 x 16 tokens x log2(1024) = 10 bits
    assert tiny.codebook_size == 1024
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 256, 1)
    decidable = _decidable(expected["latent"]).reshape(2, 256)
    assert torch.equal(tokens[..., 0][decidable], expected["codes"].reshape(2, 256)[decidable])


def test_zero_latent_is_minus_one_and_channel_c_is_bit_2_to_the_c(tiny):
    latent = torch.zeros(1, 10, 1, 3)
    latent[0, 0, 0, 1] = 0.5  # channel 0 alone -> code 1
    latent[0, 9, 0, 2] = 2.0  # channel 9 alone -> code 512
    assert tiny.quantize(latent)[0, :, 0, 0].tolist() == [-1.0] * 10
    from wetok_bench.tokenizers.wetok.model import latent_to_codes

    assert latent_to_codes(latent, 1).flatten().tolist() == [0, 1, 512]


def test_compression_is_tokens_times_log2_codebook(tiny):
    comp = tiny.compression(32, 32)
    assert comp.tokens == 256 and comp.bits_per_token == 10 and comp.bits_per_image == 2560
    assert comp.ratio == pytest.approx(9.6)  # 32 * 32 * 24 / 2560


@pytest.mark.parametrize(
    "card, size, bits, ratio",
    [
        ("open-magvit2-in256-262144", 256, 16 * 16 * 18, 1572864 / 4608),
        ("open-magvit2-pretrain256-262144", 256, 16 * 16 * 18, 1572864 / 4608),
        ("open-magvit2-pretrain256-16384", 256, 16 * 16 * 14, 1572864 / 3584),
        ("open-magvit2-in128-262144", 128, 16 * 16 * 18, 393216 / 4608),  # f8 at 128x128
    ],
)
def test_card_compression(card, size, bits, ratio):
    config = open_magvit2_config(get_card(card, "open-magvit2").params["config"])
    comp = wetok_compression(config, size, size)
    assert comp.bits_per_image == bits
    assert comp.ratio == pytest.approx(ratio)


def test_cards_are_registered_with_sources_and_status():
    names = {c.name for c in CARDS if c.type == "open-magvit2"}
    assert names == {"open-magvit2-in128-262144", "open-magvit2-in256-262144",
                     "open-magvit2-pretrain256-16384", "open-magvit2-pretrain256-262144"}
    assert names <= set(known_cards())
    card = get_card("open-magvit2-in256-262144", "open-magvit2")
    assert card.source == "hf://TencentARC/Open-MAGVIT2-Tokenizer-256-resolution/imagenet_256_L.ckpt"
    assert card.license == "Apache-2.0" and "2409.04410" in card.paper and "confirmed" in card.notes
    assert "inferred" in get_card("open-magvit2-in128-262144").notes


def test_ema_weights_are_used_not_the_raw_ones(expected, official_sd, tmp_path):
    raw = create_open_magvit2(checkpoint=str(CKPT), config=_config(use_ema=False))
    assert raw.weights == {"encoder": "raw", "decoder": "raw"}
    assert (raw.encode_latent(expected["input"]) - expected["latent"]).abs().max() > 1e-2

    poisoned = {k: torch.full_like(v, float("nan")) if k.startswith(("encoder.", "decoder.")) else v
                for k, v in official_sd.items()}
    path = tmp_path / "poisoned.ckpt"
    torch.save({"state_dict": poisoned}, path)
    tok = create_open_magvit2(checkpoint=str(path), config=str(CONFIG))
    assert tok.weights == {"encoder": "ema", "decoder": "ema"}
    assert (tok.encode_latent(expected["input"]) - expected["latent"]).abs().max() < TOL


def test_missing_ema_encoder_is_an_error_not_a_raw_fallback(official_sd, tmp_path):
    # unlike WeTok's stage-2 checkpoints, no Open-MAGVIT2 release trains with a frozen encoder
    no_ema_encoder = {k: v for k, v in official_sd.items() if not k.startswith("model_ema.encoder")}
    path = tmp_path / "no_ema_encoder.ckpt"
    torch.save({"state_dict": no_ema_encoder}, path)
    with pytest.raises(CheckpointError, match="Open-MAGVIT2 checkpoint holds no EMA weights for the encoder"):
        create_open_magvit2(checkpoint=str(path), config=str(CONFIG))


@pytest.mark.parametrize("family", ["open-magvit2", "ibq", "wetok"])
def test_checkpoint_needing_code_is_refused_without_running_it(family, official_sd, tmp_path):
    """A release that pickles objects (Lightning state, callbacks) is a clear error: read with
    weights_only=True, the object named, nothing of it run; never weights_only=False."""
    folder = {"open-magvit2": VECTORS, "ibq": VECTORS.parent / "ibq_tiny", "wetok": VECTORS.parent / "wetok_tiny_f2"}[family]
    ckpt = next(folder.glob("*.ckpt"))
    state_dict = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    marker = tmp_path / "ran"
    path = tmp_path / "code.ckpt"
    torch.save({"state_dict": state_dict, "callbacks": CodePayload(marker)}, path)
    with pytest.raises(CheckpointError, match=r"is not a tensor-only file: it pickles .*pathlib\.Path.*weights_only=True, which never runs code"):
        create_tokenizer({"type": family, "checkpoint": str(path), "config": str(folder / "config.yaml")})
    assert not marker.exists()


def test_config_errors_are_clear():
    with pytest.raises(UsageError, match="exactly one of 'model'"):
        create_open_magvit2(checkpoint=str(CKPT))
    with pytest.raises(UsageError, match="unknown open-magvit2 model card"):
        create_open_magvit2(model="open-magvit2-in512")
    ibq_yaml = VECTORS.parent / "ibq_tiny" / "config.yaml"
    with pytest.raises(UsageError, match="src.IBQ.models.ibqgan.IBQ"):
        create_open_magvit2(checkpoint=str(CKPT), config=str(ibq_yaml))
    with pytest.raises(UsageError, match="token_factorization"):
        create_open_magvit2(checkpoint=str(CKPT), config=_config(token_factorization=True))
    with pytest.raises(UsageError, match="embed_dim 12 must equal"):
        create_open_magvit2(checkpoint=str(CKPT), config=_config(embed_dim=12))
    with pytest.raises(CheckpointError, match="Open-MAGVIT2 checkpoint does not match its config"):
        wider = _config(n_embed=2**12, embed_dim=12)
        wider["model"]["init_args"]["ddconfig"]["z_channels"] = 12
        create_open_magvit2(checkpoint=str(CKPT), config=wider)
    with pytest.raises(MissingWeightsError, match="TencentARC/Open-MAGVIT2-Tokenizer-256-resolution"):
        create_open_magvit2(model="open-magvit2-in256-262144")


def test_loads_through_a_suite_and_fingerprints(expected, tmp_path):
    import hashlib
    import shutil

    ckpt = shutil.copy(CKPT, tmp_path / "OpenMAGVIT2.ckpt")  # the sha256 sidecar goes beside the copy
    tok = from_suite({"type": "open-magvit2", "name": "omv2", "checkpoint": str(ckpt), "config": str(CONFIG)})
    assert isinstance(tok, OpenMagvit2Tokenizer) and tok.name == "omv2" and tok.kind == "discrete"
    assert tok.downsample == 2
    assert (tok.decode(expected["codes"][..., None]) - expected["recon"]).abs().max() < TOL
    fp = tok.fingerprint()
    assert fp["family"] == "open-magvit2" and fp["config"]["n_embed"] == 1024 and "noise" not in fp
    assert fp["checkpoint"]["sha256"] == hashlib.sha256(CKPT.read_bytes()).hexdigest()


@pytest.mark.parametrize("card", sorted(c.name for c in CARDS if c.type == "open-magvit2"))
def test_card_architecture_equals_the_official_full_size_model(card):
    """Names and shapes of every parameter, against the official VQModel built from the official
    config file of the release (``official_shapes.json``, recorded by ``record_shapes.py``)."""
    from wetok_bench.tokenizers.wetok.model import WeTokModel

    recorded = json.loads((VECTORS / "official_shapes.json").read_text())
    official = recorded["shapes"][recorded["cards"][card]]
    with torch.device("meta"):
        model = WeTokModel(open_magvit2_config(get_card(card, "open-magvit2").params["config"]))
    assert {name: list(p.shape) for name, p in model.named_parameters()} == official
