"""rFID per COCO supercategory: each label's rFID equals the Frechet distance computed here in
float64 numpy (a closed form for n < d) from the Inception features of exactly that label's images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_coco import CATEGORIES, IMAGES, coco_files
from helpers_inception import fidelity_inception_weights  # noqa: F401 - fixture

from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2) in float64, for few images (n < d).

    With centred features A (n1 x d), B (n2 x d), S1 = A^T A / (n1 - 1), S2 = B^T B / (n2 - 1),
    the non-zero eigenvalues of S1 S2 are the squared singular values of A B^T / sqrt((n1 - 1)(n2 - 1)),
    so tr sqrt(S1 S2) is that matrix's nuclear norm (scipy's sqrtm of the 2048 x 2048 singular
    product is inaccurate: it warns and is off by 5e-4 relative).
    """
    mu1, mu2 = a.mean(0), b.mean(0)
    ca, cb = a - mu1, b - mu2
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    trace_sqrt = np.linalg.svd(ca @ cb.T / scale, compute_uv=False).sum()
    trace_1, trace_2 = (ca * ca).sum() / (len(a) - 1), (cb * cb).sum() / (len(b) - 1)
    return float((mu1 - mu2) @ (mu1 - mu2) + trace_1 + trace_2 - 2 * trace_sqrt)


def _suite(images, ann, out, weights, shard_size=None):
    settings = {"shard_size": shard_size} if shard_size else {}
    return parse_suite({
        "name": "c", "resolution": 32, "batch_size": 2, "num_workers": 0, "device": "cpu", "metrics": ["psnr", "rfid"],
        "weights": {"inception": str(weights)}, **settings,
        "datasets": [{"type": "coco-val2017", "name": "coco", "root": str(images), "annotations": str(ann), "expected_count": 5}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 20}],
        "output": str(out),
    })


@pytest.mark.slow
def test_rfid_per_supercategory_equals_frechet_of_the_labels_images(tmp_path, photos, monkeypatch,
                                                                    fidelity_inception_weights):  # noqa: F811
    from wetok_bench.data import loader
    from wetok_bench.metrics.networks.inception import InceptionFeatures

    images, ann = coco_files(tmp_path, photos)
    keys_seen: list[list[str]] = []
    features_seen: list[np.ndarray] = []
    batches, call = loader.iterate_batches, InceptionFeatures.__call__

    def spy_batches(*args, **kwargs):
        for batch in batches(*args, **kwargs):
            if len(batch.keys):
                keys_seen.append(list(batch.keys))
            yield batch

    def spy_call(self, x):
        out = call(self, x)
        features_seen.append(out.cpu().numpy().copy())
        return out

    monkeypatch.setattr(loader, "iterate_batches", spy_batches)
    monkeypatch.setattr(InceptionFeatures, "__call__", spy_call)
    assert run_suite(_suite(images, ann, tmp_path / "out", fidelity_inception_weights), progress=False).exit_code == 0
    # one extractor call per batch: the reference pass's (originals), then the job's (reconstructions)
    assert len(keys_seen) == len(features_seen)
    originals, recons = {}, {}
    for keys, feats in zip(keys_seen, features_seen):
        for key, row in zip(keys, feats):
            (recons if key in originals else originals)[key] = row
    assert sorted(recons) == sorted(IMAGES)
    summary = json.loads((tmp_path / "out" / "c" / "jpeg-q20__coco__32" / "summary.json").read_text())
    block = summary["rfid_by_supercategory"]
    # by hand, from IMAGES: the images showing each supercategory (none of them: in no group)
    expected = {"animal": ["000000000139.jpg", "000000000285.jpg", "000000000724.jpg"],
                "vehicle": ["000000000724.jpg", "000000000776.jpg"], "person": ["000000000139.jpg"]}
    assert sorted(block) == sorted(expected)
    for label, keys in expected.items():
        assert block[label]["images"] == len(keys)
        assert block[label]["unreliable"] is True  # fewer than 2,048 images
        if len(keys) < 2:
            assert block[label]["rfid"] is None
            continue
        want = _frechet(np.stack([originals[k] for k in keys]), np.stack([recons[k] for k in keys]))
        assert want > 0
        # 1e-5: the code's eigvalsh of a rank-2..4 product of 2048 x 2048 matrices sums the square
        # roots of ~2,044 rounding-level eigenvalues (measured 2e-6 relative on the whole set)
        assert block[label]["rfid"] == pytest.approx(want, rel=1e-5)
    # the whole set's rFID is unchanged by the grouping (same formula over all five images)
    every = sorted(IMAGES)
    want = _frechet(np.stack([originals[k] for k in every]), np.stack([recons[k] for k in every]))
    assert summary["metrics"]["rfid"] == pytest.approx(want, rel=1e-5)

    # the report's rFID table: one row per supercategory, the summary's value, † where unreliable
    from wetok_bench.report.build import build_report

    page = build_report([tmp_path / "out" / "c"], tmp_path / "report", n_resamples=20).read_text()
    section = page.split('id="categories-coco_32_standard-rfid"')[1].split("</table>")[0]
    assert f"{block['animal']['rfid']:.2f}" in section and "†" in section
    assert all(f">{label}<" in section for label in expected)

    # shards of 2 images, folded in shard order (the reference from the cache of the first run):
    # each label still equals the formula over its images
    second = tmp_path / "again"
    assert run_suite(_suite(images, ann, second, fidelity_inception_weights, shard_size=2),
                     progress=False).exit_code == 0
    again = json.loads((second / "c" / "jpeg-q20__coco__32" / "summary.json").read_text())["rfid_by_supercategory"]
    for label in ("animal", "vehicle"):
        keys = expected[label]
        want = _frechet(np.stack([originals[k] for k in keys]), np.stack([recons[k] for k in keys]))
        assert again[label]["rfid"] == pytest.approx(want, rel=1e-5)


