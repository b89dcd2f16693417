"""Rate-distortion plots: compression ratio (log x axis) against each metric, per dataset.

One figure per leaderboard (dataset, resolution, protocol), one panel per metric (rFID, PSNR,
SSIM, LPIPS) that has at least one value to draw: a metric skipped by every job gets no empty
panel, the caption names it instead. Points form one line per *series*: a codec format
(``jpeg``, ``webp``: each format's quality sweep is its own curve, never one zig-zag through
both) or a tokenizer family (the registry ``type``, e.g. WeTok at several compression ratios),
ordered by compression ratio. Every point carries its tokenizer's name. Values that cannot be
drawn (missing, ``inf`` PSNR of a lossless identity, no ratio) are left out and listed in the
caption text. The x axis has labelled major ticks at 1, 2, 5 x 10^k (at 10^k only when the
ratios span more than two decades), so tick labels never crowd.

Written as PNG and SVG with matplotlib's Agg backend, and beside them ``rd_<slug>.csv`` holding
every drawn point (series, tokenizer, metric, ratio, value): the figure's data, for readers and
tests.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # drawn without pyplot: no backend chosen, no global figure list
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from wetok_bench.metrics.registry import summary_keys
from wetok_bench.report.leaderboard import Leaderboard, Row, metric_keys


def plot_metrics(board: Leaderboard) -> list[tuple[str, str]]:
    """(key, header) of each panel: the registry's summary keys some job measured or skipped (a
    skipped metric gets no panel, but a note), in column order."""
    present = {key.name for key in metric_keys([row.job for row in board.rows])}
    skipped = {name for row in board.rows for name in row.skipped}
    return [(key.name, key.header) for key in summary_keys() if key.name in present | skipped]


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def series_name(row: Row) -> str:
    """The line a row belongs to: its codec format for codecs, else its family (registry type)."""
    if row.kind == "codec":
        manifest_tokenizer = (row.job.manifest or {}).get("tokenizer") or {}
        for block in (manifest_tokenizer.get("spec") or {}, manifest_tokenizer.get("fingerprint") or {},
                      row.job.summary.get("tokenizer") or {}):
            if block.get("format"):
                return str(block["format"])
        # no format recorded: the name's stem (``jpeg-q10`` -> ``jpeg``)
        return row.name.split("-q")[0] if "-q" in row.name else (row.family or row.name)
    return row.family or row.name


def families(board: Leaderboard) -> dict[str, list[Row]]:
    """Rows grouped by :func:`series_name`, each sorted by compression ratio."""
    groups: dict[str, list[Row]] = {}
    for row in board.rows:
        groups.setdefault(series_name(row), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r.ratio if _finite(r.ratio) else math.inf)
    return groups


@dataclass(frozen=True)
class Point:
    """One drawn point: ``series`` line, ``tokenizer`` label, ``metric`` panel, (ratio, value)."""

    series: str
    tokenizer: str
    metric: str
    ratio: float
    value: float


def _points(board: Leaderboard) -> tuple[list[Point], list[str]]:
    """Drawable points and the notes on what is left out (whole metrics first, then single values)."""
    groups = families(board)
    points: list[Point] = []
    partial: list[str] = []
    absent: list[str] = []
    for metric, label in plot_metrics(board):
        found, missing = [], []
        for series, rows in sorted(groups.items()):
            for row in rows:
                value = row.value(metric)
                if _finite(row.ratio) and row.ratio > 0 and _finite(value):
                    found.append(Point(series, row.tokenizer, metric, float(row.ratio), float(value)))
                else:
                    missing.append(f"{row.tokenizer} {label}: {value if value is not None else 'missing'}")
        if found:
            points += found
            partial += missing
        elif board.rows:
            absent.append(label)
    notes = [f"no values for {', '.join(absent)} (not measured)"] if absent else []
    return points, notes + sorted(set(partial))


def _log_ticks(axis, ratios: list[float]) -> None:
    """Major ticks 1, 2, 5 x 10^k over at most two decades (else 10^k), labelled as plain numbers."""
    low, high = min(ratios), max(ratios)
    decades = math.log10(high / low) if low > 0 else 0.0
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    axis.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())
    # a little room either side so the end points and their labels are not on the frame
    axis.set_xlim(low / 1.3, high * 1.3)


def rate_distortion_figure(board: Leaderboard) -> tuple[Figure | None, list[Point], list[str]]:
    """(figure, drawn points, left-out notes); the figure is None when nothing can be drawn."""
    points, left_out = _points(board)
    metrics = [(m, label) for m, label in plot_metrics(board) if any(p.metric == m for p in points)]
    if not metrics:
        return None, points, left_out
    fig = Figure(figsize=(4.6 * len(metrics), 3.8))
    FigureCanvasAgg(fig)  # this figure's own raster canvas; matplotlib's backend setting untouched
    axes = fig.subplots(1, len(metrics), squeeze=False)
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    series_names = sorted({p.series for p in points})
    codec_series = {series_name(r) for r in board.rows if r.kind == "codec"}
    for axis, (metric, label) in zip(axes[0], metrics):
        for index, series in enumerate(series_names):
            mine = [p for p in points if p.metric == metric and p.series == series]
            if not mine:
                continue
            color = cycle[index % len(cycle)]
            xs, ys = [p.ratio for p in mine], [p.value for p in mine]
            if series in codec_series:
                axis.plot(xs, ys, "-o", color=color, markersize=4, label=series)
            else:
                axis.plot(xs, ys, ("--" if len(mine) > 1 else "") + "s", color=color, markersize=6, label=series)
            for p in mine:
                axis.annotate(p.tokenizer, (p.ratio, p.value), fontsize=6, xytext=(3, 3), textcoords="offset points")
        axis.set_xscale("log")
        _log_ticks(axis, [p.ratio for p in points if p.metric == metric])
        axis.set_xlabel("compression ratio (log)")
        axis.set_ylabel(label)
        axis.set_title(label)
        axis.grid(True, which="both", alpha=0.3)
    handles, labels = [], []
    for axis in axes[0]:
        for h, lab in zip(*axis.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(board.title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig, points, left_out


def plot_rate_distortion(board: Leaderboard, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write ``rd_<slug>.png``, ``.svg`` and ``.csv`` (the drawn points) into ``out_dir``.

    Returns (paths, left-out notes); paths is empty when no metric has a value to draw.
    """
    fig, points, left_out = rate_distortion_figure(board)
    if fig is None:
        return [], left_out
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    # svg.fonttype "none": labels stay text in the SVG (searchable, editable), not outlines
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for ext in ("png", "svg"):
            path = out_dir / f"rd_{board.slug}.{ext}"
            fig.savefig(path, dpi=110)
            paths.append(path)
    data = out_dir / f"rd_{board.slug}.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["series", "tokenizer", "metric", "compression_ratio", "value"])
        writer.writerows([p.series, p.tokenizer, p.metric, repr(p.ratio), repr(p.value)] for p in points)
    paths.append(data)
    return paths, left_out
