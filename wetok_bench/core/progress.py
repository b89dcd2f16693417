"""A dependency-free progress line: images done, images/s and ETA, on stderr."""

from __future__ import annotations

import sys
import time


class Progress:
    """``Progress(total, label)``; ``update(n)`` after each batch; ``close()`` at the end.

    On a terminal the line is redrawn in place; otherwise a line is printed every ``every_s``
    seconds so logs of cluster jobs stay short.
    """

    def __init__(self, total: int, label: str, *, enabled: bool = True, every_s: float = 30.0) -> None:
        self.total, self.label, self.enabled, self.every_s = total, label, enabled, every_s
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        self._tty = sys.stderr.isatty()

    @property
    def rate(self) -> float:
        """Images per second so far."""
        elapsed = time.perf_counter() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._tty or now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            rate = self.rate
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            eta_text = f"{eta:6.0f}s" if eta != float("inf") else "     ?"
            line = f"{self.label}: {self.done}/{self.total} images, {rate:6.2f} img/s, ETA {eta_text}"
            sys.stderr.write(("\r" + line) if self._tty else line + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
