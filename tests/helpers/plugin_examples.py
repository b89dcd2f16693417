"""The worked examples of docs/extending.md, as one installed plug-in package.

``install_examples(site)`` writes a ``*.dist-info`` folder declaring this module's entry points
in the three groups ``wetok_bench.tokenizers``, ``wetok_bench.metrics`` and
``wetok_bench.datasets`` and returns ``site``, the folder to put on ``sys.path`` (or
``PYTHONPATH``): exactly what ``pip install`` of a package with these lines in its
``pyproject.toml`` leaves behind::

    [project.entry-points."wetok_bench.tokenizers"]
    example-pool = "plugin_examples:create_example_pool"
    [project.entry-points."wetok_bench.metrics"]
    mae = "plugin_metrics:MAE"
    [project.entry-points."wetok_bench.datasets"]
    example-list = "plugin_examples:ListFileDataset"

The metric is tests/plugin_metrics.py's ``MAE``. Keep the code here and the listings in
docs/extending.md the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import SIZE_POLICY, Param, declare
from wetok_bench.data.base import Dataset, ImageRecord, expand_path, relative_key, require_file
from wetok_bench.tokenizers.base import Tokenizer, continuous_compression
from wetok_bench.tokenizers.cards import ModelCard, get_card

ENTRY_POINTS = {
    "wetok_bench.tokenizers": {"example-pool": "plugin_examples:create_example_pool"},
    "wetok_bench.metrics": {"mae": "plugin_metrics:MAE"},
    "wetok_bench.datasets": {"example-list": "plugin_examples:ListFileDataset"},
}


# --- a tokenizer family --------------------------------------------------------------------

class PoolTokenizer(Tokenizer):
    """Average-pools by ``factor`` (the 'code': B x 3 x H/f x W/f floats), decodes by repeating
    each value f x f times (nearest upsampling). Counted as 3 continuous values of 16 bits."""

    kind = "continuous"

    def __init__(self, name: str, *, factor: int, size_policy: str = "error") -> None:
        super().__init__(name, size_policy=size_policy)
        self.downsample = factor

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.downsample)

    def decode(self, code: torch.Tensor, *, noise=None) -> torch.Tensor:
        return F.interpolate(code, scale_factor=self.downsample, mode="nearest")

    def compression(self, height: int, width: int):
        return continuous_compression(height, width, self.downsample, 3)

    def fingerprint(self) -> dict:
        return {"family": "example-pool", "factor": self.downsample}


#: Model cards of the family: ``wetok-bench list tokenizers`` shows them, suites say ``model: NAME``.
CARDS = [
    ModelCard(name="example-pool-f4", type="example-pool", params={"factor": 4},
              notes="4 x 4 average pooling; compression ratio 8 at 16 bits per value"),
]


@declare(
    Param("model", str, None, choices=tuple(card.name for card in CARDS), doc="a model card (sets factor)"),
    Param("factor", int, 2, choices=(2, 4, 8), doc="pooling factor"),
    SIZE_POLICY,
)
def create_example_pool(*, name: str = "example-pool", model: str | None = None, factor: int = 2,
                        size_policy: str = "error") -> Tokenizer:
    """The factory the entry point names: suite entry parameters in, a Tokenizer out."""
    if model is not None:
        factor = get_card(model, "example-pool").params["factor"]
    return PoolTokenizer(name, factor=factor, size_policy=size_policy)


# --- a metric: tests/plugin_metrics.py's MAE (one module, one entry point) ----------------


# --- a dataset kind ------------------------------------------------------------------------

@declare(Param("list_file", str, None, path="file", required=True,
               doc="text file, one image path per line, relative to the file's folder"))
class ListFileDataset(Dataset):
    """The images a list file names (blank lines and ``#`` comments ignored); keys are the paths."""

    kind = "example-list"

    def __init__(self, list_file: str | os.PathLike, *, name: str | None = None) -> None:
        path = require_file(expand_path(list_file, what="list file"), what="list file", expected="a text file of image paths")
        super().__init__(name, path.parent)
        self.list_file = path

    def _scan(self) -> list[ImageRecord]:
        records = []
        for line in self.list_file.read_text().splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            image = (self.root / entry).resolve()
            if not image.is_relative_to(self.root.resolve()):
                raise UsageError(f"{self.list_file}: {entry!r} is outside the list file's folder")
            if image.is_file():
                records.append(ImageRecord(key=relative_key(image, self.root.resolve()), path=image))
            else:
                self._missing.append((entry, "listed but not found"))
        return records


# --- installing ----------------------------------------------------------------------------

def install_examples(site: Path) -> Path:
    """Write an installed-package record for this module's entry points under ``site``."""
    info = site / "wetok_bench_examples-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wetok-bench-examples\nVersion: 0.1\n")
    lines = []
    for group, points in ENTRY_POINTS.items():
        lines += [f"[{group}]"] + [f"{key} = {value}" for key, value in points.items()] + [""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return site
