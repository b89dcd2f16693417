"""The regression gate: record -> check round trip, degraded results fail naming the metric,
tolerance edges, direction, missing results, and unusable input (exit 2)."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from _synthetic_results import TOKENIZERS, write_synthetic_suite
from click.testing import CliRunner

from wetok_bench.cli.main import cli
from wetok_bench.commands.check import Tolerance, check_results, compare_value, parse_tolerances
from wetok_bench.commands.record import record_baseline
from wetok_bench.core.errors import UsageError

SMALL = {"coco-sample": ("coco", 12)}
SOME = {k: TOKENIZERS[k] for k in ("jpeg-q50", "sd-vae-ft-mse", "identity")}


def _suite(root, **kwargs):
    kwargs.setdefault("tokenizers", SOME)
    return write_synthetic_suite(root, datasets=SMALL, **kwargs)


@pytest.fixture
def recorded(tmp_path):
    suite = _suite(tmp_path / "base")
    baseline = tmp_path / "baseline.json"
    done = CliRunner().invoke(cli, ["check", str(suite), "--record", str(baseline)])
    assert done.exit_code == 0, done.output
    return suite, baseline


def _check(*args):
    return CliRunner().invoke(cli, ["check", *map(str, args)])


def test_record_then_check_holds(recorded, tmp_path):
    suite, baseline = recorded
    data = json.loads(baseline.read_text())
    assert data["kind"] == "recorded" and data["suite"] == ["synthetic"]
    assert set(data["protocols"]) == {"standard"} and len(data["entries"]) == 3
    identity = next(e for e in data["entries"] if e["tokenizer"] == "identity")
    assert identity["metrics"]["psnr"] == "inf" and identity["metric_info"]["lpips"]["higher_is_better"] is False
    assert data["library_versions"]["torch"] == "2.14.1"  # from the results' manifest
    summary = tmp_path / "summary.md"
    done = _check(suite, "--baseline", baseline, "--summary-md", summary)
    assert done.exit_code == 0, done.output
    assert "PASS: 0 failing, 0 moved, 15 unchanged" in done.output  # 3 jobs x (psnr, ssim, lpips, rfid, bits)
    assert "PASS" in summary.read_text() and "Nothing moved." in summary.read_text()


def test_yaml_record_roundtrip(tmp_path):
    suite = _suite(tmp_path / "r")
    path = record_baseline([suite], tmp_path / "b.yaml")
    data = yaml.safe_load(path.read_text())
    assert math.isinf(next(e for e in data["entries"] if e["tokenizer"] == "identity")["metrics"]["psnr"])
    assert check_results([suite], path).exit_code == 0


def test_degraded_tokenizer_fails_naming_the_metric(recorded, tmp_path):
    _, baseline = recorded
    worse = _suite(tmp_path / "worse", degrade={"sd-vae-ft-mse": {"psnr": 0.3, "lpips": 0.01}})
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    done = _check(worse, "--baseline", baseline, "--summary-md", summary)
    assert done.exit_code == 1, done.output
    failing = [line for line in done.output.splitlines() if line.startswith("REGRESSION")]
    assert {tuple(line.split()[1:5]) for line in failing} == {
        ("sd-vae-ft-mse", "coco-sample", "256", "psnr"), ("sd-vae-ft-mse", "coco-sample", "256", "lpips")}
    psnr_line = next(line for line in failing if " psnr " in line)
    assert "-0.3" in psnr_line  # the delta is printed
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and ":x: FAIL" in text  # appended, as GITHUB_STEP_SUMMARY wants
    assert "| **regression** | sd-vae-ft-mse | coco-sample | 256 | psnr |" in text


def test_only_the_worse_direction_counts(recorded, tmp_path):
    _, baseline = recorded
    better = _suite(tmp_path / "better", degrade={"jpeg-q50": {"psnr": -1.0, "lpips": -0.05, "rfid": -2.0}})
    report = check_results([better], baseline)
    assert report.exit_code == 0
    assert {r.metric for r in report.rows if r.status == "better"} == {"psnr", "lpips", "rfid"}
    higher_rfid = _suite(tmp_path / "rfid", degrade={"jpeg-q50": {"rfid": 2.0}})
    assert [r.metric for r in check_results([higher_rfid], baseline).failures] == ["rfid"]


def test_tolerance_edges_on_the_command_line(recorded, tmp_path):
    _, baseline = recorded
    worse = _suite(tmp_path / "worse", degrade={"jpeg-q50": {"psnr": 0.25}})
    assert _check(worse, "--baseline", baseline, "--tolerance", "psnr=0.25").exit_code == 0  # exactly at the edge holds
    assert _check(worse, "--baseline", baseline, "--tolerance", "psnr=0.24").exit_code == 1
    assert _check(worse, "--baseline", baseline).exit_code == 1  # default 0.05 dB


def test_compare_value_rules():
    assert compare_value(20.0, 19.5, True, Tolerance(abs=0.5)) == ("ok", 0.5)
    assert compare_value(20.0, 19.4, True, Tolerance(abs=0.5))[0] == "regression"
    assert compare_value(10.0, 10.5, False, Tolerance(abs=0.1, rel=0.05)) == ("ok", 0.5)  # rel wins: 5% of 10
    assert compare_value(10.0, 10.6, False, Tolerance(abs=0.1, rel=0.05))[0] == "regression"
    assert compare_value(0.2, 0.1, False, Tolerance())[0] == "better"
    assert compare_value(math.inf, math.inf, True, Tolerance())[0] == "ok"
    assert compare_value(math.inf, 60.0, True, Tolerance(abs=1.0))[0] == "regression"
    assert compare_value(20.0, math.nan, True, Tolerance(abs=100))[0] == "regression"
    assert parse_tolerances(["psnr=0.1", "rfid=0.5,0.05"]) == {"psnr": Tolerance(0.1, 0.0), "rfid": Tolerance(0.5, 0.05)}
    for bad in ("psnr", "psnr=x", "psnr=-1", "psnr=1,2,3", "=1"):
        with pytest.raises(UsageError):
            parse_tolerances([bad])


def test_missing_result_fails_and_new_result_does_not(recorded, tmp_path):
    suite, baseline = recorded
    partial = _suite(tmp_path / "partial", tokenizers={k: SOME[k] for k in ("jpeg-q50", "identity")})
    done = _check(partial, "--baseline", baseline)
    assert done.exit_code == 1 and "MISSING" in done.output and "no result for this baseline entry" in done.output
    extra = _suite(tmp_path / "extra", tokenizers={**SOME, "jpeg-q90": TOKENIZERS["jpeg-q90"]})
    report = check_results([extra], baseline)
    assert report.exit_code == 0 and [r.tokenizer for r in report.rows if r.status == "new"] == ["jpeg-q90"]


def test_failed_job_and_skipped_metric_count_as_missing(recorded):
    suite, baseline = recorded
    summary_path = suite / "jpeg-q50__coco-sample__256" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["metrics"].pop("lpips")
    summary["skipped_metrics"] = {"lpips": "weights missing"}
    summary_path.write_text(json.dumps(summary))
    report = check_results([suite], baseline)
    assert [(r.metric, r.status) for r in report.failures] == [("lpips", "missing")]
    assert "weights missing" in report.failures[0].detail
    summary.update(status="failed", error="CUDA out of memory")
    summary_path.write_text(json.dumps(summary))
    assert {r.detail for r in check_results([suite], baseline).failures} == {"job failed: CUDA out of memory"}


def test_unusable_input_exits_2(recorded, tmp_path):
    suite, baseline = recorded
    assert _check(tmp_path / "nowhere", "--baseline", baseline).exit_code == 2
    done = _check(suite, "--baseline", tmp_path / "missing.json")
    assert done.exit_code == 2 and "baseline file not found" in done.output
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    assert _check(suite, "--baseline", garbled).exit_code == 2
    wrong_kind = tmp_path / "published.yaml"
    wrong_kind.write_text("kind: published\n")
    assert _check(suite, "--baseline", wrong_kind).exit_code == 2
    assert _check(suite).exit_code == 2  # neither --baseline nor --record
    assert _check(suite, "--baseline", baseline, "--record", tmp_path / "x.json").exit_code == 2
    assert _check(suite, "--baseline", baseline, "--tolerance", "psnr").exit_code == 2
    (suite / "identity__coco-sample__256" / "summary.json").write_text("{truncated")
    done = _check(suite, "--baseline", baseline)
    assert done.exit_code == 2 and "cannot read" in done.output


def test_other_protocol_fingerprint_is_unusable(recorded, tmp_path):
    _, baseline = recorded
    other = _suite(tmp_path / "wetok", protocol="wetok")
    done = _check(other, "--baseline", baseline)
    assert done.exit_code == 2 and "protocol fingerprint" in done.output


def _ci_suite_variant(tmp_path, tokenizer_yaml: str):
    """suites/ci.yaml with its tokenizers replaced and results written under tmp_path."""
    from conftest import REPO

    text = (REPO / "suites" / "ci.yaml").read_text()
    head, _, rest = text.partition("tokenizers:\n")
    tail = rest[rest.index("metrics:"):]
    path = tmp_path / "ci_variant.yaml"
    path.write_text(head + "tokenizers:\n" + tokenizer_yaml + tail)
    return path


@pytest.mark.slow
def test_committed_ci_baseline_reproduces_and_a_degraded_codec_fails(tmp_path):
    """A real run of the CI suite's JPEG q80 job holds against baselines/ci_baseline.json; the same
    job name encoding at quality 60 (a deliberately degraded tokenizer) fails on PSNR and SSIM."""
    from conftest import REPO

    full = json.loads((REPO / "baselines" / "ci_baseline.json").read_text())
    full["entries"] = [e for e in full["entries"] if e["tokenizer"] == "jpeg-q80"]
    baseline = tmp_path / "ci_jpeg_q80.json"
    baseline.write_text(json.dumps(full))
    runner = CliRunner()
    honest = _ci_suite_variant(tmp_path, "  - {type: codec, format: jpeg, quality: 80}\n")
    done = runner.invoke(cli, ["run", str(honest), "--out", str(tmp_path / "ok"), "--quiet"])
    assert done.exit_code == 0, done.output
    done = _check(tmp_path / "ok" / "ci", "--baseline", baseline)
    assert done.exit_code == 0, done.output
    degraded = _ci_suite_variant(tmp_path, "  - {type: codec, format: jpeg, quality: 60, name: jpeg-q80}\n")
    done = runner.invoke(cli, ["run", str(degraded), "--out", str(tmp_path / "bad"), "--quiet"])
    assert done.exit_code == 0, done.output
    done = _check(tmp_path / "bad" / "ci", "--baseline", baseline)
    assert done.exit_code == 1, done.output
    failing = {line.split()[4] for line in done.output.splitlines() if line.startswith("REGRESSION")}
    assert failing == {"psnr", "ssim"}  # fewer bits too, but that is better, not a regression


def test_image_count_differing_from_the_baseline_fails_naming_both_counts(recorded):
    suite, baseline = recorded
    assert {e["images"] for e in json.loads(baseline.read_text())["entries"]} == {12}  # SMALL: 12 images
    summary_path = suite / "jpeg-q50__coco-sample__256" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["counts"].update(images=11, skipped=1)  # one file became unreadable; the means did not move
    summary_path.write_text(json.dumps(summary))
    done = _check(suite, "--baseline", baseline)
    assert done.exit_code == 1, done.output
    assert "jpeg-q50/coco-sample/images: measured 11 images, the baseline 12" in done.output
    assert "1 file(s) skipped" in done.output and "COUNT" in done.output


def test_old_baseline_without_counts_is_read_with_a_note(recorded, tmp_path):
    suite, baseline = recorded
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        del entry["images"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    done = _check(suite, "--baseline", old)
    assert done.exit_code == 0, done.output
    assert "note: 3 of 3 baseline entries record no image count" in done.output


def test_a_metric_measured_but_not_in_the_baseline_is_listed_as_new(recorded, tmp_path):
    """Issue 20 (5): a baseline without ssim passes (nothing gated worsened) but names ssim for
    each job as measured and not gated, as it names a new job."""
    suite, baseline = recorded
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        del entry["metrics"]["ssim"]
        del entry["metric_info"]["ssim"]
    trimmed = tmp_path / "trimmed.json"
    trimmed.write_text(json.dumps(data))
    done = _check(suite, "--baseline", trimmed)
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if line.startswith("new")]
    assert len(lines) == 3 and all(" ssim " in f" {line} " for line in lines)
    assert "measured, not in the baseline (not gated)" in done.output
    assert "PASS: 0 failing, 3 moved, 12 unchanged" in done.output


def _shift_psnr(job, deltas) -> None:
    """Add ``deltas`` to a job's per-image PSNR and its summary mean (what a changed tokenizer writes)."""
    import pandas as pd

    frame = pd.read_csv(job / "per_image.csv")
    frame["psnr"] = frame["psnr"] + deltas
    frame.to_csv(job / "per_image.csv", index=False)
    summary = json.loads((job / "summary.json").read_text())
    summary["metrics"]["psnr"] = float(frame["psnr"].mean())
    (job / "summary.json").write_text(json.dumps(summary))


