"""Editing a file the way that defeats a size + mtime check: same size, mtime set back."""

from __future__ import annotations

import os
import time
from pathlib import Path


def edit_middle_keep_mtime(path: Path) -> bytes:
    """Flip one byte in the middle of ``path`` in place (same size, same inode) and set its atime
    and mtime back, as ``touch -r`` or ``rsync -t`` would; returns the new content.

    Asserts what it claims: size, mtime and inode unchanged, ctime later (the kernel sets ctime on
    every write and on ``utime``; no user call sets it back).
    """
    before = path.stat()
    time.sleep(0.05)  # past the file system's timestamp tick, so the write gets a later ctime
    with open(path, "r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    if path.stat().st_ctime_ns == before.st_ctime_ns:  # a file system with 1 s timestamps
        time.sleep(1.1)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # utime sets ctime to now too
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert after.st_ctime_ns != before.st_ctime_ns
    return path.read_bytes()
