"""``imagenet-val``: the ILSVRC2012 validation set (50,000 images) in one of its two layouts.

* Class folders: ``<root>/<wnid>/<file>`` (the layout of torchvision's ``ImageFolder`` and of
  the WeTok scripts); ``meta["label"]`` is the folder name, e.g. ``"n01440764"``.
* Flat: ``<root>/ILSVRC2012_val_00000001.JPEG`` ... with an optional ``labels_file`` in one of
  two formats, detected from its lines:

  - one label per line, line *i* for image number *i* (the devkit's
    ``ILSVRC2012_validation_ground_truth.txt``). Files named ``ILSVRC2012_val_<n>.<ext>`` take
    line *n*, so a partial copy of the folder still gets the right labels; other names take the
    lines in sorted file order and the counts must match.
  - ``<filename> <label>`` per line (e.g. ``LOC_val_solution.csv`` turned into text, or
    ``val.txt`` of many repos); matched on the file name.

  Labels are kept as the strings written in the file.

A count other than ``expected_count`` (50,000 by default; None turns the check off) is reported
in ``warnings``, because rFID depends on the number of images.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import Param, declare
from wetok_bench.data.base import Dataset, ImageRecord, expand_path, relative_key, require_dir, require_file
from wetok_bench.data.folder import check_has_images, scan_image_files

IMAGENET_VAL_COUNT = 50_000

_VAL_NUMBER = re.compile(r"^ILSVRC2012_val_(\d+)\.[A-Za-z]+$")
_LAYOUT_HELP = "the ILSVRC2012 validation images, either in class sub-folders (<wnid>/<file>) or flat (ILSVRC2012_val_00000001.JPEG ...)"


def read_labels_file(path: Path) -> list[str] | dict[str, str]:
    """A labels file as a list (one label per line) or a dict (``filename label`` lines)."""
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the ImageNet labels file {str(path)!r}: {error}") from None
    lines = [tokens for tokens in lines if tokens]
    if not lines:
        raise UsageError(f"the ImageNet labels file {str(path)!r} is empty")
    widths = {min(len(tokens), 2) for tokens in lines}
    if widths == {1}:
        return [tokens[0] for tokens in lines]
    if widths == {2}:
        return {tokens[0]: tokens[1] for tokens in lines}
    raise UsageError(
        f"the ImageNet labels file {str(path)!r} mixes lines with one field and lines with two; "
        "expected either one label per line or '<filename> <label>' on every line"
    )


@declare(
    Param("root", str, None, path="dir", required=True, doc="ILSVRC2012 validation images (class folders or flat)"),
    Param("labels_file", str, None, path="file", doc="one label per line, or '<filename> <label>' lines"),
    Param("expected_count", int, IMAGENET_VAL_COUNT, range=(1, None), doc="warn when the count differs (null: no check)"),
    check_files=check_has_images,
)
class ImageNetValDataset(Dataset):
    """The ILSVRC2012 validation images under ``root`` (class folders or flat)."""

    kind = "imagenet-val"

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        name: str | None = None,
        labels_file: str | os.PathLike | None = None,
        expected_count: int | None = IMAGENET_VAL_COUNT,
    ) -> None:
        path = require_dir(expand_path(root, what="imagenet-val root"), what="ImageNet validation folder", expected=_LAYOUT_HELP)
        super().__init__(name, path)
        self.labels_file = None
        if labels_file is not None:
            self.labels_file = require_file(
                expand_path(labels_file, what="imagenet-val labels_file"),
                what="ImageNet labels file",
                expected="one label per line, or '<filename> <label>' lines",
            )
        if expected_count is not None and (not isinstance(expected_count, int) or expected_count < 1):
            raise UsageError(f"expected_count must be a positive integer or null, got {expected_count!r}")
        self.expected_count = expected_count
        self.layout = ""

    def _scan(self) -> list[ImageRecord]:
        files = scan_image_files(self.root)
        keys = [relative_key(p, self.root) for p in files]
        depths = {key.count("/") for key in keys}
        if not keys:
            raise UsageError(f"no images found in the ImageNet validation folder {str(self.root)!r}; expected {_LAYOUT_HELP}")
        if depths == {1}:
            self.layout = "class-folders"
            if self.labels_file is not None:
                raise UsageError(
                    f"{str(self.root)!r} has class sub-folders, which give the labels; remove labels_file "
                    "(it is for the flat layout)"
                )
            records = [ImageRecord(k, p, {"label": k.split("/", 1)[0]}) for k, p in zip(keys, files)]
        elif depths == {0}:
            self.layout = "flat"
            labels = self._flat_labels(keys)
            records = [ImageRecord(k, p, {"label": label}) for k, p, label in zip(keys, files, labels)]
        else:
            odd = [k for k in keys if k.count("/") != 1][:3]
            raise UsageError(
                f"the ImageNet validation folder {str(self.root)!r} mixes layouts (e.g. {odd}); expected {_LAYOUT_HELP}"
            )
        if self.expected_count is not None and len(records) != self.expected_count:
            self._warnings.append(
                f"{len(records)} images found, not the {self.expected_count:,} of the ILSVRC2012 validation set; "
                "rFID is not comparable with published numbers"
            )
        return records

    def _flat_labels(self, keys: list[str]) -> list[str | None]:
        if self.labels_file is None:
            return [None] * len(keys)
        labels = read_labels_file(self.labels_file)
        if isinstance(labels, dict):
            result = [labels.get(k) for k in keys]
            unlabelled = [k for k, label in zip(keys, result) if label is None]
            if unlabelled:
                self._warnings.append(f"{len(unlabelled)} images have no line in {self.labels_file.name} (e.g. {unlabelled[0]})")
            return result
        numbers = [_VAL_NUMBER.match(k) for k in keys]
        if all(numbers):
            indices = [int(m.group(1)) for m in numbers]  # type: ignore[union-attr]
            too_big = [k for k, i in zip(keys, indices) if not 1 <= i <= len(labels)]
            if too_big:
                raise UsageError(
                    f"the labels file {str(self.labels_file)!r} has {len(labels)} lines, too few for {too_big[0]}"
                )
            return [labels[i - 1] for i in indices]
        if len(labels) != len(keys):
            raise UsageError(
                f"the labels file {str(self.labels_file)!r} has {len(labels)} lines but the folder has {len(keys)} images; "
                "with one label per line the counts must match (or name files ILSVRC2012_val_<n>.JPEG)"
            )
        return labels

    def _fingerprint_extra(self) -> dict:
        return {"layout": self.layout}
