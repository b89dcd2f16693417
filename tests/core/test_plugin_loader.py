"""The one entry-point loader (wetok_bench.core.plugins) behind the tokenizer, dataset and metric
registries: read once, reset by tests through plugins.reset(), and a broken plug-in named with
its distribution, entry point and error (a clear UsageError where it is used; a warning and left
out where every plug-in is loaded at once, the metrics), never a traceback, never silent."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wetok_bench.cli.main import cli
from wetok_bench.core.errors import UsageError
from wetok_bench.core.plugins import PluginError, PluginGroup

TESTS = Path(__file__).resolve().parents[1]
import plugin_metrics  # noqa: E402


def install(site: Path, dist: str, entry_points: str, modules: dict[str, str] | None = None) -> Path:
    """A distribution ``dist`` 0.1 with ``entry_points`` (entry_points.txt text) and ``modules``
    (name -> source) in ``site``, as `pip install` leaves it."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source)
    return site


def test_each_registry_uses_the_one_loader():
    from wetok_bench.core.registry import Registry
    from wetok_bench.data import registry as datasets
    from wetok_bench.metrics import registry as metrics
    from wetok_bench.tokenizers import registry as tokenizers

    for module, registry in ((datasets, datasets.DATASETS), (metrics, metrics.METRICS), (tokenizers, tokenizers.TOKENIZERS)):
        assert isinstance(registry, Registry) and isinstance(registry.plugins, PluginGroup)
        assert registry.plugins.group == module.ENTRY_POINT_GROUP
        assert not hasattr(module, "_entry_points_loaded") and not hasattr(module, "entry_points")
    package = TESTS.parent / "wetok_bench"
    readers = [p.relative_to(package).as_posix() for p in package.rglob("*.py") if "entry_points(" in p.read_text()]
    assert readers == ["core/plugins.py"]


def test_read_once_until_reset(tmp_path, monkeypatch, fresh_plugins):
    from wetok_bench.tokenizers.registry import tokenizer_types

    assert "late-family" not in tokenizer_types()
    monkeypatch.syspath_prepend(str(install(tmp_path, "wb-late", "[wetok_bench.tokenizers]\nlate-family = wb_late:create\n")))
    assert "late-family" not in tokenizer_types()  # read once: installed after the first read
    fresh_plugins.reset()
    assert "late-family" in tokenizer_types()
    assert "wb_late" not in sys.modules  # listed, not imported


def test_broken_tokenizer_plugin_is_a_clear_usage_error(tmp_path, monkeypatch, fresh_plugins):
    from wetok_bench.config.suite import SuiteError, parse_suite
    from wetok_bench.tokenizers.registry import create_tokenizer, tokenizer_types

    site = install(tmp_path, "wb-broken", "[wetok_bench.tokenizers]\nbroken-family = wb_broken_tok:create\n"
                   "not-callable = wb_broken_tok:VALUE\n",
                   {"wb_broken_tok": "VALUE = 3\nraise RuntimeError('needs a GPU library')\n"})
    monkeypatch.syspath_prepend(str(site))
    assert {"broken-family", "not-callable"} <= set(tokenizer_types())
    expected = ("tokenizer type 'broken-family': cannot load plug-in 'wb_broken_tok:create' (entry point "
                "'broken-family' of distribution 'wb-broken 0.1', group wetok_bench.tokenizers): "
                "RuntimeError: needs a GPU library")
    with pytest.raises(PluginError) as caught:
        create_tokenizer({"type": "broken-family"})
    assert str(caught.value) == expected and isinstance(caught.value, UsageError)
    with pytest.raises(PluginError) as again:  # the same report, without importing it again
        create_tokenizer({"type": "broken-family"})
    assert str(again.value) == expected
    with pytest.raises(SuiteError, match="tokenizers\\[0\\].type: cannot load tokenizer family 'broken-family'"):
        parse_suite({"name": "s", "datasets": [{"type": "samples"}], "tokenizers": [{"type": "broken-family"}]})
    listing = CliRunner().invoke(cli, ["list", "tokenizers"])
    assert listing.exit_code == 0, listing.output
    assert f"(cannot load: {expected})" in listing.output and "identity" in listing.output
    run = CliRunner().invoke(cli, ["run", "--help"])
    assert run.exit_code == 0


def test_plugin_of_the_wrong_kind_is_named(tmp_path, monkeypatch, fresh_plugins):
    from wetok_bench.data.registry import create_dataset
    from wetok_bench.tokenizers.registry import create_tokenizer

    site = install(tmp_path, "wb-wrong", "[wetok_bench.tokenizers]\nnumber = wb_wrong:VALUE\n"
                   "[wetok_bench.datasets]\nnot-a-class = wb_wrong:VALUE\n", {"wb_wrong": "VALUE = 3\n"})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match=r"tokenizer type 'number': cannot load plug-in 'wb_wrong:VALUE' .*: 3 is not callable"):
        create_tokenizer({"type": "number"})
    with pytest.raises(PluginError, match=r"of distribution 'wb-wrong 0.1', group wetok_bench.datasets\): 3 is not a Dataset subclass"):
        create_dataset({"type": "not-a-class"})


def test_broken_metric_plugin_is_left_out_with_one_warning_and_named_when_asked_for(tmp_path, monkeypatch, fresh_plugins, caplog):
    from wetok_bench.config.settings import check_values
    from wetok_bench.metrics import registry

    plugin_metrics.install_plugin(tmp_path)  # mae, which works
    install(tmp_path, "wb-bad-metrics", "[wetok_bench.metrics]\nmissing = wb_no_such_module:M\nmisnamed = plugin_metrics:MAE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="wetok_bench.core.plugins"):
        assert registry.metric_names() == ("psnr", "ssim", "lpips", "rfid", "kid", "fd_dinov2", "cmmd", "mae")
        registry.metric_names()
    assert [r.getMessage() for r in caplog.records] == [
        "metric 'missing': cannot load plug-in 'wb_no_such_module:M' (entry point 'missing' of distribution "
        "'wb-bad-metrics 0.1', group wetok_bench.metrics): ModuleNotFoundError: No module named 'wb_no_such_module'; left out",
        "metric 'misnamed': cannot load plug-in 'plugin_metrics:MAE' (entry point 'misnamed' of distribution "
        "'wb-bad-metrics 0.1', group wetok_bench.metrics): its class MAE is named 'mae', not 'misnamed' as the entry "
        "point; left out",
    ]  # once each, not on every read
    with pytest.raises(PluginError, match="metric 'missing': cannot load plug-in 'wb_no_such_module:M'"):
        registry.get_metric("missing")
    with pytest.raises(PluginError, match="metric 'misnamed': cannot load"):
        registry.check_metrics(["psnr", "misnamed"])
    _, problems = check_values({"metrics": ["psnr", "missing"]})
    assert [key for key, _ in problems] == ["metrics"] and "No module named 'wb_no_such_module'" in problems[0][1]


def test_a_plugin_metric_cannot_shadow_a_builtin(tmp_path, monkeypatch, fresh_plugins, caplog):
    from wetok_bench.metrics import registry

    install(tmp_path, "wb-shadow", "[wetok_bench.metrics]\npsnr = plugin_metrics:MAE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="wetok_bench.core.plugins"):
        assert registry.metric_names() == ("psnr", "ssim", "lpips", "rfid", "kid", "fd_dinov2", "cmmd")
    assert registry.get_metric("psnr").__module__ == "wetok_bench.metrics.psnr"
    assert "metric plug-in 'psnr' (plugin_metrics:MAE, distribution 'wb-shadow 0.1') is ignored: a built-in has that name" in caplog.text
