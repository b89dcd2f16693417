"""Reconstruction grids: originals beside a tokenizer's reconstructions, with zoomed crops.

The runner calls :func:`save_grid` once per grid it is asked for (a fixed list of images, and
the worst-k images by LPIPS, which :class:`WorstK` collects during the pass). A grid is written
into the job folder as ``grids/<name>.png`` plus ``grids/<name>.json`` describing its layout, so
that the report can label it and cut tiles out of it to compose a cross-tokenizer comparison
(:func:`compose_comparison`) without the images themselves.

Layout of ``<name>.png``: one row per image, four tiles of H x W pixels each, separated by
``PAD`` white pixels: original, reconstruction, original crop zoomed, reconstruction crop
zoomed. The crop is the ``crop x crop`` window with the largest mean absolute error (so the
zoom shows where the tokenizer loses most), enlarged ``zoom`` times with nearest-neighbour
resampling (pixels stay visible).
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from wetok_bench.errors import UsageError

PAD = 4
GRID_COLUMNS = ("original", "reconstruction", "original (zoom)", "reconstruction (zoom)")


def _as_uint8_nchw(images: Any, what: str) -> np.ndarray:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.dtype != np.uint8:
        raise UsageError(f"{what}: expected uint8 images, got {array.dtype}")
    if array.ndim != 4 or array.shape[1] != 3:
        raise UsageError(f"{what}: expected N x 3 x H x W, got shape {tuple(array.shape)}")
    return array


def max_error_window(original: np.ndarray, recon: np.ndarray, size: int) -> tuple[int, int]:
    """(top, left) of the ``size x size`` window with the largest summed absolute error (3 x H x W inputs)."""
    error = np.abs(original.astype(np.int32) - recon.astype(np.int32)).sum(axis=0).astype(np.float64)
    integral = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left)


def _zoom(tile: np.ndarray, top: int, left: int, size: int, zoom: int) -> np.ndarray:
    crop = tile[:, top : top + size, left : left + size]
    return crop.repeat(zoom, axis=1).repeat(zoom, axis=2)


def save_grid(
    job_folder: Path,
    name: str,
    originals: Any,
    reconstructions: Any,
    keys: Sequence[str],
    *,
    scores: Sequence[float] | None = None,
    score_name: str = "lpips",
    zoom: int = 4,
    title: str = "",
) -> Path:
    """Write ``job_folder/grids/<name>.png`` (+ ``.json``) and return the PNG's path.

    Args:
        job_folder: the job's result folder.
        name: grid name (``fixed``, ``worst_lpips``): a file stem of letters, digits, ``-_``.
        originals, reconstructions: uint8 tensors or arrays, N x 3 x H x W, same shape.
        keys: the N image keys (as in ``per_image.csv``).
        scores: optional per-image score shown beside each row (e.g. LPIPS).
        zoom: enlargement of the crop; the crop side is ``min(H, W) // zoom``.
        title: free text stored with the grid (the report shows it).
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise UsageError(f"grid name {name!r}: use letters, digits, '-' and '_' only")
    orig = _as_uint8_nchw(originals, "originals")
    recon = _as_uint8_nchw(reconstructions, "reconstructions")
    if orig.shape != recon.shape:
        raise UsageError(f"originals {orig.shape} and reconstructions {recon.shape} differ in shape")
    n, _, height, width = orig.shape
    if len(keys) != n or (scores is not None and len(scores) != n) or n == 0:
        raise UsageError(f"grid {name!r}: {n} images but {len(keys)} keys / {None if scores is None else len(scores)} scores")
    if zoom < 1 or min(height, width) // zoom < 1:
        raise UsageError(f"zoom {zoom} too large for {height}x{width} images")
    crop = min(height, width) // zoom
    canvas = np.full((n * height + (n - 1) * PAD, 4 * width + 3 * PAD, 3), 255, dtype=np.uint8)
    crops = []
    for i in range(n):
        top, left = max_error_window(orig[i], recon[i], crop)
        crops.append([top, left, crop])
        tiles = [orig[i], recon[i], _zoom(orig[i], top, left, crop, zoom), _zoom(recon[i], top, left, crop, zoom)]
        y = i * (height + PAD)
        for j, tile in enumerate(tiles):
            x = j * (width + PAD)
            canvas[y : y + tile.shape[1], x : x + tile.shape[2]] = tile.transpose(1, 2, 0)
    out = Path(job_folder) / "grids"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    Image.fromarray(canvas).save(path, optimize=True)
    meta = {
        "name": name,
        "title": title,
        "keys": [str(k) for k in keys],
        "scores": None if scores is None else [float(s) for s in scores],
        "score_name": score_name,
        "tile": [height, width],
        "pad": PAD,
        "columns": list(GRID_COLUMNS),
        "crops": crops,
        "zoom": zoom,
    }
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


