"""The numbers of one result by key, as ``check``, ``check --record`` and the report read them.

A summary's ``metrics`` holds every metric's headline values (means over images, a protocol's
official aggregates, each set metric's headline keys); a set metric's block (``summary[name]``:
``rfid``, ``kid`` ...) says how reliable its value is. Which block holds a key, and which keys a
metric reports, come from the metric registry.
"""

from __future__ import annotations

from typing import Any

from wetok_bench.metrics.registry import get_metric, metric_names
from wetok_bench.results.records import json_float


def _set_blocks() -> dict[str, str]:
    """Result key -> name of the set metric whose summary block holds it."""
    out: dict[str, str] = {}
    for name in metric_names():
        cls = get_metric(name)
        if cls.level == "set":
            out.update({key.name: name for key in cls.result_keys()})
    return out


def result_values(summary: dict) -> dict[str, float]:
    """Every number of one result by key: ``metrics``, a set metric's headline values from its
    block where ``metrics`` lacks them, and ``bits_per_image`` (the compression block's mean)."""
    values: dict[str, float] = {}
    for name, value in (summary.get("metrics") or {}).items():
        try:
            values[name] = json_float(value)
        except (TypeError, ValueError):
            continue
    for key, metric in _set_blocks().items():
        block = summary.get(metric)
        if key not in values and isinstance(block, dict) and block.get(key) is not None:
            values[key] = json_float(block[key])
    bits = (summary.get("compression") or {}).get("bits_per_image")
    if bits is not None:
        values["bits_per_image"] = json_float(bits)
    return values


def reliability(summary: dict, key: str) -> tuple[bool, str]:
    """``(unreliable, reason)`` of a set metric's value ``key`` from its block (``(False, "")``
    for a per-image key or a result without the block). The reason says why, e.g. fewer images
    than the feature dimension."""
    metric = _set_blocks().get(key)
    block: Any = summary.get(metric) if metric else None
    if not isinstance(block, dict) or not block.get("unreliable"):
        return False, ""
    reason = str(block.get("reason") or "")
    if not reason and block.get("n") is not None and block.get("feature_dim") is not None:
        reason = f"N = {block.get('n')} images < feature dimension {block.get('feature_dim')}"
    return True, reason
