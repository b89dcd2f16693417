"""Environment variables in suite values and paths: the one expansion rule of the harness.

Every string of a suite file, every dataset root, checkpoint, config and weights path goes
through :func:`expand_vars` (paths through :func:`expand_path`, which then expands ``~``):

``${NAME}``
    the value of ``NAME``.
``${NAME:-default}``
    the value of ``NAME``, or ``default`` when ``NAME`` is unset or empty (the shell's rule);
    the default is taken literally (it is not expanded again).
``$NAME``
    the same as ``${NAME}`` (``NAME``: letters, digits, ``_``, not starting with a digit).

A variable that is unset or empty and has no default is an error naming it
(:class:`UnsetVariableError`, a usage error; in a suite, a validation problem at the value's
YAML path). An empty value counts as unset because an empty path would silently mean the
current folder. Anything else, ``$5`` or a lone ``$``, stays as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wetok_bench.core.errors import UsageError

#: ``${NAME}``, ``${NAME:-default}`` and ``$NAME``.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class UnsetVariableError(UsageError):
    """A ``${NAME}`` (or ``$NAME``) without default whose variable is unset or empty."""

    def __init__(self, name: str, text: str, what: str = "") -> None:
        self.name = name
        subject = f"{what} {text!r}" if what else repr(text)
        super().__init__(f"{subject} uses the environment variable ${name}, which is not set "
                         f"({name} is not set or is empty; write ${{{name}:-default}} for a default)")


def expand_vars(text: str, *, what: str = "", environ: Mapping[str, str] | None = None) -> str:
    """``text`` with its variables expanded (rules in the module docstring).

    ``what`` names the value in the error (``"folder root"``); ``environ`` defaults to
    ``os.environ``. Raises :class:`UnsetVariableError` for the first unset variable.
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match) -> str:
        name, default = match.group(1) or match.group(3), match.group(2)
        value = env.get(name, "")
        if value != "":
            return value
        if default is not None:
            return default
        raise UnsetVariableError(name, text, what)

    return VARIABLE.sub(substitute, text)


def expand_path(value: str | os.PathLike, *, what: str = "path") -> Path:
    """A path with its variables (:func:`expand_vars`) and then ``~`` expanded."""
    return Path(os.path.expanduser(expand_vars(os.fspath(value), what=what)))


def expand_tree(value: Any, where: str, problems: list[tuple[str, str]]) -> Any:
    """Every string inside nested mappings and lists expanded; each unset variable is a
    ``(yaml_path, message)`` problem (the string is then kept as written)."""
    if isinstance(value, str):
        try:
            return expand_vars(value)
        except UnsetVariableError as error:
            problems.append((where or "<root>", str(error)))
            return value
    if isinstance(value, dict):
        return {k: expand_tree(v, f"{where}.{k}" if where else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_tree(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return value
