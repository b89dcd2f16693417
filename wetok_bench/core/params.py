"""Parameter declarations: what a tokenizer family or a dataset kind accepts in a suite entry.

A family declares its parameters once, on its factory (a dataset kind on its class)::

    @declare(
        Param("format", str, "jpeg", choices=("jpeg", "webp"), doc="codec"),
        Param("quality", int, 75, range=(0, 100), expands=True, label="q", doc="Pillow quality"),
        check=_check_codec,
    )
    def create_codec(*, name="jpeg", format="jpeg", quality=75): ...

Suite validation (:mod:`wetok_bench.config.suite`) reads the declaration, so the suite loader names no
family: unknown keys, types, choices, ranges and required keys are problems with their YAML
path; ``path`` parameters are taken relative to the suite file and must exist; a list given to
an ``expands`` parameter becomes one entry per value. ``check`` (always) and ``check_files``
(when files are checked) are the family's own cross-parameter checks: each returns
``(key, message)`` problems or raises :class:`~wetok_bench.core.errors.UsageError`.

A factory or class without a declaration (a plug-in) is described by its signature
(:mod:`wetok_bench.core.param_hints`): its keyword parameters, their defaults, and their type hints
where they are plain (``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``, ``X | None``,
``Literal[...]``, ``Path``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wetok_bench.core.errors import UsageError, closest

#: Attribute a declaration is stored under, on the factory function or the dataset class.
ATTRIBUTE = "__wetok_params__"
#: Locations on the Hugging Face hub, never checked as local paths.
HF_PREFIX = "hf://"

Problems = list[tuple[str, str]]
#: The problem message of a key a declaration does not have (then the closest valid key).
UNKNOWN_KEY = "unknown key"
Check = Callable[[dict[str, Any]], "Iterable[tuple[str, str]] | None"]

_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a mapping", object: "any value"}
_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "mapping", object: "any"}


@dataclass(frozen=True)
class Param:
    """One parameter of a suite entry.

    Attributes:
        name: the YAML key.
        type: ``int``, ``float`` (ints accepted), ``str``, ``bool``, ``list``, ``dict`` or
            ``object`` (unchecked), or a tuple of them (any of).
        default: the value when the key is absent; ``None`` also allows an explicit null.
        choices: the allowed values (for a list: of each item).
        range: inclusive ``(low, high)`` bounds of a number; either may be None.
        path: a file system path (``True``, or ``"file"`` / ``"dir"`` for what it must be),
            relative to the suite file; ``hf://...`` locations are not checked.
        expands: a list given here makes one entry per value (a sweep), named
            ``<name>-<label><value>``.
        required: the key must be given.
        doc: one line for ``list tokenizers`` / ``list datasets``.
        items: type of each item of a ``list`` parameter.
        label: the name part of expanded entries (default: the parameter's name).
    """

    name: str
    type: type | tuple[type, ...] = object
    default: Any = None
    choices: tuple | None = None
    range: tuple[float | None, float | None] | None = None
    path: bool | str = False
    expands: bool = False
    required: bool = False
    doc: str = ""
    items: type | None = None
    label: str | None = None

    @property
    def types(self) -> tuple[type, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def problems(self, value: Any, where: str) -> Problems:
        """What is wrong with ``value`` at YAML path ``where`` (empty when it is valid)."""
        if self.expands and isinstance(value, list) and list not in self.types:
            if not value:
                return [(where, "empty list (give at least one value)")]
            found = [p for i, v in enumerate(value) for p in self._one(v, f"{where}[{i}]")]
            repeated = sorted({repr(v) for v in value if value.count(v) > 1})
            if repeated:
                found.append((where, f"repeated value {', '.join(repeated)}"))
            return found
        return self._one(value, where)

    def _one(self, value: Any, where: str) -> Problems:
        if value is None:
            return [] if self.default is None and not self.required else [(where, f"expected {self._expected()}, got null")]
        if not _is_instance(value, self.types, self.path):
            return [(where, f"expected {self._expected()}, got {_show(value)}")]
        if isinstance(value, (list, tuple)) and (self.items is not None or self.choices is not None):
            return [p for i, v in enumerate(value) for p in self._item(v, f"{where}[{i}]")]
        if self.choices is not None and value not in self.choices:
            return [(where, choice_message(value, self.choices))]
        if self.range is not None and isinstance(value, (int, float)):
            low, high = self.range
            if (low is not None and value < low) or (high is not None and value > high):
                return [(where, f"expected {self._expected()}, got {value!r}")]
        return []

    def _item(self, value: Any, where: str) -> Problems:
        if self.items is not None and not _is_instance(value, (self.items,), False):
            return [(where, f"expected {_TYPE_WORDS.get(self.items, self.items.__name__)}, got {_show(value)}")]
        if self.choices is not None and value not in self.choices:
            return [(where, choice_message(value, self.choices))]
        return []

    def _expected(self) -> str:
        words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in self.types)
        if self.path:
            words = {"file": "a file path", "dir": "a folder path"}.get(str(self.path), "a path")
        if self.range is not None:
            low, high = self.range
            words += (f" from {low} to {high}" if low is not None and high is not None
                      else f" >= {low}" if low is not None else f" <= {high}")
        if self.expands:
            words += " (or a list of them)"
        return words + (" or null" if self.default is None and not self.required else "")

    def describe(self) -> str:
        """One line: ``name  type [choices] range = default (path) (list: one entry each)  doc``."""
        item = f"[{_TYPE_NAMES.get(self.items, self.items.__name__)}]" if self.items is not None else ""
        kind = "|".join(_TYPE_NAMES.get(t, t.__name__) + (item if t is list else "") for t in self.types)
        parts = [f"{self.name:16s} {kind}"]
        if self.choices is not None:
            parts.append("{" + ", ".join(map(str, self.choices)) + "}")
        if self.range is not None:
            parts.append(f"{'' if self.range[0] is None else self.range[0]}..{'' if self.range[1] is None else self.range[1]}")
        parts.append("required" if self.required else f"= {self.default!r}" if self.default is not None else "= null")
        if self.path:
            parts.append(f"({'path' if self.path is True else self.path})")
        if self.expands:
            parts.append("(a list: one entry per value)")
        return " ".join(parts) + (f"  {self.doc}" if self.doc else "")


@dataclass(frozen=True)
class Declaration:
    """The parameters of one family or dataset kind, and its own checks.

    ``open``: the factory takes ``**kwargs``, so undeclared keys pass. ``source``: ``declared``
    or ``signature`` (derived from a plug-in's factory). ``expand``: the family's own naming of
    expanded entries (``spec -> [spec, ...]``), replacing the default one. ``needs``: the files
    an entry would load that it does not name itself (``spec -> [location, ...]``: a path,
    ``hf://...``, or ``weights:NAME`` for a file of the weights registry), for ``--dry-run``.
    ``factor``: the spatial factor an entry's images must be a multiple of (``spec -> int``, None
    when only the loaded model knows), so that suite validation refuses a resolution it does not divide.
    """

    params: tuple[Param, ...]
    check: Check | None = None
    check_files: Check | None = None
    expand_hook: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    needs: Callable[[dict[str, Any]], list[str]] | None = None
    factor: Callable[[dict[str, Any]], int | None] | None = None
    open: bool = False
    source: str = "declared"
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def validate(self, entry: dict[str, Any], where: str, *, common: Iterable[str] = (), base_dir: Path | None = None,
                 check_files: bool = True) -> tuple[dict[str, Any], Problems]:
        """``entry`` with its paths made relative to ``base_dir``, and every problem found.

        ``common``: keys the suite itself reads (``type``, ``name``, ...), accepted as they are.
        """
        common = set(common)
        problems: Problems = []
        if not self.open:
            valid = common | set(self.by_name)
            problems += [(_join(where, key), f"{UNKNOWN_KEY}{closest(key, valid)}") for key in entry if key not in valid]
        spec = {key: relative_path(value, base_dir) if self._is_path(key) else value for key, value in entry.items()}
        for param in self.params:
            key = _join(where, param.name)
            if param.name in spec:
                found = param.problems(spec[param.name], key)
                if check_files and not found and self._is_path(param.name):
                    found = _path_problems(param, spec[param.name], key)
                problems += found
            elif param.required:
                problems.append((key, f"required{': ' + param.doc if param.doc else ''}"))
        hooks = [self.check] + ([self.check_files] if check_files else [])
        for hook in hooks:
            if hook is not None and not problems:
                problems += _run_check(hook, spec, where)
        return spec, problems

    def _is_path(self, key: str) -> bool:
        param = self.by_name.get(key)
        return bool(param and param.path)

    def expand(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """One entry per combination of the values of lists given to ``expands`` parameters.

        An expanded entry is named ``<name>-<label><value>`` (``<name>``: the entry's ``name``,
        else its ``type``), unless the family names them itself (``expand``). Call it on a
        validated entry.
        """
        if self.expand_hook is not None:
            return self.expand_hook(dict(spec))
        sweeps = [p for p in self.params if p.expands and isinstance(spec.get(p.name), list) and list not in p.types]
        if not sweeps:
            return [dict(spec)]
        prefix = str(spec.get("name") or spec.get("type"))
        out = []
        for values in itertools.product(*(spec[p.name] for p in sweeps)):
            suffix = "-".join(f"{p.label if p.label is not None else p.name}{v}" for p, v in zip(sweeps, values))
            out.append({**spec, **{p.name: v for p, v in zip(sweeps, values)}, "name": f"{prefix}-{suffix}"})
        return out

    def describe(self) -> list[str]:
        """One line per parameter (``list tokenizers`` / ``list datasets``)."""
        lines = [param.describe() for param in self.params]
        if self.open:
            lines.append("(and any other keyword the factory accepts)")
        return lines


def declare(*params: Param, check: Check | None = None, check_files: Check | None = None,
            expand: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
            needs: Callable[[dict[str, Any]], list[str]] | None = None,
            factor: Callable[[dict[str, Any]], int | None] | None = None):
    """Decorator: attach a :class:`Declaration` of ``params`` to a factory or dataset class.

    ``check`` / ``check_files``: cross-parameter checks (see the module doc); ``expand``: see
    :meth:`Declaration.expand`; ``needs``, ``factor``: see :class:`Declaration`.
    """
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ValueError(f"a parameter is declared twice in {names}")

    def _attach(obj):
        setattr(obj, ATTRIBUTE, Declaration(tuple(params), check=check, check_files=check_files, expand_hook=expand,
                                            needs=needs, factor=factor))
        return obj

    return _attach


def check_entry(declaration: Declaration, entry: dict[str, Any], what: str, *, common: Iterable[str]) -> None:
    """Check one entry built outside a suite (``create_tokenizer``, ``create_dataset``) by the
    suite's rules (:meth:`Declaration.validate`: unknown keys, types, ranges, choices, required
    keys, the family's ``check``), files not looked at (the factory opens them and says so).

    A list for an ``expands`` parameter is refused: only a suite expands it into entries.
    ``what`` names the entry in the message (``tokenizer type 'codec'``). Raises one
    :class:`UsageError`: for one problem ``<what> has no parameter 'k'; did you mean 'x'?`` (an
    unknown key) or ``<what>: <key>: <message>``; for several, ``<what> has N problems:`` and one
    ``<key>: <message>`` line each, as a suite lists them.
    """
    spec, problems = declaration.validate(entry, "", common=common, check_files=False)
    seen = {key for key, _ in problems}
    problems += [(p.name, "expected one value (a list expands into several entries only in a suite)")
                 for p in declaration.params
                 if p.expands and isinstance(spec.get(p.name), list) and list not in p.types and p.name not in seen]
    if not problems:
        return
    if len(problems) > 1:
        raise UsageError(f"{what} has {len(problems)} problems:\n" + "\n".join(
            f"  {key}: {message}" if key else f"  {message}" for key, message in problems))
    key, message = problems[0]
    if message.startswith(UNKNOWN_KEY):
        raise UsageError(f"{what} has no parameter {key!r}{message[len(UNKNOWN_KEY):]}")
    raise UsageError(f"{what}: {key}: {message}" if key else f"{what}: {message}")


# --- messages and helpers ------------------------------------------------------------------------


def choice_message(value: Any, choices: Iterable[Any]) -> str:
    choices = [str(c) for c in choices]
    return f"{value!r} is not one of {', '.join(choices)}{closest(value, choices)}"


def _is_instance(value: Any, types: tuple[type, ...], path: bool | str) -> bool:
    for kind in types:
        if kind is object:
            return True
        if isinstance(value, bool):
            if kind is bool:
                return True
            continue
        if kind is float and isinstance(value, (int, float)):
            return True
        if kind is list and isinstance(value, (list, tuple)):
            return True
        if kind is dict and isinstance(value, Mapping):
            return True
        if kind is str and path and isinstance(value, os.PathLike):
            return True
        if isinstance(value, kind):
            return True
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def relative_path(value: Any, base_dir: Path | None) -> Any:
    """A relative path is relative to the suite file's folder (kept as given if only that exists)."""
    if base_dir is None or not isinstance(value, str) or value.startswith(HF_PREFIX):
        return value
    if os.path.isabs(os.path.expanduser(value)):
        return value
    candidate = base_dir / value
    return str(candidate) if candidate.exists() or not Path(value).exists() else value


def _path_problems(param: Param, value: Any, where: str) -> Problems:
    if not isinstance(value, (str, os.PathLike)) or str(value).startswith(HF_PREFIX):
        return []
    path = Path(value).expanduser()
    if not path.exists():
        return [(where, f"not found: {value}")]
    if param.path == "dir" and not path.is_dir():
        return [(where, f"not a folder: {value}")]
    if param.path == "file" and not path.is_file():
        return [(where, f"not a file: {value}")]
    return []


def _run_check(hook: Check, spec: dict[str, Any], where: str) -> Problems:
    try:
        found = hook(spec)
    except UsageError as error:
        return [(where, str(error))]
    return [(_join(where, key) if key else where, message) for key, message in (found or [])]


def _join(where: str, key: str) -> str:
    """The YAML path of ``key`` inside ``where`` (the top level when ``where`` is empty)."""
    return f"{where}.{key}" if where else str(key)


def with_default(param: Param, default: Any) -> Param:
    """``param`` with another default (a family reusing a shared declaration)."""
    return replace(param, default=default)


# --- parameters several tokenizer families share ------------------------------------------------

#: Network precision (see :func:`wetok_bench.tokenizers.base.parse_precision`).
PRECISION = Param("precision", str, "fp32", choices=("fp32", "bf16", "fp16"), doc="network precision")
#: Sizes that are not a multiple of the family's factor: refuse, or pad and crop back.
SIZE_POLICY = Param("size_policy", str, "error", choices=("error", "pad"), doc="sizes not a multiple of the factor")
#: Seed of a family's own random draws (null: the suite's seed).
SEED = Param("seed", int, None, doc="seed of the random draws (null: the suite's seed)")
#: Bits counted per continuous latent value for the compression ratio.
BITS_PER_VALUE = Param("bits_per_value", int, 16, range=(1, 64), doc="bits counted per latent value")
