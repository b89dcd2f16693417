"""Job reuse follows every byte of every image and of the tokenizer's checkpoint: an in-place edit
(same size, mtime set back) measures the job again instead of reusing its stale result; a result
recorded under the former size + mtime rule is measured again once, and kept if that attempt fails."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from helpers_files import edit_middle_keep_mtime
from PIL import Image

from wetok_bench.config.suite import parse_suite
from wetok_bench.engine import run_suite


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


LLAMAGEN = Path(__file__).resolve().parents[1] / "data" / "llamagen_vq_tiny"
#: The tiny checkpoint's model arguments (tests/test_llamagen_vq.py).
TINY_VQ = {"model": "VQ-16", "codebook_size": 64, "codebook_embed_dim": 4, "encoder_ch_mult": [1, 1],
           "decoder_ch_mult": [1, 1], "z_channels": 32, "ch": 32, "num_res_blocks": 1}


def _vq_suite(root: Path, out: Path, checkpoint: Path):
    return parse_suite({
        "name": "ck",
        "datasets": [{"type": "folder", "name": "imgs", "root": str(root)}],
        "tokenizers": [{"type": "llamagen-vq", "name": "vq", "checkpoint": str(checkpoint), **TINY_VQ}],
        "metrics": ["psnr"],
        "resolution": 32,
        "batch_size": 2,
        "num_workers": 0,
        "device": "cpu",
        "output": str(out),
    })


def _overwrite_keep_stamps(path: Path, data: bytes) -> None:
    """Write ``data`` (the file's size) into ``path`` in place and set its mtime back, as a size +
    mtime check would miss; asserts size, mtime and inode unchanged and ctime later."""
    before = path.stat()
    assert len(data) == before.st_size
    time.sleep(0.05)  # past the file system's timestamp tick
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    if path.stat().st_ctime_ns == before.st_ctime_ns:  # 1 s timestamps
        time.sleep(1.1)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert after.st_ctime_ns != before.st_ctime_ns


def _images(root: Path, photos) -> Path:
    root.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(np.ascontiguousarray(photos[name][:48, :48])).save(root / f"{name}.png")
    return root


def test_same_size_edit_of_a_tokenizer_checkpoint_measures_the_job_again(tmp_path, photos):
    root = _images(tmp_path / "imgs", photos)
    checkpoint = tmp_path / "vq_tiny.pt"
    checkpoint.write_bytes((LLAMAGEN / "vq_tiny.pt").read_bytes())
    out = tmp_path / "out"

    first = run_suite(_vq_suite(root, out, checkpoint), progress=False)
    assert first.exit_code == 0 and not first.outcomes[0].reused
    folder = first.outcomes[0].folder
    measured = _psnr(folder)
    files = json.loads((folder / "manifest.json").read_text())["job_fingerprint"]["tokenizer"]["files"]
    original = checkpoint.read_bytes()
    assert files["checkpoint"] == [len(original), hashlib.sha256(original).hexdigest()]
    unchanged = run_suite(_vq_suite(root, out, checkpoint), progress=False)
    assert unchanged.exit_code == 0 and unchanged.outcomes[0].reused  # the control: reuse does happen

    # Other weights of the same size (one bias moved; the zip layout is the same), mtime set back.
    state = torch.load(checkpoint, weights_only=True)
    state["model"]["post_quant_conv.bias"] += 0.5
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _overwrite_keep_stamps(checkpoint, buffer.getvalue())
    again = run_suite(_vq_suite(root, out, checkpoint), progress=False)
    assert again.exit_code == 0 and not again.outcomes[0].reused
    remeasured = _psnr(folder)
    assert all(remeasured[key] != measured[key] for key in measured)
    files = json.loads((folder / "manifest.json").read_text())["job_fingerprint"]["tokenizer"]["files"]
    assert files["checkpoint"] == [len(original), hashlib.sha256(buffer.getvalue()).hexdigest()]
    assert run_suite(_vq_suite(root, out, checkpoint), progress=False).outcomes[0].reused


def test_a_result_fingerprinted_by_size_and_mtime_is_measured_again_once_and_kept_on_failure(tmp_path, photos):
    root = _images(tmp_path / "imgs", photos)
    checkpoint = tmp_path / "vq_tiny.pt"
    original = (LLAMAGEN / "vq_tiny.pt").read_bytes()
    checkpoint.write_bytes(original)
    out = tmp_path / "out"
    folder = run_suite(_vq_suite(root, out, checkpoint), progress=False).outcomes[0].folder
    # The manifest as a run before the content digests wrote it: [size, mtime_ns], no files_rule.
    manifest = json.loads((folder / "manifest.json").read_text())
    tokenizer = manifest["job_fingerprint"]["tokenizer"]
    del tokenizer["files_rule"]
    tokenizer["files"]["checkpoint"] = [checkpoint.stat().st_size, checkpoint.stat().st_mtime_ns]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    kept = {name: (folder / name).read_bytes() for name in ("summary.json", "per_image.csv", "manifest.json")}

    _overwrite_keep_stamps(checkpoint, b"\0" * len(original))  # the attempt to measure it again fails
    failed = run_suite(_vq_suite(root, out, checkpoint), progress=False)
    assert failed.exit_code == 1 and not failed.outcomes[0].reused
    assert {name: (folder / name).read_bytes() for name in kept} == kept  # the old good result is untouched
    assert json.loads((folder / "last_failure.json").read_text())["status"] == "failed"

    checkpoint.write_bytes(original)
    again = run_suite(_vq_suite(root, out, checkpoint), progress=False)
    assert again.exit_code == 0 and not again.outcomes[0].reused  # measured again once ...
    assert (folder / "per_image.csv").read_bytes() == kept["per_image.csv"]  # ... with the same numbers
    assert not (folder / "last_failure.json").exists()
    assert run_suite(_vq_suite(root, out, checkpoint), progress=False).outcomes[0].reused  # ... then reused
