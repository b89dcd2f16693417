"""Reconstruction grids: originals beside reconstructions, with crops zoomed in.

The files they are made from (``grids/`` of a job folder: :func:`save_grid`,
:func:`load_grid_images`) are a results format, defined in :mod:`wetok_bench.results.grid_files` and
re-exported here.

The report composes figures from those files with :func:`comparison_grid`: for each image a
row of full tiles (original, then one reconstruction per column) and under it a row of crops
of the same window, enlarged ``zoom`` times with nearest-neighbour resampling so pixels stay
visible. The window (side ``min(H, W) // zoom``) is where the reconstructions' summed absolute
error is largest, so the zoom shows where detail is lost.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from wetok_bench.core.errors import UsageError

PAD = 4
HEADER = 16  # the label row's least height; larger tiles get a larger font (a tenth of the tile width)


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
