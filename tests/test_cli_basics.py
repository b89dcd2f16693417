"""The command line's contract: help, version, and one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from wetok_bench import __version__
from wetok_bench.cli import cli


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("score", "run", "weights", "list"):
        assert f"  {command}" in result.output
    score_help = CliRunner().invoke(cli, ["score", "--help"])
    assert score_help.exit_code == 0 and "--protocol" in score_help.output and "NET=PATH" in score_help.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"wetok-bench, version {__version__}"


@pytest.mark.parametrize(
    "args,message",
    [
        (["score", "/nonexistent/ref", "/nonexistent/rec", "--out", "o.json"], "error: reference folder not found: /nonexistent/ref"),
        (["score", ".", ".", "--protocol", "nope", "--out", "o.json"], "error: unknown metric protocol 'nope' (known: standard, wetok)"),
        (["weights", "fetch", "nope"], "error: unknown weights 'nope'"),
    ],
)
def test_errors_are_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["--debug", "score", str(tmp_path / "a"), str(tmp_path / "b"), "--out", "o.json"])
    assert result.exit_code != 0
    from wetok_bench.errors import UsageError

    assert isinstance(result.exception, UsageError)


def test_console_entry_point_runs_as_module(tmp_path):
    # `python -m wetok_bench` is the installed console script's code path, in a real process.
    proc = subprocess.run(
        [sys.executable, "-m", "wetok_bench", "score", str(tmp_path / "a"), str(tmp_path / "b"), "--out", "o.json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: reference folder not found: {tmp_path / 'a'}"


def test_doctor_reports_versions_and_weights():
    from click.testing import CliRunner

    from wetok_bench.cli import cli

    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    from importlib.metadata import version

    assert f"torch            {version('torch')}" in result.output
    assert "taef2-encoder" in result.output and "missing" in result.output  # per-test empty home
    assert "disabled" in result.output  # conftest sets the offline switch
