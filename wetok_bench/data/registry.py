"""Registry of dataset kinds: suite ``type`` -> :class:`~wetok_bench.data.base.Dataset` class.

A suite entry ``{"type": "folder", "name": "mine", "root": "${DATA}/imgs"}`` becomes
``FolderDataset(name="mine", root=...)``. A class's keyword parameters are the entry's accepted
keys (declared on the class with :func:`wetok_bench.params.declare`, else read off its
signature); unknown types and keys are :class:`UsageError` naming the closest valid one. Roots are
passed in by the suite, never built in (paths expand ``~`` and ``${VAR}``).

Third-party dataset kinds register through the entry-point group ``wetok_bench.datasets``
(name = suite ``type``, value = ``"module:Class"``, a :class:`Dataset` subclass), read on first
use and imported only when a suite names the type (:class:`wetok_bench.plugins.PluginGroup`); a
plug-in cannot shadow a built-in kind, and one that cannot be loaded is a
:class:`~wetok_bench.plugins.PluginError` where it is used.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from wetok_bench.data.base import Dataset
from wetok_bench.data.coco import CocoVal2017Dataset
from wetok_bench.data.folder import FolderDataset
from wetok_bench.data.imagenet import ImageNetValDataset
from wetok_bench.data.samples import SamplesDataset
from wetok_bench.errors import UsageError
from wetok_bench.params import Declaration, declaration_of
from wetok_bench.plugins import NAME_RE, PluginGroup

ENTRY_POINT_GROUP = "wetok_bench.datasets"

_BUILTIN: dict[str, type[Dataset]] = {
    "imagenet-val": ImageNetValDataset,
    "coco-val2017": CocoVal2017Dataset,
    "folder": FolderDataset,
    "samples": SamplesDataset,
}

#: Built-ins and kinds registered in this process (``register_dataset``); entry points are in _PLUGINS.
_REGISTRY: dict[str, type[Dataset]] = dict(_BUILTIN)


def _dataset_subclass(type_name: str, obj: Any) -> type[Dataset]:
    if not (isinstance(obj, type) and issubclass(obj, Dataset)):
        raise UsageError(f"{obj!r} is not a Dataset subclass")
    return obj


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP, "dataset type", reserved=lambda: _BUILTIN, check=_dataset_subclass)


def register_dataset(type_name: str, cls: type[Dataset], *, overwrite: bool = False) -> type[Dataset]:
    """Add a dataset kind; names are letters, digits, ``.``, ``_``, ``-``; duplicates refused."""
    if not NAME_RE.match(type_name):
        raise ValueError(f"invalid dataset type name {type_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise TypeError(f"dataset class for {type_name!r} must subclass wetok_bench.data.base.Dataset")
    if type_name in _REGISTRY and _REGISTRY[type_name] is not cls and not overwrite:
        raise ValueError(f"dataset type {type_name!r} is already registered")
    _REGISTRY[type_name] = cls
    return cls


def dataset_types() -> list[str]:
    """Every registered dataset ``type`` (built-in and plug-in), sorted."""
    return sorted({*_REGISTRY, *_PLUGINS.names()})


def _dataset_class(type_name: Any) -> type[Dataset]:
    if type_name in _REGISTRY:
        return _REGISTRY[type_name]
    if type_name in _PLUGINS:
        return _PLUGINS.load(type_name)
    close = difflib.get_close_matches(str(type_name), dataset_types(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown dataset type {type_name!r}{hint} (known: {', '.join(dataset_types())})")


def dataset_declaration(type_name: str) -> Declaration:
    """The parameters of dataset kind ``type_name`` (``name`` excluded): declared, else its signature."""
    return declaration_of(_dataset_class(type_name))


def dataset_parameters(type_name: str) -> list[str]:
    """Keys a suite entry of ``type_name`` accepts besides ``type`` (``name`` included)."""
    has_name = "name" in inspect.signature(_dataset_class(type_name).__init__).parameters
    return (["name"] if has_name else []) + dataset_declaration(type_name).names


def required_parameters(type_name: str) -> list[str]:
    """Keys a suite entry of ``type_name`` must give."""
    return [p.name for p in dataset_declaration(type_name).params if p.required]


def create_dataset(spec: dict[str, Any]) -> Dataset:
    """Build a dataset from a suite entry ``{"type": ..., "name": ..., **parameters}``.

    The files are not listed yet; call ``records()`` (which may add ``warnings``).
    """
    if not isinstance(spec, dict):
        raise UsageError(f"a dataset entry must be a mapping with a 'type', got {spec!r}")
    params = dict(spec)
    if "type" not in params:
        raise UsageError(f"dataset entry {spec!r} has no 'type' (one of: {', '.join(dataset_types())})")
    type_name = params.pop("type")
    cls = _dataset_class(type_name)
    accepted = dataset_parameters(type_name)
    for key in params:
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"dataset type {type_name!r} has no parameter {key!r}{hint} (accepted: {', '.join(accepted)})")
    absent = [key for key in required_parameters(type_name) if key not in params]
    if absent:
        raise UsageError(f"dataset type {type_name!r} needs the parameter(s) {', '.join(absent)}")
    return cls(**params)
