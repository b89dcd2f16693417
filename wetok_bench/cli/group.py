"""The ``wetok-bench`` command group: errors the user can act on as one line and an exit code.

Errors the user can act on (:class:`~wetok_bench.core.errors.WetokBenchError`) print one short
line (long messages: then their details, indented) and exit with their code (2 = unusable
input); ``--debug`` (or ``WETOK_BENCH_DEBUG=1``) shows the traceback instead. Library modules
report diagnostics through ``logging.getLogger(__name__)``; the CLI prints them on stderr as
``warning: ...`` lines, and ``--debug`` adds the DEBUG level (a failed job's full traceback among them).
"""

from __future__ import annotations

import os
import sys

import click

from wetok_bench.core.errors import WetokBenchError, format_error
from wetok_bench.core.logs import configure_logging
from wetok_bench.core.versions import __version__


#: OS errors that mean the user's input is unusable (exit code 2), not that the machine failed.
_INPUT_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


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
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:  # Ctrl-C: the shell's convention, 128 + SIGINT
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # output piped into `head` and the like
            sys.stderr = open(os.devnull, "w")
            sys.exit(0)
        except OSError as error:  # a path that is not what it must be, a full disk, no permission
            if ctx.find_root().params.get("debug"):
                raise
            where = f": {error.filename}" if error.filename else ""
            click.echo(f"error: {error.strerror or error}{where}", err=True)
            sys.exit(2 if isinstance(error, _INPUT_ERRORS) else 1)
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
