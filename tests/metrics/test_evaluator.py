"""ReconstructionEvaluator: each protocol's views reach the right metric, checked against
scikit-image, the lpips package, torch-fidelity and clean-fid computed independently here."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers_inception import write_fidelity_inception_weights, write_pytorch_fid_inception_weights
from helpers_lpips import lpips_package_reference, random_backbone_file
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from wetok_bench.core.errors import TokenizerOutputError, UsageError
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.fid import FeatureStats, fid_result


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    return {
        "fidelity": write_fidelity_inception_weights(folder / "fidelity.pth"),
        "pytorch_fid": write_pytorch_fid_inception_weights(folder / "pt_fid.pth"),
        "alex": random_backbone_file("alex", folder / "alex.pth"),
        "vgg": random_backbone_file("vgg", folder / "vgg.pth"),
    }


@pytest.fixture(scope="module")
def batch(photos) -> tuple[torch.Tensor, torch.Tensor]:
    """Three 64x64 photo crops (uint8) and noisy float reconstructions, partly outside [-1, 1]."""
    crops = [photos[name][100:164, 100:164] for name in ("chelsea", "coffee", "rocket")]
    original = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    gen = torch.Generator().manual_seed(3)
    recon = original.float() / 127.5 - 1 + 0.08 * torch.randn(original.shape, generator=gen)
    return original, recon


def hwc(images: torch.Tensor) -> list[np.ndarray]:
    return list(images.permute(0, 2, 3, 1).numpy())


def skimage_rows(ref_u8: np.ndarray, rec_u8: np.ndarray, **ssim_options) -> tuple[list[float], list[float]]:
    psnrs = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(ref_u8, rec_u8)]
    ssims = [structural_similarity(a, b, channel_axis=-1, data_range=255, **ssim_options) for a, b in zip(ref_u8, rec_u8)]
    return psnrs, ssims


def test_standard_protocol(weights, batch):
    original, recon = batch
    evaluator = ReconstructionEvaluator(
        "standard", inception_weights=weights["fidelity"], lpips_weights=weights["alex"]
    )
    rows = evaluator.update(original, recon)
    assert list(rows) == evaluator.value_keys == ["psnr", "ssim", "lpips"]

    # standard: clamp, round to uint8 (numpy's round is half-to-even, like torch's)
    rec_np = np.clip(recon.permute(0, 2, 3, 1).numpy(), -1, 1)
    rec_u8 = np.round((rec_np + np.float32(1)) * np.float32(127.5)).astype(np.uint8)
    psnrs, ssims = skimage_rows(hwc(original), rec_u8, gaussian_weights=True, use_sample_covariance=False)
    np.testing.assert_allclose(rows["psnr"].numpy(), psnrs, rtol=0, atol=1e-4)
    np.testing.assert_allclose(rows["ssim"].numpy(), ssims, rtol=0, atol=1e-5)

    rec_lpips = torch.from_numpy(rec_u8).permute(0, 3, 1, 2).float() / 127.5 - 1
    reference_lpips = lpips_package_reference("alex", weights["alex"])
    expected = reference_lpips(original.float() / 127.5 - 1, rec_lpips).flatten().double()
    assert torch.allclose(rows["lpips"], expected, rtol=0, atol=1e-6)

    # rFID: torch-fidelity's extractor on uint8 originals and rounded reconstructions
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    fidelity = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights["fidelity"])).eval()
    with torch.no_grad():
        (ref_feats,) = fidelity(original)
        (rec_feats,) = fidelity(torch.from_numpy(rec_u8).permute(0, 3, 1, 2).contiguous())
    ours = evaluator.reference_features(original)["inception-v3-compat"]
    assert ours.dtype == torch.float64 and ours.shape == (3, 2048)
    assert torch.allclose(ours, ref_feats.double(), rtol=1e-5, atol=1e-5)
    ref_stats = FeatureStats(2048).update(ref_feats)
    result = evaluator.compute_sets({"rfid": ref_stats})["rfid"]
    expected = fid_result(ref_stats, FeatureStats(2048).update(rec_feats))
    assert result["rfid"] == pytest.approx(expected["rfid"], rel=1e-5)
    assert result["rfid"] > 1e-3 and result["n"] == 3 and result["unreliable"] is True

    fingerprint = evaluator.fingerprint()
    assert fingerprint["protocol_fingerprint"] == evaluator.protocol.fingerprint
    assert fingerprint["weights"]["inception"]["kind"] == "inception-v3-compat"
    assert set(fingerprint["versions"]) >= {"lpips", "torch-fidelity", "clean-fid", "torch"}


def test_wetok_protocol(weights, batch):
    original, recon = batch
    evaluator = ReconstructionEvaluator(
        "wetok",
        inception_weights=weights["pytorch_fid"],
        lpips_weights={"alex": weights["alex"], "vgg": weights["vgg"]},
    )
    rows = evaluator.update(original, recon)
    assert list(rows) == ["psnr", "ssim", "lpips", "lpips_vgg"]

    # wetok: the original as the official dataset makes it (division in float64, one rounding to
    # float32; checked against the official code's recorded outputs in test_official_wetok_eval.py),
    # then both images truncated in float32 (the official script's way)
    org_f = (original.permute(0, 2, 3, 1).numpy() / 127.5 - 1.0).astype(np.float32)
    rec_f = np.clip(recon.permute(0, 2, 3, 1).numpy(), -1, 1)
    trunc = lambda x: ((x + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.uint8)  # noqa: E731
    psnrs, ssims = skimage_rows(trunc(org_f), trunc(rec_f))
    np.testing.assert_allclose(rows["psnr"].numpy(), psnrs, rtol=0, atol=1e-4)
    np.testing.assert_allclose(rows["ssim"].numpy(), ssims, rtol=0, atol=1e-5)

    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2)  # noqa: E731
    for net, key in (("alex", "lpips"), ("vgg", "lpips_vgg")):
        expected = lpips_package_reference(net, weights[net])(to_t(org_f), to_t(rec_f)).flatten().double()
        assert torch.allclose(rows[key], expected, rtol=0, atol=1e-6), net

    # rFID: clean-fid's pytorch-fid port built the package's way, weights from torch hub's cache
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    os.symlink(weights["pytorch_fid"], cache / "pt_inception-2015-12-05-6726825d.pth")
    from cleanfid.inception_pytorch import InceptionV3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        port = InceptionV3([3], resize_input=False, normalize_input=True).eval()

    def features(x01: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            (out,) = port(F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False))
        return out.flatten(1).double()

    ref_feats = features((to_t(org_f) + 1) / 2)
    rec_feats = features((to_t(rec_f) + 1) / 2)
    assert torch.allclose(evaluator.reference_features(original)["pytorch-fid"], ref_feats, rtol=1e-5, atol=1e-5)
    ref_stats = FeatureStats(2048).update(ref_feats)
    expected = fid_result(ref_stats, FeatureStats(2048).update(rec_feats))
    assert evaluator.compute_sets({"rfid": ref_stats})["rfid"]["rfid"] == pytest.approx(expected["rfid"], rel=1e-5)


def test_batch_split_gives_the_same_rows_and_stats(weights, batch):
    original, recon = batch
    evaluator = ReconstructionEvaluator("standard", metrics=("psnr", "ssim", "lpips"), lpips_weights=weights["alex"])
    whole = evaluator.update(original, recon)
    parts = [evaluator.update(original[i : i + 1], recon[i : i + 1]) for i in range(3)]
    for key, values in whole.items():
        assert torch.allclose(values, torch.cat([p[key] for p in parts]), rtol=0, atol=1e-6), key
    assert evaluator.set_metrics == {} and evaluator.compute_sets({}) == {}


def test_errors_are_clear(weights, batch):
    original, recon = batch
    with pytest.raises(UsageError, match=r"unknown metric\(s\) \['fid'\].*psnr, ssim, lpips, rfid"):
        ReconstructionEvaluator("standard", metrics=("psnr", "fid"))
    with pytest.raises(UsageError, match="unknown metric protocol"):
        ReconstructionEvaluator("nope", metrics=("psnr",))
    with pytest.raises(UsageError, match="one weights file per backbone"):
        ReconstructionEvaluator("wetok", metrics=("lpips",), lpips_weights=weights["alex"])
    evaluator = ReconstructionEvaluator("standard", metrics=("psnr",))
    with pytest.raises(UsageError, match="originals must be uint8"):
        evaluator.update(original.float(), recon)
    with pytest.raises(UsageError, match="differ in shape"):
        evaluator.update(original, recon[:, :, :32])
    with pytest.raises(TokenizerOutputError, match="NaN"):
        evaluator.update(original, torch.full(recon.shape, float("nan")))
    with pytest.raises(UsageError, match="set-level metric"):
        evaluator.reference_features(original)