@pytest.mark.slow
def test_resumed_job_gives_the_same_bits_and_old_shards_say_why_not(tmp_path, photos, monkeypatch,
                                                                    fidelity_inception_weights):  # noqa: F811
    from wetok_bench.engine.groups import OLD_SHARD_GROUPS
    from wetok_bench.engine.shards import ShardStore

    images, ann = coco_files(tmp_path, photos)
    monkeypatch.setattr(ShardStore, "discard", lambda self: None)  # keep .partial/ to resume from
    out = tmp_path / "out"
    job = out / "c" / "jpeg-q20__coco__32"
    assert run_suite(_suite(images, ann, out, fidelity_inception_weights, shard_size=2), progress=False).exit_code == 0
    first = json.loads((job / "summary.json").read_text())
    shards = sorted((job / ".partial").glob("shard*.pt"))
    assert len(shards) == 3
    # an interrupted job: its middle shard lost, no summary; the run resumes from shards 0 and 2
    shards[1].unlink()
    (job / "summary.json").unlink()
    assert run_suite(_suite(images, ann, out, fidelity_inception_weights, shard_size=2), progress=False).exit_code == 0
    resumed = json.loads((job / "summary.json").read_text())
    assert resumed["rfid_by_supercategory"] == first["rfid_by_supercategory"]  # bit for bit
    # a shard written before per-supercategory statistics existed: the block is left out, and why is said
    import torch

    shard = torch.load(shards[0], weights_only=True)
    del shard["groups"]
    torch.save(shard, shards[0])
    (job / "summary.json").unlink()
    assert run_suite(_suite(images, ann, out, fidelity_inception_weights, shard_size=2), progress=False).exit_code == 0
    old = json.loads((job / "summary.json").read_text())
    assert "rfid_by_supercategory" not in old
    assert old["skipped_metrics"]["rfid_by_supercategory"] == OLD_SHARD_GROUPS
    assert old["metrics"]["rfid"] == first["metrics"]["rfid"]
