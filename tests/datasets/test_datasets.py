"""Dataset kinds, the registry, fingerprints, subset rules and the loader's batching."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_files import edit_middle_keep_mtime
from PIL import Image

from wetok_bench.core.errors import UsageError
from wetok_bench.data.base import ImageRecord, records_fingerprint
from wetok_bench.data.images import load_u8
from wetok_bench.data.loader import iterate_batches, select_subset
from wetok_bench.data.registry import create_dataset, dataset_parameters, dataset_types


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.fixture
def crops(photos) -> list[np.ndarray]:
    """Small crops of real photos (fast to encode and decode)."""
    return [photos[n][40:88, 60:132] for n in ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")]


# --- folder -----------------------------------------------------------------------------------


def test_folder_nested_sorted_and_non_images_ignored(tmp_path, crops):
    root = tmp_path / "imgs"
    _save(crops[0], root / "b" / "z.png")
    _save(crops[1], root / "a" / "c" / "d.jpg")
    _save(crops[2], root / "Z.PNG")
    _save(crops[3], root / ".hidden.png")
    _save(crops[4], root / ".cache" / "x.png")
    (root / "notes.txt").write_text("not an image")
    (root / "a" / "labels.json").write_text("{}")
    dataset = create_dataset({"type": "folder", "root": str(root)})
    assert [r.key for r in dataset.records()] == ["Z.PNG", "a/c/d.jpg", "b/z.png"]
    assert dataset.records()[1].path == root / "a" / "c" / "d.jpg"
    assert dataset.name == "folder" and dataset.kind == "folder" and not dataset.warnings
    flat = create_dataset({"type": "folder", "name": "top", "root": str(root), "recursive": False})
    assert [r.key for r in flat.records()] == ["Z.PNG"]
    pngs = create_dataset({"type": "folder", "root": str(root), "extensions": ["PNG"]})
    assert [r.key for r in pngs.records()] == ["Z.PNG", "b/z.png"]
    assert "3 images" in dataset.describe()


def test_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        create_dataset({"type": "folder", "root": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        create_dataset({"type": "folder", "root": str(tmp_path / "empty")}).records()


# --- registry ---------------------------------------------------------------------------------


def test_registry_types_parameters_and_suggestions(tmp_path, monkeypatch, crops):
    assert dataset_types() == ["coco-val2017", "folder", "imagenet-val", "samples"]
    assert set(dataset_parameters("imagenet-val")) == {"root", "name", "labels_file", "expected_count"}
    assert {"root", "annotations", "categories", "image_ids"} <= set(dataset_parameters("coco-val2017"))
    with pytest.raises(UsageError, match="did you mean 'imagenet-val'"):
        create_dataset({"type": "imagenet_val", "root": "x"})
    with pytest.raises(UsageError, match="did you mean 'recursive'"):
        create_dataset({"type": "folder", "root": str(tmp_path), "recursve": False})
    with pytest.raises(UsageError, match="needs the parameter"):
        create_dataset({"type": "folder"})
    with pytest.raises(UsageError, match="no 'type'"):
        create_dataset({"root": str(tmp_path)})
    _save(crops[0], tmp_path / "data" / "x.png")
    monkeypatch.setenv("WB_TEST_DATA", str(tmp_path))
    assert create_dataset({"type": "folder", "root": "${WB_TEST_DATA}/data"}).root == tmp_path / "data"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert create_dataset({"type": "folder", "root": "~/data"}).root == tmp_path / "data"
    monkeypatch.delenv("WB_UNSET_VAR", raising=False)
    assert create_dataset({"type": "folder", "root": f"${{WB_UNSET_VAR:-{tmp_path}}}/data"}).root == tmp_path / "data"
    with pytest.raises(UsageError, match=r"\$WB_UNSET_VAR, which is not set"):
        create_dataset({"type": "folder", "root": "${WB_UNSET_VAR}/data"})


# --- imagenet-val -----------------------------------------------------------------------------


def test_imagenet_class_folders(tmp_path, crops):
    for i, (wnid, stem) in enumerate([("n01440764", "ILSVRC2012_val_00000293"), ("n01443537", "ILSVRC2012_val_00000236"),
                                      ("n01443537", "ILSVRC2012_val_00000262")]):
        _save(crops[i], tmp_path / "val" / wnid / f"{stem}.JPEG", format="JPEG")
    dataset = create_dataset({"type": "imagenet-val", "root": str(tmp_path / "val")})
    records = dataset.records()
    assert [r.key for r in records] == [
        "n01440764/ILSVRC2012_val_00000293.JPEG",
        "n01443537/ILSVRC2012_val_00000236.JPEG",
        "n01443537/ILSVRC2012_val_00000262.JPEG",
    ]
    assert [r.meta["label"] for r in records] == ["n01440764", "n01443537", "n01443537"]
    assert len(dataset.warnings) == 1 and "3 images found, not the 50,000" in dataset.warnings[0]
    # warnings are complete before records() is called (the listing is lazy)
    fresh = create_dataset({"type": "imagenet-val", "root": str(tmp_path / "val")})
    assert fresh.warnings == dataset.warnings
    exact = create_dataset({"type": "imagenet-val", "root": str(tmp_path / "val"), "expected_count": 3})
    assert exact.warnings == []
    with_labels = tmp_path / "labels.txt"
    with_labels.write_text("1\n2\n3\n")
    with pytest.raises(UsageError, match="class sub-folders"):
        create_dataset({"type": "imagenet-val", "root": str(tmp_path / "val"), "labels_file": str(with_labels)}).records()


def test_imagenet_flat_with_labels_files(tmp_path, crops):
    val = tmp_path / "val"
    for number in (1, 3, 4):  # a partial copy: image 2 is absent
        _save(crops[number], val / f"ILSVRC2012_val_{number:08d}.JPEG", format="JPEG")
    in_order = tmp_path / "ground_truth.txt"
    in_order.write_text("490\n361\n171\n822\n")
    dataset = create_dataset({"type": "imagenet-val", "root": str(val), "labels_file": str(in_order)})
    assert [(r.key, r.meta["label"]) for r in dataset.records()] == [
        ("ILSVRC2012_val_00000001.JPEG", "490"),
        ("ILSVRC2012_val_00000003.JPEG", "171"),
        ("ILSVRC2012_val_00000004.JPEG", "822"),
    ]
    pairs = tmp_path / "val.txt"
    pairs.write_text("ILSVRC2012_val_00000004.JPEG n04263257\nILSVRC2012_val_00000001.JPEG n01751748\n"
                     "ILSVRC2012_val_00000003.JPEG n02105855\n")
    named = create_dataset({"type": "imagenet-val", "root": str(val), "labels_file": str(pairs), "expected_count": 3})
    assert [r.meta["label"] for r in named.records()] == ["n01751748", "n02105855", "n04263257"]
    assert named.warnings == []
    unlabelled = create_dataset({"type": "imagenet-val", "root": str(val)})
    assert [r.meta["label"] for r in unlabelled.records()] == [None, None, None]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("490\nILSVRC2012_val_00000002.JPEG 3\n")
    with pytest.raises(UsageError, match="mixes lines"):
        create_dataset({"type": "imagenet-val", "root": str(val), "labels_file": str(mixed)}).records()
    short = tmp_path / "short.txt"
    short.write_text("490\n361\n")
    with pytest.raises(UsageError, match="too few"):
        create_dataset({"type": "imagenet-val", "root": str(val), "labels_file": str(short)}).records()
    with pytest.raises(UsageError, match="ImageNet labels file .* does not exist"):
        create_dataset({"type": "imagenet-val", "root": str(val), "labels_file": str(tmp_path / "none.txt")})


# --- coco-val2017 -----------------------------------------------------------------------------


@pytest.fixture
def coco_tree(tmp_path, crops):
    images = tmp_path / "val2017"
    annotations = {
        "info": {"description": "test"},
        "licenses": [],
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person"},
            {"id": 18, "name": "dog", "supercategory": "animal"},
            {"id": 17, "name": "cat", "supercategory": "animal"},
        ],
        "images": [
            {"id": 139, "file_name": "000000000139.jpg", "width": 72, "height": 48},
            {"id": 285, "file_name": "000000000285.jpg", "width": 72, "height": 48},
            {"id": 632, "file_name": "000000000632.jpg", "width": 72, "height": 48},
            {"id": 724, "file_name": "000000000724.jpg", "width": 72, "height": 48},
        ],
        "annotations": [
            {"id": 1, "image_id": 139, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 2, "image_id": 139, "category_id": 18, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 3, "image_id": 139, "category_id": 1, "bbox": [2, 2, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 4, "image_id": 285, "category_id": 17, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 5, "image_id": 724, "category_id": 18, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
        ],
    }
    for i, image in enumerate(annotations["images"][:3]):  # 724 is missing on disk; 632 has no annotation
        _save(crops[i], images / image["file_name"], format="JPEG")
    path = tmp_path / "annotations" / "instances_val2017.json"
    path.parent.mkdir()
    path.write_text(json.dumps(annotations))
    return images, path


def test_coco_records_meta_and_missing(coco_tree):
    images, annotations = coco_tree
    dataset = create_dataset({"type": "coco-val2017", "name": "coco", "root": str(images), "annotations": str(annotations)})
    assert [k for k, _ in dataset.missing] == ["000000000724.jpg"]  # known before records() is called
    records = dataset.records()
    assert [r.key for r in records] == ["000000000139.jpg", "000000000285.jpg", "000000000632.jpg"]
    assert [r.meta["categories"] for r in records] == [["dog", "person"], ["cat"], []]
    assert [r.meta["supercategories"] for r in records] == [["animal", "person"], ["animal"], []]  # the file's
    assert [r.meta["image_id"] for r in records] == [139, 285, 632]
    assert len(dataset.missing) == 1 and dataset.missing[0][0] == "000000000724.jpg"
    assert "not found" in dataset.missing[0][1]
    assert any("missing" in w for w in dataset.warnings) and any("not the 5,000" in w for w in dataset.warnings)
    assert dataset.fingerprint()["missing"] == 1
    assert dataset.fingerprint()["annotations_sha256"] == hashlib.sha256(annotations.read_bytes()).hexdigest()


def test_coco_filters(coco_tree):
    images, annotations = coco_tree
    base = {"type": "coco-val2017", "root": str(images), "annotations": str(annotations)}
    dogs = create_dataset({**base, "categories": ["dog"]})
    assert [r.meta["image_id"] for r in dogs.records()] == [139]
    assert [k for k, _ in dogs.missing] == ["000000000724.jpg"]
    pets = create_dataset({**base, "categories": ["cat", "dog"]})
    assert [r.meta["image_id"] for r in pets.records()] == [139, 285]
    assert not any("5,000" in w for w in pets.warnings)
    by_id = create_dataset({**base, "image_ids": [632, 285]})
    assert [r.meta["image_id"] for r in by_id.records()] == [285, 632] and by_id.missing == []
    both = create_dataset({**base, "categories": ["dog"], "image_ids": [285, 139]})
    assert [r.meta["image_id"] for r in both.records()] == [139]
    with pytest.raises(UsageError, match="'dgo' \\(did you mean 'dog'"):
        create_dataset({**base, "categories": ["dgo"]}).records()
    with pytest.raises(UsageError, match="image_ids not in instances_val2017.json: \\[99\\]"):
        create_dataset({**base, "image_ids": [99, 139]}).records()


def test_coco_bad_annotation_file(coco_tree, tmp_path):
    images, _ = coco_tree
    with pytest.raises(UsageError, match="COCO annotation file .* does not exist"):
        create_dataset({"type": "coco-val2017", "root": str(images), "annotations": str(tmp_path / "x.json")})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not a COCO instances annotation file"):
        create_dataset({"type": "coco-val2017", "root": str(images), "annotations": str(bad)}).records()


# --- samples ----------------------------------------------------------------------------------


def test_samples_are_the_real_photos_losslessly():
    import matplotlib.cbook
    import skimage.data

    dataset = create_dataset({"type": "samples"})
    records = dataset.records()
    assert [r.key for r in records] == [
        "astronaut.png", "chelsea.png", "coffee.png", "colorwheel.png", "grace_hopper.png", "hubble_deep_field.png",
        "immunohistochemistry.png", "motorcycle_left.png", "motorcycle_right.png", "retina.png", "rocket.png",
    ]
    # Sizes (height, width) as listed in references.md.
    sizes = {r.key: tuple(load_u8(r.path).shape[1:]) for r in records}
    assert sizes["astronaut.png"] == (512, 512) and sizes["chelsea.png"] == (300, 451)
    assert sizes["hubble_deep_field.png"] == (872, 1000) and sizes["retina.png"] == (1411, 1411)
    assert sizes["motorcycle_right.png"] == (500, 741) and sizes["grace_hopper.png"] == (600, 512)
    assert sizes["colorwheel.png"] == (370, 371) and sizes["rocket.png"] == (427, 640)
    by_key = {r.key: r for r in records}
    assert torch.equal(load_u8(by_key["coffee.png"].path), torch.from_numpy(skimage.data.coffee()).permute(2, 0, 1))
    right = skimage.data.stereo_motorcycle()[1]
    assert torch.equal(load_u8(by_key["motorcycle_right.png"].path), torch.from_numpy(right).permute(2, 0, 1))
    hopper = np.array(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    assert torch.equal(load_u8(by_key["grace_hopper.png"].path), torch.from_numpy(hopper).permute(2, 0, 1))
    first = dataset.fingerprint()
    again = create_dataset({"type": "samples"}).fingerprint()
    assert first == again and first["count"] == 11
    assert first["sha256"] == records_fingerprint(records)


def test_samples_subset_fingerprint_independent_of_home(monkeypatch, tmp_path):
    spec = {"type": "samples", "names": ["chelsea", "astronaut"]}
    first = create_dataset(spec)
    assert [r.key for r in first.records()] == ["astronaut.png", "chelsea.png"]
    monkeypatch.setenv("WETOK_BENCH_HOME", str(tmp_path / "other_home"))
    second = create_dataset(spec)
    assert second.root != first.root and second.root.is_relative_to(tmp_path / "other_home")
    assert second.fingerprint()["sha256"] == first.fingerprint()["sha256"]
    with pytest.raises(UsageError, match="did you mean 'astronaut'"):
        create_dataset({"type": "samples", "names": ["astronot"]})


# --- fingerprint ------------------------------------------------------------------------------


def test_fingerprint_rule_by_hand(tmp_path):
    small = tmp_path / "a.bin"
    small.write_bytes(b"abc")
    big = tmp_path / "b.bin"
    payload = bytes(range(256)) * 1024  # 256 KiB: the whole file, not a head + tail sample
    big.write_bytes(payload)
    lines = (f"a.bin\t3\t{hashlib.sha256(b'abc').hexdigest()}\n"
             f"b.bin\t{len(payload)}\t{hashlib.sha256(payload).hexdigest()}\n")
    records = [ImageRecord("b.bin", big), ImageRecord("a.bin", small)]
    assert records_fingerprint(records) == hashlib.sha256(lines.encode()).hexdigest()


def test_files_up_to_128_kib_keep_the_sampled_rules_fingerprint(tmp_path):
    # The rule before 2026-12-02 hashed the first and last 64 KiB of each file; up to 128 KiB
    # that is the whole file, so such datasets keep their fingerprint (and their results).
    payload = os.urandom(128 * 1024)
    (tmp_path / "a.bin").write_bytes(payload)
    sampled = hashlib.sha256(payload[: 64 * 1024] + payload[64 * 1024:]).hexdigest()
    expected = hashlib.sha256(f"a.bin\t{len(payload)}\t{sampled}\n".encode()).hexdigest()
    assert records_fingerprint([ImageRecord("a.bin", tmp_path / "a.bin")]) == expected


def test_edit_in_the_middle_of_a_large_image_changes_the_fingerprint(tmp_path, photos):
    root = tmp_path / "imgs"
    _save(photos["astronaut"][:200, :256], root / "big.bmp")  # uncompressed: 153,654 bytes > 2 x 64 KiB
    _save(photos["chelsea"][:40, :40], root / "small.png")
    assert (root / "big.bmp").stat().st_size > 128 * 1024
    before = create_dataset({"type": "folder", "root": str(root)}).fingerprint()
    edited = edit_middle_keep_mtime(root / "big.bmp")
    after = create_dataset({"type": "folder", "root": str(root)}).fingerprint()
    lines = "".join(f"{key}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\n"
                    for key, data in (("big.bmp", edited), ("small.png", (root / "small.png").read_bytes())))
    assert after["sha256"] == hashlib.sha256(lines.encode()).hexdigest() != before["sha256"]
    assert after["rule"] == "sha256 of 'key\\tsize\\tsha256(whole file)' lines in key order"


def test_unchanged_images_are_not_read_again(tmp_path, crops, monkeypatch):
    from wetok_bench.core import hashing

    root = tmp_path / "imgs"
    for i, crop in enumerate(crops[:3]):
        _save(crop, root / f"{i}.png")
    first = create_dataset({"type": "folder", "root": str(root)}).fingerprint()
    monkeypatch.setattr(hashing, "_SHA_MEMO", {})  # a new process: only the records under the home remain
    hashed = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    assert create_dataset({"type": "folder", "root": str(root)}).fingerprint() == first and hashed == []
    _save(crops[4], root / "1.png")  # one image replaced: only it is read
    again = create_dataset({"type": "folder", "root": str(root)}).fingerprint()
    assert hashed == ["1.png"] and again["sha256"] != first["sha256"]


def test_fingerprint_follows_content_not_location_or_mtime(tmp_path, crops):
    root = tmp_path / "one"
    for i, crop in enumerate(crops[:3]):
        _save(crop, root / f"{i}.png")
    before = create_dataset({"type": "folder", "root": str(root)}).fingerprint()
    assert before["count"] == 3 and before["kind"] == "folder"
    shutil.copytree(root, tmp_path / "two")
    os.utime(tmp_path / "two" / "0.png", ns=(1, 1))
    moved = create_dataset({"type": "folder", "root": str(tmp_path / "two")}).fingerprint()
    assert moved["sha256"] == before["sha256"] and moved["root"] != before["root"]
    data = bytearray((root / "1.png").read_bytes())
    data[-20] ^= 0xFF  # same size, different bytes
    (root / "1.png").write_bytes(bytes(data))
    assert create_dataset({"type": "folder", "root": str(root)}).fingerprint()["sha256"] != before["sha256"]


# --- subsets ----------------------------------------------------------------------------------


def test_select_subset_rules():
    records = [ImageRecord(f"{i:02d}", Path(f"{i:02d}")) for i in range(10)]
    # spread: floor((2i + 1) * 10 / 6) for i = 0, 1, 2 -> 1, 5, 8
    assert [r.key for r in select_subset(records, 3)] == ["01", "05", "08"]
    assert [r.key for r in select_subset(records, 3, "first")] == ["00", "01", "02"]
    picked = select_subset(records, 4, "random", seed=7)
    assert picked == select_subset(records, 4, "random", seed=7)
    assert len({r.key for r in picked}) == 4 and [r.key for r in picked] == sorted(r.key for r in picked)
    assert select_subset(records, None) == records and select_subset(records, 50) == records
    # 4 classes of 5 images: spread takes positions 2, 7, 12, 17, one per class.
    classes = [ImageRecord(f"n{c}/{i}.JPEG", Path("x")) for c in range(4) for i in range(5)]
    assert [r.key for r in select_subset(classes, 4)] == ["n0/2.JPEG", "n1/2.JPEG", "n2/2.JPEG", "n3/2.JPEG"]
    with pytest.raises(UsageError, match="subset rule"):
        select_subset(records, 3, "middle")
    with pytest.raises(UsageError, match="num_images"):
        select_subset(records, 0)


# --- loader -----------------------------------------------------------------------------------


def test_loader_workers_match_in_process_and_keep_the_given_order(tmp_path, crops):
    paths = [_save(crop, tmp_path / f"{i}.png") for i, crop in enumerate(crops)]
    (tmp_path / "bad.jpg").write_text("nope")
    records = [ImageRecord(p.name, p, {"n": i}) for i, p in enumerate(paths)]
    records.insert(2, ImageRecord("bad.jpg", tmp_path / "bad.jpg"))
    order = list(reversed(records))  # a rank's slice comes in any order; it must be kept
    serial = list(iterate_batches(order, 40, batch_size=2, num_workers=0))
    parallel = list(iterate_batches(order, 40, batch_size=2, num_workers=2))
    assert [b.keys for b in serial] == [b.keys for b in parallel] == [["4.png", "3.png"], ["2.png"], ["1.png", "0.png"]]
    assert [b.skipped for b in serial] == [b.skipped for b in parallel]
    assert [k for b in serial for k, _ in b.skipped] == ["bad.jpg"]
    for a, b in zip(serial, parallel):
        assert torch.equal(a.images, b.images) and a.meta == b.meta and a.indices == b.indices
    assert all(b.images.shape[1:] == (3, 40, 40) for b in serial)


def test_loader_original_resolution_groups_equal_sizes(tmp_path, crops, photos):
    sizes = ["A", "A", "B", "A", "A", "A"]
    paths = []
    for i, size in enumerate(sizes):
        array = crops[i % len(crops)] if size == "A" else photos["chelsea"][:30, :50]
        paths.append(_save(array, tmp_path / f"{i}.png"))
    records = [ImageRecord(p.name, p) for p in paths]
    batches = list(iterate_batches(records, "original", batch_size=4))
    assert [b.keys for b in batches] == [["0.png", "1.png"], ["2.png"], ["3.png"], ["4.png", "5.png"]]
    assert [tuple(b.images.shape) for b in batches] == [(2, 3, 48, 72), (1, 3, 30, 50), (1, 3, 48, 72), (2, 3, 48, 72)]
    assert torch.equal(batches[1].images[0], torch.from_numpy(np.ascontiguousarray(photos["chelsea"][:30, :50])).permute(2, 0, 1))
    with pytest.raises(UsageError, match="resolution"):
        list(iterate_batches(records, 0, batch_size=2))
    with pytest.raises(UsageError, match="batch_size"):
        list(iterate_batches(records, 32, batch_size=0))


@pytest.mark.parametrize("damage", ["truncated", "one byte changed", "other photo"])
def test_corrupt_cached_sample_is_detected_and_re_extracted(damage, caplog):
    import logging

    import skimage.data

    first = create_dataset({"type": "samples", "names": ["chelsea", "coffee"]})
    path = {r.key: r.path for r in first.records()}["chelsea.png"]
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "one byte changed":
        path.write_bytes(good[:-20] + bytes([good[-20] ^ 1]) + good[-19:])
    else:  # a valid PNG, but not the sample
        Image.fromarray(skimage.data.astronaut()).save(path)
    with caplog.at_level(logging.WARNING, logger="wetok_bench.data.samples"):
        records = create_dataset({"type": "samples", "names": ["chelsea", "coffee"]}).records()
    assert [r.key for r in records] == ["chelsea.png", "coffee.png"]
    assert torch.equal(load_u8(path), torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1))
    warned = [r.getMessage() for r in caplog.records if "chelsea" in r.getMessage()]
    assert len(warned) == 1 and "is corrupt" in warned[0] and "re-extracting" in warned[0]
    assert hashlib.sha256(good).hexdigest() in warned[0]  # the recorded (good) hash is named
    assert not [r for r in caplog.records if "coffee" in r.getMessage()]  # the intact file is left alone


def test_sample_cache_without_records_is_checked_against_the_source(caplog):
    import logging

    import skimage.data

    path = create_dataset({"type": "samples", "names": ["coffee"]}).records()[0].path
    (path.parent / "coffee.png.sha256").unlink()  # a cache from before records were kept...
    Image.fromarray(skimage.data.chelsea()).save(path)  # ...holding the wrong pixels
    with caplog.at_level(logging.WARNING, logger="wetok_bench.data.samples"):
        create_dataset({"type": "samples", "names": ["coffee"]}).records()
    assert torch.equal(load_u8(path), torch.from_numpy(skimage.data.coffee()).permute(2, 0, 1))
    assert any("pixels differ from the source" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("num_images", [None, 2])
def test_coco_image_missing_on_disk_is_a_skipped_file_of_every_job(coco_tree, tmp_path, num_images):
    """An image the annotations list but the folder lacks is recorded as skipped, never dropped."""
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.engine import run_suite

    images, annotations = coco_tree
    suite = parse_suite({
        "name": "m", "resolution": 32, "batch_size": 2, "num_workers": 0, "device": "cpu", "metrics": ["psnr"],
        "subset": "first", "num_images": num_images,
        "datasets": [{"type": "coco-val2017", "name": "coco", "root": str(images), "annotations": str(annotations)}],
        "tokenizers": [{"type": "identity"}], "output": str(tmp_path / "out"),
    })
    assert run_suite(suite, progress=False).exit_code == 0
    summary = json.loads((tmp_path / "out" / "m" / "identity__coco__32" / "summary.json").read_text())
    # listed in key order: 139, 285, 632 on disk, 724 missing (coco_tree)
    if num_images is None:
        assert [s["key"] for s in summary["skipped_files"]] == ["000000000724.jpg"]
        assert "not found" in summary["skipped_files"][0]["reason"]
        assert summary["counts"]["images"] == 3 and summary["counts"]["selected"] == 4
    else:  # the first two listed images are both on disk: nothing to skip
        assert summary["skipped_files"] == [] and summary["counts"]["images"] == 2
