"""Protocols ``ibq`` and ``open-magvit2-v1`` against SEED-Voken's evaluation scripts executed from
their source.

``ibq``: the whole current ``evaluation_image.py`` ``main()`` with an IBQ ImageNet config (data
through the official data module, albumentations 1.4.4 + OpenCV 4.10.0.84). ``open-magvit2-v1``:
the historical ``evaluation.py`` statements at four commits (2024-06 .. 2025-01). Both on four
photo crops chosen so that albumentations and torchvision disagree, and eight reconstructions
(JPEG q50 round trips, float noise outside [-1, 1]); a stand-in model returns them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_protocol_vectors import Recording, nchw, nhwc

from wetok_bench.metrics.aggregate import pooled_psnr, protocol_aggregates
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.protocols import get_protocol

pytest.importorskip("cv2", reason="protocol ibq needs opencv-python-headless (the test extra installs it)")

RECORDINGS = {name: Recording(name) for name in ("ibq", "open-magvit2-v1")}


def _rec(name: str) -> Recording:
    return RECORDINGS[name]


@pytest.fixture(scope="module", params=sorted(RECORDINGS))
def case(request, tmp_path_factory):
    """(protocol, recording, originals, (original, recon) pairs, weights) of one recording."""
    rec = _rec(request.param)
    protocol = get_protocol(rec.name)
    originals = rec.preprocessed(protocol.resize, rec.meta["size"], [c["name"] for c in rec.meta["crops"]])
    pairs = originals[torch.from_numpy(rec["pair_original"])], nchw(rec["recon_float"])
    folder = tmp_path_factory.mktemp(rec.name)
    seeds, digests = rec.meta["weights_seeds"], rec.meta["weights_sha256"]
    weights = {kind: rec.weights(kind, seeds[kind], digests[kind], folder) for kind in ("alex", "vgg", "pytorch_fid")}
    return protocol, rec, originals, pairs, weights


def test_preprocessing_and_tokenizer_input_are_the_official_bits(case):
    protocol, rec, originals, _, _ = case
    assert np.array_equal(nhwc(originals), rec["original_u8"])
    assert np.array_equal(nhwc(protocol.original_float(originals)), rec["original_float"])


def test_ibq_resize_is_not_torchvisions():
    ibq, wetok = get_protocol("ibq"), get_protocol("wetok")
    rec = _rec("ibq")
    names = [c["name"] for c in rec.meta["crops"]]
    ours = rec.preprocessed(ibq.resize, rec.meta["size"], names)
    torchvision_rule = rec.preprocessed(wetok.resize, rec.meta["size"], names)
    # the recorded crops differ in offset (11 vs 12), in rounded size (68 vs 67) and in filtering
    assert all(not torch.equal(a, b) for a, b in zip(ours, torchvision_rule))


def test_truncated_uint8_views_are_the_official_ones(case):
    protocol, rec, _, pairs, _ = case
    gt, restored = protocol.pixel_views(*pairs)
    assert np.array_equal(nhwc(gt), rec["gt_u8"]) and np.array_equal(nhwc(restored), rec["rec_u8"])


def test_per_image_metrics_equal_the_official_ones(case):
    protocol, rec, _, pairs, weights = case
    evaluator = ReconstructionEvaluator(protocol, metrics=["psnr", "ssim", "lpips"],
                                        lpips_weights={"alex": weights["alex"], "vgg": weights["vgg"]})
    rows = evaluator.update(*pairs)
    psnr = rec["psnr"] if "psnr" in rec.arrays else rec["psnr_per_image_skimage"]
    np.testing.assert_allclose(rows["psnr"].numpy(), psnr, rtol=0, atol=1e-5)  # skimage on float32 u8 / 255 views
    np.testing.assert_allclose(rows["ssim"].numpy(), rec["ssim"], rtol=0, atol=1e-6)  # skimage float32
    np.testing.assert_allclose(rows["lpips"].numpy(), rec["lpips_alex"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(rows["lpips_vgg"].numpy(), rec["lpips_vgg"], rtol=0, atol=1e-6)


def test_inception_features_equal_the_official_ones(case):
    protocol, rec, originals, pairs, weights = case
    evaluator = ReconstructionEvaluator(protocol, metrics=["rfid"], inception_weights=weights["pytorch_fid"])
    reference = evaluator.reference_features(pairs[0])["pytorch-fid"].numpy()
    with torch.inference_mode():
        recon = evaluator.extractors["pytorch-fid"](protocol.fid_view_recon(pairs[1])).numpy()
    scale = np.abs(rec["inception_ref"]).max()
    assert scale > 0.1
    np.testing.assert_allclose(reference, rec["inception_ref"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(recon, rec["inception_rec"], rtol=0, atol=1e-5 * scale)


def _layouts(name: str) -> list[dict]:
    return [layout for layout in _rec(name).meta["layouts"] if layout["numpy"].startswith("2.")]


@pytest.mark.parametrize("layout", _layouts("ibq"), ids=lambda l: f"B{l['batch_size']}")
def test_ibq_official_aggregate_equals_the_printed_one(layout):
    rec = _rec("ibq")
    out = protocol_aggregates("ibq", {"psnr": rec["psnr"], "ssim": rec["ssim"]}, batch_size=layout["batch_size"])
    assert out["psnr_official"] == pytest.approx(layout["PSNR"], rel=1e-12)  # a short last batch weighs as a full one
    assert out["ssim_official"] == pytest.approx(layout["SSIM"], rel=1e-6)  # float32 accumulation under numpy 2


@pytest.mark.parametrize("layout", _layouts("open-magvit2-v1"), ids=lambda l: f"{l['commit'][:7]}-B{l['batch_size']}")
def test_open_magvit2_pooled_psnr_equals_the_printed_one(layout):
    rec = _rec("open-magvit2-v1")
    psnr = rec["psnr_per_image_skimage"]
    out = protocol_aggregates("open-magvit2-v1", {"psnr": psnr, "ssim": rec["ssim"]}, batch_size=layout["batch_size"])
    assert out["psnr_official"] == pytest.approx(layout["PSNR"], rel=1e-12)
    assert out["ssim_official"] == pytest.approx(layout["SSIM"], rel=1e-6)
    batches = [psnr[i : i + layout["batch_size"]] for i in range(0, psnr.size, layout["batch_size"])]
    assert [pooled_psnr(b) for b in batches] == pytest.approx(layout["per_batch_pooled_psnr"], rel=1e-12)
    assert out["psnr_official"] < psnr.mean()  # pooling lowers PSNR
