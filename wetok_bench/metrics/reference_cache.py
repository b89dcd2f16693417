"""Cache of reference (original-image) Inception statistics, keyed by everything that defines them.

The reference pass over a dataset's originals is the same for every tokenizer, so its
:class:`~wetok_bench.metrics.functional.fid.FeatureStats` are stored once per key. The caller's key names
the image list fingerprint, the preprocessing and resolution, the metric protocol fingerprint,
the feature kind and the feature weights' sha256; any change gives another file.

File layout: ``<cache_dir>/<sha256 of the canonical key JSON>.pt``, a ``torch.save`` of
``{"format", "key" (canonical JSON text), "payload_sha256", "state"}`` where ``state`` is
``FeatureStats.state_dict()``. Files are written to a temporary file in the same folder and
moved into place with ``os.replace``, so readers never see half a file. On load the key text
and the payload checksum are verified; a corrupt, truncated or mismatched file is reported in
one logging line (once per file version and problem, however often it is looked up, e.g. by the
runner's hit-only probe and then its store), recomputed and overwritten.

Next to a statistics file, ``<same name>.frechet.pt`` (same record layout) keeps the factor
``F`` of the rFID reference covariance (:class:`~wetok_bench.metrics.functional.fid.FrechetReference`),
so that a warm run does not factorise again (a 2048 x 2048 Cholesky or, below 2,049 images,
a pivoted Cholesky). Its key is the statistics' key plus the sha256 of the statistics' payload
and the factorisation method (:data:`~wetok_bench.metrics.functional.fid.FACTOR_METHOD`), so a factor is
used only with the very statistics it was computed from, made the way it is made now;
a missing or unusable factor file is computed and stored (statistics files written before it
existed stay valid). The loaded factor is the stored bytes: the same rFID as computing it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import canonical_json, sha256_json
from wetok_bench.metrics.functional.fid import FACTOR_METHOD, FeatureStats, FrechetReference

#: Bumped when the file layout or the meaning of the stored states changes.
CACHE_FORMAT = 1

logger = logging.getLogger(__name__)
#: (path, size, mtime_ns, problem) of unusable files already reported in this process.
_REPORTED: set[tuple[str, int, int, str]] = set()


def default_cache_dir() -> Path:
    """``<WETOK_BENCH_HOME>/cache/reference_stats``."""
    from wetok_bench.core.paths import home_dir

    return home_dir() / "cache" / "reference_stats"


def cache_path(key: dict, cache_dir: Path | None = None) -> Path:
    """File that holds (or will hold) the statistics for ``key``."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{sha256_json({'format': CACHE_FORMAT, 'key': key})}.pt"


def factor_path(key: dict, cache_dir: Path | None = None) -> Path:
    """File that holds (or will hold) the Frechet reference factor for ``key``'s statistics."""
    stats_file = cache_path(key, cache_dir)
    return stats_file.with_name(f"{stats_file.stem}.frechet.pt")


def payload_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors of ``state`` (names, dtypes, shapes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def cached_reference_stats(
    key: dict, compute: Callable[[], FeatureStats], cache_dir: Path | None = None, *,
    encode: Callable[[Any], dict] | None = None, decode: Callable[[dict], Any] | None = None,
) -> tuple[FeatureStats, bool]:
    """Reference statistics for ``key``: from the cache when valid, else ``compute()`` and store.

    ``encode`` / ``decode``: another reference object and its flat ``{name: tensor}`` state
    (the evaluator's set-metric states, e.g. KID's kept features); default :class:`FeatureStats`.

    Args:
        key: JSON-serialisable dict naming everything that defines the statistics (image-list
            fingerprint, preprocessing and resolution, protocol fingerprint, feature kind,
            feature weights sha256).
        compute: called on a miss; returns the statistics.
        cache_dir: folder for the files; default :func:`default_cache_dir`.

    Returns:
        ``(stats, hit)``: ``hit`` is True when the statistics came from the cache.
    """
    if not isinstance(key, dict) or not key:
        raise UsageError("reference statistics cache key must be a non-empty dict")
    path = cache_path(key, cache_dir)
    key_text = canonical_json(key)
    if path.exists():
        stats, problem = _read(path, key_text, decode or FeatureStats.from_state_dict)
        if stats is not None:
            return stats, True
        _report_unusable(path, problem)
    stats = compute()
    if encode is None and not isinstance(stats, FeatureStats):
        raise TypeError(f"compute() must return FeatureStats, got {type(stats).__name__}")
    _write(path, key_text, (encode or FeatureStats.state_dict)(stats))
    return stats, False


def cached_frechet_reference(key: dict, stats: FeatureStats, cache_dir: Path | None = None) -> tuple[FrechetReference, bool]:
    """The :class:`FrechetReference` of the reference statistics ``stats`` (cached under ``key``,
    as for :func:`cached_reference_stats`), its covariance factor from :func:`factor_path` when
    that file holds one for exactly these statistics, else factorised and stored.

    Returns:
        ``(reference, hit)``: ``hit`` is True when the factor came from the cache.
    """
    if not isinstance(key, dict) or not key:
        raise UsageError("reference statistics cache key must be a non-empty dict")
    path = factor_path(key, cache_dir)
    # bound to the statistics' bits: recomputed statistics (another machine, another thread
    # count) never meet a factor of their predecessors
    key_text = canonical_json({"reference": key, "stats_sha256": payload_sha256(stats.state_dict()),
                               "factor": FACTOR_METHOD})
    if path.exists():
        reference, problem = _read(path, key_text, lambda state: FrechetReference(stats, cov_factor=state["cov_factor"]))
        if reference is not None:
            return reference, True
        _report_unusable(path, problem)
    reference = FrechetReference(stats)
    _write(path, key_text, {"cov_factor": reference.cov_factor})
    return reference, False


def _report_unusable(path: Path, problem: str) -> None:
    try:
        stat = path.stat()
        version = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, problem)
    except OSError:
        version = (str(path), -1, -1, problem)
    if version not in _REPORTED:
        _REPORTED.add(version)
        logger.warning("reference statistics cache %s is unusable (%s); recomputing", path, problem)


def _read(path: Path, key_text: str, decode: Callable[[dict], Any]) -> tuple[Any, str]:
    """(stats, "") for a valid file, else (None, what is wrong)."""
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file fails in many ways
        return None, f"cannot be read: {type(error).__name__}"
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
        return None, "unknown format"
    if record.get("key") != key_text:
        return None, "stored key differs from the requested key"
    state = record.get("state")
    if not isinstance(state, dict) or record.get("payload_sha256") != payload_sha256(state):
        return None, "payload checksum mismatch"
    try:
        return decode(state), ""
    except (UsageError, KeyError) as error:
        return None, str(error)


def _write(path: Path, key_text: str, state: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": CACHE_FORMAT, "key": key_text, "payload_sha256": payload_sha256(state), "state": state}
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
