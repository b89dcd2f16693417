"""cosmos family: tiny TorchScript encoder/decoder pairs with the signatures of NVIDIA's
encoder.jit / decoder.jit (NVIDIA/Cosmos-Tokenizer, networks/*_image.py), saved to disk and
loaded through the factory; running the modules directly is the reference."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.hashing import sha256_file
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.cards import known_cards


class CIEncoder(nn.Module):
    """Patchify conv to 16 channels; returns (latent, (mean, logvar) placeholders) like the AE formulation."""

    def __init__(self, factor: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, factor, stride=factor)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return self.conv(x), (torch.tensor([0.0]), torch.tensor([0.0]))


class CIDecoder(nn.Module):
    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(16, 3 * factor * factor, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(F.pixel_shuffle(self.conv(z), self.factor))


class DIEncoder(nn.Module):
    """Conv to 6 channels, then FSQ with levels (8,8,8,5,5,5): returns (indices, codes, loss)."""

    def __init__(self, factor: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, factor, stride=factor)
        self.register_buffer("levels", torch.tensor([8, 8, 8, 5, 5, 5]))
        self.register_buffer("basis", torch.tensor([1, 8, 64, 512, 2560, 12800]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.conv(x).float().permute(0, 2, 3, 1)  # B h w 6
        digits = torch.round((torch.tanh(z) + 1) / 2 * (self.levels - 1)).long()
        indices = (digits * self.basis).sum(-1).to(torch.int32)
        codes = (digits.to(x.dtype) / (self.levels - 1) * 2 - 1).permute(0, 3, 1, 2)
        return indices, codes, torch.zeros_like(codes.mean(dim=[1, 2, 3], keepdim=True))


class DIDecoder(nn.Module):
    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(6, 3 * factor * factor, 1)
        self.register_buffer("levels", torch.tensor([8, 8, 8, 5, 5, 5]))
        self.register_buffer("basis", torch.tensor([1, 8, 64, 512, 2560, 12800]))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        digits = (indices.long().unsqueeze(-1) // self.basis) % self.levels
        codes = (digits.float() / (self.levels - 1) * 2 - 1).permute(0, 3, 1, 2).to(self.conv.weight.dtype)
        return torch.tanh(F.pixel_shuffle(self.conv(codes), self.factor))


def save_pair(folder: Path, kind: str, factor: int) -> Path:
    torch.manual_seed(factor)
    enc, dec = (CIEncoder, CIDecoder) if kind == "CI" else (DIEncoder, DIDecoder)
    folder.mkdir(parents=True, exist_ok=True)
    # torch deprecates *writing* TorchScript; the released checkpoints are TorchScript, so the
    # fixtures must be too
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=FutureWarning)
        torch.jit.script(enc(factor)).save(str(folder / "encoder.jit"))
        torch.jit.script(dec(factor)).save(str(folder / "decoder.jit"))
    return folder


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cosmos")
    return {f"{k}{f}": save_pair(root / f"{k}{f}", k, f) for k in ("CI", "DI") for f in (8, 16)}


def images(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(5)) * 2 - 1


def direct(folder: Path, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """What NVIDIA's ImageTokenizer.autoencode does: decode(encode(x)[0]) with the jit files."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
        enc = torch.jit.load(str(folder / "encoder.jit")).to(dtype)
        dec = torch.jit.load(str(folder / "decoder.jit")).to(dtype)
    with torch.no_grad():
        return dec(enc(x.to(dtype))[0]).float()


@pytest.mark.parametrize("key", ["CI8", "CI16", "DI8", "DI16"])
@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_reconstruction_equals_running_the_jit_modules(pairs, key, precision, dtype):
    tok = create_tokenizer({"type": "cosmos", "path": str(pairs[key]), "precision": precision})
    x = images()
    recon, _ = tok.reconstruct(x)
    assert recon.dtype == torch.float32 and recon.shape == x.shape
    torch.testing.assert_close(recon, direct(pairs[key], x, dtype), rtol=0, atol=0)


def test_kind_downsample_and_code_read_from_the_files(pairs):
    ci = create_tokenizer({"type": "cosmos", "path": str(pairs["CI8"])})
    di = create_tokenizer({"type": "cosmos", "path": str(pairs["DI16"])})
    assert (ci.kind, ci.downsample, ci.latent_channels) == ("continuous", 8, 16)
    assert (di.kind, di.downsample) == ("discrete", 16)
    x = images()
    with torch.no_grad():
        latent, indices = ci.encode(x), di.encode(x)
    assert latent.shape == (2, 16, 8, 8) and latent.dtype == torch.bfloat16
    assert indices.shape == (2, 4, 4) and not indices.is_floating_point()
    assert 0 <= int(indices.min()) and int(indices.max()) < 64000


def test_token_ids_are_the_di_indices(pairs):
    di = create_tokenizer({"type": "cosmos", "path": str(pairs["DI8"])})
    ci = create_tokenizer({"type": "cosmos", "path": str(pairs["CI8"])})
    x = images()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
        encoder = torch.jit.load(str(pairs["DI8"] / "encoder.jit")).to(torch.bfloat16)
    with torch.no_grad():
        indices = encoder(x.to(torch.bfloat16))[0]  # B x 8 x 8, what NVIDIA's encoder returns first
    recon, bits, tokens = di.reconstruct(x, with_tokens=True)
    assert di.codebook_size == 8 * 8 * 8 * 5 * 5 * 5 and ci.codebook_size is None
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 64, 1)
    assert torch.equal(tokens[..., 0], indices.long().reshape(2, 64))
    assert torch.equal(tokens[1, 3 * 8 + 5, 0], indices[1, 3, 5].long())  # raster order: row 3, column 5
    torch.testing.assert_close(recon, di.reconstruct(x)[0], rtol=0, atol=0)
    assert ci.reconstruct(x, with_tokens=True)[2] is None  # a continuous latent has no token ids


