"""Suite files: validation reports every problem with its YAML path; expansion; shipped suites."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from wetok_bench.cli.main import cli
from wetok_bench.config.suite import SuiteError, load_suite, parse_suite

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _minimal(tmp_path: Path) -> dict:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(images / "a.png")  # an empty folder does not validate
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
    assert suite.settings.output == "fallback"


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


# --- parameter declarations: types, ranges, choices, required keys, paths --------------------


def _problems(data: dict) -> dict[str, str]:
    with pytest.raises(SuiteError) as info:
        parse_suite(data)
    return dict(info.value.problems)


def test_out_of_range_and_unknown_choices_fail_validation(tmp_path):
    data = _minimal(tmp_path)
    data["tokenizers"] = [
        {"type": "codec", "quality": 150},
        {"type": "codec", "format": "jpeg2000"},
        {"type": "codec", "name": "sweep", "quality": [10, 101, 10]},
        {"type": "taesd", "latent_bits": 0},
        {"type": "taesd", "model": "taef3"},
        {"type": "cosmos", "model": "cosmos-di16x16", "precision": "fp64"},
    ]
    problems = _problems(data)
    assert problems["tokenizers[0].quality"] == "expected an integer from 0 to 100 (or a list of them), got 150"
    assert problems["tokenizers[1].format"].startswith("'jpeg2000' is not one of jpeg, webp")
    assert "from 0 to 100" in problems["tokenizers[2].quality[1]"]
    assert problems["tokenizers[2].quality"] == "repeated value 10"
    assert "from 1 to 16" in problems["tokenizers[3].latent_bits"]
    assert "did you mean 'taef2'" in problems["tokenizers[4].model"]
    assert "not one of fp32, bf16, fp16" in problems["tokenizers[5].precision"]
    assert len(problems) == 7


def test_wrong_types_fail_validation(tmp_path):
    data = _minimal(tmp_path)
    data["tokenizers"] = [
        {"type": "codec", "quality": "50"},
        {"type": "codec", "name": "b", "lossless": "yes"},
        {"type": "codec", "name": "c", "quality": True},  # a YAML bool is not an integer
        {"type": "diffusers-vae", "model": "flux-vae", "bits_per_value": 16.5},
    ]
    data["datasets"][0]["recursive"] = 1
    problems = _problems(data)
    assert problems["tokenizers[0].quality"].endswith("got str '50'")
    assert problems["tokenizers[1].lossless"] == "expected true or false, got str 'yes'"
    assert problems["tokenizers[2].quality"].endswith("got bool True")
    assert "expected an integer" in problems["tokenizers[3].bits_per_value"]
    assert problems["datasets[0].recursive"] == "expected true or false, got int 1"


def test_dataset_without_root_and_empty_folder_fail_validation(tmp_path):
    data = _minimal(tmp_path)
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    (tmp_path / "empty" / ".hidden" / "x.png").write_bytes(b"")
    data["datasets"] = [
        {"type": "folder", "name": "no-root"},
        {"type": "folder", "name": "empty", "root": str(tmp_path / "empty")},
        {"type": "coco-val2017", "root": str(tmp_path / "empty")},
        {"type": "folder", "name": "file", "root": str(tmp_path / "empty" / "notes.txt")},
    ]
    problems = _problems(data)
    assert problems["datasets[0].root"].startswith("required")
    assert problems["datasets[1].root"].startswith("no image files")
    assert problems["datasets[2].annotations"].startswith("required")
    assert problems["datasets[3].root"].startswith("not a folder")
    (tmp_path / "empty" / "a.PNG").write_bytes(b"")  # found by extension; decoding is the loader's job
    assert parse_suite({**data, "datasets": [data["datasets"][1]]}).datasets[0].name == "empty"


def test_family_cross_checks_run_at_validation(tmp_path):
    data = _minimal(tmp_path)
    data["tokenizers"] = [
        {"type": "codec", "format": "webp", "subsampling": "4:2:0"},
        {"type": "wetok", "model": "wetok-imagenet-f16", "config": {"a": 1}},
        {"type": "taesd", "encoder": str(tmp_path / "suite.yaml")},
        {"type": "cosmos"},
    ]
    (tmp_path / "suite.yaml").write_text("")
    problems = _problems(data)
    assert "subsampling applies to JPEG only" in problems["tokenizers[0]"]
    assert "exactly one of 'model'" in problems["tokenizers[1]"]
    assert "both 'encoder' and 'decoder'" in problems["tokenizers[2]"]
    assert "give model" in problems["tokenizers[3]"]


def test_cli_refuses_bad_values_before_any_work(tmp_path):
    data = _minimal(tmp_path)
    data["output"] = str(tmp_path / "out")
    data["tokenizers"] = [{"type": "codec", "quality": 150}, {"type": "identity"}]
    result = CliRunner().invoke(cli, ["run", str(_write(tmp_path, data))])
    assert result.exit_code == 2
    assert "tokenizers[0].quality: expected an integer from 0 to 100" in result.stderr
    assert not (tmp_path / "out").exists()


def test_plugin_parameters_come_from_its_signature(tmp_path, registries):
    from wetok_bench.tokenizers import registry
    from wetok_bench.tokenizers.identity import IdentityTokenizer

    def create(*, name: str = "p", strength: int = 2, mode: typing.Literal["a", "b"] = "a",
               weights: Path | None = None, anything=None):
        return IdentityTokenizer(name)

    registry.register_tokenizer("test-plugin", create)
    (tmp_path / "w.pt").write_bytes(b"")
    data = _minimal(tmp_path)
    data["tokenizers"] = [
        {"type": "test-plugin", "strength": "x", "mode": "c", "weights": "missing.pt", "anything": [1]},
        {"type": "test-plugin", "name": "ok", "strength": 3, "weights": "w.pt"},
    ]
    with pytest.raises(SuiteError) as info:
        load_suite(_write(tmp_path, data))
    problems = dict(info.value.problems)
    assert problems["tokenizers[0].strength"] == "expected an integer, got str 'x'"
    assert problems["tokenizers[0].mode"].startswith("'c' is not one of a, b")
    assert problems["tokenizers[0].weights"] == f"not found: {tmp_path / 'missing.pt'}"
    assert len(problems) == 3
    del data["tokenizers"][0]
    suite = load_suite(_write(tmp_path, data))
    assert suite.tokenizers[0].spec["weights"] == str(tmp_path / "w.pt")  # relative to the suite file


def test_declarations_agree_with_their_factories():
    """Each declared parameter is a keyword of the factory / class, with the same default."""
    import inspect

    from wetok_bench.data.registry import _dataset_class, dataset_declaration, dataset_types
    from wetok_bench.tokenizers.registry import get_factory, tokenizer_declaration

    families = ("wetok", "diffusers-vae", "cosmos", "taesd", "codec", "identity")
    pairs = [(get_factory(t), tokenizer_declaration(t)) for t in families]
    pairs += [(_dataset_class(t).__init__, dataset_declaration(t)) for t in dataset_types()]
    for target, declaration in pairs:
        assert declaration.source == "declared", target
        signature = {
            p.name: p for p in inspect.signature(target).parameters.values()
            if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self")
        }
        assert set(declaration.names) == set(signature) - {"name"}, target
        for param in declaration.params:
            default = signature[param.name].default
            if default is inspect.Parameter.empty:
                assert param.required, (target, param.name)
            else:
                assert param.default == default and not param.required, (target, param.name)


def test_list_shows_each_family_parameters():
    result = CliRunner().invoke(cli, ["list", "tokenizers"])
    assert result.exit_code == 0, result.output
    assert "quality          int 0..100 = 75 (a list: one entry per value)" in result.output
    assert "format           str {jpeg, webp, jpg} = 'jpeg'" in result.output
    datasets = CliRunner().invoke(cli, ["list", "datasets"])
    assert "root             str required (dir)" in datasets.output


def test_top_level_settings_checked_from_one_table(tmp_path):
    from wetok_bench.config.settings import SETTINGS
    from wetok_bench.config.suite import TOP_LEVEL_KEYS

    data = _minimal(tmp_path)
    data.update({"batch_size": "16", "num_images": 0, "metrics": ["psnr", "fid"], "seed": 1.5,
                 "grids": {"count": "all", "worst_k": -1}, "weights": {"inception": "gone.pth", "lpips": "x"}})
    with pytest.raises(SuiteError) as info:
        load_suite(_write(tmp_path, data))
    problems = dict(info.value.problems)
    assert problems["batch_size"] == "expected an integer >= 1, got str '16'"
    assert problems["num_images"] == "expected an integer >= 1 or null, got 0"
    assert problems["metrics[1]"].startswith("'fid' is not one of psnr, ssim, lpips, rfid")
    assert problems["seed"] == "expected an integer, got float 1.5"
    assert problems["grids.count"] == "expected an integer >= 0, got str 'all'"
    assert problems["grids.worst_k"] == "expected an integer >= 0, got -1"
    assert problems["weights.inception"] == f"not found: {tmp_path / 'gone.pth'}"  # relative to the suite file
    assert "unknown key" in problems["weights.lpips"]
    assert len(problems) == 8
    assert TOP_LEVEL_KEYS["shard_size"] == 1024 and SETTINGS.by_name["subset"].choices == ("first", "spread", "random")
