"""Keep freed large blocks in the heap on glibc, so the CPU metric path stops page-faulting.

glibc serves every allocation above its mmap threshold (at most 32 MiB, adjusted dynamically)
with a fresh ``mmap`` and returns it with ``munmap`` when freed, and trims the heap top beyond
2x that. The metric networks allocate and free activations of tens to hundreds of MiB per batch
(LPIPS-VGG at 256 x 256: 64 MiB per activation tensor and sub-batch), so every batch touched
fresh, zero-filled pages again: measured on LPIPS-VGG, 8 images at 256 x 256, one thread,
0.6-1.8 s of system time and 0.4-1.1 million minor page faults per call against 0.0 s and a few
hundred with the thresholds below. Raising both thresholds keeps those blocks for reuse; the
peak resident memory stays what the largest batch needs (freed blocks are reused, not added).

Nothing changes where the C library is not glibc, or when the user set ``MALLOC_MMAP_THRESHOLD_``
or ``MALLOC_TRIM_THRESHOLD_`` (their values win).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

#: Allocations up to this size come from the heap (and are reused) instead of a fresh mmap.
MMAP_THRESHOLD = 256 << 20
#: Free memory kept at the top of the heap before it is returned to the system.
TRIM_THRESHOLD = 512 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they are in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        logger.debug("malloc thresholds left as set in the environment")
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD)) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(TRIM_THRESHOLD)) == 1 and ok
    except (OSError, AttributeError):
        return False
    logger.debug("glibc malloc thresholds: mmap %d MiB, trim %d MiB (%s)", MMAP_THRESHOLD >> 20,
                 TRIM_THRESHOLD >> 20, "set" if ok else "refused")
    _done = ok
    return ok
