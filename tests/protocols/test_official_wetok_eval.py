"""Protocol `wetok` against the official WeTok evaluation's own recorded outputs.

The recordings (tests/data/official_wetok_eval, made by its make_vectors.py, which executes the
official `ImagePaths.preprocess_image` and the statements of `evaluation_image_ddp.py` on the
CPU) hold, for three photo crops and six reconstructions (JPEG q50 round trips and float noise):
the official float tokenizer input, the uint8 views the script truncates to, skimage's per-image
PSNR/SSIM as the script calls it, per-image LPIPS alex/vgg and Inception features with random
(kaiming) weights rebuilt here from the same seeds, and the script's final aggregates under
three (ranks x batch) layouts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_inception import write_pytorch_fid_inception_weights
from helpers_lpips import random_backbone_file

from wetok_bench.data.images import load_rgb
from wetok_bench.data.preprocess import center_crop_u8
from wetok_bench.metrics.aggregate import protocol_aggregates
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.protocols import get_protocol, truncate_to_u8, u8_to_signed_float

DATA = Path(__file__).resolve().parents[1] / "data" / "official_wetok_eval"
META = json.loads((DATA / "vectors.json").read_text())
VEC = dict(np.load(DATA / "vectors.npz"))
WETOK = get_protocol("wetok")


def _nchw(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def originals_u8() -> torch.Tensor:
    """The project's preprocessing of the recorded input PNGs at the recorded size (N x 3 x S x S)."""
    size = META["size"]
    return torch.stack([center_crop_u8(load_rgb(DATA / "inputs" / f"{c['name']}.png"), size) for c in META["crops"]])


