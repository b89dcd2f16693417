"""Stable fingerprints: sha256 of files and of JSON-serialisable configurations.

File digests are computed once per file version and kept under ``$WETOK_BENCH_HOME/cache/sha256``
(:func:`cached_sha256`, :func:`cached_sha256_many`): weights files and every image of a dataset go
through the same cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from wetok_bench.core.paths import cache_dir

logger = logging.getLogger(__name__)


#: Uncached bytes above which :func:`cached_sha256_many` says, once, that it is hashing them
#: (a few seconds: measured 330-460 MB/s for 128 KiB files, 630-990 MB/s for 32 MiB files, read
#: from the page cache on 2 shared cores with SHA-NI; a disk or network file system is slower).
LARGE_HASH_BYTES = 1 << 30

#: Threads that hash files in parallel (hashlib and file reads release the GIL).
MAX_HASH_THREADS = 8


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes.

    ``hashlib.file_digest`` reads into one reused buffer: no new 1 MiB ``bytes`` per chunk, which
    each hashing thread would otherwise keep in its own allocator arena (the 5,000-image memory
    benchmark grew 128 MiB with two hash threads, none with this)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_SHA_MEMO: dict[tuple, str] = {}


def file_record(path: str | Path | None, **extra: Any) -> dict[str, Any] | None:
    """A fingerprint's record of a file: name, size in bytes, full sha256 (:func:`cached_sha256`)
    and ``extra``; None when there is no file."""
    if path is None:
        return None
    path = Path(path)
    return {"file": path.name, "size": path.stat().st_size, "sha256": cached_sha256(path), **extra}


def sha256_cache_dir() -> Path:
    """``<WETOK_BENCH_HOME>/cache/sha256``: the tool's own record of file digests."""
    return cache_dir("sha256")


def file_stamp(path: Path) -> dict[str, Any]:
    """What identifies one version of the file at ``path`` (absolute) for the digest cache.

    ``size`` and ``mtime_ns`` change with an ordinary write; ``ctime_ns`` changes with every write
    *and* with every metadata change, and cannot be set back by a user (``os.utime``, ``touch -r``,
    ``cp -p``, ``rsync -t`` and ``tar`` restore mtime, never ctime), so an edit of the same size with
    its mtime restored still gets a new stamp; ``inode`` changes when the file is replaced by
    another one (an atomic save by rename). git's index trusts a file on the same fields.
    """
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}


def _record_path(stamp: dict) -> Path:
    """The stamp's record: ``<cache>/<2 hex>/<30 hex>.json`` (256 folders, so that the 50,000
    records of ImageNet val do not share one)."""
    key = sha256_json(stamp)
    return sha256_cache_dir() / key[:2] / f"{key[2:32]}.json"


def _lookup(stamp: dict) -> str | None:
    """The digest recorded for exactly this file version, from memory or the cache; None if none."""
    memo_key = tuple(stamp.values())
    if memo_key in _SHA_MEMO:
        return _SHA_MEMO[memo_key]
    try:
        cached = json.loads(_record_path(stamp).read_text())
        if {k: cached.get(k) for k in stamp} == stamp:
            _SHA_MEMO[memo_key] = str(cached["sha256"])
            return _SHA_MEMO[memo_key]
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    return None


def _store(stamp: dict, digest: str) -> None:
    """Keep ``digest`` for ``stamp`` in memory and in the cache; a cache that cannot be written
    (a read-only home, a full disk) only costs a later re-hash."""
    _SHA_MEMO[tuple(stamp.values())] = digest
    record = _record_path(stamp)
    # A random temporary name created exclusively, then renamed: concurrent writers (ranks, hosts
    # sharing a home) never interleave, and a reader sees a whole record or none. Cheaper than
    # tempfile.NamedTemporaryFile, which matters for the 50,000 records of a first ImageNet hash.
    tmp = record.with_name(f".{record.stem}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:  # the record's folder does not exist yet
            record.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        with open(fd, "w") as handle:
            handle.write(json.dumps({**stamp, "sha256": digest}))
        os.replace(tmp, record)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _hash_version(path: Path, stamp: dict) -> str:
    """Full sha256 of ``path``, remembered for ``stamp`` only if the file kept that stamp while it
    was read (a file written meanwhile gets no record, so the next run hashes it again)."""
    digest = sha256_file(path)
    if file_stamp(path) == stamp:
        _store(stamp, digest)
    else:
        logger.warning("%s changed while it was being hashed; its digest is not cached", path)
    return digest


def cached_sha256(path: str | Path) -> str:
    """Full sha256 of a file, computed once per file version.

    Multi-GB checkpoints take seconds to minutes to hash, so the digest is kept in memory and in a
    record under :func:`sha256_cache_dir`, keyed by :func:`file_stamp` (absolute path, size,
    ``mtime_ns``, ``ctime_ns``, inode); a changed file gets a new stamp and is hashed again. Nothing
    is written beside the file: its folder (a shared weights folder, a dataset) is input only.
    """
    path = Path(path).resolve()
    stamp = file_stamp(path)
    digest = _lookup(stamp)
    return digest if digest is not None else _hash_version(path, stamp)


def _hash_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_HASH_THREADS, cpus))


def cached_sha256_many(paths: Sequence[str | Path], *, what: str = "files") -> list[tuple[int, str]]:
    """``(size in bytes, full sha256)`` of each file, in the order given: :func:`cached_sha256`
    for many files (a dataset's images), the uncached ones hashed on up to
    :data:`MAX_HASH_THREADS` threads.

    Above :data:`LARGE_HASH_BYTES` of files to hash, one warning says how much and that it is
    done once (``what`` names them, e.g. ``dataset 'imagenet-val'``); the time it took follows at
    INFO. The size is the one stamped before the file was read.
    """
    resolved = [Path(p).resolve() for p in paths]
    stamps = [file_stamp(p) for p in resolved]
    digests = [_lookup(stamp) for stamp in stamps]  # one small record each: threads would not help
    todo = [i for i, d in enumerate(digests) if d is None]
    if todo:
        total = sum(stamps[i]["size"] for i in todo)
        if total >= LARGE_HASH_BYTES:
            logger.warning("%s: computing the sha256 of %d files (%.2f GB) for the fingerprint; done once, later runs "
                           "take unchanged files' digests from %s", what, len(todo), total / 1e9, sha256_cache_dir())
        start = time.perf_counter()
        with ThreadPoolExecutor(_hash_threads()) as pool:
            for i, digest in zip(todo, pool.map(lambda i: _hash_version(resolved[i], stamps[i]), todo)):
                digests[i] = digest
        logger.info("%s: hashed %d files (%.1f MB) in %.1f s", what, len(todo), total / 1e6, time.perf_counter() - start)
    return [(stamp["size"], digest) for stamp, digest in zip(stamps, digests)]


def remember_sha256(path: str | Path, digest: str) -> None:
    """Record ``digest`` as the sha256 of the current version of ``path`` (e.g. after a verified
    download was moved into place); a cache that cannot be written only costs a later re-hash."""
    path = Path(path).resolve()
    _store(file_stamp(path), digest)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal configs hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(value: Any) -> str:
    """Hex sha256 of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
