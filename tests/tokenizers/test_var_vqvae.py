"""VAR VQVAE family (``type: var-vqvae``): official test vectors, checkpoint rules, cards.

References: ``tests/data/var_vqvae`` (a tiny checkpoint in the release layout, a plain state
dict, with the outputs of the official ``models/vqvae.py`` for it, the official phi assignment
and the full-size released architecture's state-dict shapes, all recorded by its
``make_vectors.py``) and hand-computed bit counts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from helpers_vectors import CodePayload, from_suite, vector_fixtures

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.base import ImageNoise
from wetok_bench.tokenizers.cards import get_card
from wetok_bench.tokenizers.common.vq_checkpoint import VQCheckpointError
from wetok_bench.tokenizers.var import VarTokenizer, create_var_vqvae
from wetok_bench.tokenizers.var.loading import IGNORED_KEYS
from wetok_bench.tokenizers.var.model import PATCH_NUMS_256, PATCH_NUMS_512, VarArch, VarVQVAE, phi_indices

VECTORS = Path(__file__).resolve().parents[1] / "data" / "var_vqvae"
CKPT = VECTORS / "var_vqvae_tiny.pth"
TOL = 1e-5
#: The tiny model make_vectors.py built (official classes, small widths; released scales).
TINY = {"vocab_size": 64, "z_channels": 8, "ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1}

expected, _ = vector_fixtures(VECTORS, CKPT)


@pytest.fixture(scope="module")
def official_sd() -> dict[str, torch.Tensor]:
    return torch.load(CKPT, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def facts() -> dict:
    return json.loads((VECTORS / "official_facts.json").read_text())


@pytest.fixture(scope="module")
def tiny() -> VarTokenizer:
    return create_var_vqvae(checkpoint=str(CKPT), **TINY)


def _save(obj, path: Path) -> str:
    torch.save(obj, path)
    return str(path)


def test_vectors_latent_codes_fhat_and_recon(tiny, expected):
    latent = tiny.encode_latent(expected["input"])
    assert latent.shape == expected["latent"].shape == (2, 8, 16, 16)
    assert (latent - expected["latent"]).abs().max() < TOL

    codes = tiny.quantize(expected["latent"])
    assert [tuple(c.shape) for c in codes] == [(2, p, p) for p in PATCH_NUMS_256]
    assert all(c.dtype == torch.int64 for c in codes)
    for ours, official in zip(codes, expected["codes"]):
        assert torch.equal(ours, official)
    assert torch.equal(torch.cat([c.flatten() for c in tiny.encode(expected["input"])]),
                       torch.cat([c.flatten() for c in expected["codes"]]))

    assert (tiny.codes_to_latent(expected["codes"]) - expected["f_hat"]).abs().max() < TOL
    recon = tiny.decode(expected["codes"])
    assert recon.dtype == torch.float32 and recon.shape == (2, 3, 32, 32)
    assert (recon - expected["recon"]).abs().max() < TOL
    # the official code clamps; ours is clamped by the protocol instead, to the same values
    assert (expected["recon"].abs() > 1).any()
    assert (recon.clamp(-1, 1) - expected["recon_clamped"]).abs().max() < TOL
    assert (recon.clamp(-1, 1) - expected["recon_from_codes"]).abs().max() < TOL


def test_reconstruct_tokens_and_bits(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], noise=ImageNoise.for_images(0, ["a", "b"]),
                                           with_tokens=True)
    assert (recon - expected["recon"]).abs().max() < TOL
    # 1 + 4 + 9 + 16 + 25 + 36 + 64 + 100 + 169 + 256 = 680 tokens x log2(64) = 6 bits
    assert bits.tolist() == [680 * 6.0] * 2
    assert tiny.codebook_size == 64 and tiny.kind == "discrete"
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 680, 1)
    assert torch.equal(tokens[..., 0], torch.cat([c.reshape(2, -1) for c in expected["codes"]], dim=1))


def test_pad_policy_reaches_the_scales_size(expected):
    tok = create_var_vqvae(checkpoint=str(CKPT), size_policy="pad", **TINY)
    recon, bits = tok.reconstruct(expected["input"][..., :31, :31])
    assert recon.shape == (2, 3, 31, 31) and bits.tolist() == [4080.0, 4080.0]


def test_phi_assignment_is_the_official_one(facts):
    for case, official in facts["phi_assignment"].items():
        n_scales, n_phis = map(int, case.split("x"))
        assert phi_indices(n_scales, n_phis) == official, case
    # the released 10 scales: scale 3 (2/9, equidistant from the first two ticks) takes phi 1
    assert phi_indices(10, 4)[2] == 1


def test_full_size_architecture_has_the_official_names_and_shapes(facts):
    """Every key of the official full-size model (ch 160, 4096 x 32, 4 phis) is one of our
    parameters with the same shape, or the ignored training buffer, and nothing else."""
    official = facts["full_size_state_dict"]
    with torch.device("meta"):
        model = VarVQVAE(VarArch())
    ours = {name: list(p.shape) for name, p in model.named_parameters()}
    assert ours == {k: v for k, v in official.items() if k not in IGNORED_KEYS}
    assert official["quantize.ema_vocab_hit_SV"] == [10, 4096]
    assert sum(p.numel() for p in model.parameters()) == facts["full_size_parameters"] == 108_948_355
    assert "encoder.mid.attn_1.qkv.weight" in ours and ours["quantize.quant_resi.qresi_ls.3.weight"] == [32, 32, 3, 3]


@pytest.mark.parametrize("card, side, tokens", [("var-vqvae-256", 256, 680), ("var-vqvae-512", 512, 2240)])
def test_card_compression(card, side, tokens):
    params = get_card(card, "var-vqvae").params
    with torch.device("meta"):
        tok = VarTokenizer(VarVQVAE(VarArch(patch_nums=tuple(params["patch_nums"]))))
    comp = tok.compression(side, side)
    assert tok.downsample == 16 and tok.codebook_size == 4096
    assert comp.tokens == tokens and comp.bits_per_image == tokens * 12  # log2(4096) = 12
    assert math.isclose(comp.ratio, side * side * 24 / (tokens * 12))  # 192.75 at 256, 234.06 at 512
    assert tuple(params["patch_nums"]) == {256: PATCH_NUMS_256, 512: PATCH_NUMS_512}[side]
    with pytest.raises(UsageError, match="patch_nums"):
        tok.compression(side * 2, side * 2)


def test_cards_and_offline_sources():
    card = get_card("var-vqvae-256", "var-vqvae")
    assert card.source == "hf://FoundationVision/var/vae_ch160v4096z32.pth" and card.license == "MIT"
    assert get_card("var-vqvae-512", "var-vqvae").source == card.source
    with pytest.raises(MissingWeightsError, match=r"vae_ch160v4096z32\.pth.*put it at"):
        create_tokenizer({"type": "var-vqvae", "model": "var-vqvae-256"})


def test_suite_entry_builds_it(expected):
    tok = from_suite({"name": "var", "type": "var-vqvae", "checkpoint": str(CKPT), **TINY,
                      "patch_nums": list(PATCH_NUMS_256)})
    assert isinstance(tok, VarTokenizer) and tok.name == "var" and tok.downsample == 2
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    with pytest.raises(UsageError, match="has no parameter 'patch_num'"):
        create_tokenizer({"type": "var-vqvae", "checkpoint": str(CKPT), "patch_num": [1, 2]})


def test_checkpoint_layouts_and_strict_load(expected, official_sd, tmp_path):
    # a trainer state holds the VQVAE under vae_local; the training buffer may be absent
    no_buffer = {k: v for k, v in official_sd.items() if k not in IGNORED_KEYS}
    tok = create_var_vqvae(checkpoint=_save({"vae_local": no_buffer, "config": {}}, tmp_path / "t.pth"), **TINY)
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    partial = {k: v for k, v in official_sd.items() if k != "quantize.quant_resi.qresi_ls.2.bias"}
    with pytest.raises(VQCheckpointError, match=r"missing: quantize\.quant_resi\.qresi_ls\.2\.bias"):
        create_var_vqvae(checkpoint=_save(partial, tmp_path / "partial.pth"), **TINY)
    with pytest.raises(VQCheckpointError, match="does not build: quantize.extra"):
        create_var_vqvae(checkpoint=_save({**official_sd, "quantize.extra": torch.zeros(1)}, tmp_path / "x.pth"), **TINY)
    with pytest.raises(VQCheckpointError, match=r"quantize\.embedding\.weight: checkpoint \(64, 8\), config \(128, 8\)"):
        create_var_vqvae(checkpoint=str(CKPT), **{**TINY, "vocab_size": 128})
    marker = tmp_path / "ran"
    with pytest.raises(VQCheckpointError, match="is not a tensor-only file"):
        create_var_vqvae(checkpoint=_save({**official_sd, "x": CodePayload(marker)}, tmp_path / "c.pth"), **TINY)
    assert not marker.exists()


def test_bad_inputs(tiny, expected):
    with pytest.raises(UsageError, match=r"end at a 16x16 token map, i\.e\. 32x32 images"):
        tiny.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(UsageError, match="one B x p x p map per scale"):
        tiny.decode(expected["codes"][:-1])
    with pytest.raises(UsageError, match=r"\[0, 64\)"):
        tiny.decode([*expected["codes"][:-1], torch.full((2, 16, 16), 64)])
    with pytest.raises(UsageError, match="must increase"):
        create_var_vqvae(checkpoint=str(CKPT), **{**TINY, "patch_nums": [1, 3, 2, 16]})
    with pytest.raises(UsageError, match="unknown model 'var-vqvae-1024'"):
        create_var_vqvae(model="var-vqvae-1024")
    with pytest.raises(UsageError, match="give 'model'"):
        create_var_vqvae()
