"""Rate-distortion plots: compression ratio (log x axis) against each metric, per dataset.

One figure per leaderboard (dataset, resolution, protocol), one panel per metric (rFID, PSNR,
SSIM, LPIPS). Points are grouped into families by the tokenizer's registry ``type``: a codec
family (a quality sweep) is drawn as a curve through its points ordered by ratio; any other
family is drawn as markers, joined by a dashed line when it has several members (e.g. WeTok at
several compression ratios). Values that cannot be drawn (missing, ``inf`` PSNR of a lossless
identity, no ratio) are left out and listed in the figure's caption text. Written as PNG and SVG
with matplotlib's Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from wetok_bench.report.leaderboard import Leaderboard  # noqa: E402

PLOT_METRICS = (("rfid", "rFID"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("lpips", "LPIPS"))


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def families(board: Leaderboard) -> dict[str, list]:
    """Rows grouped by family (tokenizer registry type), each sorted by compression ratio."""
    groups: dict[str, list] = {}
    for row in board.rows:
        groups.setdefault(row.family or row.name, []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r.ratio if _finite(r.ratio) else math.inf)
    return groups


def plot_rate_distortion(board: Leaderboard, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write ``rd_<slug>.png`` and ``.svg`` into ``out_dir``; returns (paths, left-out notes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(PLOT_METRICS), figsize=(4.2 * len(PLOT_METRICS), 3.6), squeeze=False)
    left_out: list[str] = []
    groups = families(board)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, (metric, label) in zip(axes[0], PLOT_METRICS):
        for index, (family, rows) in enumerate(sorted(groups.items())):
            points = []
            for row in rows:
                value = row.value(metric)
                if _finite(row.ratio) and row.ratio > 0 and _finite(value):
                    points.append((row.ratio, value, row))
                else:
                    left_out.append(f"{row.tokenizer} {label}: {value if value is not None else 'missing'}")
            if not points:
                continue
            color = cycle[index % len(cycle)]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            is_codec = all(p[2].kind == "codec" for p in points)
            if is_codec:
                axis.plot(xs, ys, "-o", color=color, markersize=4, label=family)
            else:
                style = "--" if len(points) > 1 else ""
                axis.plot(xs, ys, f"{style}s", color=color, markersize=6, label=family)
                for x, y, row in points:
                    axis.annotate(row.tokenizer, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        axis.set_xscale("log")
        axis.set_xlabel("compression ratio (log)")
        axis.set_ylabel(label)
        axis.set_title(label)
        axis.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for axis in axes[0][1:]:
        more_h, more_l = axis.get_legend_handles_labels()
        for h, l in zip(more_h, more_l):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(board.title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    paths = []
    # svg.fonttype "none": labels stay text in the SVG (searchable, editable), not outlines
    with plt.rc_context({"svg.fonttype": "none"}):
        for ext in ("png", "svg"):
            path = out_dir / f"rd_{board.slug}.{ext}"
            fig.savefig(path, dpi=110)
            paths.append(path)
    plt.close(fig)
    return paths, sorted(set(left_out))
