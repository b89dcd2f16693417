"""Tokenizer interface: compression accounting (design.md's worked examples), size policy,
output checks and the registry (suggestions, refusals, entry-point plug-ins)."""

from __future__ import annotations

import logging
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wetok_bench.core.errors import RegistryError, TokenizerOutputError, UsageError
from wetok_bench.tokenizers import registry
from wetok_bench.tokenizers.base import (
    ImageNoise,
    Tokenizer,
    continuous_compression,
    discrete_compression,
    find_non_finite,
    image_seed,
    parse_precision,
)
from wetok_bench.tokenizers.identity import IdentityTokenizer

PIXEL_BITS_256 = 256 * 256 * 3 * 8  # 1,572,864


# --- compression accounting ------------------------------------------------------------


def test_wetok_f16_four_groups_of_eight_bits_is_192():
    c = discrete_compression(256, 256, downsample=16, codebook_size=256, groups=4)
    assert c.tokens == 256 and c.bits_per_token == 32 and c.bits_per_image == 16 * 16 * 32
    assert c.ratio == PIXEL_BITS_256 / 8192 == 192.0
    assert c.latent_shape == (16, 16, 4) and c.codebook == "4 x 256"


def test_flux_vae_16_channels_at_f8_is_6():
    c = continuous_compression(256, 256, downsample=8, channels=16)  # 16 bits per value by default
    assert c.bits_per_image == 16384 * 16
    assert c.ratio == 6.0
    assert c.latent_shape == (16, 32, 32) and c.codebook == "16 ch x 16 bit"
    assert continuous_compression(256, 256, 8, 16, bits_per_value=8).ratio == 12.0


def test_cosmos_di16x16_uses_log2_of_64000():
    c = discrete_compression(256, 256, downsample=16, codebook_size=64000)
    assert c.bits_per_token == math.log2(64000)
    # 1,572,864 / (256 * 15.9658) = 384.82; the paper rounds log2(64000) to 16 and quotes 384
    assert c.ratio == pytest.approx(384.8229, abs=1e-4)
    assert c.codebook == "64000"


def test_compression_to_dict_carries_the_ratio():
    data = discrete_compression(256, 256, 16, 256, 4).to_dict()
    assert data["ratio"] == 192.0 and data["latent_shape"] == [16, 16, 4]


def test_parse_precision():
    assert parse_precision("bf16") is torch.bfloat16
    with pytest.raises(UsageError, match="unknown precision 'fp8'"):
        parse_precision("fp8")


# --- size policy and output checks ----------------------------------------------------


class _Pool4(Tokenizer):
    """f4 average-pool / nearest-upsample tokenizer, 3 channels x 8 bits per position."""

    kind = "continuous"
    downsample = 4

    def encode(self, x):
        return F.avg_pool2d(x, 4)

    def decode(self, code, *, noise=None):
        return F.interpolate(code, scale_factor=4, mode="nearest")

    def compression(self, height, width):
        return continuous_compression(height, width, 4, 3, bits_per_value=8)

    def fingerprint(self):
        return {"family": "test-pool4"}


def test_size_not_multiple_of_downsample_is_refused_with_advice():
    x = torch.zeros(1, 3, 10, 13)
    message = r"image size 10x13 is not a multiple of its downsample factor 4.*size_policy: pad"
    with pytest.raises(UsageError, match=message):
        _Pool4("pool4").reconstruct(x)


def test_pad_policy_pads_by_reflection_and_crops_back():
    x = torch.rand(2, 3, 10, 13, generator=torch.Generator().manual_seed(0)) * 2 - 1
    recon, bits = _Pool4("pool4", size_policy="pad").reconstruct(x)
    assert recon.shape == x.shape
    # reference: numpy reflect padding to 12 x 16, 4x4 block means, repeated, cropped
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 2), (0, 3)), mode="reflect")
    means = padded.reshape(2, 3, 3, 4, 4, 4).mean(axis=(3, 5))
    expected = means.repeat(4, axis=2).repeat(4, axis=3)[..., :10, :13]
    np.testing.assert_allclose(recon.numpy(), expected, atol=1e-6)
    # the code covers the padded image: 3 x 4 positions x 3 channels x 8 bits
    assert bits.tolist() == [3 * 4 * 3 * 8.0] * 2


def test_identity_accepts_any_size_under_either_policy():
    x = torch.rand(1, 3, 7, 11) * 2 - 1
    for policy in ("error", "pad"):
        recon, _ = IdentityTokenizer("id", size_policy=policy).reconstruct(x)
        assert torch.equal(recon, x)


