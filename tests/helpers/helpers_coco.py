"""A tiny MS-COCO val2017 folder of real photo crops with an annotation file (per-category tests)."""

from __future__ import annotations

import json

from PIL import Image

# (file, categories annotated) -- COCO's own names and supercategories
IMAGES = {
    "000000000139.jpg": ["person", "dog"],
    "000000000285.jpg": ["cat"],
    "000000000632.jpg": [],
    "000000000724.jpg": ["dog", "car"],
    "000000000776.jpg": ["car"],
}
CATEGORIES = {"person": (1, "person"), "car": (3, "vehicle"), "cat": (17, "animal"), "dog": (18, "animal")}


def coco_files(tmp_path, photos):
    """The five images of :data:`IMAGES` (72 x 48 crops of real photos) and their annotation file."""
    images = tmp_path / "val2017"
    images.mkdir()
    entries, annotations = [], []
    for i, (name, cats) in enumerate(IMAGES.items()):
        photo = photos[sorted(photos)[i % len(photos)]]
        Image.fromarray(photo[40:88, 60:132]).save(images / name, quality=95)
        entries.append({"id": 100 + i, "file_name": name, "width": 72, "height": 48})
        for cat in cats:
            annotations.append({"id": len(annotations) + 1, "image_id": 100 + i, "category_id": CATEGORIES[cat][0],
                                "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0})
    ann = tmp_path / "instances_val2017.json"
    ann.write_text(json.dumps({
        "images": entries, "annotations": annotations,
        "categories": [{"id": cid, "name": name, "supercategory": sup} for name, (cid, sup) in CATEGORIES.items()],
    }))
    return images, ann
