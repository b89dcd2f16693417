"""A process that really holds a results folder's lock, for the lock tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_HOLD = (
    "import sys, time; from pathlib import Path; from wetok_bench.core.lock import FolderLock; "
    "lock = FolderLock(Path(sys.argv[1])); lock.acquire(); print('locked', flush=True); time.sleep(120)"
)


def hold_lock(folder: Path) -> subprocess.Popen:
    """Start a process holding ``folder``'s lock; returns once it holds it."""
    owner = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = owner.stdout.readline()
    if line.strip() != "locked" or time.monotonic() > deadline:
        owner.kill()
        raise RuntimeError(f"lock holder did not start: {line!r}")
    return owner
