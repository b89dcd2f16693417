"""``include:`` of base suites (lm-evaluation-harness's task YAML is the model).

``include: base.yaml`` (or a list of files) names suites this one builds on, each relative to
the including file (``${VAR}`` expands in the name). Merging, for each included file in order
and then the including file's own keys: a key given later wins; mappings merge key by key
(recursively), anything else, lists included, is replaced whole. So
``include: imagenet_zero_shot.yaml`` plus ``protocol: wetok`` is that suite under ``wetok``.

Each file's variables are expanded and its declared path values (a dataset's ``root``, a
checkpoint, ``weights`` files) are made relative to *its own* folder before merging, so a base
suite's ``../data`` still means what it meant there. An include cycle is a problem naming the
chain (``a.yaml -> b.yaml -> a.yaml``). The files are listed in :attr:`Resolved.files`, which
the results record beside the merged suite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wetok_bench.config.settings import SETTINGS
from wetok_bench.core.envvars import UnsetVariableError, expand_path, expand_tree
from wetok_bench.core.params import relative_path

Problems = list[tuple[str, str]]


@dataclass
class Resolved:
    """A suite mapping with its includes merged in, the files included (depth first, in merge
    order), and the problems found (``(yaml_path, message)``)."""

    data: dict[str, Any]
    files: list[str] = field(default_factory=list)
    problems: Problems = field(default_factory=list)


#: Most values a suite may hold once its YAML aliases are expanded (a real suite has hundreds;
#: a few lines of nested aliases can stand for billions).
MAX_VALUES = 100_000


def expanded_size(data: Any, limit: int = MAX_VALUES) -> int:
    """How many values ``data`` holds with every shared (aliased) part counted where it is used;
    stops counting past ``limit`` (returns ``limit + 1``)."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) not in sizes:
            total = 1
            for child in node.values() if isinstance(node, dict) else node:
                total += size(child)
                if total > limit:
                    break
            sizes[id(node)] = min(total, limit + 1)
        return sizes[id(node)]

    return size(data)


def check_expanded_size(data: Any, source: str) -> None:
    """A ``ValueError`` when ``data`` expands (YAML aliases) to more than :data:`MAX_VALUES` values."""
    if expanded_size(data) > MAX_VALUES:
        raise ValueError(f"{source}: expands to more than {MAX_VALUES:,} values through its YAML aliases "
                         f"(&anchor / *alias); write the suite out without nesting aliases")


def read_yaml(path: Path) -> Any:
    """A YAML file's content; ``OSError`` or ``ValueError`` (with line and column) when unusable,
    or when its aliases expand beyond :data:`MAX_VALUES` values."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    check_expanded_size(data, str(path))
    return data


def merge(base: Any, local: Any) -> Any:
    """``local`` over ``base``: mappings merge key by key (recursively), other values replace."""
    if isinstance(base, dict) and isinstance(local, dict):
        out = dict(base)
        for key, value in local.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return local


def resolve(data: dict[str, Any], base_dir: Path | None, *, source: str = "<suite>",
            _chain: tuple[str, ...] = ()) -> Resolved:
    """``data`` (a file's expanded mapping, from ``base_dir``) with its ``include`` merged in."""
    chain = _chain or (source,)
    result = Resolved(data={})
    includes = data.get("include")
    names = includes if isinstance(includes, list) else [includes] if includes is not None else []
    result.problems.extend(SETTINGS.by_name["include"].problems(includes, "include"))
    for i, name in enumerate(names):
        where = f"include[{i}]" if isinstance(includes, list) else "include"
        if not isinstance(name, str):
            continue  # reported above
        try:
            path = expand_path(name, what="include")
        except UnsetVariableError as error:
            result.problems.append((where, str(error)))
            continue
        path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
        key = os.path.realpath(path)
        shown = " -> ".join([*chain, str(path)])
        if key in {os.path.realpath(c) for c in chain}:
            result.problems.append((where, f"include cycle: {shown}"))
            continue
        try:
            included = read_yaml(path)
        except (OSError, ValueError) as error:
            message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            result.problems.append((where, f"{path}: {message} (included from {chain[-1]})"))
            continue
        if not isinstance(included, dict):
            result.problems.append((where, f"{path}: a suite is a mapping of keys, got {type(included).__name__}"))
            continue
        found: Problems = []
        included = relative_paths(expand_tree(included, "", found), path.parent)
        result.problems.extend((f"{where} ({path.name}): {p}", m) for p, m in found)
        inner = resolve(included, path.parent, _chain=(*chain, str(path)))
        result.problems.extend((f"{where} ({path.name}): {p}", m) for p, m in inner.problems)
        result.files.extend([str(path), *inner.files])
        result.data = merge(result.data, inner.data)
    own = {k: v for k, v in data.items() if k != "include"}
    result.data = merge(result.data, relative_paths(own, base_dir) if result.files else own)
    return result


def relative_paths(data: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """``data`` with the declared path values of its entries and ``weights`` taken relative to
    ``base_dir`` (entries of unknown types are left for validation to report)."""
    if base_dir is None:
        return data
    out = dict(data)
    if isinstance(out.get("weights"), dict):
        out["weights"] = {k: relative_path(v, base_dir) for k, v in out["weights"].items()}
    for section, lookup in (("datasets", _dataset_declaration), ("tokenizers", _tokenizer_declaration)):
        if isinstance(out.get(section), list):
            out[section] = [_entry_paths(entry, lookup, base_dir) for entry in out[section]]
    return out


def _entry_paths(entry: Any, lookup, base_dir: Path) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        return entry
    declaration = lookup(entry["type"])
    if declaration is None:
        return entry
    return {k: relative_path(v, base_dir) if (p := declaration.by_name.get(k)) is not None and p.path else v
            for k, v in entry.items()}


def _dataset_declaration(kind: str):
    from wetok_bench.data.registry import dataset_declaration, dataset_types

    return dataset_declaration(kind) if kind in dataset_types() else None


def _tokenizer_declaration(kind: str):
    from wetok_bench.tokenizers.registry import tokenizer_declaration, tokenizer_types

    if kind not in tokenizer_types():
        return None
    try:
        return tokenizer_declaration(kind)
    except Exception:  # noqa: BLE001 - an unloadable family is reported by validation
        return None
