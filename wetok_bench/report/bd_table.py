"""Rate-distortion curves from a leaderboard and their Bjontegaard-delta table against an anchor.

Curves (:func:`build_curves`): the rows of one leaderboard (one dataset, resolution, protocol)
grouped into one curve per codec format (``jpeg``, ``webp``: the ``codec`` family's jobs at
several qualities) and one per other tokenizer family (registry ``type``, e.g. WeTok at several
compression ratios). Identity jobs are no curve. A point's rate is bits per pixel: the mean over
images of ``bits / (height * width)`` from ``per_image.csv``, else ``bits_per_image / R^2`` at a
square resolution ``R``; its quality is the leaderboard's mean of each metric. Non-finite values
(PSNR ``inf``) leave that point out of that metric's curve.

Table (:func:`bd_table`): BD-rate at equal quality and BD-<metric> of each curve with at least 4
points against the anchor curve. The metrics are the metric registry's: its ``bd`` keys (PSNR,
SSIM, LPIPS) each get a BD-metric column, its ``bd_rate`` key (PSNR) is the quality BD-rate is
measured at, with the registry's labels, units and directions; the anchor is the curve (default: JPEG when present, else the first codec
curve), with the formula, interpolation and overlap ranges in the cells and notes. A value that
is not defined shows a few words in its cell and the full reason in the notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from wetok_bench.metrics.base import ResultKey
from wetok_bench.metrics.registry import result_keys
from wetok_bench.report.bjontegaard import (
    DEFAULT_INTERPOLATION,
    INTERPOLATION_TEXT,
    MIN_POINTS,
    BDResult,
    BDUndefined,
    bd_metric,
    bd_rate,
)
from wetok_bench.report.leaderboard import Leaderboard, Row
from wetok_bench.report.tables import DASH, Cell, Table

DEFAULT_ANCHOR = "jpeg"


def bd_keys() -> list[ResultKey]:
    """The BD-metric columns: the registry's ``bd`` keys in column order."""
    return [key for key in result_keys().values() if key.bd]


def rate_key() -> ResultKey:
    """The quality BD-rate is measured at: the registry's ``bd_rate`` key."""
    return next(key for key in result_keys().values() if key.bd_rate)


def bd_header(key: ResultKey) -> str:
    """``BD-PSNR (dB)``, ``BD-SSIM``, ``BD-LPIPS (lower better)``."""
    return f"BD-{key.header}" + ("" if key.higher_is_better else " (lower better)")


def bd_decimals(key: ResultKey) -> int:
    """A BD value is a small difference: at least 3 decimals, more where the metric shows more."""
    return max(3, key.decimals)
_FORMAT_LABELS = {"jpeg": "JPEG", "jpg": "JPEG", "webp": "WebP"}


@dataclass
class RDPoint:
    """One job on a curve: bits per pixel and mean quality per metric (finite values only)."""

    tokenizer: str
    bpp: float
    quality: dict[str, float]


@dataclass
class RDCurve:
    """A rate-distortion curve: ``key`` (``jpeg``, ``webp``, or a family), its points by rate."""

    key: str
    label: str
    points: list[RDPoint] = field(default_factory=list)

    def series(self, metric: str) -> tuple[list[float], list[float]]:
        """(bits per pixel, metric) of the points that have a finite ``metric``."""
        pts = [p for p in self.points if metric in p.quality]
        return [p.bpp for p in pts], [p.quality[metric] for p in pts]


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def point_bpp(row: Row) -> float | None:
    """Bits per pixel of a leaderboard row (see the module doc), or None when not known."""
    try:
        frame = row.job.per_image()
    except (OSError, ValueError):
        frame = None
    if frame is not None and {"bits", "height", "width"} <= set(frame.columns):
        values = frame["bits"].astype(float) / (frame["height"].astype(float) * frame["width"].astype(float))
        values = values[values.notna()]
        if len(values):
            return float(values.mean())
    resolution = row.job.summary.get("resolution")
    if _finite(row.bits) and isinstance(resolution, int) and resolution > 0:
        return float(row.bits) / (resolution * resolution)
    return None


def curve_key(row: Row) -> tuple[str, str] | None:
    """(key, label) of the curve a row belongs to; None for identity."""
    if row.kind == "identity":
        return None
    if row.kind == "codec":
        tokenizer = (row.job.manifest or {}).get("tokenizer") or {}
        fmt = (tokenizer.get("fingerprint") or {}).get("format") or (tokenizer.get("spec") or {}).get("format")
        if not fmt:  # older results: the family name, or the name's prefix before "-q<quality>"
            fmt = row.family if row.family not in ("", "codec") else row.name.rsplit("-q", 1)[0]
        fmt = str(fmt).lower()
        fmt = "jpeg" if fmt == "jpg" else fmt
        return fmt, _FORMAT_LABELS.get(fmt, fmt.upper())
    family = row.family or row.name
    return family, family


def build_curves(board: Leaderboard, metrics: tuple[str, ...] | None = None) -> tuple[list[RDCurve], list[str]]:
    """The board's curves (points sorted by rate) and notes on rows left out; each point's quality
    in ``metrics`` (default: the BD keys and the BD-rate key)."""
    if metrics is None:
        metrics = tuple(dict.fromkeys([rate_key().name, *(key.name for key in bd_keys())]))
    curves: dict[str, RDCurve] = {}
    left_out: list[str] = []
    for row in board.rows:
        key = curve_key(row)
        if key is None:
            continue
        bpp = point_bpp(row)
        if bpp is None or bpp <= 0:
            left_out.append(f"{row.tokenizer}: no bits per pixel")
            continue
        quality = {m: float(row.value(m)) for m in metrics if _finite(row.value(m))}
        curves.setdefault(key[0], RDCurve(*key)).points.append(RDPoint(row.tokenizer, bpp, quality))
    for curve in curves.values():
        curve.points.sort(key=lambda p: p.bpp)
    return sorted(curves.values(), key=lambda c: c.key), left_out


