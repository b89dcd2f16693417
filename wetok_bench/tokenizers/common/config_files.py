"""Reading a family's official YAML config (WeTok, SEED-Voken, taming) into a mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import UsageError


def read_yaml_config(config: str | os.PathLike | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """``config`` itself when it is a mapping, else the YAML mapping in that file.

    ``what`` names the family in the errors: a missing file, invalid YAML (its first line) and a
    file that is not a mapping are each a :class:`UsageError`.
    """
    if isinstance(config, Mapping):
        return config
    path = expand_path(os.fspath(config))
    if not path.is_file():
        raise UsageError(f"{what} config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UsageError(f"{what} config {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"{what} config {path} is not a YAML mapping")
    return data
