"""TAESD family: real TAEF2 weights against the original code's outputs, and tiny random
models in both file formats against diffusers' AutoencoderTiny."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.weights import KNOWN_WEIGHTS, weights_dir
from wetok_bench.protocols import round_to_u8, u8_to_signed_float
from wetok_bench.tokenizers.cards import get_card
from wetok_bench.tokenizers.registry import create_tokenizer
from wetok_bench.tokenizers.taesd import MODELS, build_decoder, build_encoder, create_taesd

EXPECTED = Path(__file__).parents[1] / "data" / "taef2_expected.pt"


def _real_taef2(weights: Path, **kwargs):
    return create_taesd(
        model="taef2", encoder=str(weights / "taef2_encoder.pth"), decoder=str(weights / "taef2_decoder.pth"), **kwargs
    )


# --- real TAEF2 weights ----------------------------------------------------------------


def test_taef2_matches_original_code_vectors(taef2_weights_dir):
    expected = torch.load(EXPECTED, weights_only=True)
    tok = _real_taef2(taef2_weights_dir)
    with torch.inference_mode():
        latent = tok.encode(expected["input"] * 2 - 1)  # the vectors are in [0, 1]
        recon = tok.decode(expected["latent"])
    assert latent.shape == (1, 32, 8, 8)
    torch.testing.assert_close(latent, expected["latent"], atol=1e-4, rtol=0)
    torch.testing.assert_close((recon + 1) / 2, expected["recon"], atol=1e-4, rtol=0)


def test_taef2_architecture_has_the_keys_and_shapes_of_the_released_files(taef2_weights_dir):
    for side, build in (("encoder", build_encoder), ("decoder", build_decoder)):
        released = torch.load(taef2_weights_dir / f"taef2_{side}.pth", weights_only=True)
        ours = build(32, pooled=True).state_dict()
        assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in released.items()}
        # the pooling branch sits in the three deepest blocks only: 3 blocks x 4 tensors
        assert sum(".pool." in k for k in released) == 12


def test_taef2_real_photo_psnr_in_published_range(taef2_weights_dir, photos):
    from skimage.metrics import peak_signal_noise_ratio

    photo = Image.fromarray(photos["astronaut"]).resize((256, 256), Image.BILINEAR)
    original = torch.from_numpy(np.asarray(photo).copy()).permute(2, 0, 1)[None]
    tok = _real_taef2(taef2_weights_dir)
    recon, bits = tok.reconstruct(u8_to_signed_float(original))
    out = round_to_u8(recon)[0].permute(1, 2, 0).numpy()
    psnr = peak_signal_noise_ratio(original[0].permute(1, 2, 0).numpy(), out, data_range=255)
    # weights README: 28.8-31.8 dB on scikit-image photos at 256x256 (rounded uint8, skimage)
    assert 27.0 < psnr < 34.0, psnr
    assert bits.tolist() == [32 * 32 * 32 * 16.0]  # 32 channels at 1/8, 16 bits per value


def test_taef2_resolved_by_name_from_weights_folder(taef2_weights_dir):
    folder = weights_dir()
    folder.mkdir(parents=True)
    for side in ("encoder", "decoder"):
        (folder / f"taef2_{side}.pth").symlink_to(taef2_weights_dir / f"taef2_{side}.pth")
    tok = create_tokenizer({"type": "taesd", "name": "taef2", "model": "taef2"})
    assert tok.fingerprint()["weights_sha256"] == {
        "encoder": KNOWN_WEIGHTS["taef2-encoder"].sha256,
        "decoder": KNOWN_WEIGHTS["taef2-decoder"].sha256,
    }
    expected = torch.load(EXPECTED, weights_only=True)
    with torch.inference_mode():
        torch.testing.assert_close(tok.encode(expected["input"] * 2 - 1), expected["latent"], atol=1e-4, rtol=0)


def test_missing_weights_name_the_file_to_fetch():
    with pytest.raises(MissingWeightsError, match="taef2_encoder.pth"):
        create_taesd(model="taef2")
    # the others default to their diffusers repo, looked up in the (empty) Hugging Face cache
    with pytest.raises(MissingWeightsError, match="huggingface.co/madebyollin/taesdxl/resolve/main/config.json"):
        create_taesd(model="taesdxl")


# --- tiny random models through both loaders ------------------------------------------


def _diffusers_tiny(folder: Path, latent_channels: int, seed: int = 0):
    """A randomly initialised diffusers AutoencoderTiny saved with save_pretrained."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    model = AutoencoderTiny(latent_channels=latent_channels).eval()
    model.save_pretrained(folder)
    return model


def _as_original_files(model, folder: Path) -> tuple[Path, Path]:
    """Write the diffusers model in the original layout: encoder indices as they are, decoder
    indices shifted by one because the original Sequential starts with its soft clamp."""
    state = model.state_dict()
    encoder = {k[len("encoder.layers."):]: v for k, v in state.items() if k.startswith("encoder.layers.")}
    decoder = {}
    for key, value in state.items():
        if key.startswith("decoder.layers."):
            index, _, rest = key[len("decoder.layers."):].partition(".")
            decoder[f"{int(index) + 1}.{rest}"] = value
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "tiny_encoder.pth", folder / "tiny_decoder.pth"
    torch.save(encoder, paths[0])
    torch.save(decoder, paths[1])
    return paths


