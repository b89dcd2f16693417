"""The `wetok-bench` command line: a thin layer over the library.

Every command turns its flags into a call of one library function. Errors the user can act on
(:class:`~wetok_bench.errors.WetokBenchError`) print one short line (long messages: then their
details, indented) and exit with their code (2 = unusable input); ``--debug`` (or
``WETOK_BENCH_DEBUG=1``) shows the traceback instead. Library modules report diagnostics through
``logging.getLogger(__name__)``; the CLI prints them on stderr as ``warning: ...`` lines, and
``--debug`` adds the DEBUG level (a failed job's full traceback among them).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from wetok_bench import __version__
from wetok_bench.cli_logging import configure_logging
from wetok_bench.errors import WetokBenchError, format_error
from wetok_bench.settings import DEFAULTS, help_text


class _Group(click.Group):
    """A click group that turns library errors into one line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WetokBenchError as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(format_error(str(error)), err=True)
            sys.exit(error.exit_code)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {error.strerror}: {error.filename}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:  # output piped into `head` and the like
            sys.stderr = open(os.devnull, "w")
            sys.exit(0)
        except Exception as error:  # noqa: BLE001 - the last resort keeps the one-line promise
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(format_error(f"{type(error).__name__}: {error} (rerun with --debug for the traceback)",
                                    prefix="internal error: "), err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wetok-bench")
@click.option("--debug", is_flag=True, envvar="WETOK_BENCH_DEBUG",
              help="Show tracebacks (a failed job's too) and debug messages [env WETOK_BENCH_DEBUG=1].")
def cli(debug: bool) -> None:
    """Evaluate image tokenizers: rFID, PSNR, SSIM and LPIPS under a named metric protocol."""
    configure_logging(debug)


# --- score -------------------------------------------------------------------------------


@cli.command()
@click.argument("ref_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("recon_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--protocol", default=DEFAULTS["protocol"], show_default=True, help="Metric protocol: standard | wetok.")
@click.option(
    "--metrics", default=",".join(DEFAULTS["metrics"]), show_default=True, help="Comma-separated metrics to compute."
)
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=Path), help="Inception weights file.")
@click.option(
    "--lpips-weights",
    multiple=True,
    help="LPIPS backbone state dict (torchvision AlexNet/VGG; the linear heads ship with lpips): "
    "PATH, or NET=PATH once per backbone (protocol wetok uses alex and vgg).",
)
@click.option("--device", default=DEFAULTS["device"], show_default=True, help="auto | cpu | cuda[:N].")
@click.option("--batch-size", default=DEFAULTS["batch_size"], show_default=True, type=click.IntRange(min=1),
              help="Images per batch.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output JSON.")
@click.option("--strict", is_flag=True, help="An unreadable image is an error (default: skipped, recorded and named).")
@click.option(
    "--on-missing-weights",
    type=click.Choice(["error", "skip"]),
    default=DEFAULTS["on_missing_weights"],
    show_default=True,
    help="skip: leave out metrics whose weights are missing (recorded in the output), as `run` does.",
)
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a results job folder under this folder (as `run` writes; `report` and `check` read it).")
@click.option("--kid-subset-size", type=click.IntRange(min=2), help="KID: images per subset [default: 1000].")
@click.option("--name", help="Tokenizer name of the --results job [default: RECON_DIR's folder name].")
@click.option("--dataset", help="Dataset name of the --results job [default: REF_DIR's folder name].")
def score(ref_dir, recon_dir, protocol, metrics, inception_weights, lpips_weights, device, batch_size, out,
          strict, on_missing_weights, results_dir, kid_subset_size, name, dataset) -> None:
    """Score reconstructions in RECON_DIR against originals in REF_DIR (paired by relative path, extension ignored)."""
    from wetok_bench.scoring import score_folders
    from wetok_bench.skips import format_skipped

    result = score_folders(
        ref_dir,
        recon_dir,
        protocol=protocol,
        metrics=[m.strip() for m in metrics.split(",") if m.strip()],
        inception_weights=inception_weights,
        lpips_weights=_lpips_weights_option(lpips_weights),
        device=device,
        batch_size=batch_size,
        out=out,
        strict=strict,
        on_missing_weights=on_missing_weights,
        metric_settings={"kid": {"subset_size": kid_subset_size}} if kid_subset_size else None,
    )
    click.echo(json.dumps(result["means"], indent=2, default=str))
    for metric, reason in result["skipped_metrics"].items():
        click.echo(f"warning: {metric} skipped: {reason}", err=True)
    if result["skipped_files"]:
        click.echo(f"warning: {format_skipped(result['skipped_files'], total=result['counts']['pairs'])}", err=True)
    for line in result["warnings"]:
        click.echo(f"warning: {line}", err=True)
    if results_dir is not None:
        from wetok_bench.score_records import write_score_job

        click.echo(f"results: {write_score_job(result, results_dir, name=name, dataset=dataset)}")


