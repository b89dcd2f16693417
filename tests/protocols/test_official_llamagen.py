"""Protocol ``llamagen`` against LlamaGen's ``reconstruction_vq_ddp.py`` executed from its source.

The recording (tests/data/protocols/llamagen, made by its make_vectors.py) ran the script's
transform, loop, PSNR/SSIM calls and all-gather mean, ``val_ddp.py``'s reference images, and the
ADM evaluator's statistics and Frechet code, on seven photo crops chosen to hit every branch of
``center_crop_arr`` (BOX halvings, ``round()`` half to even, floor crop) and 21 reconstructions
(JPEG q50, float noise outside [-1, 1], pixel levels at the half-up boundaries).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_protocol_vectors import Recording, nchw, nhwc

from wetok_bench.metrics.aggregate import protocol_aggregates
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.fid import FeatureStats, frechet_distance
from wetok_bench.metrics.functional.ssim import ssim
from wetok_bench.protocols import get_protocol

REC = Recording("llamagen")
LLAMAGEN = get_protocol("llamagen")
SIZE = REC.meta["size"]


@pytest.fixture(scope="module")
def originals() -> torch.Tensor:
    return REC.preprocessed(LLAMAGEN.resize, SIZE)


@pytest.fixture(scope="module")
def pairs(originals) -> tuple[torch.Tensor, torch.Tensor]:
    return originals[torch.from_numpy(REC["main_pair_original"])], nchw(REC["main_recon_float"])


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    weights = REC.meta["weights"]["inception_v3_compat_random"]
    return REC.weights("fidelity", weights["seed"], weights["sha256"], tmp_path_factory.mktemp("llamagen"))


def test_center_crop_arr_gives_the_official_pixels(originals):
    # every branch: two halvings, round() half to even (64.5 -> 64), floor offsets, a 48 x 48 copy
    assert np.array_equal(nhwc(originals), REC["main_original_u8"])
    assert np.array_equal(nhwc(originals), REC["val_u8"])  # val_ddp.py's reference images


def test_tokenizer_input_and_half_up_samples_are_the_official_bits(originals, pairs):
    assert np.array_equal(nhwc(LLAMAGEN.original_float(originals)), REC["main_original_float"])
    _, samples = LLAMAGEN.pixel_views(*pairs)
    assert np.array_equal(nhwc(samples), REC["main_sample_u8"])  # including the 'grid' half-up boundaries
    # the default rounding (half to even) would not give them
    assert not np.array_equal(nhwc(get_protocol("standard").quantize(pairs[1])), REC["main_sample_u8"])


def test_per_image_psnr_and_ssim_equal_the_official_ones(pairs):
    rows = ReconstructionEvaluator("llamagen", metrics=["psnr", "ssim"]).update(*pairs)
    # skimage on float32 [0, 1] arrays (GT within 1.5e-8 of u8 / 255; SSIM in float32) against
    # float64 on the uint8 views
    np.testing.assert_allclose(rows["psnr"].numpy(), REC["main_psnr"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(rows["ssim"].numpy(), REC["main_ssim"], rtol=0, atol=1e-6)
    # data_range 2.0 on [0, 1] is the point: at the true range (255 on uint8) SSIM is far lower
    at_true_range = ssim(*LLAMAGEN.pixel_views(*pairs), window="uniform", data_range=255.0)
    assert REC["main_ssim"].mean() > at_true_range.mean().item() + 0.05


@pytest.mark.parametrize("layout", REC.meta["branches"]["main"]["layouts"],
                         ids=lambda l: f"{l['world_size']}x{l['batch_size']}")
def test_official_aggregate_equals_the_scripts(layout):
    out = protocol_aggregates(LLAMAGEN, {"psnr": REC["main_psnr"], "ssim": REC["main_ssim"]},
                              world_size=layout["world_size"], batch_size=layout["batch_size"])
    assert out["psnr_official"] == pytest.approx(layout["psnr_val_rgb"], rel=1e-12)
    assert out["ssim_official"] == pytest.approx(layout["ssim_val_rgb"], rel=1e-6)  # summed in float32 there


def test_reference_and_sample_features_equal_the_official_ones(originals, pairs, inception):
    evaluator = ReconstructionEvaluator("llamagen", metrics=["rfid"], inception_weights=inception)
    reference = evaluator.reference_features(originals)["inception-v3-compat"].numpy()
    with torch.inference_mode():
        samples = evaluator.extractors["inception-v3-compat"](LLAMAGEN.fid_view_recon(pairs[1])).numpy()
    scale = np.abs(REC["adm_ref_features"]).max()
    assert scale > 0.1
    # the ADM npz holds the reference images shuffled: row r is original val_npz_order[r]
    np.testing.assert_allclose(reference[REC["val_npz_order"]], REC["adm_ref_features"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(samples, REC["adm_main_sample_features"], rtol=0, atol=1e-5 * scale)


def test_frechet_distance_equals_the_adm_evaluators():
    # well-conditioned random features (64 x 16) through the ADM evaluator's own statistics and
    # sqrtm: float32 mean, float64 np.cov
    ref, sample = REC["adm_random_ref_features"], REC["adm_random_sample_features"]
    ours = frechet_distance(FeatureStats(16).update(torch.from_numpy(ref)),
                            FeatureStats(16).update(torch.from_numpy(sample)))
    assert ours == pytest.approx(REC.meta["adm"]["random_features"]["fid_sample_vs_ref"], rel=1e-6)


def test_llamagen_defines_no_lpips():
    assert not LLAMAGEN.defines("lpips") and LLAMAGEN.defines("rfid")