@pytest.mark.parametrize("model_name", ["taesd", "taesdxl", "taesd3", "taef1"])
def test_both_formats_match_diffusers_autoencoder_tiny(tmp_path, model_name):
    channels = MODELS[model_name].latent_channels
    reference = _diffusers_tiny(tmp_path / "hf", channels)
    enc_path, dec_path = _as_original_files(reference, tmp_path / "orig")
    from_diffusers = create_taesd(model=model_name, pretrained=str(tmp_path / "hf"))
    from_original = create_taesd(model=model_name, encoder=str(enc_path), decoder=str(dec_path))
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        ref_latent = reference.encode(x).latents  # diffusers takes and gives [-1, 1] images
        ref_image = reference.decode(ref_latent).sample
        for tok in (from_diffusers, from_original):
            latent = tok.encode(x)
            assert latent.shape == (2, channels, 4, 6)
            torch.testing.assert_close(latent, ref_latent, atol=1e-5, rtol=0)
            torch.testing.assert_close(tok.decode(ref_latent), ref_image, atol=1e-5, rtol=0)
    assert from_diffusers.fingerprint()["weights_format"] == "diffusers"
    assert from_original.fingerprint()["weights_format"] == "original"


def test_latent_bits_8_is_autoencoder_tiny_forward_quantization(tmp_path):
    # diffusers' AutoencoderTiny.forward stores the latent as uint8 the author's way and decodes it
    reference = _diffusers_tiny(tmp_path / "hf", 4)
    tok8 = create_taesd(model="taesd", pretrained=str(tmp_path / "hf"), latent_bits=8)
    tok16 = create_taesd(model="taesd", pretrained=str(tmp_path / "hf"))
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        expected = reference(x).sample
        recon8, bits8 = tok8.reconstruct(x)
        recon16, bits16 = tok16.reconstruct(x)
        code = tok8.encode(x)
    torch.testing.assert_close(recon8, expected, atol=1e-5, rtol=0)
    assert code.dtype == torch.uint8 and code.shape == (2, 4, 8, 8)
    # the dequantized latent takes at most 256 values, on the grid of (z / 6 + 0.5) * 255
    latent = tok8.dequantize(code)
    assert latent.unique().numel() <= 256
    grid = (latent / 6 + 0.5) * 255
    torch.testing.assert_close(grid, grid.round(), atol=1e-4, rtol=0)
    assert not torch.equal(recon8, recon16)  # quantization really changed the latent
    # 256x256: 32*32 positions x 4 channels x 8 bits = 32768 bits -> ratio 48 (16 bits: 24)
    assert tok8.compression(256, 256).ratio == 48.0
    assert tok16.compression(256, 256).ratio == 24.0
    assert bits8.tolist() == [8 * 8 * 4 * 8.0] * 2 and bits16.tolist() == [8 * 8 * 4 * 16.0] * 2


def test_random_taef2_original_format_roundtrip_shapes(tmp_path):
    torch.manual_seed(3)
    enc, dec = build_encoder(32, pooled=True), build_decoder(32, pooled=True)
    torch.save(enc.state_dict(), tmp_path / "e.pth")
    torch.save(dec.state_dict(), tmp_path / "d.pth")
    tok = create_taesd(model="taef2", encoder=str(tmp_path / "e.pth"), decoder=str(tmp_path / "d.pth"))
    x = torch.rand(1, 3, 40, 24) * 2 - 1
    with torch.inference_mode():
        latent = tok.encode(x)
        torch.testing.assert_close(latent, enc((x + 1) / 2), atol=1e-6, rtol=0)
    assert latent.shape == (1, 32, 5, 3)
    assert tok.compression(256, 256).ratio == 3.0  # 1,572,864 / (32*32*32*16)


# --- errors ----------------------------------------------------------------------------


def test_pooling_key_mismatch_names_keys_and_model(tmp_path):
    reference = _diffusers_tiny(tmp_path / "hf", 32)
    enc_path, dec_path = _as_original_files(reference, tmp_path / "orig")
    with pytest.raises(UsageError, match=r"missing keys: 11\.pool\.0\.weight.*no FLUX\.2 pooling branch"):
        create_taesd(model="taef2", encoder=str(enc_path), decoder=str(dec_path))


def test_renamed_key_is_reported(tmp_path):
    state = build_encoder(4).state_dict()
    state["0.kernel"] = state.pop("0.weight")
    torch.save(state, tmp_path / "e.pth")
    torch.save(build_decoder(4).state_dict(), tmp_path / "d.pth")
    with pytest.raises(UsageError, match=r"missing keys: 0\.weight; unexpected keys: 0\.kernel"):
        create_taesd(model="taesd", encoder=str(tmp_path / "e.pth"), decoder=str(tmp_path / "d.pth"))


