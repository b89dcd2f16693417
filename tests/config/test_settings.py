"""Typed suite settings: one table (defaults, types, ranges) behind the suite loader, the
``Settings`` object, the CLI and ``score``; a ``Settings`` checks itself when built."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from wetok_bench.cli.main import cli
from wetok_bench.config.settings import DEFAULTS, SETTINGS, STRUCTURE_KEYS, Settings, SettingsError


def test_fields_and_defaults_come_from_the_one_table():
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert fields == {p.name for p in SETTINGS.params} - set(STRUCTURE_KEYS)
    settings = Settings()
    # the values docs/suites.md documents
    assert (settings.batch_size, settings.num_workers, settings.shard_size, settings.seed) == (16, 2, 1024, 0)
    assert (settings.protocol, settings.device, settings.output, settings.subset) == ("standard", "auto", "results", "spread")
    assert settings.metrics == ["psnr", "ssim", "lpips", "rfid"] and settings.weights == {} and settings.grids is None
    assert Settings().metrics is not Settings().metrics  # mutable defaults are not shared


def test_settings_check_themselves():
    with pytest.raises(SettingsError) as info:
        Settings(batch_size=0, device="gpu", protocol="standrd", resolution=[4], grids={"count": -1})
    problems = dict(info.value.problems)
    assert problems["batch_size"] == "expected an integer >= 1, got 0"
    assert problems["device"] == "expected auto, cpu, cuda or cuda:N, got 'gpu'"
    assert "did you mean 'standard'" in problems["protocol"]
    assert problems["resolution[0]"] == "expected an integer from 8 to 8192 or 'original', got 4"
    assert problems["grids.count"] == "expected an integer >= 0, got -1"
    assert len(problems) == 5
    with pytest.raises(SettingsError, match="num_images: expected an integer >= 1 or null, got 0"):
        Settings().replace(num_images=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().batch_size = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Settings(batch_sise=4)  # type: ignore[call-arg]


def test_from_mapping_and_to_dict_round_trip():
    settings = Settings.from_mapping({"name": "x", "datasets": [], "tokenizers": [], "batch_size": 4, "seed": 7})
    assert settings.batch_size == 4 and settings.seed == 7
    assert Settings(**settings.to_dict()) == settings


def test_run_help_and_score_defaults_come_from_the_table():
    run_help = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "[suite default: auto]" in run_help and "[suite default: results]" in run_help
    score = next(c for c in cli.commands["score"].params if c.name == "batch_size")
    assert score.default == DEFAULTS["batch_size"] == 16
    metrics = next(c for c in cli.commands["score"].params if c.name == "metrics")
    assert metrics.default == "psnr,ssim,lpips,rfid"
    from wetok_bench.commands.score import ScoreOptions

    options = ScoreOptions()
    assert (options.protocol, options.device, options.batch_size) == ("standard", "auto", 16)


def test_metric_settings_blocks_come_from_the_registry():
    """A metric's settings block is the top-level key named after it; the table has no line per metric."""
    from wetok_bench.config.settings import check_values

    assert check_values({"kid": {"subset_size": 10}})[1] == []
    assert ("psnr", "metric 'psnr' takes no settings") in check_values({"psnr": {"window": 3}})[1]
    assert any(path == "kid" for path, _ in check_values({"kid": {"subset_size": 1}})[1])  # KID refuses it


def test_a_metric_settings_block_must_be_named_after_the_metric():
    from wetok_bench.core.errors import UsageError
    from wetok_bench.metrics.kid import METRIC as KID
    from wetok_bench.metrics.registry import register_metric

    odd = type("OddKid", (KID,), {"name": "odd_kid", "settings_key": "kid"})
    with pytest.raises(UsageError, match="named after it"):
        register_metric(odd)
