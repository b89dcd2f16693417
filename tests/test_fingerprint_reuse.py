"""Job reuse follows every byte of every image: an in-place edit of a large image (same size,
mtime set back) measures the job again instead of reusing its stale result."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from helpers_files import edit_middle_keep_mtime
from wetok_bench.run import run_suite
from wetok_bench.suite import parse_suite


def _suite(root: Path, out: Path):
    return parse_suite({
        "name": "fp",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(root)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 40}],
        "metrics": ["psnr"],
        "resolution": 64,
        "batch_size": 2,
        "num_workers": 0,
        "device": "cpu",
        "output": str(out),
    })


def _psnr(folder: Path) -> dict[str, str]:
    with open(folder / "per_image.csv") as handle:
        return {row["key"]: row["psnr"] for row in csv.DictReader(handle)}


def test_in_place_edit_of_a_large_image_measures_the_job_again(tmp_path, photos):
    root = tmp_path / "imgs"
    root.mkdir()
    big = root / "big.bmp"
    Image.fromarray(np.ascontiguousarray(photos["astronaut"][:201, :256])).save(big)  # uncompressed, 154,422 bytes; the middle byte is a central pixel
    Image.fromarray(np.ascontiguousarray(photos["coffee"][:64, :64])).save(root / "small.png")
    assert big.stat().st_size > 128 * 1024  # beyond a head + tail sample of 64 KiB each
    out = tmp_path / "out"

    first = run_suite(_suite(root, out), progress=False)
    assert first.exit_code == 0 and not first.outcomes[0].reused
    folder = first.outcomes[0].folder
    measured = _psnr(folder)
    unchanged = run_suite(_suite(root, out), progress=False)
    assert unchanged.exit_code == 0 and unchanged.outcomes[0].reused  # the control: reuse does happen

    edited = edit_middle_keep_mtime(big)
    again = run_suite(_suite(root, out), progress=False)
    assert again.exit_code == 0 and not again.outcomes[0].reused
    remeasured = _psnr(folder)
    assert remeasured["small.png"] == measured["small.png"] and remeasured["big.bmp"] != measured["big.bmp"]
    # the manifest records the fingerprint of the edited bytes, under the same field names
    dataset = json.loads((folder / "manifest.json").read_text())["dataset"]
    lines = "".join(f"{key}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\n"
                    for key, data in (("big.bmp", edited), ("small.png", (root / "small.png").read_bytes())))
    assert dataset["sha256"] == hashlib.sha256(lines.encode()).hexdigest() and dataset["count"] == 2
