"""Grid files: a results format, written by the runner into a job folder, read by the report.

Inside a job folder (written by the runner, or by :func:`save_grid`)::

    grids/original/NNN.png   the preprocessed original (uint8 RGB, H x W)
    grids/recon/NNN.png      the tokenizer's reconstruction, rounded to uint8
    grids/index.json         {"rank_metric": "lpips", "images": [{file, key, fixed, worst,
                              psnr, ssim, lpips}, ...]}

``fixed`` marks the suite's fixed image set (the same keys in every job, so tokenizers can be
compared side by side), ``worst`` the job's worst-k images by ``rank_metric``. The figures made
from them are :mod:`wetok_bench.report.grids`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from wetok_bench.core.errors import UsageError

GRID_DIR = "grids"
INDEX_FILE = "index.json"


@dataclass
class GridImage:
    """One saved grid image of a job: arrays are H x W x 3 uint8."""

    key: str
    original: np.ndarray
    recon: np.ndarray
    fixed: bool
    worst: bool
    values: dict[str, Any] = field(default_factory=dict)


def _to_hwc_uint8(images: Any, what: str) -> np.ndarray:
    """N x 3 x H x W uint8 tensor/array -> N x H x W x 3 numpy array."""
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.dtype != np.uint8:
        raise UsageError(f"{what}: expected uint8 images, got {array.dtype}")
    if array.ndim != 4 or array.shape[1] != 3:
        raise UsageError(f"{what}: expected N x 3 x H x W, got shape {tuple(array.shape)}")
    return array.transpose(0, 2, 3, 1)


def save_grid(
    job_folder: Path,
    originals: Any,
    reconstructions: Any,
    keys: Sequence[str],
    *,
    fixed: Sequence[bool] | None = None,
    worst: Sequence[bool] | None = None,
    values: Sequence[dict] | None = None,
    rank_metric: str | None = None,
) -> Path:
    """Save grid images into ``job_folder/grids/`` in the layout above; returns ``index.json``.

    Args:
        originals, reconstructions: uint8 tensors or arrays, N x 3 x H x W, same shape.
        keys: the N image keys (as in ``per_image.csv``).
        fixed, worst: per image, whether it belongs to the fixed set / the worst-k (default:
            fixed, not worst).
        values: per image, its metric values (``{"psnr": ..., "lpips": ...}``).
        rank_metric: the metric the worst-k were chosen by (recorded in ``index.json``; None:
            not ranked).
    """
    orig = _to_hwc_uint8(originals, "originals")
    recon = _to_hwc_uint8(reconstructions, "reconstructions")
    n = orig.shape[0]
    if orig.shape != recon.shape:
        raise UsageError(f"originals {orig.shape} and reconstructions {recon.shape} differ in shape")
    for name, seq in (("keys", keys), ("fixed", fixed), ("worst", worst), ("values", values)):
        if seq is not None and len(seq) != n:
            raise UsageError(f"save_grid: {n} images but {len(seq)} {name}")
    folder = Path(job_folder) / GRID_DIR
    (folder / "original").mkdir(parents=True, exist_ok=True)
    (folder / "recon").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n):
        name = f"{i:03d}.png"
        Image.fromarray(orig[i]).save(folder / "original" / name)
        Image.fromarray(recon[i]).save(folder / "recon" / name)
        entries.append({
            "file": name,
            "key": str(keys[i]),
            "fixed": True if fixed is None else bool(fixed[i]),
            "worst": False if worst is None else bool(worst[i]),
            **({} if values is None else dict(values[i])),
        })
    from wetok_bench.results.records import write_json

    write_json(folder / INDEX_FILE, {"rank_metric": rank_metric, "images": entries})
    return folder / INDEX_FILE


def load_grid_images(job_folder: Path) -> tuple[str, list[GridImage]]:
    """(rank metric, images) saved in a job folder; ``("", [])`` when it has no grids.

    A garbled index or a missing PNG is a :class:`UsageError` naming the file.
    """
    index = Path(job_folder) / GRID_DIR / INDEX_FILE
    if not index.is_file():
        return "", []
    try:
        data = json.loads(index.read_text())
        images = []
        for entry in data["images"]:
            folder = index.parent
            original = np.asarray(Image.open(folder / "original" / entry["file"]).convert("RGB"))
            recon = np.asarray(Image.open(folder / "recon" / entry["file"]).convert("RGB"))
            values = {k: v for k, v in entry.items() if k not in ("file", "key", "fixed", "worst")}
            images.append(GridImage(str(entry["key"]), original, recon, bool(entry.get("fixed")), bool(entry.get("worst")), values))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read grid images under {index.parent}: {error}") from None
    return str(data.get("rank_metric") or ""), images
