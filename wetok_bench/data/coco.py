"""``coco-val2017``: MS-COCO 2017 validation images with their instance annotations.

The image list comes from the annotation file (``instances_val2017.json``, read with
pycocotools), not from the folder, so a missing image is noticed: it goes to ``missing`` with
the reason and the runner records it as skipped. Filters:

* ``categories``: category names; an image is kept when it has at least one annotation of any
  of them (names are COCO's, e.g. ``"dog"``, ``"traffic light"``).
* ``image_ids``: COCO image ids; ids absent from the annotations are an error.

Both filters together keep the images that pass both. ``meta`` holds ``image_id``, the sorted
list of category names annotated in the image (``categories``), the sorted list of their COCO
supercategories (``supercategories``: ``animal``, ``vehicle``, ...), and the annotated
``width``/``height``. The runner writes both lists into ``per_image.csv`` (``;``-separated) for
the report's per-category breakdown. ``expected_count`` (5,000) is checked only when no filter is given.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256
from wetok_bench.core.params import Param, declare
from wetok_bench.data.base import (
    Dataset,
    ImageRecord,
    expand_path,
    require_dir,
    require_file,
    unknown_names_message,
)

COCO_VAL2017_COUNT = 5_000


def load_coco(annotations: Path) -> Any:
    """``pycocotools.coco.COCO`` for the file, its progress prints silenced; bad files -> UsageError."""
    try:
        from pycocotools.coco import COCO
    except ImportError:  # pragma: no cover - pycocotools is a dependency
        raise UsageError("coco-val2017 needs pycocotools: pip install pycocotools") from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(annotations))
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise UsageError(
            f"{str(annotations)!r} is not a COCO instances annotation file ({type(error).__name__}: {error}); "
            "expected instances_val2017.json from annotations_trainval2017.zip"
        ) from None


@declare(
    Param("root", str, None, path="dir", required=True, doc="the val2017 images"),
    Param("annotations", str, None, path="file", required=True, doc="instances_val2017.json"),
    Param("categories", (list, str), None, items=str, doc="keep images showing these COCO categories"),
    Param("image_ids", list, None, items=int, doc="keep these image ids"),
    Param("expected_count", int, COCO_VAL2017_COUNT, range=(1, None), doc="warn when the count differs (null: no check)"),
)
class CocoVal2017Dataset(Dataset):
    """The images of a COCO annotation file found under ``root``, optionally filtered."""

    kind = "coco-val2017"

    def __init__(
        self,
        root: str | os.PathLike,
        annotations: str | os.PathLike,
        *,
        name: str | None = None,
        categories: list[str] | None = None,
        image_ids: list[int] | None = None,
        expected_count: int | None = COCO_VAL2017_COUNT,
    ) -> None:
        path = require_dir(expand_path(root, what="coco-val2017 root"), what="COCO image folder", expected="the val2017 images (000000000139.jpg ...)")
        super().__init__(name, path)
        self.annotations = require_file(
            expand_path(annotations, what="coco-val2017 annotations"),
            what="COCO annotation file",
            expected="instances_val2017.json (from annotations_trainval2017.zip)",
        )
        if isinstance(categories, str):
            categories = [categories]
        if categories is not None and not all(isinstance(c, str) for c in categories):
            raise UsageError(f"categories must be a list of COCO category names, got {categories!r}")
        if image_ids is not None and not all(isinstance(i, int) and not isinstance(i, bool) for i in image_ids):
            raise UsageError(f"image_ids must be a list of integers, got {image_ids!r}")
        self.categories = list(categories) if categories is not None else None
        self.image_ids = list(image_ids) if image_ids is not None else None
        self.expected_count = expected_count

    def _scan(self) -> list[ImageRecord]:
        coco = load_coco(self.annotations)
        cats = coco.loadCats(coco.getCatIds())
        names = {cat["id"]: cat["name"] for cat in cats}
        supers = {cat["name"]: str(cat.get("supercategory") or cat["name"]) for cat in cats}
        selected = set(coco.getImgIds())
        if self.categories is not None:
            by_name = {name: cid for cid, name in names.items()}
            unknown = [c for c in self.categories if c not in by_name]
            if unknown:
                raise UsageError(unknown_names_message(f"COCO categories in {self.annotations.name}", unknown, sorted(by_name)))
            with_category: set[int] = set()
            for category in self.categories:
                with_category.update(coco.catToImgs.get(by_name[category], []))
            selected &= with_category
        if self.image_ids is not None:
            absent = sorted(set(self.image_ids) - set(coco.getImgIds()))
            if absent:
                raise UsageError(f"image_ids not in {self.annotations.name}: {absent[:10]}")
            selected &= set(self.image_ids)
        records = []
        for image in coco.loadImgs(sorted(selected)):
            key = Path(image["file_name"]).as_posix()
            path = self.root / key
            if not path.is_file():
                self._missing.append((key, f"listed in {self.annotations.name} but not found at {path}"))
                continue
            annotated = {names[a["category_id"]] for a in coco.imgToAnns.get(image["id"], []) if a["category_id"] in names}
            meta = {
                "image_id": int(image["id"]),
                "categories": sorted(annotated),
                "supercategories": sorted({supers[name] for name in annotated}),
                "width": image.get("width"),
                "height": image.get("height"),
            }
            records.append(ImageRecord(key, path, meta))
        if self._missing:
            self._warnings.append(
                f"{len(self._missing)} images listed in {self.annotations.name} are missing under {self.root} "
                f"(e.g. {self._missing[0][0]}); they are recorded as skipped"
            )
        unfiltered = self.categories is None and self.image_ids is None
        if unfiltered and self.expected_count is not None and len(selected) != self.expected_count:
            self._warnings.append(
                f"{self.annotations.name} lists {len(selected)} images, not the {self.expected_count:,} of COCO val2017"
            )
        return records

    def _fingerprint_extra(self) -> dict:
        return {"annotations_sha256": cached_sha256(self.annotations), "categories": self.categories, "image_ids": self.image_ids}
