"""diffusers-vae family, one class per case: a tiny randomly initialised model of every supported
diffusers autoencoder class is saved with ``save_pretrained``, loaded offline through a suite entry
and the factory, and compared with diffusers' own encode/decode of the same model, written out
below class by class (the posterior's mode where there is one). Factors, channels and
compression ratios are hand-computed figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from wetok_bench.config.suite import parse_suite
from wetok_bench.core.errors import TokenizerOutputError, UsageError
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.base import image_seed

diffusers = pytest.importorskip("diffusers")

SIZE = 32  # images are 2 x 3 x 32 x 32


def _kl(cls: str, channels: int):
    return getattr(diffusers, cls)(
        block_out_channels=(8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=channels,
        **({"sample_size": SIZE} if cls == "AutoencoderKLFlux2" else {}),
    )


def _video(cls: str, z_dim: int, **extra):
    common = dict(base_dim=8, z_dim=z_dim, num_res_blocks=1, latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    return getattr(diffusers, cls)(**{**common, **extra})


def _dc():
    return diffusers.AutoencoderDC(
        latent_channels=4,
        attention_head_dim=8,
        encoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
        decoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(8, 16, 16),
        decoder_block_out_channels=(8, 16, 16),
        encoder_layers_per_block=(1, 1, 1),
        decoder_layers_per_block=(1, 1, 1),
        encoder_qkv_multiscales=((), (), (5,)),
        decoder_qkv_multiscales=((), (), (5,)),
    )


# name: (builder, diffusers reference code -> reconstruction, factor, latent channels, ratio at 32x32)
# ratio = 32 * 32 * 24 bits / (latent values * 16 bits) or / (tokens * log2(codebook))
def _mode(vae, x):
    return vae.decode(vae.encode(x).latent_dist.mode()).sample


def _mode_one_frame(vae, x):
    return vae.decode(vae.encode(x[:, :, None]).latent_dist.mode()).sample[:, :, 0]


def _latent(vae, x):
    return vae.decode(vae.encode(x).latent).sample


def _latents(vae, x):
    return vae.decode(vae.encode(x).latents).sample


CASES: dict[str, tuple[Callable[[], Any], Callable, int, int, float]] = {
    # f4 (3 blocks), 4 channels: 8*8*4*16 = 4096 bits -> 24576 / 4096 = 6
    "AutoencoderKL": (lambda: _kl("AutoencoderKL", 4), _mode, 4, 4, 6.0),
    # f4, 8 channels (the real one: f8, 32): 8*8*8*16 = 8192 bits -> 3
    "AutoencoderKLFlux2": (lambda: _kl("AutoencoderKLFlux2", 8), _mode, 4, 8, 3.0),
    # 3 stages of dim_mult, 2 downsamplings: f4, z_dim 4 -> 6
    "AutoencoderKLQwenImage": (
        lambda: _video("AutoencoderKLQwenImage", 4, dim_mult=[1, 2, 2], temperal_downsample=[False, False]),
        _mode_one_frame, 4, 4, 6.0,
    ),
    # Wan 2.1 layout: f4, z_dim 8 -> 8*8*8*16 = 8192 bits -> 3
    "AutoencoderKLWan": (
        lambda: _video("AutoencoderKLWan", 8, dim_mult=[1, 2, 2], temperal_downsample=[False, True], scale_factor_spatial=4),
        _mode_one_frame, 4, 8, 3.0,
    ),
    # Wan 2.2 layout (residual blocks, 2x2 patchify): one downsampling x patch 2 = f4, z_dim 4 -> 6
    "AutoencoderKLWan-2.2": (
        lambda: _video(
            "AutoencoderKLWan", 4, decoder_base_dim=8, dim_mult=[1, 1], temperal_downsample=[False], is_residual=True,
            patch_size=2, in_channels=12, out_channels=12, scale_factor_spatial=4,
        ),
        _mode_one_frame, 4, 4, 6.0,
    ),
    # spatial_compression_ratio 4 over 3 blocks: f4, 4 channels -> 6
    "AutoencoderKLHunyuanImage": (
        lambda: diffusers.AutoencoderKLHunyuanImage(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 32, 64), layers_per_block=1,
            spatial_compression_ratio=4, sample_size=SIZE,
        ),
        _mode, 4, 4, 6.0,
    ),
    # 3 stages: f4, 4 channels -> 6
    "AutoencoderDC": (_dc, _latent, 4, 4, 6.0),
    # 3 encoder stages: f4, 4 channels -> 6
    "AutoencoderTiny": (
        lambda: diffusers.AutoencoderTiny(
            encoder_block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8),
            num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1), latent_channels=4,
        ),
        _latents, 4, 4, 6.0,
    ),
    # f4, 32 codes: 8*8 tokens * 5 bits = 320 bits -> 24576 / 320 = 76.8
    "VQModel": (
        lambda: diffusers.VQModel(
            block_out_channels=(8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, norm_num_groups=8, latent_channels=4,
            num_vq_embeddings=32, vq_embed_dim=4,
        ),
        _latents, 4, 4, 76.8,
    ),
    # Kandinsky's MoVQ layout (spatially modulated decoder norm, attention blocks): f4, 64 codes:
    # 64 tokens * 6 bits = 384 bits -> 64
    "VQModel-MoVQ": (
        lambda: diffusers.VQModel(
            block_out_channels=(32, 32, 32),  # its spatial norm has 32 groups
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
            up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"),
            layers_per_block=1, norm_num_groups=8, latent_channels=4, num_vq_embeddings=64, vq_embed_dim=4,
            norm_type="spatial",
        ),
        _latents, 4, 4, 64.0,
    ),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, tuple[Path, torch.nn.Module]]:
    """Every case saved as a diffusers folder (``save_pretrained``), with the in-memory model."""
    out = {}
    for i, (case, (build, *_)) in enumerate(CASES.items()):
        torch.manual_seed(i)
        vae = build().eval()
        folder = tmp_path_factory.mktemp(case.replace(".", "_"))
        vae.save_pretrained(folder)
        out[case] = folder, vae
    return out


def images(batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(123)
    return torch.rand(batch, 3, SIZE, SIZE, generator=generator) * 2 - 1


def from_suite(folder: Path, **params: Any):
    """The tokenizer a suite entry ``{type: diffusers, pretrained: folder}`` builds."""
    suite = parse_suite(
        {
            "name": "tiny",
            "datasets": [{"name": "samples", "type": "samples"}],
            "tokenizers": [{"name": "vae", "type": "diffusers", "pretrained": str(folder), **params}],
        }
    )
    return create_tokenizer(suite.tokenizers[0].spec)


@pytest.mark.parametrize("case", list(CASES))
def test_reconstruction_equals_diffusers_own(saved, case):
    folder, vae = saved[case]
    _, reference_code, *_ = CASES[case]
    tok = from_suite(folder)
    assert tok.adapter.class_name == json.loads((folder / "config.json").read_text())["_class_name"]
    x = images()
    recon, bits = tok.reconstruct(x)
    with torch.no_grad():
        reference = reference_code(vae, x)
    assert recon.shape == reference.shape == x.shape
    # same modules, same batch: bit-identical, except VQModel, where diffusers decodes
    # z + (z_q - z) (the straight-through estimator, rounded in float32) and the code here decodes
    # the codebook entries z_q of the indices themselves (3.2e-6 measured)
    atol = 1e-5 if case.startswith("VQModel") else 0.0
    torch.testing.assert_close(recon, reference, rtol=0, atol=atol)
    assert bits.tolist() == [SIZE * SIZE * 24 / CASES[case][4]] * 2


@pytest.mark.parametrize("case", list(CASES))
def test_factor_channels_and_ratio_from_the_model(saved, case):
    folder, vae = saved[case]
    _, _, factor, channels, ratio = CASES[case]
    tok = from_suite(folder)
    assert (tok.downsample, tok.latent_channels) == (factor, channels)
    assert tok.compression(SIZE, SIZE).ratio == pytest.approx(ratio, rel=0, abs=1e-12)
    # the factor is what the encoder really does: 32 / 4 = 8 latent rows and columns
    with torch.no_grad():
        code = tok.encode(images(1))
    assert code.shape[-2:] == (SIZE // factor, SIZE // factor)
    # a 64x96 image at f4: 16 x 24 positions
    assert tok.compression(64, 96).tokens == 16 * 24


def test_vq_model_tokens_are_diffusers_codebook_indices(saved):
    folder, vae = saved["VQModel"]
    tok = from_suite(folder)
    assert (tok.kind, tok.codebook_size) == ("discrete", 32)
    x = images()
    recon, bits, tokens = tok.reconstruct(x, with_tokens=True)
    with torch.no_grad():
        _, _, (_, _, indices) = vae.quantize(vae.encode(x).latents)
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 8 * 8, 1)
    assert torch.equal(tokens, indices.view(2, -1, 1))
    assert bits.tolist() == [8 * 8 * 5.0] * 2  # 64 tokens x log2(32)
    assert tok.compression(SIZE, SIZE).codebook == "32"
    assert tok.fingerprint()["latent"] == {"mode": "codebook-indices"} and "bits_per_value" not in tok.fingerprint()


def test_continuous_classes_have_no_tokens(saved):
    tok = from_suite(saved["AutoencoderDC"][0])
    _, _, tokens = tok.reconstruct(images(), with_tokens=True)
    assert tokens is None and tok.codebook_size is None
    assert tok.fingerprint()["latent"] == {"mode": "deterministic"}
    assert tok.fingerprint()["class"] == "AutoencoderDC"


def test_wan_sample_is_diffusers_posterior_sample_of_each_image(saved):
    """An image is one frame: the draw has the frame axis removed, the same numbers diffusers draws."""
    folder, vae = saved["AutoencoderKLWan"]
    tok = from_suite(folder, sample=True, seed=7)
    x = images()
    with torch.no_grad():
        z = tok.encode(x)
        reference = torch.cat([
            vae.encode(x[i : i + 1, :, None]).latent_dist.sample(
                generator=torch.Generator().manual_seed(image_seed(7, f"#{i}"))
            )[:, :, 0]
            for i in range(len(x))
        ])
        mode = vae.encode(x[:, :, None]).latent_dist.mode()[:, :, 0]
    torch.testing.assert_close(z, reference, rtol=0, atol=1e-5)  # batch 1 vs 2 convolutions
    assert (z - mode).abs().max() > 0.05


@pytest.mark.parametrize("case", ["AutoencoderDC", "AutoencoderTiny", "VQModel"])
def test_sample_on_a_deterministic_class_is_a_usage_error(saved, case):
    with pytest.raises(UsageError, match="no posterior to sample"):
        from_suite(saved[case][0], sample=True)


def test_unsupported_class_is_refused_before_loading(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "AutoencoderOobleck"}))
    with pytest.raises(UsageError, match=r"'AutoencoderOobleck' is not an image autoencoder .*VQModel"):
        create_tokenizer({"type": "diffusers-vae", "pretrained": str(tmp_path)})


@pytest.mark.parametrize("text, message", [("{}", "has no _class_name"), ("{not json", "not a readable diffusers config")])
def test_config_without_a_class_is_a_usage_error(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(UsageError, match=message):
        create_tokenizer({"type": "diffusers-vae", "pretrained": str(tmp_path)})


def test_latent_shape_disagreeing_with_the_factor_is_an_error(saved):
    tok = from_suite(saved["AutoencoderKLQwenImage"][0])
    tok.downsample = 2  # as if the config were misread
    with pytest.raises(TokenizerOutputError, match=r"latent of shape \(4, 8, 8\)"), torch.no_grad():
        tok.encode(images())


def test_alias_and_name_build_the_same_model(saved):
    folder, _ = saved["AutoencoderTiny"]
    a = create_tokenizer({"type": "diffusers", "pretrained": str(folder)})
    b = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder)})
    assert a.fingerprint() == b.fingerprint()


def test_list_shows_the_alias_as_an_alias_not_a_second_family():
    from click.testing import CliRunner

    from wetok_bench.cli.main import cli

    output = CliRunner().invoke(cli, ["list", "tokenizers"]).output
    lines = output.splitlines()
    assert "  diffusers        alias of diffusers-vae" in lines
    # the parameters are listed once, under the family's own name
    declared = [i for i, line in enumerate(lines) if line.split()[:1] == ["single_file"]]
    assert len(declared) == 1 and lines.index("  diffusers-vae") < declared[0]
    # the card table's columns line up, also after the longest card name (open-magvit2-pretrain256-262144)
    cards = lines[lines.index("model cards:") + 1:]
    assert len({line.index(line.split()[1], len(line.split()[0]) + 2) for line in cards}) == 1


# Architecture fields of released configs (copies of each vae/config.json found on the Hub; see
# the cards): factor, channels and the ratio at 256x256 by hand, 256 * 256 * 24 bits over
# (256 / f)^2 * channels * 16 bits, or over (256 / f)^2 tokens * log2(codebook) bits.
RELEASED = {
    "flux2-vae": ("AutoencoderKLFlux2", {"block_out_channels": [128, 256, 512, 512], "latent_channels": 32}, 8, 32, 3.0),
    "qwen-image-vae": ("AutoencoderKLQwenImage", {"dim_mult": [1, 2, 4, 4], "z_dim": 16}, 8, 16, 6.0),
    "wan2.1-vae": ("AutoencoderKLWan", {"dim_mult": [1, 2, 4, 4], "z_dim": 16, "patch_size": None}, 8, 16, 6.0),
    "wan2.2-vae": ("AutoencoderKLWan", {"dim_mult": [1, 2, 4, 4], "z_dim": 48, "patch_size": 2}, 16, 48, 8.0),
    "hunyuanimage-2.1-vae": (
        "AutoencoderKLHunyuanImage",
        {"block_out_channels": [128, 256, 512, 512, 1024, 1024], "spatial_compression_ratio": 32, "latent_channels": 64},
        32, 64, 24.0,
    ),
    "kandinsky-2.2-movq": (
        "VQModel",
        {"block_out_channels": [128, 256, 256, 512], "latent_channels": 4, "vq_embed_dim": 4, "num_vq_embeddings": 16384},
        8, 4, 256 * 256 * 24 / (32 * 32 * 14),
    ),
}


@pytest.mark.parametrize("card_name", list(RELEASED))
def test_released_configs_give_the_published_factor_and_channels(card_name):
    from wetok_bench.tokenizers.base import continuous_compression, discrete_compression
    from wetok_bench.tokenizers.cards import get_card
    from wetok_bench.tokenizers.diffusers.adapters import adapter_for

    class_name, config, factor, channels, ratio = RELEASED[card_name]
    adapter = adapter_for(class_name)
    assert (adapter.factor(config), adapter.channels(config)) == (factor, channels)
    if adapter.latent == "vq":
        comp = discrete_compression(256, 256, factor, config["num_vq_embeddings"])
    else:
        comp = continuous_compression(256, 256, factor, channels)
    assert comp.ratio == pytest.approx(ratio, rel=1e-12)
    card = get_card(card_name, "diffusers-vae")
    assert f"f{factor}" in card.notes and (f"compression {ratio:g}" in card.notes or f"{ratio:.1f}" in card.notes)


def test_every_new_card_says_how_its_path_is_known():
    from wetok_bench.tokenizers.cards import known_cards

    cards = {n: c for n, c in known_cards().items() if c.type == "diffusers-vae"}
    required = {"flux2-vae", "qwen-image-vae", "wan2.1-vae", "wan2.2-vae", "hunyuanimage-2.1-vae", "dc-ae-f32c32-in",
                "dc-ae-f64c128-in", "dc-ae-f32c32-sana-1.0", "dc-ae-f32c32-sana-1.1", "kandinsky-2.2-movq"}
    assert required <= set(cards)
    for name in required:
        card = cards[name]
        assert card.source.startswith("hf://") and card.license and card.paper, name
        assert "Path confirmed" in card.notes or "inferred" in card.notes, name


def test_card_without_weights_offline_names_the_repo(monkeypatch):
    from wetok_bench.core.errors import MissingWeightsError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="mit-han-lab/dc-ae-f64c128-in-1.0-diffusers"):
        create_tokenizer({"type": "diffusers", "model": "dc-ae-f64c128-in"})


@pytest.mark.parametrize("case", ["AutoencoderKLWan", "AutoencoderDC"])
def test_bf16_equals_diffusers_own_in_bf16(saved, case):
    import copy

    folder, vae = saved[case]
    tok = from_suite(folder, precision="bf16")
    assert next(tok.vae.parameters()).dtype == torch.bfloat16
    x = images()
    recon, _ = tok.reconstruct(x)
    with torch.no_grad():
        reference = CASES[case][1](copy.deepcopy(vae).to(torch.bfloat16), x.to(torch.bfloat16)).float()
    torch.testing.assert_close(recon, reference, rtol=0, atol=0)


def test_modern_autoencoders_suite_validates_and_names_known_cards(monkeypatch):
    from wetok_bench.config.suite import load_suite
    from wetok_bench.tokenizers.cards import get_card

    monkeypatch.setenv("IMAGENET_VAL_DIR", "/nonexistent")
    suite = load_suite(Path(__file__).parents[2] / "suites" / "modern_autoencoders.yaml", check_paths=False)
    assert len(suite.tokenizers) == 11
    for entry in suite.tokenizers:
        assert get_card(entry.spec["model"], "diffusers-vae").name == entry.name
