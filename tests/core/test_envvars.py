"""One ``${VAR}`` expansion rule for suite values, dataset roots, checkpoints and weights paths."""

from __future__ import annotations

import pytest

from wetok_bench.core.envvars import UnsetVariableError, expand_path, expand_vars
from wetok_bench.core.errors import UsageError

ENV = {"A": "alpha", "EMPTY": "", "DIR": "/data"}


@pytest.mark.parametrize("text, expected", [
    ("${A}/x", "alpha/x"),
    ("$A/x", "alpha/x"),
    ("${NOPE:-fallback}/x", "fallback/x"),
    ("${EMPTY:-fallback}", "fallback"),          # empty counts as unset, as in the shell's :-
    ("${A:-fallback}", "alpha"),
    ("${NOPE:-}", ""),                           # an explicit empty default
    ("${NOPE:-$A}", "$A"),                       # a default is taken literally
    ("costs $5, a lone $ stays", "costs $5, a lone $ stays"),
    ("${DIR}/${A}", "/data/alpha"),
])
def test_expansion_rules(text, expected):
    assert expand_vars(text, environ=ENV) == expected


@pytest.mark.parametrize("text", ["${NOPE}/x", "$NOPE/x", "${EMPTY}"])
def test_unset_or_empty_without_default_names_the_variable(text):
    name = text.split("}")[0].lstrip("${").split("/")[0]
    with pytest.raises(UnsetVariableError) as info:
        expand_vars(text, what="root", environ=ENV)
    assert info.value.name == name
    assert f"root {text!r} uses the environment variable ${name}, which is not set" in str(info.value)
    assert isinstance(info.value, UsageError)


def test_paths_expand_variables_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WB_SUB", "ckpt")
    assert expand_path("~/${WB_SUB}/m.pt") == tmp_path / "ckpt" / "m.pt"


def test_checkpoint_and_weights_paths_use_the_rule(monkeypatch, tmp_path):
    from wetok_bench.core.weights import resolve_checkpoint, resolve_weights

    monkeypatch.delenv("WB_UNSET_CKPT", raising=False)
    (tmp_path / "m.ckpt").write_bytes(b"x")
    assert resolve_checkpoint(f"${{WB_UNSET_CKPT:-{tmp_path}}}/m.ckpt") == tmp_path / "m.ckpt"
    with pytest.raises(UsageError, match=r"\$WB_UNSET_CKPT, which is not set"):
        resolve_checkpoint("${WB_UNSET_CKPT}/m.ckpt")
    with pytest.raises(UsageError, match=r"\$WB_UNSET_CKPT, which is not set"):
        resolve_weights("pytorch-fid-inception", "$WB_UNSET_CKPT/pt_inception.pth")


def test_suite_values_use_the_rule(monkeypatch, tmp_path):
    from PIL import Image

    from wetok_bench.config.suite import SuiteError, parse_suite

    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
    monkeypatch.setenv("WB_ROOT", str(tmp_path))
    monkeypatch.setenv("WB_EMPTY", "")
    data = {"name": "t", "datasets": [{"type": "folder", "name": "d", "root": "$WB_ROOT/images"}],
            "tokenizers": [{"type": "identity"}], "metrics": ["psnr"]}
    assert parse_suite(data).datasets[0].spec["root"] == str(tmp_path / "images")
    data["output"] = "${WB_EMPTY}"
    with pytest.raises(SuiteError) as info:
        parse_suite(data)
    assert dict(info.value.problems)["output"].startswith("'${WB_EMPTY}' uses the environment variable $WB_EMPTY")
