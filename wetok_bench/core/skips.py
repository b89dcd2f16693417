"""Skipped images, said out loud: one formatter for the console lines of ``run`` and ``score``."""

from __future__ import annotations

from typing import Iterable, Mapping


def format_skipped(skipped: Iterable[Mapping[str, str]], *, total: int | None = None, limit: int = 5) -> str:
    """One line naming the first ``limit`` skipped files with their reasons and the count.

    ``skipped`` holds ``{"key": file, "reason": why}`` records (as stored in ``summary.json``);
    ``total`` is the number of images selected, for the "N of M" figure. Empty input gives "".
    """
    items = list(skipped)
    if not items:
        return ""
    shown = "; ".join(f"{s['key']} ({s['reason']})" for s in items[:limit])
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    of = f" of {total}" if total is not None else ""
    return f"skipped {len(items)}{of} image(s): {shown}{more}"
