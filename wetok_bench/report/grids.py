"""Reconstruction grids: originals beside reconstructions, with crops zoomed in.

On disk (written by the runner, or by :func:`save_grid`), inside a job folder::

    grids/original/NNN.png   the preprocessed original (uint8 RGB, H x W)
    grids/recon/NNN.png      the tokenizer's reconstruction, rounded to uint8
    grids/index.json         {"rank_metric": "lpips", "images": [{file, key, fixed, worst,
                              psnr, ssim, lpips}, ...]}

``fixed`` marks the suite's fixed image set (the same keys in every job, so tokenizers can be
compared side by side), ``worst`` the job's worst-k images by ``rank_metric``.

The report composes figures from those files with :func:`comparison_grid`: for each image a
row of full tiles (original, then one reconstruction per column) and under it a row of crops
of the same window, enlarged ``zoom`` times with nearest-neighbour resampling so pixels stay
visible. The window (side ``min(H, W) // zoom``) is where the reconstructions' summed absolute
error is largest, so the zoom shows where detail is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from wetok_bench.errors import UsageError

GRID_DIR = "grids"
INDEX_FILE = "index.json"
PAD = 4
HEADER = 16  # the label row's least height; larger tiles get a larger font (a tenth of the tile width)


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
    rank_metric: str = "lpips",
) -> Path:
    """Save grid images into ``job_folder/grids/`` in the layout above; returns ``index.json``.

    Args:
        originals, reconstructions: uint8 tensors or arrays, N x 3 x H x W, same shape.
        keys: the N image keys (as in ``per_image.csv``).
        fixed, worst: per image, whether it belongs to the fixed set / the worst-k (default:
            fixed, not worst).
        values: per image, its metric values (``{"psnr": ..., "lpips": ...}``).
        rank_metric: the metric the worst-k were chosen by.
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
    from wetok_bench.results import write_json

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
    return str(data.get("rank_metric", "")), images


def max_error_window(original: np.ndarray, recons: Sequence[np.ndarray], size: int) -> tuple[int, int]:
    """(top, left) of the ``size x size`` window where the summed absolute error of ``recons`` is largest."""
    error = np.zeros(original.shape[:2], dtype=np.float64)
    for recon in recons:
        error += np.abs(original.astype(np.int32) - recon.astype(np.int32)).sum(axis=2)
    integral = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left)


def zoom_crop(image: np.ndarray, top: int, left: int, size: int, zoom: int) -> np.ndarray:
    """The ``size x size`` crop at (top, left) enlarged ``zoom`` times (nearest neighbour)."""
    crop = image[top : top + size, left : left + size]
    return crop.repeat(zoom, axis=0).repeat(zoom, axis=1)


def comparison_grid(
    originals: Sequence[np.ndarray],
    columns: Sequence[tuple[str, Sequence[np.ndarray]]],
    *,
    zoom: int = 4,
) -> Image.Image:
    """Originals beside each column's reconstructions, each image followed by its zoomed crops.

    ``originals`` and every column's images are H x W x 3 uint8 of one size; ``columns`` is
    ``[(label, images)]``. The first row holds the labels.
    """
    if not originals or any(len(images) != len(originals) for _, images in columns):
        raise UsageError("comparison_grid: every column needs one image per original")
    height, width = originals[0].shape[:2]
    if any(img.shape[:2] != (height, width) for _, imgs in columns for img in imgs):
        raise UsageError("comparison_grid: images differ in size")
    crop = max(1, min(height, width) // zoom)
    n_cols = 1 + len(columns)
    crop_side = crop * zoom
    row_height = height + PAD + crop_side + 2 * PAD
    # labels readable when a wide grid is shown scaled down to the page width
    font_size = max(11, width // 10)
    header = max(HEADER, font_size + 5)
    canvas = Image.new("RGB", (n_cols * (width + PAD) - PAD, header + len(originals) * row_height), "white")
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=font_size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    for j, label in enumerate(["original"] + [label for label, _ in columns]):
        draw.text((j * (width + PAD) + 2, 2), label[: max(4, int(width / (0.6 * font_size)))], fill="black", font=font)
    for i, original in enumerate(originals):
        recons = [images[i] for _, images in columns]
        top, left = max_error_window(original, recons, crop)
        y = header + i * row_height
        for j, image in enumerate([original] + recons):
            x = j * (width + PAD)
            canvas.paste(Image.fromarray(np.ascontiguousarray(image)), (x, y))
            canvas.paste(Image.fromarray(np.ascontiguousarray(zoom_crop(image, top, left, crop, zoom))), (x, y + height + PAD))
        # mark the zoomed window on the original
        draw.rectangle([left, y + top, left + crop - 1, y + top + crop - 1], outline=(255, 0, 0))
    return canvas