def test_discrete_compression_hand_computed(pairs):
    di16 = create_tokenizer({"type": "cosmos", "path": str(pairs["DI16"])})
    di8 = create_tokenizer({"type": "cosmos", "path": str(pairs["DI8"])})
    bits_per_token = math.log2(8 * 8 * 8 * 5 * 5 * 5)
    # 256*256*3*8 = 1,572,864 bits over (256/f)^2 tokens of log2(64000) bits
    assert di16.compression(256, 256).ratio == pytest.approx(1572864 / (256 * bits_per_token), rel=1e-12)
    assert di8.compression(256, 256).ratio == pytest.approx(1572864 / (1024 * bits_per_token), rel=1e-12)
    assert round(di16.compression(256, 256).ratio, 2) == 384.82  # the paper's "384" counts 16 bits a token
    assert round(di8.compression(256, 256).ratio, 2) == 96.21
    _, bits = di16.reconstruct(images())
    assert bits.tolist() == pytest.approx([16 * bits_per_token] * 2)


def test_continuous_compression(pairs):
    ci8 = create_tokenizer({"type": "cosmos", "path": str(pairs["CI8"])})
    ci16 = create_tokenizer({"type": "cosmos", "path": str(pairs["CI16"])})
    # 1,572,864 / (32*32 * 16 ch * 16 bit) = 6; at f16 / (16*16*16*16) = 24
    assert ci8.compression(256, 256).ratio == 6.0
    assert ci16.compression(256, 256).ratio == 24.0


def test_fingerprint_records_files_and_dtype(pairs):
    fp = create_tokenizer({"type": "cosmos", "path": str(pairs["DI8"])}).fingerprint()
    assert fp["weights_sha256"] == {f: sha256_file(pairs["DI8"] / f) for f in ("encoder.jit", "decoder.jit")}
    assert fp["precision"] == "bfloat16" and fp["kind"] == "discrete" and fp["downsample"] == 8
    assert fp["code"] == {"fsq_levels": [8, 8, 8, 5, 5, 5], "codebook_size": 64000}
    fp32 = create_tokenizer({"type": "cosmos", "path": str(pairs["DI8"]), "precision": "fp32"}).fingerprint()
    assert fp32["precision"] == "float32"


def test_given_kind_or_factor_must_match_the_files(pairs):
    with pytest.raises(UsageError, match="kind is 'continuous'"):
        create_tokenizer({"type": "cosmos", "path": str(pairs["DI8"]), "kind": "continuous"})
    with pytest.raises(UsageError, match="downsamples by 8"):
        create_tokenizer({"type": "cosmos", "path": str(pairs["CI8"]), "downsample": 16})
    # refused by the family's declaration (as in a suite), before the factory runs
    with pytest.raises(UsageError, match="tokenizer type 'cosmos': kind: 'vq' is not one of continuous, discrete"):
        create_tokenizer({"type": "cosmos", "path": str(pairs["CI8"]), "kind": "vq"})


def test_card_with_local_path(pairs):
    tok = create_tokenizer({"type": "cosmos", "model": "cosmos-di16x16", "path": str(pairs["DI16"])})
    assert (tok.kind, tok.downsample) == ("discrete", 16)
    with pytest.raises(UsageError, match="downsamples by 8"):
        create_tokenizer({"type": "cosmos", "model": "cosmos-di16x16", "path": str(pairs["DI8"])})


def test_non_multiple_size_is_an_error(pairs):
    tok = create_tokenizer({"type": "cosmos", "path": str(pairs["CI16"])})
    with pytest.raises(UsageError, match="not a multiple of its downsample factor 16"):
        tok.reconstruct(images(72))


def test_missing_files_are_clear_errors(pairs, tmp_path):
    (tmp_path / "encoder.jit").write_bytes((pairs["CI8"] / "encoder.jit").read_bytes())
    with pytest.raises(UsageError, match="has no decoder.jit"):
        create_tokenizer({"type": "cosmos", "path": str(tmp_path)})
    with pytest.raises(UsageError, match="folder not found"):
        create_tokenizer({"type": "cosmos", "path": str(tmp_path / "nope")})
    (tmp_path / "decoder.jit").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="not a TorchScript file"):
        create_tokenizer({"type": "cosmos", "path": str(tmp_path)})
    with pytest.raises(UsageError, match="give model"):
        create_tokenizer({"type": "cosmos"})


def test_card_offline_without_cache_names_the_repo():
    with pytest.raises(MissingWeightsError, match="nvidia/Cosmos-0.1-Tokenizer-DI16x16/resolve/main/encoder.jit"):
        create_tokenizer({"type": "cosmos", "model": "cosmos-di16x16"})


def test_cards():
    cards = {n: c for n, c in known_cards().items() if c.type == "cosmos"}
    assert set(cards) == {"cosmos-ci8x8", "cosmos-ci16x16", "cosmos-di8x8", "cosmos-di16x16"}
    assert cards["cosmos-di8x8"].params == {
        "path": "hf://nvidia/Cosmos-0.1-Tokenizer-DI8x8", "kind": "discrete", "downsample": 8,
    }
