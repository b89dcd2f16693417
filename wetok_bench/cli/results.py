"""``wetok-bench report`` and ``check``: the commands that read results folders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wetok_bench.cli.group import cli


@cli.command()
@click.argument("results_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@click.option("--sort-by", default=None, help="Leaderboard column to sort by (psnr, rfid, ratio, ...; '-col' reverses).")
@click.option(
    "--baselines",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of published numbers for the paper tables [default: the project's baselines/].",
)
def report(results_dirs, out, sort_by, baselines) -> None:
    """Write leaderboards, paper tables, plots, grids and index.html for RESULTS_DIRS."""
    from wetok_bench.report.build import build_report

    index = build_report(list(results_dirs), out, sort_by=sort_by, baselines_dir=baselines)
    click.echo(f"report written: {index}")


# --- check -------------------------------------------------------------------------------


@cli.command()
@click.argument("results_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), help="Recorded baseline to compare with.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), help="Write a new baseline (.json/.yaml).")
@click.option("--tolerance", "tolerances", multiple=True, metavar="METRIC=ABS[,REL]", help="Override a tolerance.")
@click.option("--significance", type=float, default=None, metavar="ALPHA",
              help="A per-image metric's regression must also be significant: paired Wilcoxon p < ALPHA on the "
                   "baseline's images (e.g. 0.05).")
@click.option(
    "--summary-md",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).",
)
def check(results_dirs, baseline, record, tolerances, significance, summary_md) -> None:
    """Compare RESULTS_DIRS with a recorded baseline (exit 0 hold, 1 regression, 2 unusable input)."""
    from wetok_bench.commands.check import check_results, parse_tolerances
    from wetok_bench.commands.record import record_baseline
    from wetok_bench.core.errors import UsageError

    if (baseline is None) == (record is None):
        raise UsageError("give exactly one of --baseline FILE (compare) or --record FILE (write a baseline)")
    if record is not None:
        click.echo(f"baseline recorded: {record_baseline(list(results_dirs), record)}")
        return
    outcome = check_results(list(results_dirs), baseline, tolerances=parse_tolerances(tolerances),
                            significance=significance)
    click.echo(outcome.to_text(), nl=False)
    if summary_md is not None:
        summary_md.parent.mkdir(parents=True, exist_ok=True)
        with open(summary_md, "a", encoding="utf-8") as handle:
            handle.write(outcome.to_markdown())
    sys.exit(outcome.exit_code)
