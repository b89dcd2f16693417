"""Build a report folder from result folders: ``wetok-bench report RESULTS... --out DIR``.

Written into ``out_dir``::

    index.html                    everything below in one self-contained page
    leaderboards/<group>.md|.csv|.tex   one leaderboard per dataset, resolution and protocol
    leaderboard.md                all leaderboards in one Markdown file
    paper_tables.md|.tex          measured beside published (when a baselines folder is found)
    conventions.md                one job under every protocol it was measured under (:mod:`.conventions`)
    pairwise.md                   each pair of jobs of a leaderboard: paired differences, resolved or not (:mod:`.pairwise`)
    categories/<group>.csv        COCO per-category and per-supercategory means (:mod:`.categories`)
    bd/<group>.md                 Bjontegaard delta of each rate-distortion curve against JPEG (:mod:`.bd_table`)
    plots/rd_<group>.png|.svg|.csv   rate-distortion figures and the points they draw
    plots/cycles_<group>.png|.csv    metric against re-encoding cycle (:mod:`.cycles`; ``cycles: K`` > 1)
    grids/<group>__fixed.png      the fixed images: original beside every tokenizer, zoomed crops
    grids/<group>__worst.png      the images worst across tokenizers (:mod:`.worst`), same layout
    report_files.json             the files above, removed by the next report into the folder
"""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from typing import Iterable

from wetok_bench.core.errors import UsageError
from wetok_bench.report import tables
from wetok_bench.report.bd_table import bd_table
from wetok_bench.results.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from wetok_bench.report.categories import category_csv, category_frame, supercategory_tables
from wetok_bench.report.cycles import cycles_section
from wetok_bench.report.compare import compare_view
from wetok_bench.report.conventions import conventions_tables
from wetok_bench.report.grids import comparison_grid
from wetok_bench.report.html import Section, render_page
from wetok_bench.report.leaderboard import Leaderboard, build_leaderboards, columns_for
from wetok_bench.report.manifest import record_written, remove_previous
from wetok_bench.report.pairwise import pairwise_table
from wetok_bench.report.paper import build_paper_tables, paper_table, pending_notes
from wetok_bench.report.plots import plot_rate_distortion
from wetok_bench.report.worst import grid_columns, shown_rows, worst_across
from wetok_bench.results.baselines import PublishedSet, load_published
from wetok_bench.results.grid_files import load_grid_images
from wetok_bench.results.records import atomic_write_text, load_results


def _write(path: Path, text: str) -> None:
    """Write atomically, with the mode a plain ``open()`` would give (results.atomic_write_text)."""
    atomic_write_text(path, text)


def default_baselines_dir() -> Path | None:
    """The project's ``baselines/`` folder when running from a source checkout, else None."""
    candidate = Path(__file__).resolve().parents[2] / "baselines"
    return candidate if candidate.is_dir() else None


MAX_GRID_ROWS = 8
#: Leaderboard order without ``--sort-by``: most compressed first, so each tokenizer sits beside
#: the codec qualities of similar size (alphabetical order mixes them).
DEFAULT_SORT = "-ratio"


def _order_note(board: Leaderboard, order: str) -> str:
    """What the rows are ordered by, in words (the direction rule of ``sort_leaderboard``)."""
    column = next(c for c in board.columns if c.key == order.lstrip("-"))
    descending = bool(column.higher_is_better) != order.startswith("-")
    if column.numeric:
        direction = "highest first" if descending else "lowest first"
    else:
        direction = "Z to A" if descending else "A to Z"
    return f"Rows by {column.header}, {direction} (missing values last); click a header to sort, or pass --sort-by."