def test_bad_size_policy_and_wrong_output_shape():
    with pytest.raises(UsageError, match="size_policy must be 'error' or 'pad'"):
        _Pool4("pool4", size_policy="crop")

    class _Gray(_Pool4):
        def decode(self, code, *, noise=None):
            return super().decode(code)[:, :1]

    with pytest.raises(TokenizerOutputError, match=r"returned shape \(1, 1, 8, 8\) for input \(1, 3, 8, 8\)"):
        _Gray("gray").reconstruct(torch.zeros(1, 3, 8, 8))


class _Noisy(_Pool4):
    """Adds the given per-image noise at encode time (as a posterior sample does) and at decode."""

    encode_uses_noise = True

    def encode(self, x, *, noise=None):
        self.encode_noise = noise
        return super().encode(x) + noise.randn((3, x.shape[-2] // 4, x.shape[-1] // 4))

    def decode(self, code, *, noise=None):
        self.decode_noise = noise
        return super().decode(code)


def test_noise_goes_to_encode_and_decode_and_must_fit_the_batch():
    tok = _Noisy("noisy", size_policy="pad")
    x = torch.zeros(2, 3, 6, 8)
    noise = ImageNoise.for_images(0, ["a", "b"])
    recon, bits = tok.reconstruct(x, noise=noise)
    assert tok.encode_noise is noise and tok.decode_noise is noise
    # the draw is for the padded image's code (8 x 8 -> 2 x 2 positions): torch.randn per image
    expected = torch.stack([torch.randn(3, 2, 2, generator=torch.Generator().manual_seed(image_seed(0, k)))
                            for k in ("a", "b")])
    torch.testing.assert_close(recon, F.interpolate(expected, scale_factor=4)[..., :6, :8], rtol=0, atol=0)
    with pytest.raises(UsageError, match="noise for 1 images given with a batch of 2"):
        tok.reconstruct(x, noise=ImageNoise.for_images(0, ["a"]))
    # a family that draws nothing at encode time is called as encode(x)
    _Pool4("pool4").reconstruct(torch.zeros(1, 3, 4, 4), noise=ImageNoise.for_images(0, ["a"]))


def test_token_ids_default_and_with_tokens():
    tok = _Pool4("pool4")
    assert tok.codebook_size is None and tok.noise_seed is None and tok.seeded_noise(2) is None
    recon, bits, tokens = tok.reconstruct(torch.zeros(2, 3, 4, 4), with_tokens=True)
    assert tokens is None and recon.shape == (2, 3, 4, 4) and bits.shape == (2,)
    assert len(tok.reconstruct(torch.zeros(1, 3, 4, 4))) == 2
    tok.noise_seed = 5
    seeded = tok.seeded_noise(2)
    assert seeded.seeds == [image_seed(5, "#0"), image_seed(5, "#1")]


def test_find_non_finite_names_the_bad_images():
    batch = torch.zeros(4, 3, 5, 5)
    batch[1, 2, 3, 4] = float("nan")
    batch[3, 0, 0, 0] = float("-inf")
    assert find_non_finite(batch) == [1, 3]
    assert find_non_finite(torch.zeros(2, 3, 5, 5)) == []


# --- registry ----------------------------------------------------------------------------


@pytest.fixture
def clean_registry(registries):
    """The registry as it is now (what a test registers is removed after it), entry points read afresh."""
    return registry


def test_unknown_type_suggests_the_closest(clean_registry):
    with pytest.raises(UsageError, match=r"unknown tokenizer type 'taesdd'; did you mean 'taesd'\?"):
        registry.create_tokenizer({"type": "taesdd"})
    with pytest.raises(UsageError, match="has no 'type'"):
        registry.create_tokenizer({"name": "x"})


def test_unknown_parameter_suggests_the_closest(clean_registry):
    with pytest.raises(UsageError, match=r"type 'codec' has no parameter 'qualty'; did you mean 'quality'\?"):
        registry.create_tokenizer({"type": "codec", "qualty": 50})
    assert registry.factory_parameters("identity") == ["name"]


def _message(spec: dict) -> str:
    with pytest.raises(UsageError) as caught:
        registry.create_tokenizer(spec)
    return str(caught.value)


def test_create_tokenizer_checks_types_ranges_and_choices_like_a_suite(clean_registry):
    from wetok_bench.config.suite import SuiteError, parse_suite

    # codec's declaration: quality an int in 0..100 (a suite may give a list), format a choice
    assert _message({"type": "codec", "quality": "50"}) == (
        "tokenizer type 'codec': quality: expected an integer from 0 to 100 (or a list of them), got str '50'")
    assert _message({"type": "codec", "quality": 150}) == (
        "tokenizer type 'codec': quality: expected an integer from 0 to 100 (or a list of them), got 150")
    assert _message({"type": "codec", "format": "jpeg2000"}) == (
        "tokenizer type 'codec': format: 'jpeg2000' is not one of jpeg, webp, jpg; did you mean 'jpeg'?")
    assert _message({"type": "codec", "quality": [10, 50]}) == (
        "tokenizer type 'codec': quality: expected one value (a list expands into several entries only in a suite)")
    assert _message({"type": "codec", "qualty": 3, "quality": -1}) == (
        "tokenizer type 'codec' has 2 problems:\n  qualty: unknown key; did you mean 'quality'?\n"
        "  quality: expected an integer from 0 to 100 (or a list of them), got -1")
    # the same words as suite validation: one declaration, one check
    with pytest.raises(SuiteError) as suite:
        parse_suite({"name": "s", "datasets": [{"type": "samples"}], "tokenizers": [{"type": "codec", "quality": 150}]})
    assert suite.value.problems == [("tokenizers[0].quality", "expected an integer from 0 to 100 (or a list of them), got 150")]
    assert registry.create_tokenizer({"type": "codec", "quality": 100}).name == "codec"


def test_create_tokenizer_checks_an_undeclared_factory_by_its_type_hints(clean_registry):
    def create_scaled(*, name: str = "scaled", factor: int = 2) -> IdentityTokenizer:
        return IdentityTokenizer(name)

    registry.register_tokenizer("scaled", create_scaled)
    assert _message({"type": "scaled", "factor": 2.5}) == "tokenizer type 'scaled': factor: expected an integer, got float 2.5"
    assert registry.create_tokenizer({"type": "scaled", "factor": 4}).name == "scaled"


def test_register_tokenizer_refuses_bad_names_and_duplicates(clean_registry):
    def factory(*, name="x"):
        return IdentityTokenizer(name)

    for bad in ("has space", "a/b", "", "-leading"):
        with pytest.raises(RegistryError, match="invalid tokenizer type name"):
            registry.register_tokenizer(bad, factory)
    with pytest.raises(RegistryError, match="'identity' is already registered"):
        registry.register_tokenizer("identity", factory)
    with pytest.raises(RegistryError, match="is not callable"):
        registry.register_tokenizer("not-callable", 42)

    @registry.register_tokenizer("my-identity")
    def create_mine(*, name="mine"):
        return IdentityTokenizer(name)

    registry.register_tokenizer("my-identity", create_mine)  # the same factory again is fine
    assert registry.create_tokenizer({"type": "my-identity"}).name == "my-identity"
    registry.register_tokenizer("identity", factory, overwrite=True)
    assert registry.get_factory("identity") is factory


def test_factory_must_return_a_tokenizer(clean_registry):
    registry.register_tokenizer("not-a-tokenizer", lambda *, name: object())
    with pytest.raises(UsageError, match="did not return a Tokenizer"):
        registry.create_tokenizer({"type": "not-a-tokenizer"})


def test_entry_point_plugin_is_found_lazily_and_cannot_shadow_builtins(clean_registry, tmp_path, monkeypatch, caplog):
    (tmp_path / "wb_plugin_pool.py").write_text(
        "import torch.nn.functional as F\n"
        "from wetok_bench.tokenizers.base import Tokenizer, continuous_compression\n"
        "class Pool2(Tokenizer):\n"
        "    downsample = 2\n"
        "    def encode(self, x): return F.avg_pool2d(x, 2)\n"
        "    def decode(self, code, *, noise=None): return F.interpolate(code, scale_factor=2)\n"
        "    def compression(self, h, w): return continuous_compression(h, w, 2, 3, 8)\n"
        "    def fingerprint(self): return {'family': 'pool2'}\n"
        "def create(*, name='pool2', size_policy='error'):\n"
        "    return Pool2(name, size_policy=size_policy)\n"
    )
    info = tmp_path / "wb_plugin_pool-0.1.dist-info"  # what `pip install` leaves behind
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-plugin-pool\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.ENTRY_POINT_GROUP}]\npool2 = wb_plugin_pool:create\nidentity = wb_plugin_pool:create\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="wetok_bench.core.plugins"):
        assert "pool2" in registry.tokenizer_types()
    assert [r.getMessage() for r in caplog.records] == [
        "tokenizer type plug-in 'identity' (wb_plugin_pool:create, distribution 'wb-plugin-pool 0.1') is ignored: "
        "a built-in has that name"]
    assert "wb_plugin_pool" not in sys.modules  # listed, not imported
    tok = registry.create_tokenizer({"type": "pool2", "size_policy": "pad"})
    recon, bits = tok.reconstruct(torch.zeros(1, 3, 5, 6))
    assert recon.shape == (1, 3, 5, 6) and bits.tolist() == [3 * 3 * 3 * 8.0]
    assert registry.factory_parameters("pool2") == ["name", "size_policy"]
    assert registry.get_factory("identity").__module__ == "wetok_bench.tokenizers.identity"