def choose_anchor(curves: list[RDCurve], anchor: str | None = None) -> RDCurve | None:
    """The curve named ``anchor`` (key or label, any case); default JPEG, else the first codec
    curve with enough points, else the first curve with enough points."""
    wanted = (anchor or DEFAULT_ANCHOR).lower()
    for curve in curves:
        if wanted in (curve.key.lower(), curve.label.lower()):
            return curve
    if anchor is not None:
        return None
    full = [c for c in curves if len(c.points) >= MIN_POINTS]
    codecs = [c for c in full if c.key in _FORMAT_LABELS]
    return (codecs or full or [None])[0]


def _range(lo_hi: tuple[float, float], decimals: int) -> str:
    return f"{lo_hi[0]:.{decimals}f}–{lo_hi[1]:.{decimals}f}" if all(map(_finite, lo_hi)) else DASH


def _cell(compute, decimals: int, reasons: list[str], where: str) -> tuple[Cell, BDResult | None]:
    try:
        result = compute()
    except BDUndefined as exc:
        reasons.append(f"{where}: {exc}")
        return Cell(exc.short, None), None
    return Cell(f"{result.value:+.{decimals}f}", result.value), result


def bd_table(board: Leaderboard, *, anchor: str | None = None, interpolation: str = DEFAULT_INTERPOLATION) -> Table | None:
    """The BD table of one leaderboard, or None when it has no curve of at least 4 points."""
    curves, left_out = build_curves(board)
    full = [c for c in curves if len(c.points) >= MIN_POINTS]
    if not full:
        return None
    base = choose_anchor(curves, anchor)
    notes: list[str] = []
    if base is None:
        notes.append(f"Anchor {anchor!r} is not a curve here (curves: {', '.join(c.label for c in curves)}).")
    else:
        notes.append(f"Anchor: {base.label} ({len(base.points)} points). Rate = bits per pixel (bits per image / (H x W)), log scale.")
    rate_on = rate_key()
    q = rate_on.label or rate_on.name
    q_unit = f" in {rate_on.unit}" if rate_on.unit else ""
    # a metric no curve has (not in the suite, or skipped everywhere) gets no column at all
    shown = [(key.name, bd_header(key), bd_decimals(key)) for key in bd_keys()
             if any(key.name in p.quality for c in full for p in c.points)]
    lower = [key for key in bd_keys() if not key.higher_is_better and any(key.name == m for m, _, _ in shown)]
    notes += [
        f"BD-rate (VCEG-M33): mean difference of ln(rate) at equal {q} over the {q} range both curves cover, "
        f"as (exp(d) - 1) x 100 %; negative = fewer bits than the anchor for the same {q}.",
        "BD-metric: mean of (curve - anchor) over the ln(rate) range both curves cover"
        + "".join(f"; for {k.label} lower is better, so a negative BD-{k.label} is an improvement" for k in lower) + ".",
        f"Interpolation: {INTERPOLATION_TEXT[interpolation]}, integrated exactly. Columns 'Overlap' give the "
        f"integration intervals: bits per pixel (BD-metric) and {q}{q_unit} (BD-rate).",
    ]
    headers = ["Curve", "Points", "Overlap (bpp)", f"Overlap {rate_on.header}", f"BD-rate ({q}) %", *[h for _, h, _ in shown]]
    rows: list[list[Cell]] = []
    reasons: list[str] = []
    for curve in full:
        head = [Cell(curve.label, curve.label), Cell(str(len(curve.points)), len(curve.points))]
        if base is None or curve is base:
            text = "anchor" if curve is base else DASH
            rows.append(head + [Cell(DASH)] * 2 + [Cell(text)] * (1 + len(shown)))
            continue
        rate_cell, rate = _cell(lambda: bd_rate(*base.series(rate_on.name), *curve.series(rate_on.name),
                                                metric=rate_on.name, interpolation=interpolation), 2, reasons,
                                f"{curve.label} BD-rate")
        metric_cells, rate_metric_result = [], None
        for metric, header, decimals in shown:
            if not (base.series(metric)[0] and curve.series(metric)[0]):
                who = base.label if not base.series(metric)[0] else curve.label
                reasons.append(f"{curve.label} {header}: {metric} not measured for {who}")
                metric_cells.append(Cell("not measured"))
                continue
            cell, result = _cell(lambda m=metric: bd_metric(*base.series(m), *curve.series(m), metric=m,
                                                             interpolation=interpolation), decimals, reasons,
                                 f"{curve.label} {header}")
            metric_cells.append(cell)
            rate_metric_result = result if metric == rate_on.name else rate_metric_result
        overlap_bpp = Cell(_range(rate_metric_result.rate_overlap_bpp, 3)) if rate_metric_result else Cell(DASH)
        overlap_q = Cell(_range(rate.quality_overlap, 2)) if rate else Cell(DASH)
        rows.append(head + [overlap_bpp, overlap_q, rate_cell, *metric_cells])
    notes += reasons
    short = [c for c in curves if len(c.points) < MIN_POINTS]
    if short:
        notes.append(f"Not curves for BD (fewer than {MIN_POINTS} points): "
                     + ", ".join(f"{c.label} ({len(c.points)})" for c in short) + ".")
    notes += [f"Left out: {text}." for text in left_out]
    return Table(
        title=f"Bjontegaard delta - {board.title}",
        headers=headers,
        numeric=[False, True, False, False, True, *[True] * len(shown)],
        rows=rows,
        notes=notes,
        table_id=f"bd-{board.slug}",
    )

