"""``include:`` of base suites: local keys win, mappings merge, lists replace, cycles named,
an included file's relative paths are its own; the results record the merged suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from wetok_bench.config.suite import SuiteError, load_suite

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(folder / f"im{i}.png")
    return folder


def _base(tmp_path: Path) -> Path:
    """base/base.yaml with a dataset root relative to base/."""
    _images(tmp_path / "base" / "images")
    return _write(tmp_path / "base" / "base.yaml", {
        "name": "base", "protocol": "wetok", "resolution": [16, 32], "metrics": ["psnr", "ssim"],
        "datasets": [{"type": "folder", "name": "imgs", "root": "images"}],
        "tokenizers": [{"type": "identity"}, {"type": "codec", "format": "jpeg", "quality": 50}],
        "batch_size": 4, "grids": {"count": 2, "worst_k": 1},
    })


def test_local_keys_win_mappings_merge_lists_replace(tmp_path):
    _base(tmp_path)
    child = _write(tmp_path / "child.yaml", {
        "include": "base/base.yaml", "name": "child", "protocol": "standard",
        "resolution": [16], "tokenizers": [{"type": "identity"}], "grids": {"worst_k": 3},
    })
    suite = load_suite(child)
    assert suite.name == "child" and suite.protocol.name == "standard"
    assert suite.resolutions == [16]                                   # a list is replaced
    assert [t.name for t in suite.tokenizers] == ["identity"]
    assert suite.settings.grids == {"count": 2, "keys": [], "worst_k": 3}  # a mapping merges
    assert suite.settings.batch_size == 4 and suite.metrics == ["psnr", "ssim"]  # inherited
    assert suite.includes == [str(tmp_path / "base" / "base.yaml")]
    assert "include" not in suite.raw and suite.raw["batch_size"] == 4


def test_included_paths_are_relative_to_the_included_file(tmp_path):
    _base(tmp_path)
    suite = load_suite(_write(tmp_path / "child.yaml", {"include": "base/base.yaml", "name": "child"}))
    assert suite.datasets[0].spec["root"] == str(tmp_path / "base" / "images")


def test_several_includes_later_wins_local_wins_over_all(tmp_path):
    _base(tmp_path)
    _write(tmp_path / "fast.yaml", {"batch_size": 8, "seed": 3, "grids": {"count": 0}})
    suite = load_suite(_write(tmp_path / "child.yaml", {
        "include": ["base/base.yaml", "fast.yaml"], "name": "child", "seed": 5}))
    assert suite.settings.batch_size == 8 and suite.settings.seed == 5
    assert suite.settings.grids == {"count": 0, "keys": [], "worst_k": 1}
    assert suite.includes == [str(tmp_path / "base" / "base.yaml"), str(tmp_path / "fast.yaml")]


def test_nested_include_chain(tmp_path):
    _base(tmp_path)
    _write(tmp_path / "mid.yaml", {"include": "base/base.yaml", "seed": 9})
    suite = load_suite(_write(tmp_path / "top.yaml", {"include": "mid.yaml", "name": "top"}))
    assert suite.settings.seed == 9 and suite.datasets[0].spec["root"] == str(tmp_path / "base" / "images")
    assert suite.includes == [str(tmp_path / "mid.yaml"), str(tmp_path / "base" / "base.yaml")]


def test_include_cycle_names_the_chain(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    _write(a, {"include": "b.yaml", "name": "a"})
    _write(b, {"include": "a.yaml"})
    with pytest.raises(SuiteError) as info:
        load_suite(a)
    assert f"include cycle: {a} -> {b} -> {a}" in str(info.value)


def test_missing_or_malformed_include_is_a_problem(tmp_path):
    _write(tmp_path / "bad.yaml", {"include": ["gone.yaml", 3], "name": "x"})
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "bad.yaml")
    problems = dict(info.value.problems)
    assert f"{tmp_path / 'gone.yaml'}: No such file or directory" in problems["include[0]"]
    assert problems["include[1]"] == "expected a string, got int 3"


def test_shipped_suite_with_include(tmp_path, monkeypatch):
    folder = _images(tmp_path / "val" / "n01440764")
    monkeypatch.setenv("IMAGENET_VAL_DIR", str(folder.parent))
    suite = load_suite(REPO / "suites" / "imagenet_zero_shot_standard.yaml")
    base = load_suite(REPO / "suites" / "imagenet_zero_shot.yaml")
    assert suite.name == "imagenet_zero_shot_standard" and base.protocol.name == "wetok"
    assert suite.protocol.name == "standard"
    assert [t.spec for t in suite.tokenizers] == [t.spec for t in base.tokenizers]
    assert suite.settings.grids == {"count": 8, "keys": [], "worst_k": 16}
    assert suite.settings.replace(grids=base.settings.grids, protocol="wetok", description=base.settings.description) \
        == base.settings
    assert suite.includes == [str(REPO / "suites" / "imagenet_zero_shot.yaml")]


def test_results_record_the_merged_suite_and_its_includes(tmp_path):
    from wetok_bench.engine import run_suite

    _base(tmp_path)
    child = _write(tmp_path / "child.yaml", {"include": "base/base.yaml", "name": "child", "resolution": 16,
                                            "tokenizers": [{"type": "identity"}], "metrics": ["psnr"],
                                            "device": "cpu", "output": str(tmp_path / "out"), "grids": None})
    report = run_suite(load_suite(child), progress=False)
    assert report.exit_code == 0
    manifest = json.loads((tmp_path / "out" / "child" / "identity__imgs__16" / "manifest.json").read_text())
    assert manifest["suite"]["includes"] == [str(tmp_path / "base" / "base.yaml")]
    assert manifest["suite"]["config"]["batch_size"] == 4 and manifest["suite"]["config"]["protocol"] == "wetok"
    assert manifest["suite"]["config"]["datasets"][0]["root"] == str(tmp_path / "base" / "images")


def test_dry_run_names_the_included_files(tmp_path):
    from click.testing import CliRunner

    from wetok_bench.cli.main import cli

    _base(tmp_path)
    child = _write(tmp_path / "child.yaml", {"include": "base/base.yaml", "name": "child", "metrics": ["psnr"]})
    result = CliRunner().invoke(cli, ["run", str(child), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"includes: {tmp_path / 'base' / 'base.yaml'}" in result.output
