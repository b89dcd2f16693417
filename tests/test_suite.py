"""Suite files: validation reports every problem with its YAML path; expansion; shipped suites."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from wetok_bench.cli import cli
from wetok_bench.suite import SuiteError, load_suite, parse_suite

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _minimal(tmp_path: Path) -> dict:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    return {
        "name": "t",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "identity"}],
        "metrics": ["psnr", "ssim"],
    }


@pytest.mark.parametrize("name", ["demo", "ci", "compression_sweep"])
def test_shipped_suites_validate(name):
    suite = load_suite(REPO / "suites" / f"{name}.yaml")
    assert suite.name == name
    assert suite.jobs()


def test_dataset_suites_name_their_environment_variables(monkeypatch):
    monkeypatch.delenv("IMAGENET_VAL_DIR", raising=False)
    with pytest.raises(SuiteError) as info:
        load_suite(REPO / "suites" / "imagenet_zero_shot.yaml")
    assert "IMAGENET_VAL_DIR is not set" in str(info.value)


def test_every_problem_reported_with_its_path(tmp_path):
    data = _minimal(tmp_path)
    data.update({"batch_sise": 4, "num_workers": -1, "protocol": "standrd"})
    data["tokenizers"] = [
        {"type": "codec", "format": "jpeg", "qualty": 50},
        {"type": "tokenzier-x"},
        {"type": "wetok", "checkpoint": str(tmp_path / "nope.ckpt"), "model": "wetok-imagenet-f16"},
    ]
    data["datasets"].append({"type": "folder", "name": "gone", "root": str(tmp_path / "missing")})
    with pytest.raises(SuiteError) as info:
        parse_suite(data)
    problems = dict(info.value.problems)
    assert "did you mean 'batch_size'" in problems["batch_sise"]
    assert "num_workers" in problems
    assert "did you mean 'standard'" in problems["protocol"]
    assert "did you mean 'quality'" in problems["tokenizers[0].qualty"]
    assert "unknown tokenizer type" in problems["tokenizers[1].type"]
    assert "not found" in problems["tokenizers[2].checkpoint"]
    assert "not found" in problems["datasets[1].root"]
    assert len(info.value.problems) == 7


def test_cli_exit_code_2_and_nothing_written(tmp_path):
    data = _minimal(tmp_path)
    data["output"] = str(tmp_path / "out")
    data["tokenizers"] = [{"type": "codec", "qualty": 5}]
    result = CliRunner().invoke(cli, ["run", str(_write(tmp_path, data))])
    assert result.exit_code == 2
    assert "tokenizers[0].qualty" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_malformed_yaml_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndatasets: [\n")
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.output


def test_environment_expansion(tmp_path, monkeypatch):
    data = _minimal(tmp_path)
    monkeypatch.setenv("WB_IMAGES", data["datasets"][0]["root"])
    data["datasets"][0]["root"] = "${WB_IMAGES}"
    data["output"] = "${WB_UNSET_OUT:-fallback}"
    suite = parse_suite(data)
    assert suite.datasets[0].spec["root"] == str(tmp_path / "images")
    assert suite.settings["output"] == "fallback"


def test_codec_quality_list_expands_into_named_jobs(tmp_path):
    data = _minimal(tmp_path)
    data["tokenizers"] = [{"type": "codec", "format": "webp", "quality": [10, 90]}, {"type": "identity"}]
    data["resolution"] = [64, 128]
    suite = parse_suite(data)
    assert [t.name for t in suite.tokenizers] == ["webp-q10", "webp-q90", "identity"]
    assert [j.id for j in suite.jobs()][:2] == ["webp-q10__imgs__64", "webp-q10__imgs__128"]


def test_duplicate_names_refused(tmp_path):
    data = _minimal(tmp_path)
    data["tokenizers"] = [{"type": "identity"}, {"type": "identity"}]
    with pytest.raises(SuiteError, match="two entries are named 'identity'"):
        parse_suite(data)


def test_suite_hash_changes_with_content(tmp_path):
    data = _minimal(tmp_path)
    first = parse_suite(data).suite_hash
    data["seed"] = 1
    assert parse_suite(data).suite_hash != first
