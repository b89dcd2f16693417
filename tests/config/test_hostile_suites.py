"""Hostile and odd suites are refused before any work, each problem named (issue 20: 1, 4, 7)."""

from __future__ import annotations

import time

import pytest
import yaml

from wetok_bench.commands.score import score_folders
from wetok_bench.config.suite import SuiteError, load_suite, parse_suite
from wetok_bench.core.errors import UsageError
from wetok_bench.core.names import MAX_NAME, job_folder


def _suite(tmp_path, **changes) -> dict:
    data = {"name": "s", "output": str(tmp_path / "out"), "metrics": ["psnr"], "resolution": 64,
            "datasets": [{"type": "samples", "name": "samples"}], "tokenizers": [{"type": "identity"}]}
    data.update(changes)
    return data


def _problems(data) -> dict:
    with pytest.raises(SuiteError) as info:
        parse_suite(data)
    return dict(info.value.problems)


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "x" * (MAX_NAME + 1)])
def test_every_name_that_becomes_a_folder_is_checked_by_one_rule(tmp_path, name):
    problems = _problems(_suite(tmp_path, datasets=[{"type": "samples", "name": name}]))
    assert "datasets[0].name" in problems
    problems = _problems(_suite(tmp_path, tokenizers=[{"type": "identity", "name": name}]))
    assert "tokenizers[0].name" in problems
    assert "name" in _problems(_suite(tmp_path, name=name))
    with pytest.raises(UsageError, match="--dataset"):
        score_folders(tmp_path, tmp_path, dataset=name)
    with pytest.raises(UsageError, match="--name"):
        score_folders(tmp_path, tmp_path, name=name)
    assert not (tmp_path / "out").exists()


def test_a_job_folder_stays_inside_the_results_folder(tmp_path):
    assert job_folder(tmp_path, "tok", "data", 64) == tmp_path / "tok__data__64"
    with pytest.raises(UsageError):
        job_folder(tmp_path, "..", "data", 64)
    long = "x" * MAX_NAME
    assert len(job_folder(tmp_path, long, long, 8192).name) < 255  # fits a file system's name limit


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    lines = ["name: bomb", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]  # 10^9 values
    lines += ["datasets: [{type: samples}]", "tokenizers: [{type: identity}]"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert len(path.read_bytes()) < 1000
    start = time.perf_counter()
    with pytest.raises(SuiteError, match="expands to more than 100,000 values through its YAML aliases"):
        load_suite(path)
    assert time.perf_counter() - start < 5
    with pytest.raises(SuiteError, match="YAML aliases"):  # the same when given as a mapping
        parse_suite(yaml.safe_load(path.read_text()))
    # a few aliases, as suites use them, are fine
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: ok\nx: &tok {type: identity}\ndatasets: [{type: samples}]\ntokenizers: [*tok]\n")
    with pytest.raises(SuiteError) as info:  # only the unknown key, no size problem
        load_suite(ok)
    assert info.value.problems == [("x", "unknown key")]


def test_a_repeated_resolution_is_refused(tmp_path):
    assert "repeated value(s) 64" in _problems(_suite(tmp_path, resolution=[64, 64]))["resolution"]


def test_a_resolution_the_tokenizer_factor_does_not_divide_is_refused_at_validation(tmp_path):
    taef2 = {"type": "taesd", "model": "taef2", "name": "taef2"}
    problems = _problems(_suite(tmp_path, resolution=[60, 64], tokenizers=[taef2]))
    assert "resolution 60 is not a multiple of its spatial factor 8" in problems["tokenizers[0]"]
    assert "64" not in problems["tokenizers[0]"].split("spatial factor")[0].replace("resolution 60", "")
    padded = parse_suite(_suite(tmp_path, resolution=[60], tokenizers=[{**taef2, "size_policy": "pad"}]), check_paths=False)
    assert padded.resolutions == [60]
    cosmos = {"type": "cosmos", "model": "cosmos-di16x16", "name": "c"}
    assert "spatial factor 16" in _problems(_suite(tmp_path, resolution=[72], tokenizers=[cosmos]))["tokenizers[0]"]
    llamagen = {"type": "llamagen-vq", "model": "VQ-8", "name": "l"}
    assert "spatial factor 8" in _problems(_suite(tmp_path, resolution=[68], tokenizers=[llamagen]))["tokenizers[0]"]
