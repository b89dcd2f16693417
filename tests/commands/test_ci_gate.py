"""The project's own regression gate: suites/ci.yaml checked against baselines/ci_baseline.json
with the real TAEF2 weights; a deliberately degraded tokenizer fails the check."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from wetok_bench.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def _run_ci_suite(tmp_path: Path, weights_dir: Path, monkeypatch, degrade: bool) -> Path:
    monkeypatch.setenv("WETOK_BENCH_WEIGHTS", str(weights_dir))
    suite = yaml.safe_load((REPO / "suites" / "ci.yaml").read_text())
    suite["output"] = str(tmp_path / "results")
    if degrade:
        # Same name, much worse reconstructions: JPEG at quality 5 posing as TAEF2.
        suite["tokenizers"][0] = {"name": "taef2", "type": "codec", "format": "jpeg", "quality": 5}
    path = tmp_path / "ci.yaml"
    path.write_text(yaml.safe_dump(suite))
    result = CliRunner().invoke(cli, ["run", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    return tmp_path / "results" / "ci"


def test_ci_suite_holds_against_recorded_baseline(tmp_path, taef2_weights_dir, monkeypatch):
    results = _run_ci_suite(tmp_path, taef2_weights_dir, monkeypatch, degrade=False)
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(cli, ["check", str(results), "--baseline", str(REPO / "baselines" / "ci_baseline.json"),
                                      "--summary-md", str(summary)])
    assert result.exit_code == 0, result.output
    assert summary.read_text().strip()


def test_degraded_tokenizer_fails_the_gate(tmp_path, taef2_weights_dir, monkeypatch):
    results = _run_ci_suite(tmp_path, taef2_weights_dir, monkeypatch, degrade=True)
    result = CliRunner().invoke(cli, ["check", str(results), "--baseline", str(REPO / "baselines" / "ci_baseline.json")])
    assert result.exit_code == 1, result.output
    assert "taef2" in result.output and "psnr" in result.output
