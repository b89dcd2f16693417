"""File digests are cached under the tool's own folder, never beside the user's files."""

from __future__ import annotations

import hashlib
import os
import stat

from wetok_bench.hashing import cached_sha256, sha256_cache_dir
from wetok_bench.weights import home_dir


def _tree(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_read_only_input_folder_stays_untouched(tmp_path):
    folder = tmp_path / "shared_weights"
    folder.mkdir()
    payload = os.urandom(3000)
    (folder / "model.ckpt").write_bytes(payload)
    before = _tree(folder)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert cached_sha256(folder / "model.ckpt") == hashlib.sha256(payload).hexdigest()
        assert _tree(folder) == before  # no sidecar (even where the user could write: root ignores the mode)
    finally:
        folder.chmod(stat.S_IRWXU)
    records = list(sha256_cache_dir().glob("*.json"))
    assert len(records) == 1 and sha256_cache_dir().is_relative_to(home_dir())


def test_record_keyed_by_path_size_and_mtime(tmp_path):
    first = tmp_path / "a.bin"
    first.write_bytes(b"one")
    assert cached_sha256(first) == hashlib.sha256(b"one").hexdigest()
    second = tmp_path / "b.bin"
    second.write_bytes(b"one")
    cached_sha256(second)
    assert len(list(sha256_cache_dir().glob("*.json"))) == 2  # another path, another record
    # a changed file (new size and mtime) is hashed again, not taken from the record
    first.write_bytes(b"changed")
    os.utime(first, ns=(1, 1))
    assert cached_sha256(first) == hashlib.sha256(b"changed").hexdigest()
    # a record whose stamp matches is trusted (that is what saves re-hashing multi-GB files)
    os.utime(first, ns=(2, 2))
    assert cached_sha256(first) == hashlib.sha256(b"changed").hexdigest()
