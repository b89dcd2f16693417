"""Typed result records (``JobSummary``, ``Manifest``): what the runner and ``score`` write,
what reports and checks read; older folders stay readable; synthetic results use the types."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench.cli.main import cli
from wetok_bench.core.errors import UsageError
from wetok_bench.results.records import SCHEMA_VERSION, JobSummary, Manifest, load_job, write_job

# A summary and a manifest as the first schema-1 runner wrote them (before clamped, counts.selected,
# metric_info and the manifest's schema_version existed).
OLD_SUMMARY = {
    "schema_version": 1, "suite": "old", "job": "jpeg-q50__imgs__64", "status": "ok",
    "tokenizer": {"name": "jpeg-q50", "type": "codec", "kind": "codec", "display_name": "jpeg-q50"},
    "dataset": {"name": "imgs", "type": "folder"}, "resolution": 64,
    "protocol": {"name": "standard", "version": 1, "fingerprint": "ab" * 32},
    "metrics": {"psnr": 30.5, "ssim": 0.9}, "counts": {"images": 2, "skipped": 0, "reference_images": None},
    "skipped_files": [], "a_key_of_a_later_version": {"kept": True},
}
OLD_MANIFEST = {"job": "jpeg-q50__imgs__64", "seed": 0, "protocol_fingerprint": "ab" * 32, "versions": {"torch": "2.1"}}


def _old_folder(root: Path, summary=OLD_SUMMARY) -> Path:
    folder = root / "old" / summary["job"]
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "manifest.json").write_text(json.dumps(OLD_MANIFEST))
    (folder / "per_image.csv").write_text("key,psnr,ssim,bits\na.png,30.0,0.9,1000\nb.png,31.0,0.9,1200\n")
    return folder


def test_old_results_folder_stays_readable(tmp_path):
    job = load_job(_old_folder(tmp_path))
    record = job.record
    assert (record.suite, record.status, record.resolution, record.metrics["psnr"]) == ("old", "ok", 64, 30.5)
    assert record.clamped is None and record.metric_info is None
    assert record.extra == {"a_key_of_a_later_version": {"kept": True}}
    assert job.summary == OLD_SUMMARY  # nothing lost or added on the way through the type
    provenance = job.provenance
    assert provenance.seed == 0 and provenance.schema_version == 1
    assert provenance.extra == {"protocol_fingerprint": "ab" * 32}


def test_unknown_schema_version_is_refused(tmp_path):
    folder = _old_folder(tmp_path, {**OLD_SUMMARY, "schema_version": 99})
    with pytest.raises(UsageError, match="schema_version 99, expected 1"):
        load_job(folder)
    with pytest.raises(UsageError, match="missing tokenizer"):
        JobSummary.from_dict({k: v for k, v in OLD_SUMMARY.items() if k != "tokenizer"})


def test_written_records_carry_the_module_schema_version(tmp_path, monkeypatch):
    monkeypatch.setattr("wetok_bench.results.records.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    summary = JobSummary(**{k: v for k, v in OLD_SUMMARY.items() if k not in ("schema_version", "a_key_of_a_later_version")})
    write_job(tmp_path / "job", summary, [{"key": "a.png", "psnr": 1.0}], ["key", "psnr"], Manifest(job="j", seed=3))
    written = json.loads((tmp_path / "job" / "summary.json").read_text())
    assert list(written)[0] == "schema_version" and written["schema_version"] == SCHEMA_VERSION + 1
    assert "error" not in written and "rfid" not in written  # optional blocks left out when absent
    manifest = json.loads((tmp_path / "job" / "manifest.json").read_text())
    assert manifest == {"job": "j", "seed": 3, "schema_version": SCHEMA_VERSION + 1}


def _tiny_run(tmp_path: Path) -> Path:
    from wetok_bench.config.suite import load_suite
    from wetok_bench.engine import run_suite

    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (60 * i, 100, 30)).save(images / f"im{i}.png")
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump({"name": "s", "resolution": 16, "metrics": ["psnr", "ssim"], "device": "cpu",
                                     "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
                                     "tokenizers": [{"type": "identity"}], "output": str(tmp_path / "out")}))
    assert run_suite(load_suite(suite), progress=False).exit_code == 0
    return tmp_path / "out" / "s" / "identity__imgs__16"


def test_runner_files_are_the_records_and_synthetic_results_match_them(tmp_path):
    from _synthetic_results import write_synthetic_suite

    folder = _tiny_run(tmp_path)
    job = load_job(folder)
    assert job.record.to_dict() == json.loads((folder / "summary.json").read_text())
    assert job.record.extra == {} and job.provenance.extra == {}  # every key the runner writes is typed
    settings = job.manifest["suite"]["settings"]  # every setting in force, defaults filled in
    assert (settings["batch_size"], settings["shard_size"], settings["metrics"]) == (16, 1024, ["psnr", "ssim"])
    synthetic = load_job(write_synthetic_suite(tmp_path / "syn") / "identity__coco-sample__256")
    assert synthetic.record.extra == {} and synthetic.provenance.extra == {}
    ran, made = job.summary, synthetic.summary
    assert set(made) - {"rfid"} == set(ran)  # the synthetic jobs have rFID, this run does not
    for block in ("counts", "clamped", "dataset", "protocol"):
        assert set(made[block]) == set(ran[block]), block
    assert set(synthetic.manifest) <= set(job.manifest)


def _jpeg_folder(root: Path, originals: dict[str, np.ndarray], quality: int) -> Path:
    root.mkdir(parents=True)
    for name, image in originals.items():
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        (root / f"{name}.jpg").write_bytes(buffer.getvalue())
    return root


def test_score_results_go_to_report_and_check(tmp_path, photos):
    ref = tmp_path / "ref"
    ref.mkdir()
    originals = {name: np.ascontiguousarray(photos[name][40:104, 60:124]) for name in ("astronaut", "coffee", "chelsea")}
    for name, image in originals.items():
        Image.fromarray(image).save(ref / f"{name}.png")
    results = tmp_path / "results"
    runner = CliRunner()
    expected = {}
    for quality in (20, 70):
        rec = _jpeg_folder(tmp_path / f"jpeg{quality}", originals, quality)
        out = runner.invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr,ssim", "--device", "cpu",
                                  "--out", str(tmp_path / f"q{quality}.json"), "--results", str(results),
                                  "--dataset", "photos"])
        assert out.exit_code == 0, out.output
        expected[f"jpeg{quality}"] = np.mean([
            peak_signal_noise_ratio(originals[n], np.array(Image.open(rec / f"{n}.jpg").convert("RGB")), data_range=255)
            for n in originals])
    for name, psnr in expected.items():
        job = load_job(results / f"{name}__photos__64")
        assert job.record.tokenizer["name"] == name and job.record.resolution == 64 and job.record.status == "ok"
        assert math.isclose(job.metrics["psnr"], psnr, rel_tol=1e-9)
        assert job.record.counts["images"] == 3 and job.provenance.extra["recon_dir"] == str(tmp_path / name)
    recorded = runner.invoke(cli, ["check", str(results), "--record", str(tmp_path / "baseline.json")])
    assert recorded.exit_code == 0, recorded.output
    held = runner.invoke(cli, ["check", str(results), "--baseline", str(tmp_path / "baseline.json")])
    assert held.exit_code == 0, held.output
    report = runner.invoke(cli, ["report", str(results), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    board = (tmp_path / "report" / "leaderboard.md").read_text() if (tmp_path / "report" / "leaderboard.md").exists() \
        else "".join(p.read_text() for p in (tmp_path / "report").rglob("*.md"))
    assert "jpeg20" in board and "jpeg70" in board
