"""The metric registry: checked registration, names/directions from one place, fingerprints
that stay what was recorded (values read from baselines/ci_baseline.json and written down)."""

import json
from pathlib import Path

import pytest

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics import registry
from wetok_bench.metrics.base import ImageMetric
from wetok_bench.protocols import get_protocol

ROOT = Path(__file__).resolve().parents[2]
#: wetok v2's fingerprint before the metric registry existed (printed at commit 32e645c), written down here.
WETOK_V2_FINGERPRINT = "d424246403db2f4cef9055f9f3171b006d9aa905a3563ca0f6c0d000297a2488"


def test_builtins_are_registered_with_their_metadata():
    assert set(registry.CLASSIC) <= set(registry.metric_names())
    assert registry.higher_is_better("psnr") is True and registry.higher_is_better("ssim") is True
    assert registry.higher_is_better("lpips") is False and registry.higher_is_better("lpips_vgg") is False
    assert registry.higher_is_better("rfid") is False and registry.higher_is_better("bits_per_image") is False
    assert registry.key_info("psnr").unit == "dB"
    assert registry.weights_needs(get_protocol("wetok"), ["lpips", "rfid"]) == {
        "lpips": [("lpips_alex", "lpips-alex-backbone"), ("lpips_vgg", "lpips-vgg-backbone")],
        "rfid": [("inception", "pytorch-fid-inception")],
    }
    assert registry.weights_needs(get_protocol("standard"), ["rfid"])["rfid"] == [("inception", "inception-v3-compat")]


def test_registration_is_checked():
    class Bad(ImageMetric):
        name = "Not-An-Identifier"

    with pytest.raises(UsageError, match="lower-case identifier"):
        registry.register_metric(Bad)

    class Clash(ImageMetric):
        name = "psnr"

    with pytest.raises(UsageError, match="already registered"):
        registry.register_metric(Clash)
    with pytest.raises(UsageError, match="Metric subclass"):
        registry.register_metric(object)
    with pytest.raises(UsageError, match="unknown metric"):
        registry.get_metric("nope")


def test_classic_fingerprints_are_the_recorded_ones():
    recorded = json.loads((ROOT / "baselines" / "ci_baseline.json").read_text())["protocols"]["standard"]
    standard, wetok = get_protocol("standard"), get_protocol("wetok")
    for metrics in (registry.CLASSIC, ["psnr", "ssim"], ["rfid"]):
        assert registry.protocol_fingerprint(standard, metrics) == recorded
        assert registry.protocol_fingerprint(wetok, metrics) == WETOK_V2_FINGERPRINT


def test_kid_options_enter_only_when_kid_is_enabled():
    from wetok_bench.metrics.functional.kid import KidSettings

    recorded = json.loads((ROOT / "baselines" / "ci_baseline.json").read_text())["protocols"]["standard"]
    standard = get_protocol("standard")
    settings = {"kid": KidSettings()}
    assert registry.protocol_fingerprint(standard, registry.CLASSIC, settings) == recorded
    with_kid = registry.protocol_fingerprint(standard, [*registry.CLASSIC, "kid"], settings)
    other_kid = registry.protocol_fingerprint(standard, [*registry.CLASSIC, "kid"], {"kid": KidSettings(subset_size=50)})
    assert len({recorded, with_kid, other_kid}) == 3
    assert registry.higher_is_better("kid") is False and registry.higher_is_better("kid_std") is False


def test_kid_settings_are_validated_in_the_suite():
    from wetok_bench.config.settings import SettingsError, check_values

    _, problems = check_values({"kid": {"subset_size": 1, "subsetz": 3}})
    assert [path for path, _ in problems] == ["kid"] and "subsetz" in problems[0][1]
    _, problems = check_values({"kid": {"subset_size": 1}})
    assert problems == [("kid", "KID needs subsets >= 1 and subset_size >= 2, got 100 and 1")]
    assert check_values({"kid": {"subsets": 10, "subset_size": 50, "seed": 1}})[1] == []
    with pytest.raises(SettingsError):
        from wetok_bench.config.settings import Settings

        Settings(kid={"seed": "x"})


def test_list_metrics_names_every_registered_metric():
    from click.testing import CliRunner

    from wetok_bench.cli.main import cli

    result = CliRunner().invoke(cli, ["list", "metrics"])
    assert result.exit_code == 0, result.output
    assert "kid (set, lower is better) -> kid, kid_std; settings: kid" in result.output
    assert "lpips (image, lower is better) -> lpips, lpips_vgg" in result.output