def _grid_sections(boards: list[Leaderboard], out_dir: Path) -> Section:
    """Figures composed from each job's saved grid images (see :mod:`.grids`)."""
    section = Section("Reconstruction grids", "grids", wide=True)
    grids_dir = out_dir / "grids"
    for board in boards:
        loaded = []
        for row in board.rows:
            rank_metric, images = load_grid_images(row.job.folder)
            if images:
                loaded.append((row, rank_metric, images))
        loaded = shown_rows(loaded)  # identity reconstructs the original: nothing to see
        if not loaded:
            continue
        grids_dir.mkdir(parents=True, exist_ok=True)
        order = "columns left to right: original, " + ", ".join(row.tokenizer for row, _, _ in loaded)
        # fixed set: the same keys in every job that saved grids, side by side
        fixed_keys = [g.key for g in loaded[0][2] if g.fixed]
        for _, _, images in loaded[1:]:
            present = {g.key for g in images if g.fixed}
            fixed_keys = [k for k in fixed_keys if k in present]
        fixed_keys = fixed_keys[:MAX_GRID_ROWS]
        if fixed_keys:
            lookup = [{g.key: g for g in images} for _, _, images in loaded]
            sizes = {lookup[j][k].recon.shape for j in range(len(loaded)) for k in fixed_keys}
            if len(sizes) == 1:
                figure = comparison_grid(
                    [lookup[0][k].original for k in fixed_keys],
                    [(row.tokenizer, [lookup[j][k].recon for k in fixed_keys]) for j, (row, _, _) in enumerate(loaded)],
                )
                path = grids_dir / f"{board.slug}__fixed.png"
                figure.save(path, optimize=True)
                section.figures.append((path, f"{board.title}: fixed images {', '.join(fixed_keys)}; {order}; "
                                        "zoomed crops below (red box: the window)."))
        # one worst-k grid: the images worst across tokenizers, every tokenizer beside them
        rank_metric, worst = worst_across(loaded)
        worst = worst[:MAX_GRID_ROWS]
        # the compare view: any of these images, any tokenizer, original against it, enlarged
        keys = list(dict.fromkeys([*fixed_keys, *(w.key for w in worst)]))
        if keys:
            originals, columns, _ = grid_columns(loaded, keys)
            if len({image.shape for image in originals}) == 1:
                section.fragments.append(compare_view(f"{board.title}: compare", keys, originals, columns))
        if worst:
            originals, columns, lacking = grid_columns(loaded, [w.key for w in worst])
            path = grids_dir / f"{board.slug}__worst.png"
            comparison_grid(originals, columns).save(path, optimize=True)
            listed = "; ".join(f"{w.key} (in the saved worst of {w.flagged} of {len(loaded)} tokenizers; "
                               + (f"mean rank {w.mean_rank:.2f})" if w.tokenizers else "not in per_image.csv)")
                               for w in worst)
            caption = (f"{board.title}: the {len(worst)} images worst across tokenizers by {rank_metric} "
                       f"(each job's images ranked worst first, scaled to 0..1, averaged): {listed}; {order}.")
            if lacking:
                caption += " Grey: not saved by " + ", ".join(lacking) + "."
            section.figures.append((path, caption))
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
            reverses); quality metrics sort best first. Default :data:`DEFAULT_SORT`
            (compression ratio, highest first); the order is stated under each table.
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
    before = remove_previous(out)  # the previous report's files, and only those
    order = sort_by or DEFAULT_SORT
    boards = build_leaderboards(jobs, sort_by=order, n_resamples=n_resamples, seed=seed)
    for board in boards:
        board.notes.insert(0, _order_note(board, order))

    board_section = Section("Leaderboards", "leaderboards")
    plot_section = Section("Rate-distortion", "rate-distortion")
    category_section = Section("Per category", "categories")
    bd_section = Section("Bjontegaard delta", "bjontegaard")
    all_md = []
    for board in boards:
        table = tables.leaderboard_table(board)
        stem = out / "leaderboards" / board.slug
        _write(stem.with_suffix(".md"), tables.to_markdown(table))
        _write(stem.with_suffix(".csv"), tables.to_csv(board))
        _write(stem.with_suffix(".tex"), tables.to_latex(table))
        all_md.append(tables.to_markdown(table))
        # the page: the metrics beside each tokenizer, then its codes and cost (fits a 1,400 px page)
        board_section.fragments.append(tables.to_html(tables.leaderboard_table(board, "main")))
        if len(board.columns) > len([c for c in board.columns if not c.detail]) + 1:
            board_section.fragments.append(tables.to_html(tables.leaderboard_table(board, "details")))
        categories = category_frame(board)  # COCO: per-category means
        if categories is not None:
            _write((out / "categories" / board.slug).with_suffix(".csv"), category_csv(categories))
            category_section.fragments.extend(tables.to_html(t) for t in supercategory_tables(board, categories))
        bd = bd_table(board)  # BD-rate / BD-PSNR of each curve against the JPEG sweep
        if bd is not None:
            _write((out / "bd" / board.slug).with_suffix(".md"), tables.to_markdown(bd))
            bd_section.fragments.append(tables.to_html(bd))
        plot_paths, left_out = plot_rate_distortion(board, out / "plots")
        if not plot_paths:
            plot_section.fragments.append(f"<p>{board.title}: nothing to draw ({'; '.join(left_out)}).</p>")
            continue
        caption = (f"{board.title}: compression ratio (log) against each metric; one line per codec format "
                   "(quality sweep) and per tokenizer family, every point named.")
        if left_out:
            caption += " Not drawn: " + "; ".join(left_out) + "."
        plot_section.figures.append((plot_paths[0], caption))
    _write(out / "leaderboard.md", "\n".join(all_md))

    pairwise_section = Section("Pairwise", "pairwise")  # is A better than B, or is it noise?
    pairwise = [t for t in (pairwise_table(b, n_resamples=n_resamples, seed=seed) for b in boards) if t is not None]
    if pairwise:
        _write(out / "pairwise.md", "\n".join(tables.to_markdown(t) for t in pairwise))
        pairwise_section.fragments.extend(tables.to_html(t) for t in pairwise)

    paper_section = Section("Paper tables", "paper-tables")
    base = Path(baselines_dir) if baselines_dir is not None else default_baselines_dir()
    if base is None:
        paper_section.fragments.append("<p>No baselines folder given: paper tables left out.</p>")
    else:
        published: PublishedSet = load_published(base)
        rows = [row for board in boards for row in board.rows]
        # only the tables a job matches (dataset and resolution, per protocol measured)
        paper = [paper_table(t, with_pending=False) for t in build_paper_tables(rows, published, measured_only=True)]
        pending = pending_notes(list(published.pending))
        if paper:
            _write(out / "paper_tables.md", "\n".join(tables.to_markdown(t) for t in paper)
                   + "".join(f"\n- {n}" for n in pending) + "\n")
            _write(out / "paper_tables.tex", "\n".join(tables.to_latex(t) for t in paper))
            paper_section.fragments.extend(tables.to_html(t) for t in paper)
            if pending:
                paper_section.fragments.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in pending) + "</ul>")
        else:
            paper_section.fragments.append(
                "<p>No job ran on a dataset of the published tables (ImageNet-1k val, MS-COCO val2017) at their "
                "resolution, so there is nothing to set beside published numbers.</p>")

    convention_section = Section("Conventions", "conventions")
    conventions = conventions_tables(jobs)  # one job under several protocols: what each convention changes
    if conventions:
        _write(out / "conventions.md", "\n".join(tables.to_markdown(t) for t in conventions))
        convention_section.fragments.extend(tables.to_html(t) for t in conventions)

    if not bd_section.fragments:
        bd_section.fragments.append("<p>No rate-distortion curve with 4 or more points: no Bjontegaard delta.</p>")
    intro = [
        f"Generated {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from "
        + ", ".join(str(p) for p in paths) + f" ({len(jobs)} jobs).",
        "Click a column header to sort. Files beside this page: leaderboards/*.md|csv|tex, "
        "paper_tables.md|tex, plots/*.png|svg|csv, grids/*.png.",
    ]
    cycles = cycles_section(boards, out)  # re-encoding stability (suite setting cycles: K > 1)
    sections = [board_section, *([pairwise_section] if pairwise else []),
                *([category_section] if category_section.fragments else []), paper_section,
                *([convention_section] if conventions else []),
                plot_section, *([cycles] if cycles else []), bd_section, _grid_sections(boards, out)]
    index = out / "index.html"
    _write(index, render_page("wetok-bench report", intro, sections))
    record_written(out, before)
    return index
