"""An exclusive lock on a results folder, so two runs never write the same files.

The lock is a file created with ``O_EXCL`` holding the owner's host, pid and start time. A lock
left by a process that no longer exists on this host is stale and taken over; a live owner makes
the second run fail with a message naming it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from wetok_bench.errors import UsageError

LOCK_FILE = ".wetok-bench.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """Context manager: ``with FolderLock(folder): ...`` holds ``folder/.wetok-bench.lock``."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read_holder()
                if holder is not None and not self._is_stale(holder):
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
                    raise UsageError(
                        f"results folder {self.path.parent} is in use by another run (pid {holder.get('pid')} "
                        f"on {holder.get('host')}, since {since}); wait for it, or use another --out"
                    ) from None
                try:
                    self.path.unlink()  # stale: its owner is gone
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(owner, handle)
            self.held = True
            return
        raise UsageError(f"could not take the lock {self.path}")

    def _read_holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            # Half-written by a process that died between create and write, or racing a release.
            try:
                age = time.time() - self.path.stat().st_mtime
            except OSError:
                return None
            return None if age > 5 else {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}

    @staticmethod
    def _is_stale(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another host lives
        pid = holder.get("pid")
        return not isinstance(pid, int) or (pid != os.getpid() and not _pid_alive(pid))

    def release(self) -> None:
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