def _lpips_weights_option(values: tuple[str, ...]) -> Path | dict[str, Path] | None:
    """``--lpips-weights`` values: one PATH, or NET=PATH per backbone."""
    if not values:
        return None
    named = {}
    for value in values:
        net, sep, path = value.partition("=")
        if sep and net in ("alex", "vgg"):
            named[net] = Path(path)
        elif len(values) == 1:
            return Path(value)
        else:
            raise click.BadParameter(f"{value!r}: with several files, write NET=PATH (NET: alex or vgg)")
    return named


# --- run ---------------------------------------------------------------------------------


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
    from wetok_bench.run import format_table, run_suite
    from wetok_bench.run.plan import dry_run as plan_dry_run
    from wetok_bench.suite import load_suite

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
    import os

    return os.environ.get("RANK", "0") == "0"


# --- list / doctor ------------------------------------------------------------------------


@cli.group("list")
def list_group() -> None:
    """List tokenizers, datasets, protocols and shipped suites."""


@list_group.command("tokenizers")
def list_tokenizers() -> None:
    """Registered tokenizer types and known model cards, with their local availability."""
    from wetok_bench.tokenizers.cards import known_cards
    from wetok_bench.tokenizers.registry import alias_of, tokenizer_declaration, tokenizer_types

    click.echo("tokenizer types and their parameters:")
    for name in tokenizer_types():
        if alias_of(name):
            click.echo(f"  {name:16s} alias of {alias_of(name)}")
            continue
        click.echo(f"  {name}")
        try:
            lines = tokenizer_declaration(name).describe()
        except (ImportError, WetokBenchError) as error:
            lines = [f"(cannot load: {error})"]
        click.echo("".join(f"      {line}\n" for line in lines or ["(no parameters)"]), nl=False)
    click.echo("model cards:")
    cards = sorted(known_cards().values(), key=lambda c: (c.type, c.name))
    width = max((len(card.name) for card in cards), default=0)
    for card in cards:
        click.echo(f"  {card.name:{width}s} {card.type:14s} {_card_state(card):9s} {card.source}")


def _card_state(card) -> str:
    """``present`` / ``missing`` for checkpoints on the Hugging Face hub (looked up locally only)."""
    from wetok_bench.weights import checkpoint_present

    if not card.source.startswith("hf://"):
        return "-"
    return "present" if checkpoint_present(card.source) else "missing"


@list_group.command("protocols")
def list_protocols() -> None:
    """Metric protocols with their settings and fingerprints."""
    from wetok_bench.protocols import PROTOCOLS

    for protocol in PROTOCOLS.values():
        click.echo(f"{protocol.name} v{protocol.version} [{protocol.fingerprint[:12]}]: {protocol.notes}")
        for key, value in protocol.to_dict().items():
            if key not in ("name", "version"):
                click.echo(f"    {key}: {value}")


@list_group.command("metrics")
def list_metrics() -> None:
    """Registered metrics (built-in and plug-in): level, direction, result keys, weights."""
    from wetok_bench.metrics import registry

    for name in registry.metric_names():
        cls = registry.get_metric(name)
        keys = ", ".join(k.name for k in cls.result_keys())
        settings = f"; settings: {cls.settings_key}" if cls.settings_key else ""
        click.echo(f"{name} ({cls.level}, {'higher' if cls.higher_is_better else 'lower'} is better) -> {keys}{settings}")
        click.echo(f"    {cls.description}")


@list_group.command("datasets")
def list_datasets() -> None:
    """Dataset types and their parameters."""
    from wetok_bench.data.registry import dataset_declaration, dataset_types

    for name in dataset_types():
        click.echo(name)
        try:
            lines = dataset_declaration(name).describe()
        except (ImportError, WetokBenchError) as error:  # a broken plug-in: named, the others still listed
            lines = [f"(cannot load: {error})"]
        click.echo("".join(f"    {line}\n" for line in lines or ["(no parameters)"]), nl=False)


