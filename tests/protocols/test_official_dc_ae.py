"""Protocol ``dc-ae`` against efficientvit's DC-AE evaluator executed from its source.

The recording (tests/data/protocols/dc-ae, made by its make_vectors.py) ran ``DMCrop`` and the
transform through the official ``EvaluatorConfig``, the loop statements of
``Evaluator.evaluate_single_dataloader`` (half-up uint8 of both images, PSNR, torchmetrics SSIM
and LPIPS, the FID statistics) under torchmetrics 1.4.1, 1.4.3, 1.8.2 and 1.9.0, and
``generate_reference.py`` with the README's mean/std overrides, on seven photo crops and 21
reconstructions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_protocol_vectors import Recording, nchw, nhwc

from wetok_bench.metrics.aggregate import protocol_aggregates
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.fid import FeatureStats, frechet_distance
from wetok_bench.protocols import get_protocol

REC = Recording("dc-ae")
DCAE = get_protocol("dc-ae")
SIZE = REC.meta["size"]
NAMES = [crop["name"] for crop in REC.meta["crops"]]


@pytest.fixture(scope="module")
def originals() -> torch.Tensor:
    return REC.preprocessed(DCAE.resize, SIZE)


@pytest.fixture(scope="module")
def pairs(originals) -> tuple[torch.Tensor, torch.Tensor]:
    return originals[torch.from_numpy(REC["pair_original"])], nchw(REC["recon_float"])


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict:
    folder, recorded = tmp_path_factory.mktemp("dc_ae"), REC.meta["weights"]
    return {name: REC.weights(name, recorded[name]["seed"], recorded[name]["sha256"], folder)
            for name in ("pytorch_fid", "alex")}


def test_dmcrop_and_transform_give_the_official_bits(originals):
    assert np.array_equal(nhwc(originals), REC["original_u8"])
    assert np.array_equal(nhwc(DCAE.original_float(originals)), REC["original_float"])


def test_both_uint8_views_are_the_official_ones(pairs):
    ref_u8, pred_u8 = DCAE.pixel_views(*pairs)
    assert np.array_equal(nhwc(ref_u8), REC["ref_u8"])
    assert np.array_equal(nhwc(pred_u8), REC["pred_u8"])  # half-up in float32, near-ties included
    values = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(DCAE.quantize(DCAE.original_float(values)), values)  # the original's own pixels
    assert np.array_equal(DCAE.quantize(DCAE.original_float(values)).numpy(), REC["table_ref_u8"])


def test_per_image_psnr_ssim_lpips_equal_the_official_ones(pairs, weights):
    evaluator = ReconstructionEvaluator("dc-ae", metrics=["psnr", "ssim", "lpips"], lpips_weights={"alex": weights["alex"]})
    rows = evaluator.update(*pairs)
    # the official PSNR is float32 per image
    np.testing.assert_allclose(rows["psnr"].numpy(), REC["psnr"], rtol=0, atol=1e-4)
    # torchmetrics >= 1.4.2 (1.4.3 was current at the DC-AE release; 1.8.2 and 1.9.0 give the same
    # bits). It computes E[x^2] - mu^2 in float32 on 0..255 values, whose cancellation costs up to
    # 2.4e-5 here; the same torchmetrics code run in float64 agrees with ours to 6e-14 (measured
    # outside the project; docs/precision.md). The mean over images agrees to 1e-5.
    for version in ("tm143", "tm182", "tm190"):
        np.testing.assert_allclose(rows["ssim"].numpy(), REC[f"ssim_{version}"], rtol=0, atol=5e-5)
        assert rows["ssim"].numpy().mean() == pytest.approx(REC[f"ssim_{version}"].mean(), abs=1e-5)
    # 1.4.1 dropped the border: a different convention, and the difference is visible
    assert np.abs(rows["ssim"].numpy() - REC["ssim_tm141"]).max() > 1e-3
    for version in ("tm141", "tm143", "tm182", "tm190"):
        np.testing.assert_allclose(rows["lpips"].numpy(), REC[f"lpips_{version}"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("layout", REC.meta["layouts_primary"], ids=lambda l: f"{l['world_size']}x{l['batch_size']}")
def test_official_aggregate_equals_the_evaluators(layout):
    per_image = {"psnr": REC["psnr"], "ssim": REC["ssim_tm182"], "lpips": REC["lpips_tm182"]}
    out = protocol_aggregates(DCAE, per_image, world_size=layout["world_size"], batch_size=layout["batch_size"])
    # contiguous ranges of the cyclically padded list; float32 state sums there
    for metric in ("psnr", "ssim", "lpips"):
        assert out[f"{metric}_official"] == pytest.approx(layout[metric], rel=2e-6), metric


def test_inception_views_features_and_statistics_equal_the_official_ones(originals, pairs, weights):
    evaluator = ReconstructionEvaluator("dc-ae", metrics=["rfid"], inception_weights=weights["pytorch_fid"])
    assert np.array_equal(nhwc(DCAE.fid_view_recon(pairs[1])), REC["fid_view_rec"])
    assert np.array_equal(nhwc(DCAE.fid_view_original(originals)), REC["ref_readme_1x64_fid_view"])
    reference = evaluator.reference_features(originals)["pytorch-fid"]
    with torch.inference_mode():
        recon = evaluator.extractors["pytorch-fid"](DCAE.fid_view_recon(pairs[1]))
    scale = np.abs(REC["inception_rec"]).max()
    assert scale > 0.1
    # efficientvit normalizes before the bilinear resize, pytorch-fid after: float rounding apart
    np.testing.assert_allclose(reference.numpy(), REC["inception_ref"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(recon.numpy(), REC["inception_rec"], rtol=0, atol=1e-5 * scale)
    ours = FeatureStats(2048).update(recon)
    np.testing.assert_allclose(ours.mean().numpy(), REC["rec_mu"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(torch.diagonal(ours.covariance()).numpy(), REC["rec_sigma_diag"], rtol=1e-4,
                               atol=1e-6 * scale**2)
    # 7 references and 21 samples in 2048 dimensions: singular covariances (the official sqrtm
    # warns); the value still agrees
    fid = frechet_distance(FeatureStats(2048).update(reference), ours)
    assert fid == pytest.approx(REC.meta["layouts_primary"][0]["fid"], rel=1e-3)
