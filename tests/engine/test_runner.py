"""The runner end to end: results, determinism, batch-size independence, equality with `score`,
skips, failures, NaN handling, locking and resume."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import plugin_tokenizers  # noqa: E402
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from wetok_bench.cli.main import cli
from wetok_bench.config.suite import parse_suite
from wetok_bench.core.lock import LOCK_FILE
from wetok_bench.data.images import load_rgb
from wetok_bench.data.preprocess import center_crop_u8
from wetok_bench.engine import run_suite


@pytest.fixture
def image_folder(tmp_path, photos) -> Path:
    """Seven real photo crops of different sizes, one grayscale, plus one corrupt file."""
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    for i, (name, array) in enumerate(sorted(photos.items())):
        crop = array[: 90 + 7 * i, : 110 + 5 * i]
        Image.fromarray(crop).save(root / ("sub" if i % 2 else ".") / f"{name}.png")
    Image.fromarray(photos["chelsea"][:, :, 0]).save(root / "gray.png")
    Image.fromarray(photos["coffee"][:80, :80]).save(root / "coffee_small.jpg", quality=92)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture
def plugins(tmp_path, monkeypatch, fresh_plugins):
    site = plugin_tokenizers.install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    return site


def _suite(image_folder: Path, out: Path, **overrides):
    data = {
        "name": "t",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(image_folder)}],
        "tokenizers": [{"type": "identity"}, {"type": "codec", "format": "jpeg", "quality": 40}],
        "metrics": ["psnr", "ssim"],
        "resolution": 64,
        "batch_size": 3,
        "num_workers": 0,
        "device": "cpu",
        "output": str(out),
    }
    data.update(overrides)
    return parse_suite(data)


def _rows(folder: Path) -> list[dict]:
    with open(folder / "per_image.csv") as handle:
        return list(csv.DictReader(handle))


def test_results_layout_values_and_skips(image_folder, tmp_path):
    report = run_suite(_suite(image_folder, tmp_path / "out"), progress=False)
    assert report.exit_code == 0
    job = tmp_path / "out" / "t" / "jpeg-q40__imgs__64"
    summary = json.loads((job / "summary.json").read_text())
    manifest = json.loads((job / "manifest.json").read_text())
    rows = _rows(job)
    assert summary["counts"]["images"] == 7 and summary["counts"]["skipped"] == 1
    assert summary["skipped_files"][0]["key"] == "broken.jpg"
    assert "corrupt" in summary["skipped_files"][0]["reason"] or "recognised" in summary["skipped_files"][0]["reason"]
    assert summary["protocol"]["name"] == "standard"
    assert manifest["protocol"]["fingerprint"] == summary["protocol"]["fingerprint"]
    assert manifest["tokenizer"]["spec"]["quality"] == 40 and manifest["seed"] == 0
    assert manifest["dataset"]["count"] == 8 and "versions" in manifest
    # Per-image values equal skimage on the same preprocessed images and Pillow's JPEG round trip.
    for row in rows:
        original = center_crop_u8(load_rgb(image_folder / row["key"]), 64).permute(1, 2, 0).numpy()
        buffer = __import__("io").BytesIO()
        Image.fromarray(original).save(buffer, format="JPEG", quality=40)
        recon = np.asarray(Image.open(buffer).convert("RGB"))
        assert float(row["psnr"]) == pytest.approx(peak_signal_noise_ratio(original, recon, data_range=255), abs=1e-4)
        expected_ssim = structural_similarity(original, recon, channel_axis=-1, data_range=255,
                                              gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert float(row["ssim"]) == pytest.approx(expected_ssim, abs=1e-5)
        assert float(row["bits"]) == len(buffer.getvalue()) * 8
    ratios = [64 * 64 * 24 / float(r["bits"]) for r in rows]
    assert summary["compression"]["ratio"] == pytest.approx(np.mean(ratios))
    assert summary["metrics"]["psnr"] == pytest.approx(np.mean([float(r["psnr"]) for r in rows]))
    identity = json.loads((tmp_path / "out" / "t" / "identity__imgs__64" / "summary.json").read_text())
    assert identity["metrics"]["psnr"] == "inf" and identity["compression"]["ratio"] == 1.0


def test_same_values_as_score_command(image_folder, tmp_path):
    """The runner and `wetok-bench score` agree per image on the same originals and reconstructions."""
    run_suite(_suite(image_folder, tmp_path / "out"), only=["jpeg-q40"], progress=False)
    rows = {r["key"]: r for r in _rows(tmp_path / "out" / "t" / "jpeg-q40__imgs__64")}
    from wetok_bench.protocols import get_protocol, round_to_u8
    from wetok_bench.tokenizers.registry import create_tokenizer

    codec, protocol = create_tokenizer({"type": "codec", "format": "jpeg", "quality": 40}), get_protocol("standard")
    ref_dir, rec_dir = tmp_path / "ref", tmp_path / "rec"
    for key in rows:
        original = center_crop_u8(load_rgb(image_folder / key), 64)
        recon, _ = codec.reconstruct(protocol.original_float(original[None]))
        for folder, image in ((ref_dir, original), (rec_dir, round_to_u8(recon[0]))):
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save((folder / key).with_suffix(".png"))
    out = tmp_path / "score.json"
    result = CliRunner().invoke(cli, ["score", str(ref_dir), str(rec_dir), "--metrics", "psnr,ssim", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out.with_name("score.per_image.csv"), newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert len(scored) == len(rows) == 7
    for values in scored:
        original_key = next(k for k in rows if Path(k).with_suffix(".png").as_posix() == values["key"])
        assert float(values["psnr"]) == pytest.approx(float(rows[original_key]["psnr"]), abs=1e-9)
        assert float(values["ssim"]) == pytest.approx(float(rows[original_key]["ssim"]), abs=1e-9)


def test_batch_size_independent_and_deterministic(image_folder, tmp_path, fidelity_inception_weights):
    from helpers_lpips import random_backbone_file

    metrics = {"metrics": ["psnr", "ssim", "lpips", "rfid"],
               "weights": {"inception": str(fidelity_inception_weights),
                           "lpips_alex": str(random_backbone_file("alex", tmp_path / "alex.pth"))}}
    # JPEG at quality 5: an rFID well above zero (0.117 with these weights; measured batch 1 vs 5
    # difference 8e-8 relative), so "relative" measures the features' batch-size dependence, not
    # the rounding of a near-zero difference of traces (at quality 40, rFID 0.0148, it was 1e-6).
    metrics["tokenizers"] = [{"type": "codec", "format": "jpeg", "quality": 5}]
    outcomes = {}
    for name, batch in (("a", 1), ("b", 5), ("c", 5)):
        report = run_suite(_suite(image_folder, tmp_path / name, batch_size=batch, **metrics), progress=False)
        outcomes[name] = report.outcomes[0].summary
    a, b, c = (_rows(tmp_path / x / "t" / "jpeg-q5__imgs__64") for x in "abc")
    assert a and [r["key"] for r in a] == [r["key"] for r in b]
    assert b == c  # same suite, same seed: identical per-image values
    for ra, rb in zip(a, b):
        for metric in ("psnr", "ssim", "lpips"):
            assert float(ra[metric]) == pytest.approx(float(rb[metric]), abs=1e-5)
    assert outcomes["a"]["rfid"]["unreliable"]  # 7 images, 2048 features
    assert outcomes["a"]["metrics"]["rfid"] == pytest.approx(outcomes["b"]["metrics"]["rfid"], rel=1e-6)


def test_failing_tokenizer_fails_its_job_only(image_folder, tmp_path, plugins, monkeypatch):
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "2")
    suite = _suite(image_folder, tmp_path / "out",
                   tokenizers=[{"type": "test-flaky", "name": "flaky"}, {"type": "identity"}])
    report = run_suite(suite, progress=False)
    assert report.exit_code == 1
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert "flaky" in failed.error and "simulated tokenizer crash" in failed.error
    assert any(k in failed.error for k in ("coffee", "gray", "chelsea", "motorcycle", "rocket", "astronaut"))
    assert (tmp_path / "out" / "t" / "identity__imgs__64" / "summary.json").is_file()
    summary = json.loads((tmp_path / "out" / "t" / "flaky__imgs__64" / "summary.json").read_text())
    assert summary["status"] == "failed"


def test_resume_reuses_finished_shards(image_folder, tmp_path, plugins, monkeypatch):
    overrides = {"tokenizers": [{"type": "test-flaky", "name": "flaky"}], "shard_size": 2, "batch_size": 1}
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "4")  # dies in the second shard
    first = run_suite(_suite(image_folder, tmp_path / "out", **overrides), progress=False)
    assert first.exit_code == 1
    partial = tmp_path / "out" / "t" / "flaky__imgs__64" / ".partial"
    assert 1 <= len(list(partial.glob("*.pt"))) < 4  # 8 files in shards of 2: some finished, not all
    monkeypatch.delenv("TEST_FAIL_AT_CALL")
    resumed = run_suite(_suite(image_folder, tmp_path / "out", **overrides), progress=False)
    assert resumed.exit_code == 0 and not partial.exists()
    clean = run_suite(_suite(image_folder, tmp_path / "clean", **overrides), progress=False)
    assert _rows(tmp_path / "out" / "t" / "flaky__imgs__64") == _rows(tmp_path / "clean" / "t" / "flaky__imgs__64")
    assert resumed.outcomes[0].summary["metrics"] == clean.outcomes[0].summary["metrics"]


def test_changed_suite_discards_partial_state(image_folder, tmp_path, plugins, monkeypatch):
    overrides = {"tokenizers": [{"type": "test-flaky", "name": "flaky"}], "shard_size": 2, "batch_size": 1}
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "4")
    run_suite(_suite(image_folder, tmp_path / "out", **overrides), progress=False)
    partial = tmp_path / "out" / "t" / "flaky__imgs__64" / ".partial"
    shard = next(partial.glob("*.pt"))
    kept = shard.read_bytes()
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "1")  # every attempt now dies at its first measured batch
    # num_workers changes no number: the finished shards stay (the run dies after them).
    assert run_suite(_suite(image_folder, tmp_path / "out", num_workers=1, **overrides), progress=False).exit_code == 1
    assert shard.is_file() and shard.read_bytes() == kept
    # The seed changes the numbers: the old shards are discarded, not mixed in.
    assert run_suite(_suite(image_folder, tmp_path / "out", seed=7, **overrides), progress=False).exit_code == 1
    assert not shard.exists()


def test_nan_output_error_or_skip(image_folder, tmp_path, plugins):
    suite = _suite(image_folder, tmp_path / "out", tokenizers=[{"type": "test-nan", "name": "nanny"}])
    report = run_suite(suite, progress=False)
    assert report.exit_code == 1 and "NaN/Inf" in report.outcomes[0].error and "nanny" in report.outcomes[0].error
    suite = _suite(image_folder, tmp_path / "out2", tokenizers=[{"type": "test-nan", "name": "nanny"}], on_nonfinite="skip")
    report = run_suite(suite, progress=False)
    summary = report.outcomes[0].summary
    nan_skips = [s for s in summary["skipped_files"] if "NaN" in s["reason"]]
    # Batches of 3 records: [broken.jpg (unreadable), 2 images], [3 images], [2 images]: the second
    # decoded image of each batch is NaN.
    assert report.exit_code == 0 and len(nan_skips) == 3
    assert summary["counts"]["images"] == 4 and summary["counts"]["skipped"] == 4


def test_folder_lock(image_folder, tmp_path):
    from helpers_lock import hold_lock

    from wetok_bench.core.errors import UsageError

    out = tmp_path / "out" / "t"
    owner = hold_lock(out)
    try:
        with pytest.raises(UsageError, match=f"in use by another run \\(pid {owner.pid}"):
            run_suite(_suite(image_folder, tmp_path / "out"), progress=False)
    finally:
        owner.kill()
        owner.wait()
    # Its owner was killed: the lock file is still there, but the lock is free and taken over.
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == owner.pid
    assert run_suite(_suite(image_folder, tmp_path / "out"), progress=False).exit_code == 0
    assert not (out / LOCK_FILE).exists()


def test_lock_without_flock_uses_the_pid_file(tmp_path, monkeypatch):
    """File systems without flock: a live owner's pid file refuses, a dead owner's is taken over."""
    import socket
    import subprocess

    from wetok_bench.core import lock as L
    from wetok_bench.core.errors import UsageError

    monkeypatch.setattr(L, "fcntl", None)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": sleeper.pid, "started": 0}))
        with pytest.raises(UsageError, match=f"pid {sleeper.pid}"):
            L.FolderLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    with L.FolderLock(tmp_path) as held:
        assert held.held and json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_dry_run_lists_jobs_and_missing(image_folder, tmp_path):
    data = {"name": "t", "datasets": [{"type": "folder", "root": str(image_folder)}],
            "tokenizers": [{"type": "identity"}, {"type": "wetok", "model": "wetok-imagenet-f16"}],
            "output": str(tmp_path / "out")}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 1, result.output  # a pre-flight check: the checkpoint and Inception are missing
    assert "identity__folder__256" in result.output
    assert "hf://GrayShine/WeTok/ImageNet/downsample16/WeTok.ckpt (MISSING)" in result.output
    assert "inception-v3-compat" in result.output and "MISSING" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_metric_weights_error_or_skip(image_folder, tmp_path):
    from wetok_bench.core.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="inception"):
        run_suite(_suite(image_folder, tmp_path / "out", metrics=["psnr", "rfid"]), progress=False)
    report = run_suite(_suite(image_folder, tmp_path / "out", metrics=["psnr", "rfid"], on_missing_weights="skip"), progress=False)
    summary = report.outcomes[0].summary
    assert "rfid" in summary["skipped_metrics"] and "rfid" not in summary["metrics"]


def test_noise_per_image_whatever_the_batch_size(image_folder, tmp_path, plugins):
    """A tokenizer that draws noise gives each image the same values at batch sizes 1 and 3."""
    noisy = {"tokenizers": [{"type": "test-noisy", "name": "noisy"}]}
    rows = {}
    for name, batch, seed in (("b1", 1, 0), ("b3", 3, 0), ("s1", 3, 1)):
        report = run_suite(_suite(image_folder, tmp_path / name, batch_size=batch, seed=seed, **noisy), progress=False)
        assert report.exit_code == 0
        rows[name] = _rows(tmp_path / name / "t" / "noisy__imgs__64")
    assert len(rows["b1"]) == 7 and rows["b1"] == rows["b3"]  # the CSV text: full float repr
    # The noise matters (another seed moves every image), so the equality above is not trivial.
    assert all(abs(float(a["psnr"]) - float(b["psnr"])) > 1e-3 for a, b in zip(rows["b3"], rows["s1"]))


def test_grids_are_the_scored_reconstructions(image_folder, tmp_path, plugins, monkeypatch):
    """Grid images are kept from the pass (no second reconstruction) and are what was scored;
    the worst-k over several shards are the k lowest PSNR rows of the whole job."""
    from wetok_bench.results.grid_files import load_grid_images

    log = tmp_path / "calls.log"
    monkeypatch.setenv("TEST_CALL_LOG", str(log))
    monkeypatch.setenv("TEST_SLOW_S", "0")
    suite = _suite(image_folder, tmp_path / "out", batch_size=2, shard_size=2, grids={"count": 3, "worst_k": 3},
                   tokenizers=[{"type": "test-noisy", "name": "noisy"}, {"type": "test-slow", "name": "slow"}])
    assert run_suite(suite, progress=False).exit_code == 0
    # 7 readable images, each reconstructed once: none again for the grids.
    assert sum(int(n) for n in log.read_text().split()) == 7
    job = tmp_path / "out" / "t" / "noisy__imgs__64"
    rows = {r["key"]: r for r in _rows(job)}
    metric, images = load_grid_images(job)
    assert metric == "psnr"
    every_key = sorted(str(p.relative_to(image_folder)) for p in image_folder.rglob("*.*"))
    assert [im.key for im in images if im.fixed] == [k for k in every_key[:3] if k in rows]
    lowest = sorted(rows, key=lambda k: float(rows[k]["psnr"]))[:3]
    assert {im.key for im in images if im.worst} == set(lowest)
    for im in images:
        assert peak_signal_noise_ratio(im.original, im.recon, data_range=255) == pytest.approx(float(rows[im.key]["psnr"]), abs=1e-6)


def test_finished_jobs_are_reused_and_force_measures_again(image_folder, tmp_path, plugins, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("TEST_CALL_LOG", str(log))
    monkeypatch.setenv("TEST_SLOW_S", "0")
    slow = [{"type": "test-slow", "name": "slow"}]

    def measured() -> int:
        return sum(int(n) for n in log.read_text().split())

    first = run_suite(_suite(image_folder, tmp_path / "out", tokenizers=slow), progress=False)
    assert first.exit_code == 0 and measured() == 7
    # Another tokenizer and another num_workers: only the new job runs.
    again = run_suite(_suite(image_folder, tmp_path / "out", tokenizers=slow + [{"type": "identity"}], num_workers=1), progress=False)
    assert again.exit_code == 0 and measured() == 7
    assert [o.reused for o in again.outcomes] == [True, False]
    assert again.outcomes[0].summary["metrics"] == first.outcomes[0].summary["metrics"]
    assert run_suite(_suite(image_folder, tmp_path / "out", tokenizers=slow), progress=False, force=True).exit_code == 0
    assert measured() == 14
    assert run_suite(_suite(image_folder, tmp_path / "out", tokenizers=slow, seed=3), progress=False).exit_code == 0
    assert measured() == 21  # the seed is part of the fingerprint


def test_failed_attempt_is_recorded_beside_a_good_result(image_folder, tmp_path, plugins, monkeypatch, caplog):
    from wetok_bench.report.leaderboard import build_leaderboards
    from wetok_bench.results.records import load_results

    flaky = {"tokenizers": [{"type": "test-flaky", "name": "flaky"}]}
    assert run_suite(_suite(image_folder, tmp_path / "out", **flaky), progress=False).exit_code == 0
    job = tmp_path / "out" / "t" / "flaky__imgs__64"
    before = {name: (job / name).read_bytes() for name in ("summary.json", "per_image.csv", "manifest.json")}
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "1")
    caplog.clear()
    report = run_suite(_suite(image_folder, tmp_path / "out", **flaky), progress=False, force=True)
    assert report.exit_code == 1 and report.outcomes[0].status == "failed"
    assert {name: (job / name).read_bytes() for name in before} == before  # the good result is untouched
    failure = json.loads((job / "last_failure.json").read_text())
    assert failure["status"] == "failed" and "simulated tokenizer crash" in failure["error"]
    # through logging (the CLI prints it as an 'error:' line), not print()
    assert any(r.levelname == "ERROR" and "last_failure.json" in r.getMessage() for r in caplog.records)
    notes = [n for board in build_leaderboards(load_results([tmp_path / "out" / "t"])) for n in board.notes]
    assert any("flaky" in n and "simulated tokenizer crash" in n for n in notes)
    # The next good run clears the record of the failure.
    monkeypatch.delenv("TEST_FAIL_AT_CALL")
    assert run_suite(_suite(image_folder, tmp_path / "out", **flaky), progress=False, force=True).exit_code == 0
    assert not (job / "last_failure.json").exists()


def test_failure_summary_schema_and_manifest_limit(image_folder, tmp_path, plugins, monkeypatch):
    from wetok_bench.results.records import SCHEMA_VERSION

    monkeypatch.setattr("wetok_bench.results.records.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr("wetok_bench.engine.records.SCHEMA_VERSION", SCHEMA_VERSION + 1, raising=False)
    monkeypatch.setenv("TEST_FAIL_AT_CALL", "1")
    suite = _suite(image_folder, tmp_path / "out", tokenizers=[{"type": "test-flaky", "name": "flaky"}, {"type": "identity"}],
                   num_images=5)
    report = run_suite(suite, num_images=3, progress=False)
    failed = json.loads((tmp_path / "out" / "t" / "flaky__imgs__64" / "summary.json").read_text())
    assert failed["schema_version"] == SCHEMA_VERSION + 1  # the module's version, not a literal
    manifest = json.loads((tmp_path / "out" / "t" / "identity__imgs__64" / "manifest.json").read_text())
    assert manifest["num_images_limit"] == 3 and manifest["images"] + report.outcomes[1].summary["counts"]["skipped"] == 3


def test_skipped_metric_of_one_job_does_not_leak_into_the_next(image_folder, tmp_path, fidelity_inception_weights):
    one = tmp_path / "one"
    one.mkdir()
    (one / "only.png").write_bytes((image_folder / "gray.png").read_bytes())
    suite = _suite(image_folder, tmp_path / "out", tokenizers=[{"type": "identity"}], metrics=["psnr", "rfid"],
                   weights={"inception": str(fidelity_inception_weights)},
                   datasets=[{"type": "folder", "name": "a-one", "root": str(one)},
                             {"type": "folder", "name": "imgs", "root": str(image_folder)}])
    report = run_suite(suite, progress=False)
    single, many = (o.summary for o in report.outcomes)
    assert "rfid" in single["skipped_metrics"]  # one image: no covariance
    assert "rfid" in many["metrics"] and "rfid" not in many["skipped_metrics"]


def test_compression_error_is_recorded_not_hidden(image_folder, tmp_path, plugins, monkeypatch, caplog):
    class Table:
        bits_per_image = 64 * 64 * 24 / 4

        def to_dict(self):
            raise RuntimeError("compression table broken")

    monkeypatch.setattr(plugin_tokenizers.Noisy, "compression", lambda self, h, w: Table())
    report = run_suite(_suite(image_folder, tmp_path / "out", tokenizers=[{"type": "test-noisy", "name": "noisy"}]), progress=False)
    assert report.exit_code == 0
    assert "compression table broken" in report.outcomes[0].summary["compression"]["error"]
    assert any(r.levelname == "WARNING" and "compression table broken" in r.getMessage() for r in caplog.records)


def test_skipped_files_named_on_the_console_and_in_the_report(image_folder, tmp_path, capsys):
    from wetok_bench.cli.main import cli as command
    from wetok_bench.report.leaderboard import build_leaderboards
    from wetok_bench.results.records import load_results

    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(yaml.safe_dump({
        "name": "t", "datasets": [{"type": "folder", "name": "imgs", "root": str(image_folder)}],
        "tokenizers": [{"type": "identity"}], "metrics": ["psnr"], "resolution": 64, "num_workers": 0, "device": "cpu"}))
    result = CliRunner().invoke(command, ["run", str(suite_file), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 of 8 image(s): broken.jpg (" in result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, text in enumerate(lines) if text.startswith("job "))
    assert "skipped" in lines[header].split()
    assert lines[header + 2].split()[-3:] == ["7", "1", "ok"]  # images, skipped, status
    notes = [n for b in build_leaderboards(load_results([tmp_path / "out" / "t"])) for n in b.notes]
    assert any(n.startswith("identity: 1 of 8 selected images skipped") for n in notes)


def test_job_with_every_image_skipped_fails(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"")
    (bad / "b.jpg").write_text("not an image")
    report = run_suite(_suite(bad, tmp_path / "out", tokenizers=[{"type": "identity"}]), progress=False)
    assert report.exit_code == 1 and report.outcomes[0].status == "failed"
    assert "all 2 selected images were skipped" in report.outcomes[0].error
    assert json.loads((tmp_path / "out" / "t" / "identity__imgs__64" / "summary.json").read_text())["status"] == "failed"


def test_clamped_fraction_in_the_summary_and_warned(image_folder, tmp_path, plugins, monkeypatch, caplog):
    import torch

    # Every reconstruction value at 5.0: all 7 x 3 x 64 x 64 values are beyond the clamp threshold.
    monkeypatch.setattr(plugin_tokenizers.Noisy, "decode", lambda self, code, *, noise=None: torch.full(
        (code.shape[0], 3, code.shape[2] * 2, code.shape[3] * 2), 5.0))
    report = run_suite(_suite(image_folder, tmp_path / "out", tokenizers=[{"type": "test-noisy", "name": "noisy"}]), progress=False)
    clamped = report.outcomes[0].summary["clamped"]
    assert clamped["values"] == clamped["total"] == 7 * 3 * 64 * 64 and clamped["fraction"] == 1.0
    assert any(r.levelname == "WARNING" and r.getMessage().startswith("noisy: reconstruction values reach 5 (100.00% beyond")
               for r in caplog.records)


def test_official_aggregate_under_protocol_wetok(image_folder, tmp_path):
    report = run_suite(_suite(image_folder, tmp_path / "out", protocol="wetok", tokenizers=[
        {"type": "codec", "format": "jpeg", "quality": 40}]), progress=False)
    rows = _rows(tmp_path / "out" / "t" / "jpeg-q40__imgs__64")
    psnr = [float(r["psnr"]) for r in rows]
    # The official layout: 8 ranks x batch 100; DistributedSampler pads 7 images to 8 with the
    # first one, each rank's single batch mean is one image, the script averages the 8 means.
    assert len(psnr) == 7
    assert report.outcomes[0].summary["metrics"]["psnr_official"] == pytest.approx((sum(psnr) + psnr[0]) / 8, rel=1e-12)


def test_a_job_measured_again_leaves_no_files_of_the_earlier_measurement(image_folder, tmp_path):
    """Grids and per-cycle rows of an earlier measurement do not survive one that makes none: they
    would show pictures and numbers the summary beside them did not measure."""
    codec = {"tokenizers": [{"type": "codec", "format": "jpeg", "quality": 40}]}
    first = run_suite(_suite(image_folder, tmp_path / "out", grids={"count": 2}, cycles=2, **codec), progress=False)
    assert first.exit_code == 0
    job = tmp_path / "out" / "t" / "jpeg-q40__imgs__64"
    assert (job / "grids" / "index.json").is_file() and (job / "per_image_cycles.csv").is_file()
    again = run_suite(_suite(image_folder, tmp_path / "out", **codec), progress=False, force=True)
    assert again.exit_code == 0 and not again.outcomes[0].reused
    assert not (job / "grids").exists() and not (job / "per_image_cycles.csv").exists()


@pytest.mark.slow
def test_warm_run_takes_the_frechet_factor_from_the_cache(image_folder, tmp_path, fidelity_inception_weights, monkeypatch):
    """The reference covariance's factor (an ``eigh`` below 2,048 images) is cached with the
    reference statistics: a warm run does not factorise again and gives the same rFID bits."""
    from wetok_bench.metrics.functional import fid
    from wetok_bench.metrics.reference_cache import default_cache_dir

    def suite(out: str):
        return _suite(image_folder, tmp_path / out, tokenizers=[{"type": "identity"}], metrics=["rfid"],
                      weights={"inception": str(fidelity_inception_weights)})

    cold = run_suite(suite("cold"), progress=False).outcomes[0].summary
    assert len(list(default_cache_dir().glob("*.frechet.pt"))) == 1

    def no_factorisation(matrix):
        raise AssertionError("a warm run factorised the reference covariance again")

    monkeypatch.setattr(fid, "_psd_factor", no_factorisation)
    warm = run_suite(suite("warm"), progress=False).outcomes[0].summary
    assert warm["metrics"]["rfid"] == cold["metrics"]["rfid"]  # bit-identical, not approximately