@list_group.command("suites")
def list_suites() -> None:
    """Suite files shipped in ./suites."""
    for path in sorted(Path("suites").glob("*.yaml")):
        click.echo(str(path))


@cli.command()
def doctor() -> None:
    """Environment report: versions, devices, folders, and which weights are present."""
    import torch

    from wetok_bench import weights as w
    from wetok_bench.run.versions import git_commit, library_versions

    for name, version in library_versions().items():
        click.echo(f"{name:16s} {version}")
    click.echo(f"{'git commit':16s} {git_commit() or '-'}")
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    click.echo(f"{'cuda':16s} {', '.join(gpus) or 'not available (runs on the CPU)'}")
    click.echo(f"{'torch threads':16s} {torch.get_num_threads()}")
    click.echo(f"{'home':16s} {w.home_dir()}")
    click.echo(f"{'weights folder':16s} {w.weights_dir()}")
    click.echo(f"{'downloads':16s} {'disabled (offline switch set)' if w.offline() else 'allowed when the network answers'}")
    for spec in w.KNOWN_WEIGHTS.values():
        click.echo(f"  {spec.name:24s} {'present' if w.find_local(spec) else 'corrupt' if w.corrupt_copies(spec) else 'missing'}")


# --- weights -----------------------------------------------------------------------------


@cli.group()
def weights() -> None:
    """Weights files the harness knows: what is present, and fetching the rest."""


@weights.command("list")
def weights_list() -> None:
    """Show every known weights file and where it was found (or how to get it)."""
    from wetok_bench import weights as w

    click.echo(f"weights folder: {w.weights_dir()}")
    for spec in w.KNOWN_WEIGHTS.values():
        found = w.find_local(spec)
        corrupt = [] if found else w.corrupt_copies(spec)
        state = (f"present  {found}" if found else f"CORRUPT  {corrupt[0][0]} (sha256 {corrupt[0][1]}, expected "
                 f"{w.expected_checksum(spec)})" if corrupt else f"MISSING  {spec.url}")
        click.echo(f"{spec.name:24s} {state}\n{'':24s} used by: {spec.used_by}")


@weights.command("fetch")
@click.argument("names", nargs=-1, required=True)
def weights_fetch(names: tuple[str, ...]) -> None:
    """Download weights NAMES (or groups: taef2, lpips, inception, all) into the weights folder."""
    from wetok_bench import weights as w

    failed = 0
    for name in w.expand_names(list(names)):
        spec = w.get_weights_file(name)
        found = w.find_local(spec)
        if found:
            click.echo(f"{name}: already present at {found}")
            continue
        if w.offline():
            failed += 1
            click.echo(f"{name}: FAILED (downloads disabled by WETOK_BENCH_OFFLINE / HF_HUB_OFFLINE); "
                       f"{w.unavailable_message(spec)}", err=True)
            continue
        try:
            click.echo(f"{name}: fetched to {w.fetch(spec)}")
        except OSError as error:
            failed += 1
            click.echo(f"{name}: FAILED ({error}); {w.unavailable_message(spec)}", err=True)
    if failed:
        sys.exit(1)


# --- report ------------------------------------------------------------------------------


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
@click.option(
    "--summary-md",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).",
)
def check(results_dirs, baseline, record, tolerances, summary_md) -> None:
    """Compare RESULTS_DIRS with a recorded baseline (exit 0 hold, 1 regression, 2 unusable input)."""
    from wetok_bench.check import check_results, parse_tolerances
    from wetok_bench.record_baseline import record_baseline
    from wetok_bench.errors import UsageError

    if (baseline is None) == (record is None):
        raise UsageError("give exactly one of --baseline FILE (compare) or --record FILE (write a baseline)")
    if record is not None:
        click.echo(f"baseline recorded: {record_baseline(list(results_dirs), record)}")
        return
    outcome = check_results(list(results_dirs), baseline, tolerances=parse_tolerances(tolerances))
    click.echo(outcome.to_text(), nl=False)
    if summary_md is not None:
        summary_md.parent.mkdir(parents=True, exist_ok=True)
        with open(summary_md, "a", encoding="utf-8") as handle:
            handle.write(outcome.to_markdown())
    sys.exit(outcome.exit_code)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="wetok-bench")


if __name__ == "__main__":
    main()
