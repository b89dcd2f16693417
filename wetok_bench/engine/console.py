"""Console output of a run: its warnings and errors (logged: the CLI prints them), the results table."""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

from wetok_bench.core.errors import format_error, split_message
from wetok_bench.metrics.registry import summary_keys
from wetok_bench.results.values import reliability

log = logging.getLogger(__name__)


def warn(message: str) -> None:
    """A run's warning, logged (the CLI prints it as one ``warning: ...`` line on stderr)."""
    log.warning("%s", message)


def error(message: str) -> None:
    """A run's error, logged as a short first line then a long message's details, indented (the
    CLI prints it as ``error: ...``)."""
    log.error("%s", format_error(message, prefix=""))


def name_files(keys: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` keys, then ``and N more``."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


#: Marks an unreliable set-metric value (rFID over too few images) in the table (ASCII: any console prints it).
UNRELIABLE_MARK = "*"


def _scaled(value: Any, factor: float, digits: int) -> str:
    return _fmt(None if value is None else float(value) * factor, digits)


def _cost_cells(summary: dict) -> str:
    """Codebook usage (%, discrete tokenizers; per-group mean for group-wise codes), encode and
    decode ms per image, parameters in millions, images/s of the whole job, CUDA peak memory in
    MiB (``-`` where not measured, e.g. on the CPU)."""
    tokens, cost = summary.get("tokens") or {}, summary.get("cost") or {}
    return (f"{_scaled(tokens.get('codebook_usage'), 100, 1):>6s} {_scaled(cost.get('encode_s_per_image'), 1e3, 2):>7s} "
            f"{_scaled(cost.get('decode_s_per_image'), 1e3, 2):>7s} {_scaled(cost.get('parameters'), 1e-6, 2):>7s} "
            f"{_scaled(cost.get('images_per_s'), 1, 1):>7s} {_scaled(cost.get('peak_memory_bytes'), 1 / 2**20, 0):>7s}")


def _metric_cell(summary: dict, key) -> str:
    """A metric's value with the registry's decimals, marked when its block flags it unreliable."""
    text = _fmt((summary.get("metrics") or {}).get(key.name), key.decimals)
    return text + UNRELIABLE_MARK if text != "-" and reliability(summary, key.name)[0] else text


def format_table(outcomes: Sequence) -> str:
    """The results table printed at the end of a run (one line per :class:`JobOutcome`): the
    compression ratio, every metric column the registry shows (:func:`summary_keys`) that some job
    measured, ``usage%`` codebook usage, ``enc ms`` / ``dec ms`` time per image, ``params M``
    parameters, ``img/s`` images per second of the whole job, ``peakMiB`` CUDA peak memory."""
    keys = summary_keys({k for o in outcomes for k in (o.summary.get("metrics") or {})})
    widths = [max(len(key.label or key.name), key.decimals + 5) for key in keys]
    header = (f"{'job':44s} {'ratio':>8s} " + "".join(f"{key.label or key.name:>{w}s} " for key, w in zip(keys, widths))
              + f"{'usage%':>6s} {'enc ms':>7s} {'dec ms':>7s} {'paramsM':>7s} {'img/s':>7s} {'peakMiB':>7s} "
              f"{'images':>6s} {'skipped':>7s}  status")
    lines = [header, "-" * len(header)]
    for o in outcomes:
        comp = o.summary.get("compression", {})
        counts = o.summary.get("counts", {})
        lines.append(
            f"{o.job.id[:44]:44s} {_fmt(comp.get('ratio'), 1):>8s} "
            + "".join(f"{_metric_cell(o.summary, key):>{w}s} " for key, w in zip(keys, widths))
            + f"{_cost_cells(o.summary)} {counts.get('images', '-')!s:>6s} {counts.get('skipped', '-')!s:>7s}  {o.status}"
            + (" (reused)" if getattr(o, "reused", False) else "") + (f": {split_message(o.error)[0]}" if o.error else "")
        )
    reasons = sorted({(key.label or key.name, reliability(o.summary, key.name)[1] or "fewer images than the feature dimension")
                      for o in outcomes for key in keys if _metric_cell(o.summary, key).endswith(UNRELIABLE_MARK)})
    lines += [f"{UNRELIABLE_MARK} {label} unreliable: {reason}" for label, reason in reasons]
    return "\n".join(lines)
