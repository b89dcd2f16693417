"""Registry of tokenizer families: suite ``type`` -> factory.

Built-in families are lazy ``"module:attr"`` entries so that heavy backends (diffusers,
TorchScript) are imported only when a suite uses them. Third-party tokenizers register through
the entry-point group ``wetok_bench.tokenizers`` (name = suite ``type``, value = a factory),
read and loaded by :class:`wetok_bench.plugins.PluginGroup`; a broken one is a
:class:`~wetok_bench.plugins.PluginError` where it is used.

A factory is called with the suite entry's parameters as keyword arguments (everything but
``type``) plus ``name`` and returns a :class:`~wetok_bench.tokenizers.base.Tokenizer`. Its
parameters are declared on it with :func:`wetok_bench.params.declare` (types, ranges, choices,
paths, list expansions: what suite validation checks); a factory without a declaration is
described by its signature and type hints.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable

from wetok_bench.errors import UsageError
from wetok_bench.params import Declaration, check_entry, declaration_of
from wetok_bench.plugins import NAME_RE, PluginGroup
from wetok_bench.tokenizers.base import Tokenizer

Factory = Callable[..., Tokenizer]

ENTRY_POINT_GROUP = "wetok_bench.tokenizers"

_BUILTIN: dict[str, str] = {
    "wetok": "wetok_bench.tokenizers.wetok:create_wetok",
    "diffusers-vae": "wetok_bench.tokenizers.diffusers_vae:create_diffusers_vae",
    "diffusers": "wetok_bench.tokenizers.diffusers_vae:create_diffusers_vae",  # alias
    "cosmos": "wetok_bench.tokenizers.cosmos:create_cosmos",
    "taesd": "wetok_bench.tokenizers.taesd:create_taesd",
    "codec": "wetok_bench.tokenizers.codecs:create_codec",
    "identity": "wetok_bench.tokenizers.identity:create_identity",
    "open-magvit2": "wetok_bench.tokenizers.seed_voken:create_open_magvit2",
    "ibq": "wetok_bench.tokenizers.seed_voken:create_ibq",
    "llamagen-vq": "wetok_bench.tokenizers.vq.llamagen:create_llamagen_vq",
    "vqgan": "wetok_bench.tokenizers.vq.taming:create_vqgan",
    "var-vqvae": "wetok_bench.tokenizers.var:create_var_vqvae",
}

#: Suite types that are other names of a family (same factory): alias -> the family's own name.
ALIASES: dict[str, str] = {"diffusers": "diffusers-vae"}

#: Built-ins and families registered in this process (``register_tokenizer``); entry points are in _PLUGINS.
_REGISTRY: dict[str, Factory | str] = dict(_BUILTIN)


def _callable_factory(type_name: str, obj: Any) -> Factory:
    if not callable(obj):
        raise UsageError(f"{obj!r} is not callable (a tokenizer factory is)")
    return obj


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP, "tokenizer type", reserved=lambda: _BUILTIN, check=_callable_factory)


def register_tokenizer(type_name: str, factory: Factory | str | None = None, *, overwrite: bool = False):
    """Register ``factory`` under suite type ``type_name``; usable as a decorator.

    Names are letters, digits, ``.``, ``_`` and ``-``; a duplicate is refused unless
    ``overwrite``.
    """

    def _register(obj: Factory | str) -> Factory | str:
        if not NAME_RE.match(type_name):
            raise ValueError(f"invalid tokenizer type name {type_name!r}")
        if type_name in _REGISTRY and not overwrite and _REGISTRY[type_name] != obj:
            raise ValueError(f"tokenizer type {type_name!r} is already registered")
        if not isinstance(obj, str) and not callable(obj):
            raise TypeError(f"tokenizer factory for {type_name!r} must be callable")
        _REGISTRY[type_name] = obj
        return obj

    return _register(factory) if factory is not None else _register


def plugin_modules() -> list[str]:
    """Modules of the plug-in factories (entry points and ``register_tokenizer`` calls), in order.

    :func:`wetok_bench.tokenizers.cards.known_cards` reads a ``CARDS`` list from each, as it does
    from the built-in family modules. Nothing is imported here.
    """
    modules: dict[str, None] = {}
    for type_name, entry in _REGISTRY.items():
        if _BUILTIN.get(type_name) == entry:
            continue
        module = entry.partition(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", None)
        if module and not module.startswith("wetok_bench.tokenizers."):
            modules[module] = None
    for type_name in _PLUGINS.names():
        if type_name not in _REGISTRY:
            modules[_PLUGINS.module_of(type_name)] = None
    return list(modules)


def tokenizer_types() -> list[str]:
    """Every registered suite ``type``, built-in and plug-in."""
    return sorted({*_REGISTRY, *_PLUGINS.names()})


def alias_of(type_name: str) -> str | None:
    """The family ``type_name`` is another name of (``diffusers`` -> ``diffusers-vae``), else None."""
    return ALIASES.get(type_name)


def get_factory(type_name: str) -> Factory:
    """The factory for ``type_name`` (imported on first use); unknown types suggest the closest.

    A plug-in that cannot be loaded is a :class:`~wetok_bench.plugins.PluginError`.
    """
    if type_name not in _REGISTRY:
        if type_name in _PLUGINS:
            return _PLUGINS.load(type_name)
        raise UsageError(unknown_type_message(type_name))
    entry = _REGISTRY[type_name]
    if isinstance(entry, str):
        module_name, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), attr)
        _REGISTRY[type_name] = entry
    return entry


def unknown_type_message(type_name: str) -> str:
    known = tokenizer_types()
    close = difflib.get_close_matches(str(type_name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown tokenizer type {type_name!r}{hint} (known: {', '.join(known)})"


def tokenizer_declaration(type_name: str) -> Declaration:
    """The parameters of family ``type_name`` (``name`` excluded): declared, else its signature."""
    return declaration_of(get_factory(type_name))


def factory_parameters(type_name: str) -> list[str] | None:
    """Keyword parameters a family accepts, ``name`` first (None when it takes ``**kwargs``)."""
    declaration = tokenizer_declaration(type_name)
    if declaration.open:
        return None
    has_name = "name" in inspect.signature(get_factory(type_name)).parameters
    return (["name"] if has_name else []) + declaration.names


def create_tokenizer(spec: dict[str, Any]) -> Tokenizer:
    """Build a tokenizer from a suite entry: ``{"type": ..., "name": ..., **parameters}``.

    The entry is checked against the family's declaration by the rules suite validation applies
    (:func:`wetok_bench.params.check_entry`): an unknown parameter (naming the closest valid one),
    a wrong type, a value out of range or not among the choices is a :class:`UsageError`
    before the factory runs.
    """
    spec = dict(spec)
    try:
        type_name = spec.pop("type")
    except KeyError:
        raise UsageError("tokenizer entry has no 'type'") from None
    spec.setdefault("name", type_name)
    check_entry(tokenizer_declaration(type_name), spec, f"tokenizer type {type_name!r}", common=("name",))
    tokenizer = get_factory(type_name)(**spec)
    if not isinstance(tokenizer, Tokenizer):
        raise UsageError(f"factory for tokenizer type {type_name!r} did not return a Tokenizer")
    return tokenizer
