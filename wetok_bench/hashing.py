"""Stable fingerprints: sha256 of files and of JSON-serialisable configurations."""

from __future__ import annotations

import hashlib
import json
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


def cached_sha256(path: str | Path) -> str:
    """Full sha256 of a file, computed once per file version.

    Multi-GB checkpoints take tens of seconds to hash, so the digest is kept in memory and in a
    ``<file>.sha256.json`` sidecar keyed by size and mtime; a read-only folder only costs one
    hash per process.
    """
    path = Path(path).resolve()
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo_key in _SHA_MEMO:
        return _SHA_MEMO[memo_key]
    sidecar = path.with_name(path.name + ".sha256.json")
    digest = None
    try:
        cached = json.loads(sidecar.read_text())
        if {k: cached.get(k) for k in stamp} == stamp:
            digest = str(cached["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    if digest is None:
        digest = sha256_file(path)
        try:
            sidecar.write_text(json.dumps({**stamp, "sha256": digest}))
        except OSError:
            pass
    _SHA_MEMO[memo_key] = digest
    return digest


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal configs hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(value: Any) -> str:
    """Hex sha256 of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
