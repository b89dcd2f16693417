"""The image pairs of ``wetok-bench score``: two folders paired by relative path without the
extension, read header-first, grouped by size; unreadable pairs recorded (or an error)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from PIL import Image

from wetok_bench.core.errors import UsageError
from wetok_bench.data.images import ImageError, is_image_file, load_u8

#: How many offending files an error message lists before "and N more".
_LIST_AT_MOST = 5


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LIST_AT_MOST])
    return shown + (f" and {len(items) - _LIST_AT_MOST} more" if len(items) > _LIST_AT_MOST else "")


def _images_by_stem(root: Path, label: str) -> dict[str, str]:
    """``{relative path without extension: relative path}`` of the images under ``root``."""
    if not root.is_dir():
        raise UsageError(f"{label} folder not found: {root}")
    found: dict[str, str] = {}
    clashes: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and is_image_file(p)):
        rel = path.relative_to(root).as_posix()
        stem = rel[: -len(path.suffix)]
        if stem in found:
            clashes.append(f"{found[stem]} / {rel}")
        found[stem] = rel
    if clashes:
        raise UsageError(f"{label} folder {root} has images that differ only in extension: {_listing(clashes)}")
    if not found:
        raise UsageError(f"{label} folder {root} holds no images")
    return found


def pair_images(ref_dir: Path, recon_dir: Path) -> list[tuple[str, str]]:
    """Sorted ``(original, reconstruction)`` relative paths; unpaired files are a UsageError."""
    refs, recons = _images_by_stem(ref_dir, "reference"), _images_by_stem(recon_dir, "reconstruction")
    only_ref = sorted(refs[s] for s in refs.keys() - recons.keys())
    only_rec = sorted(recons[s] for s in recons.keys() - refs.keys())
    if only_ref or only_rec:
        parts = []
        if only_ref:
            parts.append(f"{len(only_ref)} original(s) without reconstruction in {recon_dir}: {_listing(only_ref)}")
        if only_rec:
            parts.append(f"{len(only_rec)} reconstruction(s) without original in {ref_dir}: {_listing(only_rec)}")
        raise UsageError("unpaired images: " + "; ".join(parts))
    return [(refs[s], recons[s]) for s in sorted(refs)]


class Skips:
    """Unreadable pairs, by index into the pair list: recorded, or an error under ``strict``."""

    def __init__(self, pairs: list[tuple[str, str]], strict: bool) -> None:
        self.pairs, self.strict = pairs, strict
        self.reasons: dict[int, str] = {}

    def add(self, index: int, side: str, path: Path, error: ImageError) -> None:
        if self.strict:
            raise UsageError(f"cannot read image {path}: {error} (without --strict it is skipped and recorded)")
        name = self.pairs[index][0 if side == "original" else 1]  # the damaged file itself, not only the key
        self.reasons.setdefault(index, f"{side} {name} unreadable: {error}")

    def records(self) -> list[dict[str, str]]:
        """``{"key", "reason"}`` per skipped pair (keyed by the original's path), in path order."""
        return [{"key": self.pairs[i][0], "reason": self.reasons[i]} for i in sorted(self.reasons)]


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header; :class:`ImageError` (with the reason) when unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - let the common loader phrase the reason
        pass
    load_u8(path)  # raises ImageError with the reason
    raise ImageError("unreadable header")  # pragma: no cover - header failed, decode worked


def same_size_batches(
    ref_dir: Path, recon_dir: Path, pairs: list[tuple[str, str]], batch_size: int, skips: Skips
) -> tuple[list[list[int]], dict[int, int]]:
    """Indices into ``pairs`` grouped by reconstruction size, in batches, and the pairs whose
    original has another size than its square reconstruction (the protocol's preprocessing brings
    it to that size). An original of another size than a non-square reconstruction is a
    UsageError; pairs with an unreadable header go to ``skips``. The second value maps each such
    pair's index to the side its original is brought to."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    resized: dict[int, int] = {}
    unequal = []
    for index, (ref, rec) in enumerate(pairs):
        sizes = []
        for side, path in (("original", ref_dir / ref), ("reconstruction", recon_dir / rec)):
            try:
                sizes.append(_image_size(path))
            except ImageError as error:
                skips.add(index, side, path, error)
        if len(sizes) < 2:
            continue
        ref_size, rec_size = sizes
        if ref_size != rec_size:
            if rec_size[0] != rec_size[1]:
                unequal.append(f"{rec} is {rec_size[0]}x{rec_size[1]}, its original {ref_size[0]}x{ref_size[1]}")
            resized[index] = rec_size[0]
        groups[rec_size].append(index)
    if unequal:
        raise UsageError("a reconstruction must have its original's size, or be square (the protocol's resize and "
                         f"crop then bring the original to it): {_listing(unequal)}")
    return [group[i : i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)], resized
