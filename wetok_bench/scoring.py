"""``wetok-bench score``: metrics of reconstructions already on disk against their originals.

Two folders are walked recursively and their images paired by relative path without the
extension (``a/cat.JPEG`` pairs with ``a/cat.png``, the usual case of lossless reconstructions
of JPEG originals). Unpaired files, pairs of unequal size and ambiguous names are errors naming
the files. An unreadable image (truncated, empty, not an image) is skipped as ``run`` skips it:
the pair is left out of every metric (rFID's reference included), recorded in the output's
``skipped_files`` with the reason and named on the console; ``strict=True`` (``--strict``)
makes it an error instead. Metrics whose weights are missing are an error, or with
``on_missing_weights="skip"`` left out and recorded in ``skipped_metrics``, as in ``run``.

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
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from wetok_bench import __version__
from wetok_bench.data.images import ImageError, is_image_file, load_u8
from wetok_bench.errors import UsageError
from wetok_bench.hashing import cached_sha256_many
from wetok_bench.metrics.aggregate import METRICS, jsonable, protocol_aggregates, summarize
from wetok_bench.metrics import registry
from wetok_bench.metrics.evaluator import ReconstructionEvaluator, CLAMP_THRESHOLD, _lpips_paths, clamp_warning
from wetok_bench.metrics.ref_cache import cached_reference_stats
from wetok_bench.protocols import MetricProtocol, get_protocol, u8_to_signed_float
from wetok_bench.results import write_json
from wetok_bench.settings import DEFAULTS
from wetok_bench.skips import format_skipped

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


class _Skips:
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


def _same_size_batches(
    ref_dir: Path, recon_dir: Path, pairs: list[tuple[str, str]], batch_size: int, skips: _Skips
) -> list[list[int]]:
    """Indices into ``pairs`` grouped by image size, in batches; unequal pairs are a UsageError,
    pairs with an unreadable header go to ``skips``."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
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
            unequal.append(f"{rec} is {rec_size[0]}x{rec_size[1]}, its original {ref_size[0]}x{ref_size[1]}")
        groups[ref_size].append(index)
    if unequal:
        raise UsageError(f"reconstructions must have their original's size: {_listing(unequal)}")
    return [group[i : i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]


def _resolve_metrics(protocol: MetricProtocol, metrics: Sequence[str], inception_weights, lpips_weights,
                     on_missing_weights: str):
    """The metric set with its weights (:func:`wetok_bench.run.setup.resolve_metric_weights`)."""
    from wetok_bench.run.setup import resolve_metric_weights

    if on_missing_weights not in ("error", "skip"):
        raise UsageError(f"on_missing_weights must be 'error' or 'skip', got {on_missing_weights!r}")
    metrics = registry.check_metrics(metrics)
    explicit = {f"lpips_{net}": path for net, path in _lpips_paths(protocol, lpips_weights).items() if path is not None}
    if inception_weights is not None:
        explicit["inception"] = inception_weights
    setup = resolve_metric_weights(protocol, list(dict.fromkeys(metrics)), explicit=explicit, on_missing=on_missing_weights)
    if not setup.metrics:
        raise UsageError("every requested metric was skipped: " + "; ".join(f"{m}: {r}" for m, r in setup.skipped.items()))
    return setup


def _reference_key(ref_dir: Path, pairs: list[tuple[str, str]], evaluator: ReconstructionEvaluator,
                   skipped: list[dict[str, str]]) -> dict:
    left_out = {s["key"] for s in skipped}
    used = [ref for ref, _ in pairs if ref not in left_out]
    digest = hashlib.sha256()
    # through the digest cache the dataset fingerprint and weights use: scoring against the same
    # reference folder again reads none of its unchanged files
    digests = cached_sha256_many([ref_dir / ref for ref in used], what=f"reference folder {ref_dir}")
    for ref, (_, file_sha) in zip(used, digests):
        digest.update(f"{ref}\0{file_sha}\n".encode())
    return {
        "source": "score-folder",
        "images": digest.hexdigest(),
        "n_images": len(used),
        "preprocess": "none (files as stored)",
        "protocol_fingerprint": evaluator.protocol.fingerprint,
        "features": evaluator.inception.fingerprint(),
        **evaluator.reference_cache_key(),
    }


def score_folders(
    ref_dir: str | Path,
    recon_dir: str | Path,
    *,
    protocol: str | MetricProtocol = DEFAULTS["protocol"],
    metrics: Sequence[str] = tuple(DEFAULTS["metrics"]),
    inception_weights: str | Path | None = None,
    lpips_weights: dict | str | Path | None = None,
    device: str = DEFAULTS["device"],
    batch_size: int = DEFAULTS["batch_size"],
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
    strict: bool = False,
    on_missing_weights: str = DEFAULTS["on_missing_weights"],
    metric_settings: Mapping[str, Any] | None = None,
) -> dict:
    """Score every reconstruction in ``recon_dir`` against its original in ``ref_dir``.

    Args:
        ref_dir, recon_dir: folders of originals and reconstructions (paired as in the module
            docstring; sizes must match).
        protocol: metric protocol name or object.
        metrics: registered metric names (``psnr``, ``ssim``, ``lpips``, ``rfid``, ``kid`` ...).
        inception_weights, lpips_weights: weight files (see :class:`ReconstructionEvaluator`);
            None resolves the known files offline first.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        batch_size: images per batch (batches hold images of one size).
        out: JSON file written atomically (None: not written).
        cache_dir: reference statistics cache folder (default ``<WETOK_BENCH_HOME>/cache``).
        strict: an unreadable image is an error instead of a recorded skip.
        on_missing_weights: ``error`` (default) or ``skip`` (leave the metric out, recorded).
        metric_settings: suite-style settings blocks by key (``{"kid": {"subset_size": 100}}``).

    Returns:
        The JSON-ready result (non-finite values written as in
        :func:`~wetok_bench.metrics.aggregate.jsonable`): ``means`` (per-image means,
        ``psnr_finite_mean``, ``psnr_inf_count``, ``rfid``, and under ``wetok``
        ``psnr_official`` / ``ssim_official``), ``fid`` (counts and reliability), ``counts``
        (``images`` scored, ``skipped``, ``pairs``), ``skipped_files`` (``key``, ``reason``),
        ``skipped_metrics``, ``clamped`` (values beyond the clamp threshold), ``per_image``
        rows, ``metric_info``, ``protocol``, ``evaluator`` fingerprint.
    """
    ref_dir, recon_dir = Path(ref_dir), Path(recon_dir)
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    pairs = pair_images(ref_dir, recon_dir)  # missing folders first: the cheaper check, the likelier mistake
    setup = _resolve_metrics(protocol, metrics, inception_weights, lpips_weights, on_missing_weights)
    skips = _Skips(pairs, strict)
    batches = _same_size_batches(ref_dir, recon_dir, pairs, batch_size, skips)
    evaluator = ReconstructionEvaluator(protocol, setup.metrics, device, setup.inception_weights, setup.lpips_weights or None,
                                        settings=registry.metric_settings(setup.metrics, metric_settings))

    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    order: list[int] = []
    late_skips: list[int] = []  # unreadable beyond the header (e.g. truncated): found while decoding

    def load_batch(batch: list[int]) -> tuple[list[int], list[torch.Tensor], list[torch.Tensor]]:
        kept, refs, recs = [], [], []
        for i in batch:
            try:
                side, path = "original", ref_dir / pairs[i][0]
                ref = load_u8(path)
                side, path = "reconstruction", recon_dir / pairs[i][1]
                rec = load_u8(path)
            except ImageError as error:
                skips.add(i, side, path, error)
                late_skips.append(i)
                continue
            kept.append(i)
            refs.append(ref)
            recs.append(rec)
        return kept, refs, recs

    def run(ref_stats: dict | None) -> None:
        # One decode of every pair: the reference features come from the same batch when the
        # cache has no statistics for these originals.
        for batch in batches:
            kept, refs, recs = load_batch(batch)
            if not kept:
                continue
            originals = torch.stack(refs)
            recons = u8_to_signed_float(torch.stack(recs))
            if ref_stats is not None:
                evaluator.update_reference(ref_stats, originals)
            for key, values in evaluator.update(originals, recons).items():
                rows[key].append(values.numpy())
            order.extend(kept)

    fid: dict = {}
    sets: dict[str, dict] = {}
    cache_hit = None
    if evaluator.inception is not None:
        passes = []

        def compute() -> dict:
            stats = evaluator.new_reference()
            run(stats)
            passes.append(stats)
            if late_skips:  # the key did not know these skips: use the statistics, do not store them
                raise _LateSkips
            return stats

        key = _reference_key(ref_dir, pairs, evaluator, skips.records())
        try:
            ref_stats, cache_hit = cached_reference_stats(key, compute, Path(cache_dir) if cache_dir else None,
                                                          encode=evaluator.encode_reference, decode=evaluator.decode_reference)
        except _LateSkips:
            ref_stats, cache_hit = passes[0], False
        if not passes:
            run(None)
            if late_skips:  # cached statistics include originals skipped since: recompute them
                ref_stats, cache_hit = _reference_stats(evaluator, ref_dir, pairs, sorted(order), batch_size), False
        if not order:
            raise UsageError("no image pair could be read: " + format_skipped(skips.records(), total=len(pairs)))
        sets = evaluator.compute_sets(ref_stats)
        fid = sets.pop("rfid", {})
    else:
        run(None)
    if not order:
        raise UsageError("no image pair could be read: " + format_skipped(skips.records(), total=len(pairs)))

    # Rows come out grouped by size; put them back in path order.
    position = np.argsort(np.asarray(order), kind="stable")
    values = {key: np.concatenate(parts)[position] for key, parts in rows.items()}
    means = summarize(values)
    means.update(protocol_aggregates(protocol, values))
    for name, block in [("rfid", fid), *sets.items()]:
        if block:
            means.update(registry.get_metric(name).headline(block))
    scored = sorted(order)
    per_image = [
        {"path": pairs[i][0], "recon_path": pairs[i][1], **{key: float(values[key][n]) for key in values}}
        for n, i in enumerate(scored)
    ]
    clamped, total_values = evaluator.clamp_counts
    result = jsonable(
        {
            "wetok_bench_version": __version__,
            "command": "score",
            "ref_dir": str(ref_dir),
            "recon_dir": str(recon_dir),
            "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
            "evaluator": evaluator.fingerprint(),
            "metric_info": {k: METRICS[k].to_dict() for k in means if k in METRICS},
            "counts": {"images": len(scored), "skipped": len(skips.reasons), "pairs": len(pairs)},
            "means": means,
            "fid": {**fid, "reference_cache_hit": cache_hit} if fid else None,
            **{name: {**block, "reference_cache_hit": cache_hit} for name, block in sets.items()},
            "skipped_files": skips.records(),
            "skipped_metrics": dict(setup.skipped),
            "clamped": {"values": clamped, "total": total_values,
                        "fraction": clamped / total_values if total_values else 0.0,
                        "threshold": CLAMP_THRESHOLD},
            "warnings": [w for w in [clamp_warning("reconstructions", clamped, total_values)] if w],
            "per_image": per_image,
        }
    )
    if out is not None:
        write_json(Path(out), result)
    return result


class _LateSkips(Exception):
    """Raised out of the reference cache's compute when skips appeared that its key did not name."""


def _reference_stats(evaluator: ReconstructionEvaluator, ref_dir: Path, pairs: list[tuple[str, str]],
                     indices: list[int], batch_size: int) -> dict:
    """Originals' statistics over the pairs ``indices`` (all readable), in batches of one size."""
    stats = evaluator.new_reference()
    by_size: dict[tuple[int, ...], list[torch.Tensor]] = defaultdict(list)
    for i in indices:
        image = load_u8(ref_dir / pairs[i][0])
        by_size[tuple(image.shape)].append(image)
    for images in by_size.values():
        for start in range(0, len(images), batch_size):
            evaluator.update_reference(stats, torch.stack(images[start : start + batch_size]))
    return stats