class WorstK:
    """Keeps the k images with the highest score (e.g. LPIPS) seen during a streaming pass."""

    def __init__(self, k: int):
        self.k = k
        self._heap: list[tuple[float, int, str, np.ndarray, np.ndarray]] = []
        self._counter = 0

    def update(self, keys: Sequence[str], scores: Sequence[float], originals: Any, reconstructions: Any) -> None:
        """Offer a batch (uint8 N x 3 x H x W); only the k worst so far are kept (copies)."""
        orig = _as_uint8_nchw(originals, "originals")
        recon = _as_uint8_nchw(reconstructions, "reconstructions")
        for i, (key, score) in enumerate(zip(keys, scores)):
            item = (float(score), self._counter, str(key), orig[i].copy(), recon[i].copy())
            self._counter += 1
            if len(self._heap) < self.k:
                heapq.heappush(self._heap, item)
            elif item[0] > self._heap[0][0]:
                heapq.heapreplace(self._heap, item)

    def result(self) -> tuple[list[str], list[float], np.ndarray, np.ndarray]:
        """(keys, scores, originals, reconstructions), worst first."""
        items = sorted(self._heap, key=lambda t: (-t[0], t[1]))
        if not items:
            return [], [], np.zeros((0, 3, 1, 1), np.uint8), np.zeros((0, 3, 1, 1), np.uint8)
        return [t[2] for t in items], [t[0] for t in items], np.stack([t[3] for t in items]), np.stack([t[4] for t in items])


def read_grid(png: Path) -> tuple[np.ndarray, dict]:
    """A saved grid as (H x W x 3 uint8 array, layout dict from its ``.json``)."""
    meta = json.loads(Path(png).with_suffix(".json").read_text())
    return np.asarray(Image.open(png).convert("RGB")), meta


def grid_tile(canvas: np.ndarray, meta: dict, row: int, column: int) -> np.ndarray:
    """Tile (H x W x 3) at ``row`` (image index) and ``column`` (index into GRID_COLUMNS)."""
    height, width = meta["tile"]
    pad = meta["pad"]
    y, x = row * (height + pad), column * (width + pad)
    return canvas[y : y + height, x : x + width]


def compose_comparison(grids: Sequence[tuple[str, Path]], *, max_rows: int = 8) -> Image.Image | None:
    """One image: originals beside every tokenizer's reconstruction of the same images.

    ``grids`` is ``[(tokenizer label, grid PNG path)]`` for grids of the same name; rows are the
    keys all of them share (in the first grid's order, at most ``max_rows``), tiles are cut from
    the saved PNGs using their layout files. Grids with a different tile size are skipped.
    Returns None when no key is shared.
    """
    loaded = [(label, *read_grid(path)) for label, path in grids]
    if not loaded:
        return None
    tile = loaded[0][2]["tile"]
    loaded = [g for g in loaded if g[2]["tile"] == tile]
    shared = [k for k in loaded[0][2]["keys"] if all(k in g[2]["keys"] for g in loaded)][:max_rows]
    if not shared:
        return None
    height, width = tile
    header = 18
    columns = 1 + len(loaded)
    canvas = Image.new("RGB", (columns * width + (columns - 1) * PAD, header + len(shared) * (height + PAD)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    labels = ["original"] + [g[0] for g in loaded]
    for j, label in enumerate(labels):
        draw.text((j * (width + PAD) + 2, 2), label[: max(4, width // 7)], fill="black", font=font)
    for i, key in enumerate(shared):
        y = header + i * (height + PAD)
        first_canvas, first_meta = loaded[0][1], loaded[0][2]
        canvas.paste(Image.fromarray(grid_tile(first_canvas, first_meta, first_meta["keys"].index(key), 0)), (0, y))
        for j, (_, grid, meta) in enumerate(loaded, start=1):
            tile_array = grid_tile(grid, meta, meta["keys"].index(key), 1)
            canvas.paste(Image.fromarray(tile_array), (j * (width + PAD), y))
    return canvas