@pytest.fixture(scope="module")
def pairs(originals_u8) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 original, float reconstruction) of every recorded pair."""
    return originals_u8[torch.from_numpy(VEC["pair_original"])], _nchw(VEC["recon_float"])


@pytest.fixture(scope="module")
def official_weights(tmp_path_factory) -> dict[str, Path]:
    """The random weights files the recording used, rebuilt from their seeds (sha256 checked)."""
    folder = tmp_path_factory.mktemp("official_weights")
    seeds = META["weights_seeds"]
    files = {  # the file names as torch hub caches them: torch.save records the name inside
        "alex": random_backbone_file("alex", folder / "alexnet-owt-7be5be79.pth", seed=seeds["alex"]),
        "vgg": random_backbone_file("vgg", folder / "vgg16-397923af.pth", seed=seeds["vgg"]),
        "pytorch_fid": write_pytorch_fid_inception_weights(
            folder / "pt_inception-2015-12-05-6726825d.pth", seed=seeds["pytorch_fid"]
        ),
    }
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == META["weights_sha256"][name], name
    return files


def test_tokenizer_input_is_the_official_float(originals_u8):
    ours = WETOK.original_float(originals_u8).permute(0, 2, 3, 1).numpy()
    assert ours.dtype == np.float32
    assert np.array_equal(ours, VEC["original_float"])  # bit for bit


def test_uint8_views_are_the_official_ones(pairs):
    original, recon = pairs
    ref_px, rec_px = WETOK.pixel_views(original, recon)
    assert np.array_equal(ref_px.permute(0, 2, 3, 1).numpy(), VEC["img_np"])
    assert np.array_equal(rec_px.permute(0, 2, 3, 1).numpy(), VEC["rec_np"])


def test_per_image_metrics_equal_the_official_ones(pairs, official_weights):
    original, recon = pairs
    evaluator = ReconstructionEvaluator(
        "wetok", metrics=["psnr", "ssim", "lpips"],
        lpips_weights={"alex": official_weights["alex"], "vgg": official_weights["vgg"]},
    )
    rows = evaluator.update(original, recon)
    np.testing.assert_allclose(rows["psnr"].numpy(), VEC["psnr"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rows["ssim"].numpy(), VEC["ssim"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rows["lpips"].numpy(), VEC["lpips_alex"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(rows["lpips_vgg"].numpy(), VEC["lpips_vgg"], rtol=1e-5, atol=1e-8)
    assert np.ptp(VEC["lpips_alex"]) > 1e-3 * VEC["lpips_alex"].mean()  # the backbone is not trivial


def test_inception_features_equal_the_official_ones(pairs, official_weights):
    original, recon = pairs
    evaluator = ReconstructionEvaluator("wetok", metrics=["rfid"], inception_weights=official_weights["pytorch_fid"])
    reference = evaluator.reference_features(original)["pytorch-fid"].numpy()
    with torch.inference_mode():
        reconstructed = evaluator.extractors["pytorch-fid"](WETOK.fid_view_recon(recon)).numpy()
    scale = np.abs(VEC["inception_ref"]).max()
    assert scale > 0.1
    np.testing.assert_allclose(reference, VEC["inception_ref"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(reconstructed, VEC["inception_rec"], rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("layout", META["layouts"], ids=lambda l: f"{l['world_size']}x{l['batch_size']}")
def test_official_aggregate_equals_the_scripts(layout):
    out = protocol_aggregates(
        "wetok", {"psnr": VEC["psnr"], "ssim": VEC["ssim"]},
        world_size=layout["world_size"], batch_size=layout["batch_size"],
    )
    # the script accumulates in float32: agreement to its rounding
    assert out["psnr_official"] == pytest.approx(layout["psnr_val"], rel=1e-6)
    assert out["ssim_official"] == pytest.approx(layout["ssim_val"], rel=1e-6)


def _cuda_style_division(monkeypatch) -> None:
    """Make ``tensor / scalar`` what torch computes on CUDA: a product with the float32 reciprocal."""
    true_divide = torch.Tensor.__truediv__

    def divide(self, other):
        if isinstance(other, (int, float)) and self.is_floating_point() and self.dtype == torch.float32:
            return self * (np.float32(1.0) / np.float32(other)).item()
        return true_divide(self, other)

    monkeypatch.setattr(torch.Tensor, "__truediv__", divide)


def test_views_are_device_independent_under_cuda_style_division(monkeypatch, originals_u8, pairs):
    values = torch.arange(256, dtype=torch.uint8)
    cpu_float32 = values.to(torch.float32) / 127.5 - 1.0
    _cuda_style_division(monkeypatch)
    # the emulation is active: the float32 formula now lowers 1..47 (1..63 on a CPU)
    cuda_float32 = values.to(torch.float32) / 127.5 - 1.0
    assert not torch.equal(cuda_float32, cpu_float32)
    lowered = (truncate_to_u8(cuda_float32) != values).nonzero().flatten().tolist()
    assert lowered == list(range(1, 48))
    # the protocol's conversions look up a table made on the CPU: still the official bits
    ours = WETOK.original_float(originals_u8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(ours, VEC["original_float"])
    ref_px, rec_px = WETOK.pixel_views(*pairs)
    assert np.array_equal(ref_px.permute(0, 2, 3, 1).numpy(), VEC["img_np"])
    assert np.array_equal(rec_px.permute(0, 2, 3, 1).numpy(), VEC["rec_np"])
    fid = WETOK.fid_view_original(originals_u8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(fid, (VEC["original_float"] + np.float32(1)) * np.float32(0.5))


def test_official_truncation_lowers_1_to_95():
    # the official float64-then-float32 conversion, then the script's truncation: u = 1..95 drop
    values = torch.arange(256, dtype=torch.uint8)
    ref_px, _ = WETOK.pixel_views(values.view(1, 1, 16, 16).expand(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    lowered = (ref_px[0, 0].flatten() != values).nonzero().flatten().tolist()
    assert lowered == list(range(1, 96))


def test_standard_keeps_its_version_1_bits_and_fingerprint():
    standard = get_protocol("standard")
    values = torch.arange(256, dtype=torch.uint8)
    # v1 computed u8.float() / 127.5 - 1 in float32 on the CPU; the table keeps those bits
    assert torch.equal(standard.original_float(values), values.to(torch.float32) / 127.5 - 1.0)
    baseline = json.loads((Path(__file__).resolve().parents[2] / "baselines" / "ci_baseline.json").read_text())
    assert baseline["protocols"]["standard"] == standard.fingerprint
    assert standard.version == 1 and "u8_float" not in standard.to_dict()
    # wetok v1 (float32 conversion) must not compare equal to v2
    assert WETOK.version == 2 and WETOK.to_dict()["u8_float"] == "float64"


@pytest.mark.parametrize("name", ["standard", "wetok"])
def test_a_perfect_uint8_reconstruction_scores_as_identical(name):
    # a codec or a reconstruction file converted with the default rule gives back its own pixels
    protocol = get_protocol(name)
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16).contiguous()
    ref_px, rec_px = protocol.pixel_views(values, u8_to_signed_float(values))
    assert torch.equal(ref_px, rec_px)
    with pytest.raises(TypeError):
        u8_to_signed_float(values.float())
