"""Weights resolution: explicit path, $WETOK_BENCH_HOME/weights, torch hub cache, download,
sha256 checks and the offline error; and the `weights` CLI commands."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from wetok_bench.cli.main import cli
from wetok_bench.core import weights as w
from wetok_bench.core.errors import MissingWeightsError, UsageError


def write(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@pytest.fixture
def spec(monkeypatch, tmp_path) -> w.WeightsFile:
    """A registry entry whose full sha256 is that of b"good weights", served from a local URL."""
    source = write(tmp_path / "server" / "model.pth", b"good weights")
    entry = w.WeightsFile(
        name="test-model", filename="model-abc.pth", url=source.as_uri(), used_by="tests", sha256=sha(b"good weights")
    )
    monkeypatch.setitem(w.KNOWN_WEIGHTS, entry.name, entry)
    return entry


def home_copy(spec: w.WeightsFile, payload: bytes) -> Path:
    return write(w.weights_dir() / spec.filename, payload)


def hub_copy(spec: w.WeightsFile, payload: bytes) -> Path:
    return write(Path(torch.hub.get_dir()) / "checkpoints" / spec.filename, payload)


def test_home_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WETOK_BENCH_HOME", str(tmp_path / "h"))
    assert w.weights_dir() == tmp_path / "h" / "weights"
    # torch hub's folder follows TORCH_HOME (set per test by conftest)
    assert Path(torch.hub.get_dir()) == Path(os.environ["TORCH_HOME"]) / "hub"


def test_resolution_order(spec, tmp_path):
    explicit = write(tmp_path / "mine.pth", b"good weights")
    hub = hub_copy(spec, b"good weights")
    assert w.resolve_weights(spec.name) == hub
    home = home_copy(spec, b"good weights")
    assert w.resolve_weights(spec.name) == home  # home wins over torch hub's cache
    assert w.resolve_weights(spec.name, explicit) == explicit  # an explicit path wins over both


def test_bad_copies_are_skipped_and_rechecked_after_change(spec):
    home = home_copy(spec, b"tampered weights")
    hub = hub_copy(spec, b"good weights")
    assert w.resolve_weights(spec.name) == hub
    # a verified copy that changes afterwards is hashed again, not trusted from the stamp
    hub.write_bytes(b"changed after verification")
    with pytest.raises(MissingWeightsError):
        w.resolve_weights(spec.name)
    home.write_bytes(b"good weights")
    assert w.resolve_weights(spec.name) == home


def test_prefix_checksum_like_torch_hub(monkeypatch):
    payload = b"alexnet-like bytes"
    entry = dataclasses.replace(w.KNOWN_WEIGHTS["lpips-alex-backbone"], sha256_prefix=sha(payload)[:8])
    monkeypatch.setitem(w.KNOWN_WEIGHTS, entry.name, entry)
    hub = hub_copy(entry, b"something else")
    with pytest.raises(MissingWeightsError):
        w.resolve_weights(entry.name)
    hub.write_bytes(payload)
    assert w.resolve_weights(entry.name) == hub


def test_explicit_path_errors(spec, tmp_path):
    with pytest.raises(UsageError, match="not found"):
        w.resolve_weights(spec.name, tmp_path / "missing.pth")
    bad = write(tmp_path / "bad.pth", b"tampered")
    with pytest.raises(UsageError) as info:
        w.resolve_weights(spec.name, bad)
    # present but corrupt, with both hashes (hashlib's digest of the bytes written, and the recorded one)
    assert f"{bad} is present but corrupt: its sha256 {sha(b'tampered')} does not match" in str(info.value)
    assert f"the sha256 of 'test-model' ({spec.sha256})" in str(info.value)
    with pytest.raises(UsageError, match="unknown weights 'nope'"):
        w.resolve_weights("nope")


def test_offline_error_names_file_sha_url_and_folder(spec):
    with pytest.raises(MissingWeightsError) as info:
        w.resolve_weights(spec.name)
    message = str(info.value)
    for part in (spec.filename, spec.sha256, spec.url, str(w.weights_dir()), "weights fetch test-model"):
        assert part in message


def test_download_when_online_is_verified(spec, monkeypatch, tmp_path):
    monkeypatch.delenv("WETOK_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path = w.resolve_weights(spec.name)
    assert path == w.weights_dir() / spec.filename and path.read_bytes() == b"good weights"
    # a download whose bytes do not match is discarded, leaving no partial file behind
    corrupt = dataclasses.replace(spec, name="test-corrupt", filename="corrupt.pth")
    monkeypatch.setitem(w.KNOWN_WEIGHTS, corrupt.name, dataclasses.replace(corrupt, sha256=sha(b"other")))
    with pytest.raises(MissingWeightsError):
        w.resolve_weights("test-corrupt")
    assert sorted(p.name for p in w.weights_dir().iterdir()) == [spec.filename]  # no partial file, no sidecar


def test_cli_weights_list(spec):
    home_copy(spec, b"good weights")
    result = CliRunner().invoke(cli, ["weights", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"weights folder: {w.weights_dir()}"
    assert any(line.startswith("test-model") and "present" in line for line in lines)
    alex = next(line for line in lines if line.startswith("lpips-alex-backbone"))
    assert "MISSING" in alex and "alexnet-owt-7be5be79.pth" in alex
    bad = home_copy(spec, b"tampered weights")
    line = next(line for line in CliRunner().invoke(cli, ["weights", "list"]).output.splitlines() if line.startswith("test-model"))
    assert f"CORRUPT  {bad} (sha256 {sha(b'tampered weights')}, expected {spec.sha256})" in line
    fetch = CliRunner().invoke(cli, ["weights", "fetch", "test-model"])  # offline in tests
    assert fetch.exit_code == 1 and "present but corrupt" in fetch.stderr


def test_cli_weights_fetch_offline_does_not_try(spec, monkeypatch, tmp_path):
    reachable = tmp_path / "model.pth"
    reachable.write_bytes(b"good weights")
    monkeypatch.setitem(w.KNOWN_WEIGHTS, spec.name, dataclasses.replace(spec, url=reachable.as_uri()))
    result = CliRunner().invoke(cli, ["weights", "fetch", "test-model"])  # conftest sets WETOK_BENCH_OFFLINE
    assert result.exit_code == 1 and "downloads disabled" in result.stderr
    assert not (w.weights_dir() / spec.filename).exists()


def test_cli_weights_fetch_without_network(spec, monkeypatch, tmp_path):
    monkeypatch.delenv("WETOK_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    unreachable = dataclasses.replace(spec, url=(tmp_path / "nowhere" / "model.pth").as_uri())
    monkeypatch.setitem(w.KNOWN_WEIGHTS, spec.name, unreachable)
    result = CliRunner().invoke(cli, ["weights", "fetch", "test-model"])
    assert result.exit_code == 1
    assert "test-model: FAILED" in result.stderr and spec.filename in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)

    unknown = CliRunner().invoke(cli, ["weights", "fetch", "no-such-weights"])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: unknown weights 'no-such-weights'") and "lpips" in unknown.stderr


def test_cli_weights_fetch_present_and_groups(spec):
    home_copy(spec, b"good weights")
    result = CliRunner().invoke(cli, ["weights", "fetch", "test-model"])
    assert result.exit_code == 0 and "already present" in result.output
    assert w.expand_names(["lpips"]) == ["lpips-alex-backbone", "lpips-vgg-backbone"]
    assert w.expand_names(["all"]) == list(w.KNOWN_WEIGHTS)


def test_present_but_corrupt_is_not_reported_as_not_found(spec):
    home = home_copy(spec, b"tampered weights")
    with pytest.raises(MissingWeightsError) as info:
        w.resolve_weights(spec.name)
    message = str(info.value)
    assert "not found" not in message
    assert f"are present but corrupt: {home} has sha256 {sha(b'tampered weights')}, expected {spec.sha256}" in message
    assert "weights fetch test-model" in message


class _NotATensor:
    """Pickled into a file to stand for code a checkpoint would run when unpickled."""


@pytest.fixture
def pickled_object_file(tmp_path) -> Path:
    path = tmp_path / "pickled.pth"
    torch.save({"0.weight": torch.zeros(1), "extra": _NotATensor()}, path)
    return path


def _loaders():
    from wetok_bench.core.torch_files import load_torch_file
    from wetok_bench.metrics.networks.inception import _load_state_dict
    from wetok_bench.tokenizers.common.ema_checkpoint import read_state_dict
    from wetok_bench.tokenizers.taesd import read_original

    return {
        "load_torch_file": lambda p: load_torch_file(p, what="weights"),
        "wetok": read_state_dict,
        "taesd": read_original,
        "inception": _load_state_dict,
    }


@pytest.mark.parametrize("loader", ["load_torch_file", "wetok", "taesd", "inception"])
def test_pickle_refusal_names_the_object_and_gives_no_weights_only_false_advice(pickled_object_file, loader):
    with pytest.raises(UsageError) as info:
        _loaders()[loader](pickled_object_file)
    message = str(info.value)
    assert "test_weights._NotATensor" in message and str(pickled_object_file) in message
    assert "weights_only=False" not in message and "`False`" not in message and "add_safe_globals" not in message
    assert "re-save the state dict alone" in message and "\n" not in message


def test_garbage_file_is_not_a_torch_file(tmp_path):
    from wetok_bench.core.torch_files import load_torch_file

    path = write(tmp_path / "garbage.pth", b"hello world")
    with pytest.raises(UsageError, match="cannot read weights .*garbage.pth: not a torch.save file of tensors, or damaged"):
        load_torch_file(path, what="weights")
    with pytest.raises(UsageError) as info:
        load_torch_file(write(tmp_path / "text.pth", b"not a checkpoint"), what="weights")
    assert "weights_only" not in str(info.value) and "UnpicklingError" in str(info.value)


def test_vq_checkpoint_garbage_gives_no_weights_only_false_advice(tmp_path):
    from wetok_bench.tokenizers.common.vq_checkpoint import read_checkpoint

    path = write(tmp_path / "vq.ckpt", b"not a checkpoint")
    with pytest.raises(UsageError) as info:
        read_checkpoint(path, what="VQ checkpoint")
    assert "not a torch.save file of tensors, or damaged" in str(info.value) and "weights_only" not in str(info.value)
