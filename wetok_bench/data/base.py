"""The dataset interface: a sorted list of image files with metadata, and its fingerprint.

A :class:`Dataset` is only a list of files; decoding happens in :mod:`wetok_bench.data.loader`.
Every kind (``imagenet-val``, ``coco-val2017``, ``folder``, ``samples``) subclasses
:class:`Dataset` and implements :meth:`Dataset._scan`.

Fingerprint rule (``FINGERPRINT_RULE``): sha256 over the records in key order, one line per
record ``key \\t size-in-bytes \\t sha256(whole file)``: every byte of every image counts, so an
edit anywhere in a file (same size, mtime restored) gives another fingerprint. Each file's digest
comes from :func:`wetok_bench.core.hashing.cached_sha256_many`, cached per file version under
``$WETOK_BENCH_HOME/cache/sha256``: only new or changed files are read. Modification times are
left out of the hash because copying a dataset changes them (earlier rules: CHANGELOG.md). The dataset's name and its root folder are reported beside the hash
but are not part of it, so the same images moved to another folder or machine keep their
``sha256``; cache keys should use ``kind``, ``count`` and ``sha256``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from wetok_bench.core import envvars
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256_many

FINGERPRINT_RULE = "sha256 of 'key\\tsize\\tsha256(whole file)' lines in key order"


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset.

    Attributes:
        key: stable unique id, the path relative to the dataset root with ``/`` separators
            (for ``samples``, the cached file name such as ``astronaut.png``).
        path: absolute path of the file.
        meta: kind-specific facts: ``label`` (ImageNet), ``image_id`` and ``categories``
            (COCO), nothing for plain folders.
    """

    key: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def expand_path(value: str | os.PathLike, *, what: str) -> Path:
    """``value`` with its environment variables and then ``~`` expanded, made absolute
    (the rules: :mod:`wetok_bench.core.envvars`; an unset variable without default is a UsageError)."""
    return envvars.expand_path(value, what=what).absolute()


def require_dir(path: Path, *, what: str, expected: str) -> Path:
    """``path`` if it is a folder; otherwise a UsageError saying what should be there."""
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        raise UsageError(f"{what} {str(path)!r} {state}; expected {expected}")
    return path


def require_file(path: Path, *, what: str, expected: str) -> Path:
    """``path`` if it is a file; otherwise a UsageError saying what should be there."""
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise UsageError(f"{what} {str(path)!r} {state}; expected {expected}")
    return path


def records_fingerprint(records: Iterable[ImageRecord], *, what: str = "dataset") -> str:
    """Hex sha256 identifying the files of ``records`` (see ``FINGERPRINT_RULE``); ``what``
    names them in the one message a large first hash logs.

    Usable for any subset (for example a rank's slice or ``select_subset``'s pick); the order
    of ``records`` does not matter.
    """
    ordered = sorted(records, key=lambda r: r.key)
    digest = hashlib.sha256()
    for record, (size, file_sha) in zip(ordered, cached_sha256_many([r.path for r in ordered], what=what)):
        digest.update(f"{record.key}\t{size}\t{file_sha}\n".encode("utf-8"))
    return digest.hexdigest()


class Dataset:
    """A named, deterministic list of image files.

    Attributes:
        name: the suite's label for the dataset (defaults to the kind).
        kind: the suite ``type`` (``imagenet-val``, ``coco-val2017``, ``folder``, ``samples``).
        root: the folder the keys are relative to.
        warnings: facts a user should see (for example an ImageNet count other than 50,000).
        missing: ``(key, reason)`` for images the dataset lists but that cannot be used
            (COCO images absent from disk); the runner records them as skipped.

    Listing the files is lazy: the first access to ``records()``, ``warnings`` or ``missing``
    scans the folder (subclasses fill ``_warnings`` and ``_missing`` from ``_scan``).
    """

    kind: str = ""

    def __init__(self, name: str | None, root: Path) -> None:
        self.name = name or self.kind
        self.root = root
        self._warnings: list[str] = []
        self._missing: list[tuple[str, str]] = []
        self._records: list[ImageRecord] | None = None
        self._fingerprint: dict[str, Any] | None = None

    @property
    def warnings(self) -> list[str]:
        self.records()
        return self._warnings

    @property
    def missing(self) -> list[tuple[str, str]]:
        self.records()
        return self._missing

    def _scan(self) -> list[ImageRecord]:
        """List the records (any order); may append to ``_warnings`` and ``_missing``."""
        raise NotImplementedError

    def _fingerprint_extra(self) -> dict[str, Any]:
        """Kind-specific facts reported beside the hash (annotation file hash, versions)."""
        return {}

    def records(self) -> list[ImageRecord]:
        """All usable images, sorted by key; listed once and cached."""
        if self._records is None:
            records = sorted(self._scan(), key=lambda r: r.key)
            duplicates = sorted({a.key for a, b in zip(records, records[1:]) if a.key == b.key})
            if duplicates:
                raise UsageError(f"dataset {self.name!r} lists the same key twice: {duplicates[:5]}")
            if not records and not self._missing:
                raise UsageError(f"dataset {self.name!r} ({self.kind}) has no images under {str(self.root)!r}")
            self._records = records
        return self._records

    def __len__(self) -> int:
        return len(self.records())

    def fingerprint(self) -> dict[str, Any]:
        """``{"kind", "root", "count", "sha256", "rule", ...}``; ``sha256`` identifies the files.

        Computed once per object; reads only the files whose digest is not cached yet.
        """
        if self._fingerprint is None:
            records = self.records()
            self._fingerprint = {
                "kind": self.kind,
                "root": str(self.root),
                "count": len(records),
                "missing": len(self._missing),
                "sha256": records_fingerprint(records, what=f"dataset {self.name!r}"),
                "rule": FINGERPRINT_RULE,
                **self._fingerprint_extra(),
            }
        return self._fingerprint

    def describe(self) -> str:
        """One line for ``wetok-bench list`` and logs: name, kind, count, root, warnings."""
        records = self.records()
        text = f"{self.name} ({self.kind}): {len(records)} images in {self.root}"
        if self._missing:
            text += f", {len(self._missing)} listed but missing"
        if self._warnings:
            text += "; " + "; ".join(self._warnings)
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} root={str(self.root)!r}>"


def relative_key(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (the record key)."""
    return path.relative_to(root).as_posix()


def unknown_names_message(what: str, unknown: Sequence[str], known: Sequence[str]) -> str:
    """'unknown X 'a' (did you mean 'b'?)' for each name, listing a few known ones."""
    import difflib

    parts = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), list(known), n=3)
        parts.append(f"{name!r}" + (f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""))
    return f"unknown {what}: {', '.join(parts)}"
