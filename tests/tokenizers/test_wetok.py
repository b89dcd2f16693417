"""WeTok family: official test vectors, checkpoint loading rules, generative decoder, cards.

References: ``tests/data/wetok_tiny_f2`` (a tiny checkpoint in the official release layout and
the outputs of the official WeTok modules for it, copied from ../shared/vectors; see its
README.md) and hand-computed compression figures.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from unittest import mock

import pytest
import torch
import yaml
from helpers_vectors import vector_fixtures

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.hashing import sha256_cache_dir
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.base import ImageNoise, image_seed
from wetok_bench.tokenizers.cards import get_card
from wetok_bench.tokenizers.common.ema_checkpoint import ema_key
from wetok_bench.tokenizers.wetok import CARDS, CheckpointError, WeTokConfig, WeTokTokenizer, create_wetok
from wetok_bench.tokenizers.wetok.model import WeTokModel
from wetok_bench.tokenizers.wetok.tokenizer import resolve_config, wetok_compression

VECTORS = Path(__file__).resolve().parents[1] / "data" / "wetok_tiny_f2"
CKPT, CONFIG = VECTORS / "WeTok.ckpt", VECTORS / "config.yaml"
TOL = 1e-4  # the vectors' README: latent and recon within 1e-4 absolute


expected, official_sd = vector_fixtures(VECTORS, CKPT)


@pytest.fixture(scope="module")
def tiny() -> WeTokTokenizer:
    return WeTokTokenizer.from_checkpoint(CKPT, CONFIG)


def _init_args(**overrides) -> dict:
    args = yaml.safe_load(CONFIG.read_text())["model"]["init_args"]
    ddconfig = {**args["ddconfig"], **overrides.pop("ddconfig", {})}
    return {**args, **overrides, "ddconfig": ddconfig}


def _save(state_dict: dict, path: Path) -> Path:
    torch.save({"state_dict": state_dict}, path)
    return path


# --- the official vectors ---------------------------------------------------------------------


def test_vectors_latent_codes_and_recon(tiny, expected):
    latent = tiny.encode_latent(expected["input"])
    assert latent.shape == expected["latent"].shape
    assert (latent - expected["latent"]).abs().max() < TOL

    codes = tiny.encode(expected["input"])
    assert codes.dtype == torch.int64 and codes.shape == expected["codes"].shape == (2, 16, 16, 2)
    decidable = (expected["latent"].abs() >= TOL).permute(0, 2, 3, 1).reshape(2, 16, 16, 2, 8).all(-1)
    assert decidable.float().mean() > 0.9  # the comparison covers nearly every code
    assert torch.equal(codes[decidable], expected["codes"][decidable])

    recon = tiny.decode(expected["codes"])
    assert recon.dtype == torch.float32 and recon.shape == expected["recon"].shape
    assert (recon - expected["recon"]).abs().max() < TOL


def test_reconstruct_matches_vectors_and_counts_bits(tiny, expected):
    recon, bits = tiny.reconstruct(expected["input"])
    assert (recon - expected["recon"]).abs().max() < TOL
    # 16 x 16 tokens x 2 groups x 8 bits = 4096 bits per image
    assert bits.tolist() == [4096.0, 4096.0]


def test_token_ids_are_the_official_codes_in_raster_order(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], with_tokens=True)
    assert tiny.codebook_size == 2**8  # entries of one group: 8 bits per group
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 16 * 16, 2)
    decidable = (expected["latent"].abs() >= TOL).permute(0, 2, 3, 1).reshape(2, 16, 16, 2, 8).all(-1)
    flat = decidable.reshape(2, 256, 2)
    assert torch.equal(tokens[flat], expected["codes"].reshape(2, 256, 2)[flat])
    assert torch.equal(tokens[1, 5 * 16 + 9], tiny.encode(expected["input"])[1, 5, 9])  # row 5, column 9
    assert int(tokens.max()) < tiny.codebook_size
    assert (recon - expected["recon"]).abs().max() < TOL and bits.tolist() == [4096.0, 4096.0]


def test_decoding_codes_equals_decoding_the_quantized_latent(tiny, expected):
    x = expected["input"]
    from_codes = tiny.decode(tiny.encode(x))
    from_latent = tiny.decode_latent(tiny.quantize(tiny.encode_latent(x)))
    assert torch.equal(from_codes, from_latent)
    # and the +-1 latent the codes stand for is the sign pattern of the encoder's latent
    assert torch.equal(tiny.codes_to_latent(tiny.encode(x)), tiny.quantize(tiny.encode_latent(x)))


def test_bf16_stays_close_to_the_fp32_vectors(expected):
    tok = WeTokTokenizer.from_checkpoint(CKPT, CONFIG, precision="bf16")
    recon = tok.decode(expected["codes"])
    assert recon.dtype == torch.float32
    assert (recon - expected["recon"]).abs().max() < 0.06  # bf16 has ~3 significant digits
    assert tok.precision == "bf16"  # (fingerprint() would write a sha256 sidecar into tests/data)


# --- which weights are loaded -----------------------------------------------------------------


def test_ema_weights_are_used_not_the_raw_ones(expected, official_sd, tmp_path):
    raw_cfg = {"model": {"init_args": _init_args(use_ema=False)}}
    raw = WeTokTokenizer.from_checkpoint(CKPT, raw_cfg)
    assert raw.weights == {"encoder": "raw", "decoder": "raw"}
    # the raw weights give a different latent: the vectors need the EMA ones
    assert (raw.encode_latent(expected["input"]) - expected["latent"]).abs().max() > 1e-2

    # with the raw weights turned into NaN, the EMA load is unaffected
    poisoned = {k: torch.full_like(v, float("nan")) if k.startswith(("encoder.", "decoder.")) else v
                for k, v in official_sd.items()}
    tok = WeTokTokenizer.from_checkpoint(_save(poisoned, tmp_path / "poisoned.ckpt"), CONFIG)
    assert tok.weights == {"encoder": "ema", "decoder": "ema"}
    assert (tok.encode_latent(expected["input"]) - expected["latent"]).abs().max() < TOL
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL


def test_stage2_checkpoint_without_ema_encoder_uses_raw_encoder(expected, official_sd, tmp_path):
    stage2 = {k: v for k, v in official_sd.items() if not k.startswith("model_ema.encoder")}
    path = _save(stage2, tmp_path / "stage2.ckpt")
    tok = WeTokTokenizer.from_checkpoint(path, CONFIG)
    assert tok.weights == {"encoder": "raw", "decoder": "ema"}
    assert tok.fingerprint()["weights"] == {"encoder": "raw", "decoder": "ema"}

    raw = WeTokTokenizer.from_checkpoint(CKPT, {"model": {"init_args": _init_args(use_ema=False)}})
    assert torch.equal(tok.encode_latent(expected["input"]), raw.encode_latent(expected["input"]))
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL  # EMA decoder kept

    del stage2["encoder.mid_block.0.conv2.weight"]
    with pytest.raises(CheckpointError, match=r"encoder\.mid_block\.0\.conv2\.weight"):
        WeTokTokenizer.from_checkpoint(_save(stage2, tmp_path / "broken.ckpt"), CONFIG)


def test_missing_ema_weight_is_an_error_listing_it(official_sd, tmp_path):
    partial = {k: v for k, v in official_sd.items() if k != "model_ema.decoderadaptive1betabias"}
    with pytest.raises(CheckpointError, match="model_ema.decoderadaptive1betabias"):
        WeTokTokenizer.from_checkpoint(_save(partial, tmp_path / "partial.ckpt"), CONFIG)

    no_ema_decoder = {k: v for k, v in official_sd.items() if not k.startswith("model_ema.decoder")}
    with pytest.raises(CheckpointError, match="no EMA weights for the decoder"):
        WeTokTokenizer.from_checkpoint(_save(no_ema_decoder, tmp_path / "no_dec.ckpt"), CONFIG)


def test_config_that_does_not_match_the_checkpoint_is_a_clear_error():
    wider = {"model": {"init_args": _init_args(embed_dim=24, num_codebooks=3, ddconfig={"z_channels": 24})}}
    with pytest.raises(CheckpointError) as err:
        WeTokTokenizer.from_checkpoint(CKPT, wider)
    message = str(err.value)
    assert "encoder.conv_out.weight" in message
    assert "(16, 64, 1, 1)" in message and "(24, 64, 1, 1)" in message

    deeper = {"model": {"init_args": _init_args(ddconfig={"num_res_blocks": 2})}}
    with pytest.raises(CheckpointError, match=r"model_ema\.encoderdown0block1"):
        WeTokTokenizer.from_checkpoint(CKPT, deeper)

    shallower = {"model": {"init_args": _init_args(ddconfig={"ch_mult": [1]})}}
    with pytest.raises(CheckpointError, match="does not build"):
        WeTokTokenizer.from_checkpoint(CKPT, shallower)


def test_unreadable_checkpoint_and_invalid_configs(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        WeTokTokenizer.from_checkpoint(junk, CONFIG)
    with pytest.raises(UsageError, match="embed_dim 16 must equal num_codebooks 4"):
        WeTokConfig.from_init_args(_init_args(num_codebooks=4))
    with pytest.raises(UsageError, match="not multiples of 32"):
        WeTokConfig.from_init_args(_init_args(ddconfig={"ch": 24}))
    with pytest.raises(UsageError, match="lacks 'n_embed'"):
        WeTokConfig.from_init_args({k: v for k, v in _init_args().items() if k != "n_embed"})
    with pytest.raises(UsageError, match="unknown WeTok model card"):
        resolve_config("wetok-imagenet-f4")


def test_bad_inputs_are_usage_errors(tiny, expected):
    with pytest.raises(UsageError, match="multiple of its downsample factor 2"):
        tiny.encode(torch.zeros(1, 3, 31, 32))
    with pytest.raises(UsageError, match=r"\[0, 256\)"):
        tiny.decode(torch.full((1, 4, 4, 2), 256))
    with pytest.raises(UsageError, match="integer"):
        tiny.decode(expected["codes"].float())
    with pytest.raises(UsageError, match="this model has 2"):
        tiny.decode(torch.zeros(1, 4, 4, 3, dtype=torch.int64))
    with pytest.raises(UsageError, match="no generative decoder"):
        tiny.decode(expected["codes"], noise=torch.zeros(2, 16, 16, 16))
    # the noise the runner gives every tokenizer is ignored by a non-generative one
    assert torch.equal(tiny.decode(expected["codes"], noise=ImageNoise.for_images(0, ["a", "b"])),
                       tiny.decode(expected["codes"]))
    with pytest.raises(UsageError, match="bf16"):
        WeTokTokenizer.from_checkpoint(CKPT, CONFIG, precision="fp16")


def test_pad_policy_crops_back(expected):
    tok = WeTokTokenizer.from_checkpoint(CKPT, CONFIG, size_policy="pad")
    recon, bits = tok.reconstruct(expected["input"][..., :31, :30])
    assert recon.shape == (2, 3, 31, 30)
    assert bits.tolist() == [16 * 15 * 16.0] * 2  # the padded 32 x 30 image: 16 x 15 tokens


def test_fingerprint_hashes_the_checkpoint(tmp_path):
    path = tmp_path / "WeTok.ckpt"
    shutil.copyfile(CKPT, path)
    tok = WeTokTokenizer.from_checkpoint(path, CONFIG)
    fp = tok.fingerprint()
    assert fp["checkpoint"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fp["checkpoint"]["size"] == path.stat().st_size
    assert fp["config"]["ch_mult"] == [1, 2] and fp["config"]["num_codebooks"] == 2
    assert fp["weights"] == {"encoder": "ema", "decoder": "ema"} and fp["noise"] is None
    # cached for the next process under the tool's own folder, nothing beside the checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["WeTok.ckpt"]
    assert len(list(sha256_cache_dir().rglob("*.json"))) == 1


# --- the generative decoder ---------------------------------------------------------------------


def _official_layout(raw: WeTokModel, ema: WeTokModel) -> dict[str, torch.Tensor]:
    """A state dict laid out like a released checkpoint: raw weights, EMA copies, training state."""
    sd = {name: p.detach().clone() for name, p in raw.named_parameters()}
    sd.update({ema_key(name): p.detach().clone() for name, p in ema.named_parameters()})
    sd["model_ema.decay"] = torch.tensor(0.999)
    sd["model_ema.num_updates"] = torch.tensor(-1, dtype=torch.int32)
    sd["loss.discriminator.main.0.weight"] = torch.randn(8, 3, 4, 4)
    return sd


@pytest.fixture(scope="module")
def gan(tmp_path_factory):
    init_args = _init_args(gan_decoder=True)
    config = WeTokConfig.from_init_args(init_args)
    torch.manual_seed(0)
    raw, ema = WeTokModel(config), WeTokModel(config)
    path = _save(_official_layout(raw, ema), tmp_path_factory.mktemp("gan") / "WeTok.ckpt")
    tok = create_tokenizer({"type": "wetok", "name": "gan", "checkpoint": str(path),
                            "config": {"model": {"init_args": init_args}}})
    return tok, ema


def test_generative_decoder_loads_ema_weights(gan):
    tok, ema = gan
    assert tok.model.decoder.conv_in.weight.shape[1] == 2 * 16  # latent + noise channels
    loaded = dict(tok.model.named_parameters())
    assert all(torch.equal(loaded[name], p) for name, p in ema.named_parameters())


def test_generative_decoder_noise_is_reproducible(gan, expected):
    tok, ema = gan
    codes = expected["codes"][:1]
    same_a = tok.decode(codes, noise=ImageNoise.for_images(7, ["a"]))
    same_b = tok.decode(codes, noise=ImageNoise.for_images(7, ["a"]))
    other = tok.decode(codes, noise=ImageNoise.for_images(8, ["a"]))
    assert torch.equal(same_a, same_b)
    assert (same_a - other).abs().max() > 1e-3

    # the draw is torch.randn of the latent's shape from the image's own generator, and an
    # explicit noise tensor goes to the decoder as it is
    noise = torch.randn(1, 16, 16, 16, generator=torch.Generator().manual_seed(image_seed(7, "a")))
    assert torch.equal(tok.decode(codes, noise=noise), same_a)
    with torch.no_grad():
        direct = ema.decoder(tok.codes_to_latent(codes), noise)
    assert (tok.decode(codes, noise=noise) - direct).abs().max() < 1e-6
    with pytest.raises(UsageError, match="latent's shape"):
        tok.decode(codes, noise=noise[:, :8])
    with pytest.raises(UsageError, match="noise for 2 images given with a batch of 1"):
        tok.decode(codes, noise=ImageNoise.for_images(7, ["a", "b"]))


def test_generative_decoder_seed_parameter(gan, expected):
    seeded = [create_wetok(checkpoint=str(gan[0].checkpoint), config=_gan_config(), seed=s) for s in (3, 3, 4)]
    assert [t.noise_seed for t in seeded] == [3, 3, 4]
    outs = [t.decode(expected["codes"][:1]) for t in seeded]
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])
    assert torch.equal(outs[0], seeded[0].decode(expected["codes"][:1]))  # per call, not a running stream
    # without noise, image i of a call draws from the generator of key "#i" under the seed
    keyed = seeded[0].decode(expected["codes"][:1], noise=ImageNoise.for_images(3, ["#0"]))
    assert torch.equal(outs[0], keyed)
    assert "seed 3" in seeded[0].fingerprint()["noise"]


def _three_images() -> torch.Tensor:
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(11)) * 2 - 1


def test_generative_reconstruction_is_per_image_whatever_the_batch(gan):
    tok, _ = gan
    x, keys = _three_images(), ["a.png", "b.png", "c.png"]
    together, _ = tok.reconstruct(x, noise=ImageNoise.for_images(5, keys))
    alone = torch.cat([tok.reconstruct(x[i : i + 1], noise=ImageNoise.for_images(5, [keys[i]]))[0] for i in range(3)])
    reordered, _ = tok.reconstruct(x.flip(0), noise=ImageNoise.for_images(5, keys[::-1]))
    # batch 1 vs 3 convolutions may differ in the last bit; a different draw moves pixels by > 1e-2
    torch.testing.assert_close(alone, together, rtol=0, atol=1e-5)
    torch.testing.assert_close(reordered.flip(0), together, rtol=0, atol=1e-5)
    # the noise matters: the same image under another key decodes differently
    moved, _ = tok.reconstruct(x[:1], noise=ImageNoise.for_images(5, ["b.png"]))
    assert (moved - together[:1]).abs().max() > 1e-2


def test_generative_noise_is_drawn_on_the_cpu_then_moved(gan):
    tok, _ = gan
    x, keys = _three_images(), ["a.png", "b.png", "c.png"]
    seen: list[torch.Tensor] = []
    draws: list[dict] = []
    real_randn = torch.randn

    def spy_randn(*args, **kwargs):
        draws.append(kwargs)
        return real_randn(*args, **kwargs)

    def spy_forward(z, noise=None):
        seen.append(noise)
        return decoder_forward(z, noise)

    decoder_forward = tok.model.decoder.forward
    with mock.patch.object(torch, "randn", spy_randn), mock.patch.object(tok.model.decoder, "forward", spy_forward):
        tok.reconstruct(x, noise=ImageNoise.for_images(9, keys))
    assert len(draws) == 3  # one draw per image, each from that image's generator
    assert all(d["generator"].device.type == "cpu" and d.get("device") in (None, "cpu") for d in draws)
    # what reaches the decoder is torch's CPU draw for each image's own seed, stacked
    reference = torch.stack([
        real_randn(16, 8, 8, generator=torch.Generator().manual_seed(image_seed(9, key))) for key in keys
    ])
    assert torch.equal(seen[0], reference)
    # the draw is made before the move, so another device gets the same values
    assert ImageNoise.for_images(9, keys).randn((16, 8, 8), device="meta").device.type == "meta"


def test_pad_policy_draws_noise_for_the_padded_latent(gan):
    tok, _ = gan
    padding = WeTokTokenizer(tok.model, name="gan-pad", size_policy="pad")
    x = _three_images()[..., :15, :13]
    recon, bits = padding.reconstruct(x, noise=ImageNoise.for_images(2, ["a", "b", "c"]))
    padded = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="reflect")  # 16 x 14: latent 8 x 7
    whole, _ = tok.reconstruct(padded, noise=ImageNoise.for_images(2, ["a", "b", "c"]))
    assert torch.equal(recon, whole[..., :15, :13])
    assert bits.tolist() == [8 * 7 * 16.0] * 3


def test_generative_seed_parameter_under_the_runner(gan, tmp_path, photos):
    """The entry's seed decides the noise (the suite's seed does not), and reproduces it; an entry
    without a seed takes the suite's; values do not depend on the batch size."""
    from helpers_runs import photo_folder, read_rows, run_here

    folder = photo_folder(tmp_path / "imgs", photos, 3, size=40)
    entry = {"type": "wetok", "checkpoint": str(gan[0].checkpoint), "config": _gan_config()}
    suite = {
        "name": "s", "datasets": [{"type": "folder", "name": "imgs", "root": str(folder)}],
        "tokenizers": [{**entry, "name": "s3", "seed": 3}, {**entry, "name": "s3b", "seed": 3},
                       {**entry, "name": "s4", "seed": 4}, {**entry, "name": "free"}],
        "metrics": ["psnr"], "resolution": 16, "num_workers": 0, "device": "cpu",
    }
    runs = {}
    for label, batch_size, seed in (("a", 3, 0), ("b", 1, 1)):
        path = tmp_path / f"{label}.yaml"
        path.write_text(yaml.safe_dump({**suite, "batch_size": batch_size, "seed": seed}))
        run_here(path, tmp_path / label)
        runs[label] = {t: read_rows(tmp_path / label / "s" / f"{t}__imgs__16") for t in ("s3", "s3b", "s4", "free")}
    a, b = runs["a"], runs["b"]
    assert len(a["s3"]) == 3
    psnr = {t: [float(r["psnr"]) for r in rows] for t, rows in a.items()}
    assert psnr["s3"] == psnr["s3b"]
    assert all(abs(p - q) > 1e-3 for p, q in zip(psnr["s3"], psnr["s4"]))
    close = lambda u, v: all(abs(float(r["psnr"]) - float(s["psnr"])) < 1e-4 for r, s in zip(u, v))  # noqa: E731
    assert close(b["s3"], a["s3"])  # batch 1 and suite seed 1 vs batch 3 and suite seed 0
    assert not close(b["free"], a["free"])  # no entry seed: the suite's seed applies


