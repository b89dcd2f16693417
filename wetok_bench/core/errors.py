"""User-facing errors: the CLI prints their message as one line and exits with their code."""

from __future__ import annotations

import difflib
from typing import Any, Iterable


class WetokBenchError(Exception):
    """An error the user can act on (bad input, missing file, missing weights).

    The CLI prints ``str(error)`` without a traceback (unless ``--debug``) and exits with
    ``exit_code``.
    """

    exit_code: int = 1


class UsageError(WetokBenchError):
    """Unusable input: malformed suite, bad arguments, files that do not exist (exit code 2)."""

    exit_code = 2


class RegistryError(UsageError):
    """An unknown name in a registry, or a name or object a registry refuses (exit code 2)."""


class MissingWeightsError(WetokBenchError):
    """A weights file is not available locally and could not be downloaded."""

    exit_code = 1


class TokenizerOutputError(WetokBenchError):
    """A tokenizer returned NaN/Inf or a tensor of the wrong shape."""

    exit_code = 1


#: Longest first line of an error on the console; the rest follows it as indented details.
HEADLINE_CHARS = 200


def split_message(message: str, limit: int = HEADLINE_CHARS) -> tuple[str, str]:
    """``(headline, details)`` of an error message for the console.

    The headline is the first line, cut at a word boundary before ``limit`` characters (then
    ending in ``...``). The details are what the headline does not show: the following lines,
    preceded by the whole first line when it was cut (``""`` when the headline says it all).
    The console prints both once; a results table shows the headline only.
    """
    first, _, rest = str(message).strip().partition("\n")
    if len(first) <= limit:
        return first, rest
    cut = first.rfind(" ", 0, limit - 3)
    headline = first[: cut if cut > limit // 2 else limit - 3].rstrip(" ,;:") + "..."
    return headline, first + ("\n" + rest if rest else "")


def format_error(message: str, prefix: str = "error: ") -> str:
    """``prefix`` + the headline, then the details (if any) indented."""
    headline, details = split_message(message)
    lines = [prefix + headline]
    lines += [line if line.startswith(" ") else "    " + line for line in details.splitlines()]
    return "\n".join(lines)


def closest(name: Any, valid: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the valid name closest to ``name``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
