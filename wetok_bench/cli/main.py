"""The ``wetok-bench`` command line: a thin layer over the library.

Every command turns its flags into a call of one library function: ``run`` (:mod:`.run`),
``score`` (:mod:`.score`), ``report`` and ``check`` (:mod:`.results`), ``list``, ``doctor`` and
``weights`` (:mod:`.listing`), all on the group of :mod:`.group`.
"""

from __future__ import annotations

from wetok_bench.cli import listing, results, run, score  # noqa: F401 - each registers its commands
from wetok_bench.cli.group import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="wetok-bench")


if __name__ == "__main__":
    main()