def _gan_config() -> dict:
    return {"model": {"init_args": _init_args(gan_decoder=True)}}


# --- cards, compression, the suite factory -----------------------------------------------------


@pytest.mark.parametrize(
    "card, ratio, bits",
    [
        # 256x256x3x8 = 1,572,864 bits of pixels; code bits = tokens x groups x 8
        ("wetok-general-c24", 24, 32 * 32 * 8 * 8),
        ("wetok-general-c48", 48, 32 * 32 * 4 * 8),
        ("wetok-general-c192", 192, 16 * 16 * 4 * 8),
        ("wetok-general-c768", 768, 8 * 8 * 4 * 8),
        ("wetok-imagenet-f8", 48, 32 * 32 * 4 * 8),
        ("wetok-imagenet-f16", 192, 16 * 16 * 4 * 8),
    ],
)
def test_card_compression_at_256(card, ratio, bits):
    config, name = resolve_config(card)
    assert name == card
    comp = wetok_compression(config, 256, 256)
    assert comp.bits_per_image == bits
    assert comp.ratio == ratio


def test_cards_are_registered_and_described():
    assert {c.name for c in CARDS} == {
        "wetok-imagenet-f8", "wetok-imagenet-f16", "wetok-general-c24",
        "wetok-general-c48", "wetok-general-c192", "wetok-general-c768",
    }
    card = get_card("wetok-imagenet-f16", "wetok")
    assert card.source == "hf://GrayShine/WeTok/ImageNet/downsample16/WeTok.ckpt"
    assert card.license == "Apache-2.0" and "2508.05599" in card.paper
    assert resolve_config("wetok-general-c768")[0].gan_decoder
    assert not resolve_config("wetok-general-c192")[0].gan_decoder


