"""The `wetok-bench` command line: a thin layer over the library.

Every command turns its flags into a call of one library function. Errors the user can act on
(:class:`~wetok_bench.errors.WetokBenchError`) print one line and exit with their code
(2 = unusable input); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from wetok_bench import __version__
from wetok_bench.errors import WetokBenchError


class _Group(click.Group):
    """A click group that turns library errors into one line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WetokBenchError as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {error.strerror}: {error.filename}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wetok-bench")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Evaluate image tokenizers: rFID, PSNR, SSIM and LPIPS under a named metric protocol."""


# --- score -------------------------------------------------------------------------------


@cli.command()
@click.argument("ref_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("recon_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--protocol", default="standard", show_default=True, help="Metric protocol: standard | wetok.")
@click.option(
    "--metrics", default="psnr,ssim,lpips,rfid", show_default=True, help="Comma-separated metrics to compute."
)
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=Path), help="Inception weights file.")
@click.option(
    "--lpips-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help="LPIPS backbone state dict (torchvision AlexNet/VGG); the linear heads ship with lpips.",
)
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N].")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output JSON.")
def score(ref_dir, recon_dir, protocol, metrics, inception_weights, lpips_weights, device, batch_size, out) -> None:
    """Score reconstructions in RECON_DIR against originals in REF_DIR (paired by relative path)."""
    from wetok_bench.scoring import score_folders

    result = score_folders(
        ref_dir,
        recon_dir,
        protocol=protocol,
        metrics=[m.strip() for m in metrics.split(",") if m.strip()],
        inception_weights=inception_weights,
        lpips_weights=lpips_weights,
        device=device,
        batch_size=batch_size,
        out=out,
    )
    click.echo(json.dumps(result["means"], indent=2, default=str))


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
        state = f"present  {found}" if found else f"MISSING  {spec.url}"
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
        try:
            click.echo(f"{name}: fetched to {w.fetch(spec)}")
        except OSError as error:
            failed += 1
            click.echo(f"{name}: FAILED ({error}); {w.missing_message(spec)}", err=True)
    if failed:
        sys.exit(1)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="wetok-bench")


if __name__ == "__main__":
    main()
