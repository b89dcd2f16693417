"""Registry of dataset kinds: suite ``type`` -> :class:`~wetok_bench.data.base.Dataset` class.

A suite entry ``{"type": "folder", "name": "mine", "root": "${DATA}/imgs"}`` becomes
``FolderDataset(name="mine", root=...)``. A class's keyword parameters are the entry's accepted
keys (declared on the class with :func:`wetok_bench.core.params.declare`, else read off its
signature); unknown types and keys are :class:`UsageError` naming the closest valid one. Roots are
passed in by the suite, never built in (paths expand ``~`` and ``${VAR}``).

Third-party dataset kinds register through the entry-point group ``wetok_bench.datasets``
(name = suite ``type``, value = ``"module:Class"``, a :class:`Dataset` subclass), read on first
use and imported only when a suite names the type (:class:`wetok_bench.core.plugins.PluginGroup`); a
plug-in cannot shadow a built-in kind, and one that cannot be loaded is a
:class:`~wetok_bench.core.plugins.PluginError` where it is used.
"""

from __future__ import annotations

import inspect
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.core.param_hints import declaration_of
from wetok_bench.core.params import Declaration
from wetok_bench.core.registry import Registry, closest, subclass_of
from wetok_bench.data.base import Dataset

ENTRY_POINT_GROUP = "wetok_bench.datasets"

#: Every dataset kind by suite ``type``: built-ins (``module:Class``, imported on first use),
#: kinds registered in this process, plug-ins.
DATASETS: Registry[type[Dataset]] = Registry("dataset type", check=subclass_of(Dataset), group=ENTRY_POINT_GROUP)
for _type, _class in {
    "imagenet-val": "imagenet:ImageNetValDataset",
    "coco-val2017": "coco:CocoVal2017Dataset",
    "folder": "folder:FolderDataset",
    "samples": "samples:SamplesDataset",
}.items():
    DATASETS.builtin(_type, f"wetok_bench.data.{_class}")


def register_dataset(type_name: str, cls: type[Dataset], *, overwrite: bool = False) -> type[Dataset]:
    """Add a dataset kind; names are letters, digits, ``.``, ``_``, ``-``; a taken name is a
    :class:`~wetok_bench.core.errors.RegistryError` unless ``overwrite``."""
    return DATASETS.register(type_name, cls, overwrite=overwrite)


def dataset_types() -> list[str]:
    """Every registered dataset ``type`` (built-in and plug-in), sorted."""
    return sorted(DATASETS.names())


def _dataset_class(type_name: Any) -> type[Dataset]:
    return DATASETS.get(type_name)


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
            raise UsageError(f"dataset type {type_name!r} has no parameter {key!r}{closest(key, accepted)} "
                             f"(accepted: {', '.join(accepted)})")
    absent = [key for key in required_parameters(type_name) if key not in params]
    if absent:
        raise UsageError(f"dataset type {type_name!r} needs the parameter(s) {', '.join(absent)}")
    return cls(**params)