def test_significance_keeps_a_consistent_regression_and_passes_noise(recorded, tmp_path):
    import shutil

    suite, baseline = recorded
    assert "per_image" in json.loads(baseline.read_text())["entries"][0]  # recorded for the paired test
    consistent, noisy = tmp_path / "consistent", tmp_path / "noisy"
    shutil.copytree(suite, consistent)
    shutil.copytree(suite, noisy)
    job = "sd-vae-ft-mse__coco-sample__256"
    _shift_psnr(consistent / job, [-0.3] * 12)  # every image 0.3 dB worse: Wilcoxon p = 2 / 2^12
    _shift_psnr(noisy / job, [-2.0, 1.8] * 6)   # mean -0.1 dB, beyond the 0.05 tolerance, but noise
    done = _check(consistent, "--baseline", baseline, "--significance", "0.05")
    assert done.exit_code == 1 and "significant: Wilcoxon p = 0.00049 < 0.05 over 12 paired images" in done.output
    done = _check(noisy, "--baseline", baseline, "--significance", "0.05")
    assert done.exit_code == 0, done.output
    line = next(line for line in done.output.splitlines() if line.startswith("not-significant"))
    assert " psnr " in line and "not significant at 0.05" in done.output
    assert _check(noisy, "--baseline", baseline).exit_code == 1  # without --significance: the tolerance alone
    assert _check(noisy, "--baseline", baseline, "--significance", "2").exit_code == 2


def test_significance_without_per_image_values_keeps_the_regression(recorded, tmp_path):
    suite, baseline = recorded
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        entry.pop("per_image")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    worse = _suite(tmp_path / "worse", degrade={"sd-vae-ft-mse": {"psnr": 0.3}})
    done = _check(worse, "--baseline", old, "--significance", "0.05")
    assert done.exit_code == 1 and "no per-image values (re-record it)" in done.output
