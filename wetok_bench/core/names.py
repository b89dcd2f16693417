"""Names that become file and folder names: one rule for every name a user gives (suite,
tokenizer, dataset, ``score --name/--dataset``), and a job's folder under the results folder.

A name is letters, digits, ``.``, ``_``, ``+`` and ``-``, starts with a letter or digit, and has
at most :data:`MAX_NAME` characters: no path separator, no ``..``, no name that a file system
refuses for its length (a job folder joins two names and a resolution).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wetok_bench.core.errors import UsageError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: Longest name: a job folder ``<tokenizer>__<dataset>__<resolution>`` stays under 255 bytes.
MAX_NAME = 100


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a folder (None when it can)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        return (f"{name!r}: use letters, digits, '.', '_', '+', '-', starting with a letter or digit "
                f"(it names a folder of results)")
    if len(name) > MAX_NAME:
        return f"{name[:40]!r}...: {len(name)} characters, at most {MAX_NAME} (it names a folder of results)"
    return None


def check_name(name: Any, what: str) -> str:
    """``name`` if it can name a folder, else a :class:`UsageError` saying ``what`` it is."""
    problem = name_problem(name)
    if problem is not None:
        raise UsageError(f"{what} {problem}")
    return name


def name_from(text: str) -> str:
    """A valid name made from ``text`` (a folder's name): other characters become ``-``, cut to
    :data:`MAX_NAME` characters."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "-", text).lstrip("._+-")[:MAX_NAME]
    return name or "unnamed"


def job_id(tokenizer: str, dataset: str, resolution: int | str) -> str:
    """Folder name of a job: ``<tokenizer>__<dataset>__<resolution>``."""
    return f"{tokenizer}__{dataset}__{resolution}"


def job_folder(results: Path, tokenizer: str, dataset: str, resolution: int | str) -> Path:
    """``results/<job id>``, the names checked and the folder checked to stay inside ``results``."""
    folder = Path(results) / job_id(check_name(tokenizer, "tokenizer name"), check_name(dataset, "dataset name"), resolution)
    if Path(results).resolve() not in folder.resolve().parents:
        raise UsageError(f"job folder {folder} would not be inside the results folder {results}")
    return folder
