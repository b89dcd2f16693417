"""Stable fingerprints: sha256 of files and of JSON-serialisable configurations."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_record(path: str | Path | None, **extra: Any) -> dict[str, Any] | None:
    """A fingerprint's record of a file: name, size in bytes, full sha256 (:func:`cached_sha256`)
    and ``extra``; None when there is no file."""
    if path is None:
        return None
    path = Path(path)
    return {"file": path.name, "size": path.stat().st_size, "sha256": cached_sha256(path), **extra}


def sha256_cache_dir() -> Path:
    """``<WETOK_BENCH_HOME>/cache/sha256``: the tool's own record of file digests."""
    from wetok_bench.weights import home_dir  # weights imports this module

    return home_dir() / "cache" / "sha256"


def _stamp(path: Path) -> tuple[dict, Path]:
    """(what identifies this version of the file, its record in :func:`sha256_cache_dir`)."""
    stat = path.stat()
    stamp = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return stamp, sha256_cache_dir() / f"{sha256_json(stamp)[:32]}.json"


def cached_sha256(path: str | Path) -> str:
    """Full sha256 of a file, computed once per file version.

    Multi-GB checkpoints take tens of seconds to hash, so the digest is kept in memory and in a
    record under :func:`sha256_cache_dir`, keyed by the file's absolute path, size and
    ``mtime_ns``; a changed file gets a new key and is hashed again. Nothing is written beside
    the file: its folder (a shared weights folder, a checkpoint directory) is input only.
    """
    path = Path(path).resolve()
    stamp, record = _stamp(path)
    memo_key = (stamp["path"], stamp["size"], stamp["mtime_ns"])
    if memo_key in _SHA_MEMO:
        return _SHA_MEMO[memo_key]
    digest = None
    try:
        cached = json.loads(record.read_text())
        if {k: cached.get(k) for k in stamp} == stamp:
            digest = str(cached["sha256"])
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    if digest is None:
        digest = sha256_file(path)
        remember_sha256(path, digest)
    _SHA_MEMO[memo_key] = digest
    return digest


def remember_sha256(path: str | Path, digest: str) -> None:
    """Record ``digest`` as the sha256 of the current version of ``path`` (e.g. after a verified
    download was moved into place); a cache that cannot be written only costs a later re-hash."""
    path = Path(path).resolve()
    stamp, record = _stamp(path)
    _SHA_MEMO[(stamp["path"], stamp["size"], stamp["mtime_ns"])] = digest
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile("w", dir=record.parent, prefix=f".{record.stem}.", suffix=".tmp", delete=False)
        with handle:
            handle.write(json.dumps({**stamp, "sha256": digest}))
        os.replace(handle.name, record)
    except OSError:
        pass


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal configs hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(value: Any) -> str:
    """Hex sha256 of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
