"""File digests are cached under the tool's own folder, never beside the user's files."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

from helpers_files import edit_middle_keep_mtime

from wetok_bench.core import hashing
from wetok_bench.core.hashing import cached_sha256, cached_sha256_many, sha256_cache_dir
from wetok_bench.core.weights import home_dir


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
    records = list(sha256_cache_dir().rglob("*.json"))
    assert len(records) == 1 and sha256_cache_dir().is_relative_to(home_dir())


def test_record_keyed_by_path_size_and_mtime(tmp_path, monkeypatch):
    first = tmp_path / "a.bin"
    first.write_bytes(b"one")
    assert cached_sha256(first) == hashlib.sha256(b"one").hexdigest()
    second = tmp_path / "b.bin"
    second.write_bytes(b"one")
    cached_sha256(second)
    assert len(list(sha256_cache_dir().rglob("*.json"))) == 2  # another path, another record
    # a changed file (new size and mtime) is hashed again, not taken from the record
    first.write_bytes(b"changed")
    os.utime(first, ns=(1, 1))
    assert cached_sha256(first) == hashlib.sha256(b"changed").hexdigest()
    # a record whose stamp matches is trusted (that is what saves re-hashing multi-GB files):
    # a new process (empty memo) takes the digest from the record without reading the file
    monkeypatch.setattr(hashing, "_SHA_MEMO", {})
    calls = _count_hashing(monkeypatch)
    assert cached_sha256(first) == hashlib.sha256(b"changed").hexdigest() and calls == []


def _count_hashing(monkeypatch) -> list[Path]:
    """The paths the cache hashes from now on (hashing.sha256_file wrapped)."""
    calls: list[Path] = []
    real = hashing.sha256_file

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    return calls


def test_edit_in_the_middle_with_mtime_restored_is_hashed_again(tmp_path, monkeypatch):
    path = tmp_path / "big.bin"
    payload = os.urandom(300 * 1024)  # beyond any head + tail sample
    path.write_bytes(payload)
    assert cached_sha256(path) == hashlib.sha256(payload).hexdigest()
    edited = edit_middle_keep_mtime(path)
    assert edited[:128 * 1024] == payload[:128 * 1024] and edited[-128 * 1024:] == payload[-128 * 1024:]
    monkeypatch.setattr(hashing, "_SHA_MEMO", {})  # as a new process
    calls = _count_hashing(monkeypatch)
    assert cached_sha256(path) == hashlib.sha256(edited).hexdigest() != hashlib.sha256(payload).hexdigest()
    assert calls == [path.resolve()]


def test_file_replaced_by_rename_is_hashed_again(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 5000)
    stamp = path.stat()
    assert cached_sha256(path) == hashlib.sha256(b"a" * 5000).hexdigest()
    new = tmp_path / "w.bin.tmp"
    new.write_bytes(b"b" * 5000)
    os.utime(new, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    os.replace(new, path)  # an atomic save: same path, size and mtime, another inode
    assert cached_sha256(path) == hashlib.sha256(b"b" * 5000).hexdigest()


def test_many_files_hashed_once_in_the_order_given(tmp_path, monkeypatch):
    payloads = [os.urandom(n) for n in (0, 1, 70_000, 200_000)]
    paths = []
    for i, payload in enumerate(payloads):
        paths.append(tmp_path / f"{i}.bin")
        paths[-1].write_bytes(payload)
    expected = [(len(p), hashlib.sha256(p).hexdigest()) for p in payloads]
    assert cached_sha256_many(paths[::-1]) == expected[::-1]
    monkeypatch.setattr(hashing, "_SHA_MEMO", {})
    calls = _count_hashing(monkeypatch)
    assert cached_sha256_many(paths) == expected and calls == []  # all from the records
    assert cached_sha256(paths[2]) == expected[2][1] and calls == []  # one cache serves both


def test_large_first_hash_is_announced_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(hashing, "LARGE_HASH_BYTES", 100_000)
    paths = [tmp_path / f"{i}.bin" for i in range(3)]
    for path in paths:
        path.write_bytes(os.urandom(60_000))
    with caplog.at_level(logging.INFO, logger="wetok_bench.core.hashing"):
        cached_sha256_many(paths, what="dataset 'x'")
        cached_sha256_many(paths, what="dataset 'x'")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("dataset 'x': computing the sha256 of 3 files")
    assert any("hashed 3 files" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_unwritable_cache_still_gives_digests(tmp_path):
    cache = sha256_cache_dir()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a folder")  # nothing can be created under it, whoever runs the test (root too)
    path = tmp_path / "x.bin"
    path.write_bytes(b"payload" * 1000)
    assert cached_sha256(path) == hashlib.sha256(b"payload" * 1000).hexdigest()
    assert cached_sha256_many([path]) == [(7000, hashlib.sha256(b"payload" * 1000).hexdigest())]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]  # and nothing beside the file


def test_file_written_while_hashed_gets_no_record(tmp_path, monkeypatch):
    path = tmp_path / "growing.bin"
    path.write_bytes(b"first")
    real = hashing.sha256_file

    def hash_then_append(p):
        digest = real(p)
        with open(p, "ab") as handle:
            handle.write(b" and more")
        return digest

    monkeypatch.setattr(hashing, "sha256_file", hash_then_append)
    cached_sha256(path)
    monkeypatch.setattr(hashing, "sha256_file", real)
    assert list(sha256_cache_dir().rglob("*.json")) == []
    assert cached_sha256(path) == hashlib.sha256(b"first and more").hexdigest()


def test_score_reference_key_uses_the_cache_and_sees_every_byte(tmp_path, monkeypatch):
    # `score` keys the originals' Inception statistics on the sha256 of every reference file: the
    # same cache as a dataset's, so scoring against the folder again reads none of its files.
    from types import SimpleNamespace

    from wetok_bench.commands.score import reference_key as _reference_key

    ref = tmp_path / "ref"
    (ref / "sub").mkdir(parents=True)
    files = {"a.png": os.urandom(3000), "sub/b.png": os.urandom(200_000)}
    for name, data in files.items():
        (ref / name).write_bytes(data)
    evaluator = SimpleNamespace(protocol=SimpleNamespace(fingerprint="p"),
                                extractors={"x": SimpleNamespace(fingerprint=lambda: "i")}, reference_cache_key=lambda: {})
    pairs = [("a.png", "a.png"), ("sub/b.png", "sub/b.png")]

    def expected(contents) -> str:
        lines = "".join(f"{name}\0{hashlib.sha256(data).hexdigest()}\n" for name, data in contents.items())
        return hashlib.sha256(lines.encode()).hexdigest()

    calls = _count_hashing(monkeypatch)
    assert _reference_key(ref, pairs, evaluator, [])["images"] == expected(files)
    assert sorted(p.name for p in calls) == ["a.png", "b.png"]
    calls.clear()
    assert _reference_key(ref, pairs, evaluator, [])["images"] == expected(files) and calls == []
    # a skipped original is left out of the key
    assert _reference_key(ref, pairs, evaluator, [{"key": "a.png"}])["images"] == expected({"sub/b.png": files["sub/b.png"]})

    files["sub/b.png"] = edit_middle_keep_mtime(ref / "sub" / "b.png")  # same size, mtime set back
    assert _reference_key(ref, pairs, evaluator, [])["images"] == expected(files)
    assert [p.name for p in calls] == ["b.png"]
