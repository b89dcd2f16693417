"""diffusers-vae family: tiny random AutoencoderKL models saved to disk and loaded offline
through the factory; diffusers' own encode/decode is the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.hashing import sha256_file
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.base import ImageNoise, image_seed
from wetok_bench.tokenizers.cards import known_cards

diffusers = pytest.importorskip("diffusers")


def tiny_vae(latent_channels: int, quant_convs: bool, seed: int = 0):
    """An f8 AutoencoderKL (4 blocks) small enough for a 2-core CPU."""
    torch.manual_seed(seed)
    return diffusers.AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=latent_channels,
        use_quant_conv=quant_convs,
        use_post_quant_conv=quant_convs,
    ).eval()


@pytest.fixture(scope="module")
def sd_like(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """SD-VAE-like (4 channels, quant convs) saved as a diffusers folder."""
    folder = tmp_path_factory.mktemp("sd_like")
    vae = tiny_vae(4, True)
    vae.save_pretrained(folder)
    return folder, vae


@pytest.fixture(scope="module")
def flux_like(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """SD3/FLUX-like (16 channels, no quant convs) saved under repo/vae/."""
    repo = tmp_path_factory.mktemp("flux_like")
    vae = tiny_vae(16, False, seed=1)
    vae.save_pretrained(repo / "vae")
    return repo, vae


def images(size: tuple[int, int] = (64, 64), batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(123)
    return torch.rand(batch, 3, *size, generator=generator) * 2 - 1


def reference_reconstruction(vae, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return vae.decode(vae.encode(x).latent_dist.mode()).sample


def test_reconstruction_equals_diffusers(sd_like):
    folder, vae = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder)})
    x = images()
    recon, bits = tok.reconstruct(x)
    assert recon.shape == x.shape
    torch.testing.assert_close(recon, reference_reconstruction(vae, x), rtol=0, atol=1e-6)
    # 64x64 at f8: 8*8 positions x 4 channels x 16 bits
    assert bits.tolist() == [8 * 8 * 4 * 16] * 2


def test_encode_decode_shapes_and_determinism(sd_like):
    folder, _ = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder)})
    x = images((64, 96))
    with torch.no_grad():
        z1, z2 = tok.encode(x), tok.encode(x)
        assert z1.shape == (2, 4, 8, 12)
        assert torch.equal(z1, z2)
        assert tok.decode(z1).shape == (2, 3, 64, 96)


@pytest.mark.parametrize("fixture, channels, ratio", [("sd_like", 4, 24.0), ("flux_like", 16, 6.0)])
def test_compression_ratio_from_config(request, fixture, channels, ratio):
    folder, _ = request.getfixturevalue(fixture)
    spec = {"type": "diffusers-vae", "pretrained": str(folder)}
    if fixture == "flux_like":
        spec["subfolder"] = "vae"
    tok = create_tokenizer(spec)
    assert tok.downsample == 8 and tok.latent_channels == channels
    comp = tok.compression(256, 256)
    # 256*256*24 bits / (32*32 positions * channels * 16 bits)
    assert comp.ratio == pytest.approx(ratio, rel=0, abs=1e-12)
    assert comp.latent_shape == (channels, 32, 32)


def test_subfolder_16_channels_no_quant_convs(flux_like):
    repo, vae = flux_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(repo), "subfolder": "vae"})
    x = images()
    recon, _ = tok.reconstruct(x)
    torch.testing.assert_close(recon, reference_reconstruction(vae, x), rtol=0, atol=1e-6)
    assert tok.vae.quant_conv is None and tok.vae.post_quant_conv is None


def test_wrong_subfolder_is_a_usage_error(flux_like):
    repo, _ = flux_like
    with pytest.raises(UsageError, match="config.json"):
        create_tokenizer({"type": "diffusers-vae", "pretrained": str(repo)})


def diffusers_to_original(state: dict[str, torch.Tensor], num_blocks: int) -> dict[str, torch.Tensor]:
    """Rename a diffusers AutoencoderKL state dict to the original (LDM / FLUX ae) layout."""
    out = {}
    for key, value in state.items():
        new = key
        new = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", new)
        new = re.sub(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", new)
        new = re.sub(
            r"decoder\.up_blocks\.(\d+)\.resnets\.",
            lambda m: f"decoder.up.{num_blocks - 1 - int(m.group(1))}.block.",
            new,
        )
        new = re.sub(
            r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
            lambda m: f"decoder.up.{num_blocks - 1 - int(m.group(1))}.upsample.",
            new,
        )
        new = re.sub(r"mid_block\.resnets\.(\d)\.", lambda m: f"mid.block_{int(m.group(1)) + 1}.", new)
        new = new.replace("mid_block.attentions.0.", "mid.attn_1.")
        for old, repl in (("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."),
                          ("to_out.0.", "proj_out."), ("conv_norm_out.", "norm_out."),
                          ("conv_shortcut.", "nin_shortcut.")):
            new = new.replace(old, repl)
        if ".attn_1." in new and new.endswith("weight") and value.ndim == 2:
            value = value[:, :, None, None]  # the original attention projections are 1x1 convs
        out[new] = value.clone()
    return out


def test_single_file_original_format_with_local_config(flux_like, tmp_path):
    from safetensors.torch import save_file

    repo, vae = flux_like
    original = diffusers_to_original(vae.state_dict(), num_blocks=4)
    assert "encoder.down.0.block.0.conv1.weight" in original and "decoder.up.3.upsample.conv.weight" in original
    ae = tmp_path / "ae.safetensors"
    save_file(original, str(ae))
    tok = create_tokenizer(
        {"type": "diffusers-vae", "single_file": str(ae), "config": str(repo), "subfolder": "vae"}
    )
    x = images()
    recon, _ = tok.reconstruct(x)
    torch.testing.assert_close(recon, reference_reconstruction(vae, x), rtol=0, atol=1e-6)
    assert tok.fingerprint()["weights_sha256"] == {"ae.safetensors": sha256_file(ae)}


def test_single_file_needing_code_is_refused_before_diffusers_reads_it(flux_like, tmp_path):
    """A .ckpt single file that pickles objects is a clear error naming them; nothing of it runs."""
    from helpers_vectors import CodePayload

    repo, vae = flux_like
    marker = tmp_path / "ran"
    ckpt = tmp_path / "ae.ckpt"
    torch.save({"state_dict": diffusers_to_original(vae.state_dict(), num_blocks=4), "cb": CodePayload(marker)}, ckpt)
    with pytest.raises(UsageError, match=r"ae\.ckpt is not a tensor-only file: it pickles .*pathlib\.Path"):
        create_tokenizer({"type": "diffusers-vae", "single_file": str(ckpt), "config": str(repo), "subfolder": "vae"})
    assert not marker.exists()


def test_single_file_without_config_is_a_usage_error(tmp_path):
    ae = tmp_path / "ae.safetensors"
    ae.write_bytes(b"x")
    with pytest.raises(UsageError, match="needs config"):
        create_tokenizer({"type": "diffusers-vae", "single_file": str(ae)})


def test_non_multiple_size_errors_and_pad_policy_keeps_size(sd_like):
    folder, _ = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder)})
    x = images((60, 64))
    with pytest.raises(UsageError, match="not a multiple of"):
        tok.reconstruct(x)
    with pytest.raises(UsageError, match="not a multiple of"), torch.no_grad():
        tok.encode(x)
    padded = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder), "size_policy": "pad"})
    recon, _ = padded.reconstruct(x)
    assert recon.shape == x.shape


def test_sampling_reproducible_with_seed(sd_like):
    folder, vae = sd_like
    spec = {"type": "diffusers-vae", "pretrained": str(folder), "sample": True}
    x = images()
    with torch.no_grad():
        z7a = create_tokenizer({**spec, "seed": 7}).encode(x)
        z7b = create_tokenizer({**spec, "seed": 7}).encode(x)
        z8 = create_tokenizer({**spec, "seed": 8}).encode(x)
        # diffusers' own sample, image by image, from the generator of key "#i" under seed 7
        reference = torch.cat([
            vae.encode(x[i : i + 1]).latent_dist.sample(generator=torch.Generator().manual_seed(image_seed(7, f"#{i}")))
            for i in range(len(x))
        ])
        mode = vae.encode(x).latent_dist.mode()
    assert torch.equal(z7a, z7b)
    torch.testing.assert_close(z7a, reference, rtol=0, atol=1e-5)  # batch 1 vs 2 convolutions differ in the last bit
    assert (z7a - z8).abs().max() > 0.1 and (z7a - mode).abs().max() > 0.1
    fp = create_tokenizer({**spec, "seed": 7}).fingerprint()
    assert fp["latent"]["mode"] == "posterior-sample" and fp["latent"]["seed"] == 7
    assert "per image" in fp["latent"]["noise"]


def test_sampled_latent_of_an_image_does_not_depend_on_its_batch(sd_like):
    folder, vae = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder), "sample": True})
    assert tok.encode_uses_noise and tok.noise_seed is None  # the run's seed applies
    x, keys = images(batch=3), ["a", "b", "c"]
    with torch.no_grad():
        together = tok.encode(x, noise=ImageNoise.for_images(4, keys))
        alone = torch.cat([tok.encode(x[i : i + 1], noise=ImageNoise.for_images(4, [keys[i]])) for i in range(3)])
        reordered = tok.encode(x.flip(0), noise=ImageNoise.for_images(4, keys[::-1])).flip(0)
        # diffusers' own posterior sample of image "b" with that image's generator
        reference = vae.encode(x[1:2]).latent_dist.sample(generator=torch.Generator().manual_seed(image_seed(4, "b")))
    torch.testing.assert_close(alone, together, rtol=0, atol=1e-5)  # last-bit differences of batched convs
    torch.testing.assert_close(reordered, together, rtol=0, atol=1e-5)
    torch.testing.assert_close(together[1:2], reference, rtol=0, atol=1e-5)
    # reconstruct hands the same noise to encode: batch 3 and batch 1 give the same image
    recon, _ = tok.reconstruct(x, noise=ImageNoise.for_images(4, keys))
    single, _ = tok.reconstruct(x[2:], noise=ImageNoise.for_images(4, keys[2:]))
    torch.testing.assert_close(single, recon[2:], rtol=0, atol=1e-5)
    with torch.no_grad():
        decoded = vae.decode(reference).sample
    torch.testing.assert_close(tok.reconstruct(x[1:2], noise=ImageNoise.for_images(4, ["b"]))[0], decoded, rtol=0, atol=1e-5)


def test_fingerprint_records_weights_config_precision(sd_like):
    folder, _ = sd_like
    fp32 = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder)}).fingerprint()
    bf16 = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder), "precision": "bf16"}).fingerprint()
    weights = folder / "diffusion_pytorch_model.safetensors"
    assert fp32["weights_sha256"] == {weights.name: sha256_file(weights)}
    assert fp32["config"]["latent_channels"] == 4 and fp32["config"]["block_out_channels"] == [8, 16, 16, 16]
    assert (fp32["precision"], bf16["precision"]) == ("float32", "bfloat16")
    assert fp32["latent"] == {"mode": "posterior-mode"}


def test_bf16_runs_the_network_in_bf16(sd_like):
    import copy

    folder, vae = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": str(folder), "precision": "bf16"})
    assert next(tok.vae.parameters()).dtype == torch.bfloat16
    x = images()
    recon, _ = tok.reconstruct(x)
    assert recon.dtype == torch.float32
    reference = reference_reconstruction(copy.deepcopy(vae).to(torch.bfloat16), x.to(torch.bfloat16)).float()
    torch.testing.assert_close(recon, reference, rtol=0, atol=0)


def test_missing_repo_offline_names_repo_and_remedy(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as info:
        create_tokenizer({"type": "diffusers-vae", "model": "sd35-vae"})
    message = str(info.value)
    assert "stabilityai/stable-diffusion-3.5-large" in message and "subfolder vae" in message
    assert "huggingface-cli download" in message and "pretrained: DIR" in message


def test_cards():
    cards = {n: c for n, c in known_cards().items() if c.type == "diffusers-vae"}
    assert {"sd-vae-ft-mse", "sd-vae-ft-ema", "sdxl-vae", "sd35-vae", "flux-vae"} <= set(cards)
    # the other classes' cards are checked in test_diffusers_classes.py
    assert cards["flux-vae"].params == {"pretrained": "black-forest-labs/FLUX.1-dev", "subfolder": "vae"}
    assert "NaN" in cards["sdxl-vae"].notes


def test_card_parameters_can_be_overridden_by_a_local_folder(sd_like):
    folder, vae = sd_like
    tok = create_tokenizer({"type": "diffusers-vae", "model": "sd-vae-ft-mse", "pretrained": str(folder)})
    assert tok.fingerprint()["source"]["card"] == "sd-vae-ft-mse"
    x = images()
    torch.testing.assert_close(tok.reconstruct(x)[0], reference_reconstruction(vae, x), rtol=0, atol=1e-6)


def test_repo_id_resolves_from_the_hugging_face_cache_offline(flux_like, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants

    repo, vae = flux_like
    # the hub cache layout: models--OWNER--NAME/{refs/main, snapshots/<commit>/...}
    commit = "0" * 40
    entry = tmp_path / "hub" / "models--tiny--flux-like"
    shutil.copytree(repo, entry / "snapshots" / commit)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    tok = create_tokenizer({"type": "diffusers-vae", "pretrained": "tiny/flux-like", "subfolder": "vae"})
    x = images()
    torch.testing.assert_close(tok.reconstruct(x)[0], reference_reconstruction(vae, x), rtol=0, atol=1e-6)
    assert tok.fingerprint()["source"] == {"pretrained": "tiny/flux-like", "subfolder": "vae", "card": None}
