"""Re-encoding stability figure: each metric against the re-encoding cycle, one line per tokenizer.

Drawn from the ``cycles`` list of each job's ``summary.json`` (suite setting ``cycles: K`` > 1;
cycle 1 is the job's own reconstruction, cycle k the reconstruction re-encoded k - 1 times,
every cycle scored against the original). One figure per leaderboard with such jobs, one panel
per metric that has a value: ``plots/cycles_<slug>.png`` and ``.csv`` (tokenizer, metric, cycle,
value: the drawn points). Infinite values (a lossless PSNR) are not drawn.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # drawn without pyplot: matplotlib's backend setting untouched

from wetok_bench.metrics.registry import summary_keys
from wetok_bench.report.html import Section
from wetok_bench.report.leaderboard import Leaderboard


def cycle_metrics() -> list[tuple[str, str]]:
    """(key, header) of the metrics drawn against the cycle: the registry's summary keys."""
    return [(key.name, key.header) for key in summary_keys()]


def cycle_points(board: Leaderboard) -> list[tuple[str, str, int, float]]:
    """(tokenizer, metric, cycle, value) of every job of the board with more than one cycle."""
    points = []
    for row in board.rows:
        cycles = row.job.summary.get("cycles") or []
        if len(cycles) < 2:
            continue
        for entry in cycles:
            for metric, _ in cycle_metrics():
                value = entry.get(metric)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    points.append((row.tokenizer, metric, int(entry["cycle"]), float(value)))
    return points


def plot_cycles(board: Leaderboard, out_dir: Path) -> list[Path]:
    """Write ``cycles_<slug>.png`` and ``.csv``; [] when no job of the board has cycles."""
    points = cycle_points(board)
    metrics = [(m, label) for m, label in cycle_metrics() if any(p[1] == m for p in points)]
    if not metrics:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(4.2 * len(metrics), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), squeeze=False)
    tokenizers = sorted({p[0] for p in points})
    for axis, (metric, label) in zip(axes[0], metrics):
        for name in tokenizers:
            mine = sorted((c, v) for t, m, c, v in points if t == name and m == metric)
            if mine:
                axis.plot([c for c, _ in mine], [v for _, v in mine], "-o", markersize=4, label=name)
        axis.set_xlabel("re-encoding cycle")
        axis.set_ylabel(label)
        axis.set_title(label)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(f"{board.title}: re-encoding stability", fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 0.94))
    png = out_dir / f"cycles_{board.slug}.png"
    fig.savefig(png, dpi=110)
    data = out_dir / f"cycles_{board.slug}.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["tokenizer", "metric", "cycle", "value"])
        writer.writerows([t, m, c, repr(v)] for t, m, c, v in points)
    return [png, data]


def cycles_section(boards: list[Leaderboard], out: Path) -> Section | None:
    """The report's "Re-encoding stability" section (None when no job has cycles)."""
    section = Section("Re-encoding stability", "cycles")
    for board in boards:
        paths = plot_cycles(board, out / "plots")
        if paths:
            section.figures.append((paths[0], f"{board.title}: each metric against the re-encoding cycle "
                                               "(cycle 1: the reconstruction; cycle k: re-encoded k - 1 times, "
                                               "as the saved uint8 image), scored against the original."))
    return section if section.figures else None