def test_latent_channel_mismatch_is_explained(tmp_path):
    torch.save(build_encoder(4).state_dict(), tmp_path / "e.pth")
    torch.save(build_decoder(4).state_dict(), tmp_path / "d.pth")
    message = r"shape mismatch: 14\.bias is \(4,\).*14\.weight is \(4, 64, 3, 3\).*16 latent channels"
    with pytest.raises(UsageError, match=message):
        create_taesd(model="taef1", encoder=str(tmp_path / "e.pth"), decoder=str(tmp_path / "d.pth"))


def test_diffusers_folder_checks(tmp_path):
    _diffusers_tiny(tmp_path / "hf", 4)
    with pytest.raises(UsageError, match="latent_channels 4.*taesd, taesdxl"):
        create_taesd(model="taef1", pretrained=str(tmp_path / "hf"))
    with pytest.raises(UsageError, match="no diffusers AutoencoderTiny version"):
        create_taesd(model="taef2", pretrained=str(tmp_path / "hf"))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config["num_encoder_blocks"] = [1, 2, 2, 2]
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UsageError, match="num_encoder_blocks"):
        create_taesd(model="taesd", pretrained=str(tmp_path / "hf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="config.json is missing"):
        create_taesd(model="taesd", pretrained=str(tmp_path / "empty"))


def test_argument_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown TAESD model 'taef3'"):
        create_taesd(model="taef3")
    with pytest.raises(UsageError, match="both 'encoder' and 'decoder'"):
        create_taesd(model="taesd", encoder=str(tmp_path / "e.pth"))
    with pytest.raises(UsageError, match="not found"):
        create_taesd(model="taesd", encoder=str(tmp_path / "e.pth"), decoder=str(tmp_path / "d.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="cannot read TAESD weights"):
        create_taesd(model="taesd", encoder=str(tmp_path / "junk.pth"), decoder=str(tmp_path / "junk.pth"))


def test_size_policy_and_precision(tmp_path):
    torch.manual_seed(4)
    torch.save(build_encoder(4).state_dict(), tmp_path / "e.pth")
    torch.save(build_decoder(4).state_dict(), tmp_path / "d.pth")
    paths = {"encoder": str(tmp_path / "e.pth"), "decoder": str(tmp_path / "d.pth")}
    x = torch.rand(1, 3, 36, 30) * 2 - 1
    with pytest.raises(UsageError, match="36x30 is not a multiple of its downsample factor 8"):
        create_taesd(model="taesd", **paths).reconstruct(x)
    recon, bits = create_taesd(model="taesd", size_policy="pad", **paths).reconstruct(x)
    assert recon.shape == x.shape
    assert bits.tolist() == [5 * 4 * 4 * 16.0]  # padded to 40x32: 5x4 positions x 4 channels
    x32 = x[..., :32, :24]
    fp32, _ = create_taesd(model="taesd", **paths).reconstruct(x32)
    bf16, _ = create_taesd(model="taesd", precision="bf16", **paths).reconstruct(x32)
    assert bf16.dtype == torch.float32
    assert (bf16 - fp32).abs().max() < 0.1
    with pytest.raises(UsageError, match="latent_bits must be an integer"):
        create_taesd(model="taesd", latent_bits=0, **paths)


def test_bit_accounting_options(tmp_path):
    torch.manual_seed(5)
    torch.save(build_encoder(4).state_dict(), tmp_path / "e.pth")
    torch.save(build_decoder(4).state_dict(), tmp_path / "d.pth")
    paths = {"encoder": str(tmp_path / "e.pth"), "decoder": str(tmp_path / "d.pth")}
    # 256x256, 4 channels at 1/8: 4096 values; 1,572,864 bits of uint8 RGB
    assert create_taesd(model="taesd", bits_per_value=32, **paths).compression(256, 256).ratio == 12.0
    tok4 = create_taesd(model="taesd", latent_bits=4, **paths)
    assert tok4.compression(256, 256).ratio == 96.0
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(6)) * 2 - 1
    with torch.inference_mode():
        code = tok4.encode(x)
    assert code.dtype == torch.uint8 and int(code.max()) <= 15
    assert tok4.fingerprint()["latent_bits"] == 4 and tok4.fingerprint()["bits_per_value"] == 4.0
    with pytest.raises(UsageError, match="drop bits_per_value"):
        create_taesd(model="taesd", latent_bits=8, bits_per_value=16, **paths)


def test_cards():
    for name, spec in MODELS.items():
        card = get_card(name, "taesd")
        assert card.params == {"model": name} and card.license == "MIT"
        assert "madebyollin" in card.source
        ratio = 256 * 256 * 24 / (32 * 32 * spec.latent_channels * 16)
        assert f"compression ratio {ratio:g} at 16 bits" in card.notes
    assert get_card("taef2").source == "https://github.com/madebyollin/taesd/raw/main/taef2_encoder.pth"
    assert get_card("taesd").source == "hf://madebyollin/taesd"
