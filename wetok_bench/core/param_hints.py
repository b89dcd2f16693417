"""Parameter declarations read off a factory's signature (a plug-in that declares none).

Keyword parameters become :class:`~wetok_bench.core.params.Param` entries with their defaults
(none: required) and, where the type hint is plain, a type: ``int``, ``float``, ``str``,
``bool``, ``list`` / ``tuple``, ``dict`` / ``Mapping``, ``X | None``, ``Literal[...]`` (choices),
``Path`` / ``os.PathLike`` (a path, relative to the suite file). Any other hint, or one that
cannot be evaluated, means no type check. A factory taking ``**kwargs`` accepts any key.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wetok_bench.core.params import ATTRIBUTE, Declaration, Param


def declaration_of(obj: Any, *, skip: Iterable[str] = ("self", "name")) -> Declaration:
    """``obj``'s own declaration (not one inherited from a base class), else one from its signature."""
    declared = vars(obj).get(ATTRIBUTE) if hasattr(obj, "__dict__") else None
    if isinstance(declared, Declaration):
        return declared
    return from_signature(obj, skip=skip)


def from_signature(obj: Any, *, skip: Iterable[str] = ("self", "name")) -> Declaration:
    """A declaration read off ``obj``'s keyword parameters and their type hints."""
    target = obj.__init__ if isinstance(obj, type) else obj
    hints = _hints(target)
    params, open_ = [], False
    skip = set(skip)
    for p in inspect.signature(target).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            open_ = True
        if p.name in skip or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        required = p.default is inspect.Parameter.empty
        params.append(_param_from_hint(p.name, hints.get(p.name), None if required else p.default, required))
    return Declaration(tuple(params), open=open_, source="signature")


def _hints(target: Any) -> dict[str, Any]:
    """Type hints by parameter; one that cannot be evaluated (a name not imported) is left out."""
    out = {}
    namespace = getattr(inspect.unwrap(target), "__globals__", {})
    for name, hint in inspect.get_annotations(target).items():
        try:
            out[name] = eval(hint, namespace) if isinstance(hint, str) else hint  # noqa: S307 - the plug-in's own annotation
        except Exception:  # noqa: BLE001 - an unresolvable hint means: no type check for it
            continue
    return out


def _param_from_hint(name: str, hint: Any, default: Any, required: bool) -> Param:
    kinds: list[type] = []
    choices: tuple | None = None
    path = False
    for arm in _union_arms(hint):
        origin = typing.get_origin(arm)
        if arm is type(None):
            continue
        if origin is typing.Literal:
            choices = (choices or ()) + typing.get_args(arm)
            kinds.extend(type(c) for c in typing.get_args(arm))
        elif arm in (bool, int, float, str):
            kinds.append(arm)
        elif arm in (Path, os.PathLike) or origin is os.PathLike:
            kinds.append(str)
            path = True
        elif arm in (list, tuple) or origin in (list, tuple):
            kinds.append(list)
        elif arm is dict or origin in (dict, Mapping) or arm is Mapping:
            kinds.append(dict)
        else:
            kinds = [object]
            break
    kinds = list(dict.fromkeys(kinds)) or [object]
    return Param(name, tuple(kinds) if len(kinds) > 1 else kinds[0], default, choices=choices, path=path, required=required)


def _union_arms(hint: Any) -> tuple:
    if hint is None:
        return (object,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)