def test_create_tokenizer_from_a_suite_entry(expected):
    tok = create_tokenizer({"type": "wetok", "name": "tiny", "checkpoint": str(CKPT), "config": str(CONFIG)})
    assert isinstance(tok, WeTokTokenizer) and tok.name == "tiny" and tok.kind == "discrete"
    assert tok.downsample == 2
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL


def test_create_wetok_argument_errors():
    with pytest.raises(UsageError, match="exactly one of 'model'"):
        create_wetok(checkpoint=str(CKPT))
    with pytest.raises(UsageError, match="exactly one of 'model'"):
        create_wetok(checkpoint=str(CKPT), model="wetok-imagenet-f16", config=str(CONFIG))
    with pytest.raises(UsageError, match="unknown WeTok model card"):
        create_wetok(model="wetok-imagenet-f12")
    with pytest.raises(UsageError, match="has no parameter 'ckpt'"):
        create_tokenizer({"type": "wetok", "ckpt": str(CKPT), "config": str(CONFIG)})
    # a card's architecture is f16 with ch 256: the tiny checkpoint does not fit it
    with pytest.raises(CheckpointError, match=r"lacks \d+ ema encoder weights: model_ema\.encoderdown0block1"):
        create_wetok(model="wetok-imagenet-f16", checkpoint=str(CKPT))
    # offline, a card's hf:// source that is not cached names where to put the file
    with pytest.raises(MissingWeightsError, match="GrayShine/WeTok"):
        create_wetok(model="wetok-general-c24")
