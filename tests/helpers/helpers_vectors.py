"""Fixtures shared by the parity tests of the families with recorded official-code vectors.

Each ``tests/data/<name>/`` folder holds a tiny random-weight checkpoint in the official release
format and ``expected.pt``, the outputs the official code gives for it (see its README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import yaml


def vector_fixtures(folder: Path, checkpoint: Path, weights_key: str = "state_dict") -> tuple[Callable, Callable]:
    """Module-scoped fixtures ``expected`` (the recorded tensors of ``folder/expected.pt``) and
    ``official_sd`` (the ``weights_key`` entry of ``checkpoint``), both read with weights_only.

    A test module binds them by name: ``expected, official_sd = vector_fixtures(VECTORS, CKPT)``.
    """

    @pytest.fixture(scope="module")
    def expected() -> dict[str, torch.Tensor]:
        return torch.load(folder / "expected.pt", map_location="cpu", weights_only=True)

    @pytest.fixture(scope="module")
    def official_sd() -> dict[str, torch.Tensor]:
        return torch.load(checkpoint, map_location="cpu", weights_only=True)[weights_key]

    return expected, official_sd


class CodePayload:
    """A pickled object whose unpickling would create ``marker``: a loader must refuse a file
    holding one before any of it runs (the file "needs code")."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def from_suite(entry: dict[str, Any]):
    """The tokenizer a suite's (validated) tokenizer ``entry`` builds, as ``wetok-bench run`` would."""
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.tokenizers import create_tokenizer

    suite = parse_suite({"name": "s", "datasets": [{"type": "samples"}], "tokenizers": [entry], "metrics": ["psnr"]})
    return create_tokenizer(suite.tokenizers[0].spec)


def official_config(path: Path, **init_overrides: Any) -> dict:
    """The official inference YAML at ``path`` with fields of ``model.init_args`` replaced."""
    config = yaml.safe_load(path.read_text())
    config["model"]["init_args"].update(init_overrides)
    return config
