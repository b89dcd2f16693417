"""Build a report folder from result folders: ``wetok-bench report RESULTS... --out DIR``.

Written into ``out_dir``::

    index.html                    everything below in one self-contained page
    leaderboards/<group>.md|.csv|.tex   one leaderboard per dataset, resolution and protocol
    leaderboard.md                all leaderboards in one Markdown file
    paper_tables.md|.tex          measured beside published (when a baselines folder is found)
    plots/rd_<group>.png|.svg     rate-distortion figures
    grids/<group>__<grid>.png     originals beside every tokenizer's reconstruction
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Iterable

from wetok_bench.baselines import PublishedSet, load_published
from wetok_bench.errors import UsageError
from wetok_bench.report import tables
from wetok_bench.report.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from wetok_bench.report.grids import compose_comparison, read_grid
from wetok_bench.report.html import Section, render_page
from wetok_bench.report.leaderboard import Leaderboard, build_leaderboards, columns_for
from wetok_bench.report.paper import build_paper_tables, paper_table
from wetok_bench.report.plots import plot_rate_distortion
from wetok_bench.results import atomic_write_text, load_results


def default_baselines_dir() -> Path | None:
    """The project's ``baselines/`` folder when running from a source checkout, else None."""
    candidate = Path(__file__).resolve().parents[2] / "baselines"
    return candidate if candidate.is_dir() else None


def _grid_sections(boards: list[Leaderboard], out_dir: Path) -> Section:
    section = Section("Reconstruction grids", "grids")
    grids_dir = out_dir / "grids"
    for board in boards:
        by_name: dict[str, list[tuple[str, Path]]] = {}
        for row in board.rows:
            for png in sorted((row.job.folder / "grids").glob("*.png")):
                if png.with_suffix(".json").is_file():
                    by_name.setdefault(png.stem, []).append((row.tokenizer, png))
        for name, grids in sorted(by_name.items()):
            composed = compose_comparison(grids)
            if composed is not None:
                grids_dir.mkdir(parents=True, exist_ok=True)
                path = grids_dir / f"{board.slug}__{name}.png"
                composed.save(path, optimize=True)
                section.figures.append((path, f"{board.title}: grid '{name}', original beside each tokenizer"))
            for label, png in grids:
                _, meta = read_grid(png)
                scores = meta.get("scores")
                listed = ", ".join(
                    f"{k} ({meta.get('score_name', 'score')} {s:.4f})" if scores else k
                    for k, s in zip(meta["keys"], scores or [None] * len(meta["keys"]))
                )
                caption = (
                    f"{board.title} - {label}: grid '{name}' {meta.get('title', '')}; columns: "
                    + ", ".join(meta["columns"]) + f"; zoom x{meta['zoom']} on the window of largest error; images: {listed}"
                )
                section.figures.append((png, caption))
    if not section.figures:
        section.fragments.append("<p>No reconstruction grids in these results (the suite did not ask for any).</p>")
    return section


def build_report(
    results_paths: Iterable[str | Path],
    out_dir: str | Path,
    *,
    sort_by: str | None = None,
    baselines_dir: str | Path | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Write the report into ``out_dir`` and return the path of its ``index.html``.

    Args:
        results_paths: result folders (a suite folder, job folders, or any folder above them).
        out_dir: the report folder (created).
        sort_by: leaderboard column key to sort by (``psnr``, ``ratio``, ...; ``-key``
            reverses); quality metrics sort best first.
        baselines_dir: folder of published numbers for the paper tables; default: the
            project's ``baselines/`` when found.
        n_resamples, seed: bootstrap settings for the intervals.
    """
    paths = [Path(p) for p in results_paths]
    jobs = load_results(paths)
    if sort_by is not None:
        known = [c.key for c in columns_for(jobs)]
        if sort_by.lstrip("-") not in known:
            raise UsageError(f"--sort-by {sort_by!r}: columns are {', '.join(known)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    boards = build_leaderboards(jobs, sort_by=sort_by, n_resamples=n_resamples, seed=seed)

    board_section = Section("Leaderboards", "leaderboards")
    plot_section = Section("Rate-distortion", "rate-distortion")
    all_md = []
    for board in boards:
        table = tables.leaderboard_table(board)
        stem = out / "leaderboards" / board.slug
        atomic_write_text(stem.with_suffix(".md"), tables.to_markdown(table))
        atomic_write_text(stem.with_suffix(".csv"), tables.to_csv(board))
        atomic_write_text(stem.with_suffix(".tex"), tables.to_latex(table))
        all_md.append(tables.to_markdown(table))
        board_section.fragments.append(tables.to_html(table))
        plot_paths, left_out = plot_rate_distortion(board, out / "plots")
        caption = f"{board.title}: compression ratio (log) against each metric; codec sweeps as curves, tokenizers as points."
        if left_out:
            caption += " Not drawn (not finite): " + "; ".join(left_out) + "."
        plot_section.figures.append((plot_paths[0], caption))
    atomic_write_text(out / "leaderboard.md", "\n".join(all_md))

    paper_section = Section("Paper tables", "paper-tables")
    base = Path(baselines_dir) if baselines_dir is not None else default_baselines_dir()
    if base is None:
        paper_section.fragments.append("<p>No baselines folder given: paper tables left out.</p>")
    else:
        published: PublishedSet = load_published(base)
        rows = [row for board in boards for row in board.rows]
        paper = [paper_table(t) for t in build_paper_tables(rows, published)]
        atomic_write_text(out / "paper_tables.md", "\n".join(tables.to_markdown(t) for t in paper))
        atomic_write_text(out / "paper_tables.tex", "\n".join(tables.to_latex(t) for t in paper))
        paper_section.fragments.extend(tables.to_html(t) for t in paper)

    intro = [
        f"Generated {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from "
        + ", ".join(str(p) for p in paths) + f" ({len(jobs)} jobs).",
        "Click a column header to sort. Files beside this page: leaderboards/*.md|csv|tex, "
        "paper_tables.md|tex, plots/*.png|svg, grids/*.png.",
    ]
    sections = [board_section, paper_section, plot_section, _grid_sections(boards, out)]
    index = out / "index.html"
    atomic_write_text(index, render_page("wetok-bench report", intro, sections))
    return index
