"""COCO per-category breakdown: labels from the annotation file into per_image.csv, means per label in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers_coco import CATEGORIES, IMAGES, coco_files
from PIL import Image

from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite
from wetok_bench.report.build import build_report


@pytest.fixture
def coco_run(tmp_path, photos):
    images, ann = coco_files(tmp_path, photos)
    suite = parse_suite({
        "name": "c", "resolution": 32, "batch_size": 2, "num_workers": 0, "device": "cpu", "metrics": ["psnr", "ssim"],
        "datasets": [{"type": "coco-val2017", "name": "coco", "root": str(images), "annotations": str(ann), "expected_count": 5}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 20}, {"type": "identity"}],
        "output": str(tmp_path / "out"),
    })
    assert run_suite(suite, progress=False).exit_code == 0
    return tmp_path / "out" / "c"


def test_per_image_rows_carry_the_annotated_labels(coco_run):
    frame = pd.read_csv(coco_run / "jpeg-q20__coco__32" / "per_image.csv", keep_default_na=False).set_index("key")
    for name, cats in IMAGES.items():
        assert frame.at[name, "categories"] == ";".join(sorted(cats))
        assert frame.at[name, "supercategories"] == ";".join(sorted({CATEGORIES[c][1] for c in cats}))
    summary = json.loads((coco_run / "jpeg-q20__coco__32" / "summary.json").read_text())
    assert "categories" not in summary["metrics"] and "supercategories" not in summary["metrics"]


def test_report_means_per_supercategory_and_category(coco_run, tmp_path):
    index = build_report([coco_run], tmp_path / "report", n_resamples=20)
    per_image = pd.read_csv(coco_run / "jpeg-q20__coco__32" / "per_image.csv", keep_default_na=False).set_index("key")
    # by hand: the images that show each supercategory, from IMAGES
    expected = {"animal": ["000000000139.jpg", "000000000285.jpg", "000000000724.jpg"],
                "vehicle": ["000000000724.jpg", "000000000776.jpg"], "person": ["000000000139.jpg"],
                "(none)": ["000000000632.jpg"]}
    written = pd.read_csv(tmp_path / "report" / "categories" / "coco_32_standard.csv")
    mine = written[(written.tokenizer == "jpeg-q20") & (written.level == "supercategory")].set_index("label")
    assert sorted(mine.index) == sorted(expected)
    for label, keys in expected.items():
        assert mine.at[label, "images"] == len(keys)
        assert mine.at[label, "psnr"] == pytest.approx(per_image.loc[keys, "psnr"].mean(), rel=1e-12)
        assert mine.at[label, "ssim"] == pytest.approx(per_image.loc[keys, "ssim"].mean(), rel=1e-12)
    dog = written[(written.tokenizer == "jpeg-q20") & (written.level == "category") & (written.label == "dog")]
    assert dog["psnr"].item() == pytest.approx(per_image.loc[["000000000139.jpg", "000000000724.jpg"], "psnr"].mean(), rel=1e-12)
    page = index.read_text()
    assert 'id="categories-coco_32_standard-psnr"' in page
    assert 'id="categories-coco_32_standard-rfid"' not in page  # no rFID measured: no rFID table
    # rows: most images first
    section = page.split('id="categories-coco_32_standard-psnr"')[1].split("</table>")[0]
    order = [label for label in ("animal", "vehicle", "(none)", "person") if f">{label}<" in section]
    assert sorted(order, key=section.index) == ["animal", "vehicle", "(none)", "person"]


def test_no_category_section_without_labels(tmp_path):
    from _synthetic_results import write_synthetic_suite

    suite = write_synthetic_suite(tmp_path / "r", datasets={"samples": ("samples", 4)})
    page = build_report([suite], tmp_path / "out", n_resamples=20).read_text()
    assert 'id="categories"' not in page and not (tmp_path / "out" / "categories").exists()
