"""An exclusive lock on a results folder, so two runs never write the same files.

The lock is ``<folder>/.wetok-bench.lock``, held with ``flock`` for as long as the run lives and
holding the owner's host, pid and start time for the message a second run prints. The kernel
drops an ``flock`` when its process dies (SIGKILL included), so a lock left by a dead run is
taken over without any guessing, and two runs racing for a stale lock cannot both win.

On file systems without ``flock`` support the lock falls back to a pid file created with
``O_EXCL``: a lock whose owner is gone from this host is stale and taken over; a live owner (or
one on another host, which cannot be checked) makes the second run fail with its name.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

from wetok_bench.core.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".wetok-bench.lock"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


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
        self._fd: int | None = None

    def _owner(self) -> bytes:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}).encode()

    def _refuse(self) -> None:
        holder = self._read_holder() or {}
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
        raise UsageError(
            f"results folder {self.path.parent} is in use by another run (pid {holder.get('pid', '?')} "
            f"on {holder.get('host', '?')}, since {since}); wait for it, or use another --out"
        )

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            return self._acquire_pid_file()
        for _ in range(5):
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse()
            except OSError as error:
                os.close(fd)
                if error.errno in _NO_FLOCK:
                    return self._acquire_pid_file()
                raise
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # the previous owner removed the file between our open and flock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, self._owner())
            self._fd, self.held = fd, True
            return None
        raise UsageError(f"could not take the lock {self.path}")

    def _acquire_pid_file(self) -> None:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read_holder()
                if holder is None or not self._is_stale(holder):
                    self._refuse()
                try:
                    self.path.unlink()  # stale: its owner is gone
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._owner())
            self.held = True
            return
        raise UsageError(f"could not take the lock {self.path}")

    def _read_holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    @staticmethod
    def _is_stale(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another host lives
        pid = holder.get("pid")
        return not isinstance(pid, int) or (pid != os.getpid() and not _pid_alive(pid))

    def release(self) -> None:
        if not self.held:
            return
        try:
            self.path.unlink()  # while still holding it: a waiting run then re-creates the file
        except FileNotFoundError:
            pass
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
