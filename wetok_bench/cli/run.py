"""``wetok-bench run SUITE``: every job of a suite, one streaming pass each (or ``--dry-run``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from wetok_bench.cli.group import cli
from wetok_bench.config.settings import help_text


@cli.command()
@click.argument("suite_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--only", multiple=True, help="Run only jobs whose tokenizer, dataset or job id matches (glob; repeatable).")
@click.option("--num-images", type=click.IntRange(min=1),
              help=f"Overrides the suite's num_images (recorded): {help_text('num_images')}.")
@click.option("--device", help=f"Overrides the suite's device: {help_text('device')}.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help=f"Overrides the suite's output: {help_text('output')}.")
@click.option("--dry-run", is_flag=True,
              help="Validate, print the jobs with their weights and data, and stop (exit 1 when anything is missing).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--force", is_flag=True, help="Measure every selected job again, even finished ones with an unchanged fingerprint.")
def run(suite_file, only, num_images, device, out, dry_run, quiet, force) -> None:
    """Run SUITE_FILE: every (tokenizer, dataset, resolution) job, one streaming pass each."""
    from wetok_bench.config.suite import load_suite
    from wetok_bench.engine import format_table, run_suite
    from wetok_bench.engine.plan import dry_run as plan_dry_run

    suite = load_suite(suite_file)
    if dry_run:
        plan = plan_dry_run(suite, only, num_images)
        click.echo(plan.text)
        sys.exit(1 if plan.missing else 0)  # a pre-flight check: anything missing fails it
    report = run_suite(suite, only=only, num_images=num_images, device=device, out=out, progress=not quiet, force=force)
    if report.outcomes and _is_main_process():
        click.echo(format_table(report.outcomes))
        click.echo(f"results: {report.out_dir}")
    sys.exit(report.exit_code)


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"
