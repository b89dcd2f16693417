"""Protocol ``titok`` against the 1d-tokenizer (TiTok) evaluation executed from its source.

The recording (tests/data/protocols/titok, made by its make_vectors.py) ran the official
webdataset shard writer (JPEG q100), the reader's transforms, ``eval_reconstruction`` and the
``VQGANEvaluator`` (its float64 InceptionV3 with pytorch-fid's weights file layout) on four photo
crops and twelve reconstructions (JPEG q50, float noise, exact float32 rounding ties).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from helpers_protocol_vectors import Recording, nchw, nhwc

from wetok_bench.data.images import load_rgb, pil_to_u8_tensor
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.fid import FeatureStats, frechet_distance
from wetok_bench.protocols import get_protocol

REC = Recording("titok")
TITOK = get_protocol("titok")
SIZE = REC.meta["size"]
NAMES = [crop["name"] for crop in REC.meta["crops"]]
KINDS = np.array(REC.meta["pair_kind"])


@pytest.fixture(scope="module")
def originals() -> torch.Tensor:
    return REC.preprocessed(TITOK.resize, SIZE, NAMES)


@pytest.fixture(scope="module")
def recon() -> torch.Tensor:
    # TiTok decodes to [0, 1]; the project's tokenizers return [-1, 1]
    return nchw(REC["recon_float"]) * 2.0 - 1.0


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    path = REC.weights("fidelity_as_pytorch_fid", REC.meta["weights_seeds"]["inception_fidelity_compat"],
                       REC.meta["weights_sha256"]["inception_fidelity_compat"], tmp_path_factory.mktemp("titok"))
    return ReconstructionEvaluator("titok", metrics=["rfid"], inception_weights=path).extractors[TITOK.fid_extractor]


def test_jpeg_round_trip_resize_and_crop_give_the_official_pixels(originals):
    # the tokenizer input is ToTensor's u8 / 255 of these pixels
    assert np.array_equal(nhwc(originals).astype(np.float32) / np.float32(255), REC["original_float"])
    assert np.array_equal(nhwc(originals)[REC["pair_original"]], REC["real_u8"])
    # the q100 round trip is part of the convention: the PNG itself, resized the same way, gives other pixels
    for path, ours in zip(REC.inputs(NAMES), originals):
        image = load_rgb(path)
        direct = TF.center_crop(TF.resize(image, SIZE, interpolation=TF.InterpolationMode.BICUBIC), [SIZE, SIZE])
        assert not torch.equal(pil_to_u8_tensor(direct), ours)


@pytest.mark.parametrize("kind", ["jpeg-q50", "noisy"])
def test_quantized_reconstructions_are_the_official_ones(recon, kind):
    pick = KINDS == kind
    assert np.array_equal(nhwc(TITOK.quantize(recon[torch.from_numpy(pick)])), REC["fake_u8"][pick])


def test_float64_features_equal_the_official_ones(originals, recon, extractor):
    assert extractor.network.Conv2d_1a_3x3.conv.weight.dtype == torch.float64
    with torch.inference_mode():
        real = extractor(TITOK.fid_view_original(originals)).numpy()[REC["pair_original"]]
        fake = extractor(nchw(REC["fake_u8"])).numpy()
    scale = np.abs(REC["inception_real"]).max()
    assert scale > 0.1
    np.testing.assert_allclose(real, REC["inception_real"], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(fake, REC["inception_fake"], rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("kind", ["jpeg-q50", "noisy", "ties"])
def test_rfid_equals_the_official_evaluators(kind):
    pick = KINDS == kind
    real = FeatureStats(2048).update(torch.from_numpy(REC["inception_real"][pick]))
    fake = FeatureStats(2048).update(torch.from_numpy(REC["inception_fake"][pick]))
    np.testing.assert_allclose(real.mean().numpy(), REC[f"mu_real_{kind}"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(torch.diagonal(fake.covariance()).numpy(), REC[f"sigma_fake_diag_{kind}"], rtol=1e-9,
                               atol=1e-12)
    ours = frechet_distance(real, fake)
    # the exact value: tr sqrt(S1 S2) is the nuclear norm of A B^T / (n - 1) for the centred features
    a, b = (REC[f"inception_{side}"][pick] for side in ("real", "fake"))
    a, b = a - a.mean(0), b - b.mean(0)
    n = int(pick.sum())
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum() / (n - 1)
    exact = float(((REC[f"mu_real_{kind}"] - REC[f"mu_fake_{kind}"]) ** 2).sum() + ((a**2).sum() + (b**2).sum()) / (n - 1)
                  - 2 * nuclear)
    assert ours == pytest.approx(exact, rel=1e-9, abs=1e-12)
    # four images in 2048 dimensions: singular covariances, where the official scipy sqrtm adds the
    # square roots of ~2045 rounding-noise eigenvalues; its error is bounded by the traces it cancels
    traces = real.covariance_trace() + fake.covariance_trace()
    assert ours == pytest.approx(REC.meta["results"][kind]["rFID"], rel=1e-3, abs=2e-6 * traces)


def test_titok_defines_rfid_only():
    assert TITOK.defines("rfid") and not any(TITOK.defines(m) for m in ("psnr", "ssim", "lpips"))
