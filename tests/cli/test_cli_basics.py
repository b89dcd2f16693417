"""The command line's contract: help, version, and one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from wetok_bench import __version__
from wetok_bench.cli.main import cli


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
        (["score", ".", ".", "--protocol", "nope", "--out", "o.json"], "error: unknown metric protocol 'nope' (known: standard, wetok, seed-voken"),
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
    from wetok_bench.core.errors import UsageError

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

    from wetok_bench.cli.main import cli

    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    from importlib.metadata import version

    assert f"torch            {version('torch')}" in result.output
    assert "taef2-encoder" in result.output and "missing" in result.output  # per-test empty home
    assert "disabled" in result.output  # conftest sets the offline switch


# --- a plug-in tokenizer's errors: tracebacks under --debug, long messages once -------------


def _explode_in_plugin(message: str):
    raise RuntimeError(message)


def _broken_suite(tmp_path, monkeypatch, message: str):
    """A suite whose only tokenizer (a plug-in) raises ``message`` from inside its encoder."""
    import logging

    import yaml
    from PIL import Image

    from wetok_bench.tokenizers import registry
    from wetok_bench.tokenizers.identity import IdentityTokenizer

    class Broken(IdentityTokenizer):
        def encode(self, x):
            return _explode_in_plugin(message)

    def create(*, name: str = "broken"):
        logging.getLogger("wetok_bench.test_plugin").warning("plug-in loaded with defaults")
        return Broken(name)

    registry.register_tokenizer("test-broken", create, overwrite=True)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 80, 120)).save(images / f"{i}.png")
    suite = {
        "name": "broken", "output": str(tmp_path / "out"), "metrics": ["psnr"], "resolution": 16,
        "batch_size": 2, "num_workers": 0,
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "test-broken"}],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_debug_shows_a_tokenizer_traceback(tmp_path, monkeypatch, registries):
    suite = _broken_suite(tmp_path, monkeypatch, "simulated plug-in bug")
    plain = CliRunner().invoke(cli, ["run", str(suite), "--quiet"])
    assert plain.exit_code != 0
    assert "simulated plug-in bug" in plain.stderr and "Traceback" not in plain.output
    assert "warning: plug-in loaded with defaults" in plain.stderr  # library logging on stderr
    for args, env in ((["--debug"], {}), ([], {"WETOK_BENCH_DEBUG": "1"})):
        debug = CliRunner().invoke(cli, [*args, "run", str(suite), "--quiet"], env=env)
        assert debug.exit_code == plain.exit_code
        assert "Traceback (most recent call last)" in debug.stderr
        assert "in _explode_in_plugin" in debug.stderr and "RuntimeError: simulated plug-in bug" in debug.stderr


def test_debug_shows_the_traceback_of_a_tokenizer_that_fails_to_load(tmp_path, monkeypatch, registries):
    # A plug-in's factory (or its weights loading) raising is the failure a plug-in author meets first.
    from wetok_bench.tokenizers import registry

    suite = _broken_suite(tmp_path, monkeypatch, "unused")

    def create(*, name: str = "broken"):
        return _explode_in_plugin("simulated bug while loading")

    registry.register_tokenizer("test-broken", create, overwrite=True)
    plain = CliRunner().invoke(cli, ["run", str(suite), "--quiet"])
    assert plain.exit_code != 0
    assert "could not be loaded: simulated bug while loading" in plain.stderr and "Traceback" not in plain.output
    debug = CliRunner().invoke(cli, ["--debug", "run", str(suite), "--quiet"])
    assert debug.exit_code == plain.exit_code
    assert "Traceback (most recent call last)" in debug.stderr
    assert "in _explode_in_plugin" in debug.stderr and "RuntimeError: simulated bug while loading" in debug.stderr


def test_long_error_is_a_short_line_then_details_once(tmp_path, monkeypatch, registries):
    tail = "the end of a very long message"
    message = "missing keys in the state dict: " + ", ".join(f"decoder.block{i}.weight" for i in range(40)) + " " + tail
    assert len(message) > 500
    result = CliRunner().invoke(cli, ["run", str(_broken_suite(tmp_path, monkeypatch, message)), "--quiet"])
    assert result.exit_code != 0
    assert result.output.count(tail) == 1  # stderr and the table together
    first = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert len(first) <= 220 and first.endswith("...")
    table_row = next(line for line in result.stdout.splitlines() if line.startswith("test-broken__imgs__16"))
    assert "failed: tokenizer 'test-broken'" in table_row and tail not in table_row


# --- run --dry-run: a pre-flight check that fails when anything it lists is missing ---------


def _dry_run(tmp_path, tokenizers, metrics, env=None):
    import yaml
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    Image.new("RGB", (16, 16)).save(images / "a.png")
    suite = {"name": "pre", "output": str(tmp_path / "out"), "metrics": metrics,
             "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}], "tokenizers": tokenizers}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"], env=env or {})
    assert not (tmp_path / "out").exists()
    return result


def test_dry_run_passes_when_everything_is_there(tmp_path):
    result = _dry_run(tmp_path, [{"type": "identity"}, {"type": "codec", "quality": [20, 80]}], ["psnr", "ssim"])
    assert result.exit_code == 0, result.output
    assert "jpeg-q80__imgs__256" in result.output and "missing" not in result.output


def test_dry_run_fails_on_missing_tokenizer_weights(tmp_path):
    # the per-test home has an empty weights folder: TAEF2's two .pth files are not there
    result = _dry_run(tmp_path, [{"type": "taesd", "model": "taef2"}, {"type": "identity"}], ["psnr"])
    assert result.exit_code == 1, result.output
    assert "missing (2): tokenizer taef2: taef2-encoder; tokenizer taef2: taef2-decoder" in result.output


def test_dry_run_fails_on_missing_metric_weights(tmp_path):
    result = _dry_run(tmp_path, [{"type": "identity"}], ["psnr", "rfid"])
    assert result.exit_code == 1, result.output
    assert "missing (1): metric weights inception-v3-compat" in result.output


def test_dry_run_finds_taef2_in_the_weights_folder(tmp_path, taef2_weights_dir):
    result = _dry_run(tmp_path, [{"type": "taesd", "model": "taef2"}], ["psnr"],
                      env={"WETOK_BENCH_WEIGHTS": str(taef2_weights_dir)})
    assert result.exit_code == 0, result.output
    assert f"taef2-encoder ({taef2_weights_dir / 'taef2_encoder.pth'})" in result.output


def test_ctrl_c_exits_130_and_an_output_that_is_a_file_is_a_plain_error(tmp_path, monkeypatch):
    """Issue 20 (10): Ctrl-C is the shell's 130 with one line; an output path through a file is an
    input error (exit 2) named as such, not an 'internal error'."""
    import wetok_bench.engine

    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ndatasets: [{type: samples}]\ntokenizers: [{type: identity}]\nmetrics: [psnr]\n"
                     "resolution: 32\nnum_workers: 0\ndevice: cpu\n")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(wetok_bench.engine, "run_suite", interrupted)
    stopped = CliRunner().invoke(cli, ["run", str(suite), "--quiet"])
    assert stopped.exit_code == 130 and stopped.stderr.strip() == "interrupted"
    monkeypatch.undo()
    (tmp_path / "file").write_text("not a folder")
    blocked = CliRunner().invoke(cli, ["run", str(suite), "--quiet", "--out", str(tmp_path / "file" / "results")])
    assert blocked.exit_code == 2, blocked.output
    assert blocked.stderr.startswith("error: Not a directory") and "internal error" not in blocked.stderr
