"""User-facing errors: the CLI prints their message as one line and exits with their code."""

from __future__ import annotations


class WetokBenchError(Exception):
    """An error the user can act on (bad input, missing file, missing weights).

    The CLI prints ``str(error)`` without a traceback (unless ``--debug``) and exits with
    ``exit_code``.
    """

    exit_code: int = 1


class UsageError(WetokBenchError):
    """Unusable input: malformed suite, bad arguments, files that do not exist (exit code 2)."""

    exit_code = 2


class MissingWeightsError(WetokBenchError):
    """A weights file is not available locally and could not be downloaded."""

    exit_code = 1


class TokenizerOutputError(WetokBenchError):
    """A tokenizer returned NaN/Inf or a tensor of the wrong shape."""

    exit_code = 1
