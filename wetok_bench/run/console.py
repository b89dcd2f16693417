"""Console output of a run: its warnings and errors (logged: the CLI prints them), the results table."""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

from wetok_bench.errors import format_error, split_message

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


#: Marks an unreliable rFID in the table (ASCII: any console prints it).
UNRELIABLE_MARK = "*"


def _rfid_text(summary: dict) -> str:
    """The rFID cell: the value, marked when the summary flags it unreliable (too few images)."""
    text = _fmt((summary.get("metrics") or {}).get("rfid"), 3)
    block = summary.get("rfid")
    return text + UNRELIABLE_MARK if text != "-" and isinstance(block, dict) and block.get("unreliable") else text


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


def format_table(outcomes: Sequence) -> str:
    """The results table printed at the end of a run (one line per :class:`JobOutcome`):
    ``usage%`` codebook usage, ``enc ms`` / ``dec ms`` time per image, ``params M`` parameters,
    ``img/s`` images per second of the whole job, ``peakMiB`` CUDA peak memory."""
    header = (f"{'job':44s} {'ratio':>8s} {'rFID':>8s} {'PSNR':>7s} {'SSIM':>6s} {'LPIPS':>6s} {'usage%':>6s} "
              f"{'enc ms':>7s} {'dec ms':>7s} {'paramsM':>7s} {'img/s':>7s} {'peakMiB':>7s} {'images':>6s} "
              f"{'skipped':>7s}  status")
    lines = [header, "-" * len(header)]
    for o in outcomes:
        m = o.summary.get("metrics", {})
        comp = o.summary.get("compression", {})
        counts = o.summary.get("counts", {})
        lines.append(
            f"{o.job.id[:44]:44s} {_fmt(comp.get('ratio'), 1):>8s} {_rfid_text(o.summary):>8s} "
            f"{_fmt(m.get('psnr'), 2):>7s} {_fmt(m.get('ssim'), 4):>6s} {_fmt(m.get('lpips'), 4):>6s} "
            f"{_cost_cells(o.summary)} {counts.get('images', '-')!s:>6s} {counts.get('skipped', '-')!s:>7s}  {o.status}"
            + (" (reused)" if getattr(o, "reused", False) else "") + (f": {split_message(o.error)[0]}" if o.error else "")
        )
    reasons = sorted({str(o.summary["rfid"].get("reason") or "fewer images than the feature dimension")
                      for o in outcomes if _rfid_text(o.summary).endswith(UNRELIABLE_MARK)})
    lines += [f"{UNRELIABLE_MARK} rFID unreliable: {reason}" for reason in reasons]
    return "\n".join(lines)
