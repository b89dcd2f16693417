"""``wetok-bench score``: metrics of reconstructions already on disk against their originals.

Two folders are walked recursively and their images paired by relative path without the
extension (``a/cat.JPEG`` pairs with ``a/cat.png``, the usual case of lossless reconstructions
of JPEG originals). Scoring is strict: unpaired files, pairs of unequal size, ambiguous names and
unreadable images are errors naming the files, never skips.

Images are used as stored: no resizing or cropping. Reconstruction files are uint8, so they
enter the evaluator as floats ``u8 / 127.5 - 1`` (exact on the uint8 grid, so ``standard``'s
rounding gives the file's values back; ``wetok``'s float32 truncation then applies to both
images as in that protocol). Same-size images are batched together.

The reference (originals') Inception statistics are cached by content (sha256 of every original
file, protocol, feature extractor and its weights; :mod:`wetok_bench.metrics.ref_cache`), so
scoring several reconstruction folders against one reference folder runs Inception on the
originals once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from wetok_bench import __version__
from wetok_bench.data.images import ImageError, is_image_file, load_u8
from wetok_bench.errors import UsageError
from wetok_bench.hashing import sha256_file
from wetok_bench.metrics.aggregate import METRICS, jsonable, summarize
from wetok_bench.metrics.evaluator import VALID_METRICS, ReconstructionEvaluator
from wetok_bench.metrics.fid import FeatureStats
from wetok_bench.metrics.ref_cache import cached_reference_stats
from wetok_bench.protocols import MetricProtocol, get_protocol, u8_to_signed_float
from wetok_bench.results import write_json

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


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header; unreadable files are a UsageError naming them."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - let the common loader phrase the reason
        pass
    try:
        load_u8(path)
    except ImageError as error:
        raise UsageError(f"cannot read image {path}: {error}") from None
    raise UsageError(f"cannot read image {path}")  # pragma: no cover - header failed, decode worked


def _load(path: Path) -> torch.Tensor:
    try:
        return load_u8(path)
    except ImageError as error:
        raise UsageError(f"cannot read image {path}: {error}") from None


def _same_size_batches(ref_dir: Path, recon_dir: Path, pairs: list[tuple[str, str]], batch_size: int) -> list[list[int]]:
    """Indices into ``pairs`` grouped by image size, in batches; unequal pairs are a UsageError."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    unequal = []
    for index, (ref, rec) in enumerate(pairs):
        ref_size, rec_size = _image_size(ref_dir / ref), _image_size(recon_dir / rec)
        if ref_size != rec_size:
            unequal.append(f"{rec} is {rec_size[0]}x{rec_size[1]}, its original {ref_size[0]}x{ref_size[1]}")
        groups[ref_size].append(index)
    if unequal:
        raise UsageError(f"reconstructions must have their original's size: {_listing(unequal)}")
    return [group[i : i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]


def _reference_key(ref_dir: Path, pairs: list[tuple[str, str]], evaluator: ReconstructionEvaluator) -> dict:
    digest = hashlib.sha256()
    for ref, _ in pairs:
        digest.update(f"{ref}\0{sha256_file(ref_dir / ref)}\n".encode())
    return {
        "source": "score-folder",
        "images": digest.hexdigest(),
        "n_images": len(pairs),
        "preprocess": "none (files as stored)",
        "protocol_fingerprint": evaluator.protocol.fingerprint,
        "features": evaluator.inception.fingerprint(),
    }


def score_folders(
    ref_dir: str | Path,
    recon_dir: str | Path,
    *,
    protocol: str | MetricProtocol = "standard",
    metrics: Sequence[str] = VALID_METRICS,
    inception_weights: str | Path | None = None,
    lpips_weights: dict | str | Path | None = None,
    device: str = "auto",
    batch_size: int = 16,
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> dict:
    """Score every reconstruction in ``recon_dir`` against its original in ``ref_dir``.

    Args:
        ref_dir, recon_dir: folders of originals and reconstructions (paired as in the module
            docstring; sizes must match).
        protocol: metric protocol name or object.
        metrics: subset of ``psnr``, ``ssim``, ``lpips``, ``rfid``.
        inception_weights, lpips_weights: weight files (see :class:`ReconstructionEvaluator`);
            None resolves the known files offline first.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        batch_size: images per batch (batches hold images of one size).
        out: JSON file written atomically (None: not written).
        cache_dir: reference statistics cache folder (default ``<WETOK_BENCH_HOME>/cache``).

    Returns:
        The JSON-ready result (non-finite values written as in
        :func:`~wetok_bench.metrics.aggregate.jsonable`): ``means`` (per-image means,
        ``psnr_finite_mean``, ``psnr_inf_count``, and ``rfid``), ``fid`` (counts and reliability),
        ``counts``, ``per_image`` rows, ``metric_info``, ``protocol``, ``evaluator`` fingerprint.
    """
    ref_dir, recon_dir = Path(ref_dir), Path(recon_dir)
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    pairs = pair_images(ref_dir, recon_dir)
    batches = _same_size_batches(ref_dir, recon_dir, pairs, batch_size)
    evaluator = ReconstructionEvaluator(protocol, metrics, device, inception_weights, lpips_weights)

    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    order: list[int] = []

    def run(ref_stats: FeatureStats | None) -> None:
        # One decode of every pair: the reference features come from the same batch when the
        # cache has no statistics for these originals.
        for batch in batches:
            originals = torch.stack([_load(ref_dir / pairs[i][0]) for i in batch])
            recons = u8_to_signed_float(torch.stack([_load(recon_dir / pairs[i][1]) for i in batch]))
            if ref_stats is not None:
                ref_stats.update(evaluator.reference_features(originals))
            for key, values in evaluator.update(originals, recons).items():
                rows[key].append(values.numpy())
            order.extend(batch)

    fid: dict = {}
    cache_hit = None
    if evaluator.inception is not None:
        passes = []

        def compute() -> FeatureStats:
            stats = FeatureStats(evaluator.inception.dim)
            run(stats)
            passes.append(1)
            return stats

        key = _reference_key(ref_dir, pairs, evaluator)
        ref_stats, cache_hit = cached_reference_stats(key, compute, Path(cache_dir) if cache_dir else None)
        if not passes:
            run(None)
        fid = evaluator.compute(ref_stats)
    else:
        run(None)

    # Rows come out grouped by size; put them back in path order.
    position = np.argsort(np.asarray(order), kind="stable")
    values = {key: np.concatenate(parts)[position] for key, parts in rows.items()}
    means = summarize(values)
    if fid:
        means["rfid"] = fid["rfid"]
    per_image = [
        {"path": ref, "recon_path": rec, **{key: float(values[key][i]) for key in values}}
        for i, (ref, rec) in enumerate(pairs)
    ]
    result = jsonable(
        {
            "wetok_bench_version": __version__,
            "command": "score",
            "ref_dir": str(ref_dir),
            "recon_dir": str(recon_dir),
            "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
            "evaluator": evaluator.fingerprint(),
            "metric_info": {k: METRICS[k].to_dict() for k in [*values, *(["rfid"] if fid else [])]},
            "counts": {"images": len(pairs)},
            "means": means,
            "fid": {**fid, "reference_cache_hit": cache_hit} if fid else None,
            "per_image": per_image,
        }
    )
    if out is not None:
        write_json(Path(out), result)
    return result
