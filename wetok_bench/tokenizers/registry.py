"""Registry of tokenizer families: suite ``type`` -> factory.

Built-in families are lazy ``"module:attr"`` entries so that heavy backends (diffusers,
TorchScript) are imported only when a suite uses them. Third-party tokenizers register through
the entry-point group ``wetok_bench.tokenizers`` (name = suite ``type``, value = a factory),
read and loaded by :class:`wetok_bench.core.plugins.PluginGroup`; a broken one is a
:class:`~wetok_bench.core.plugins.PluginError` where it is used.

A factory is called with the suite entry's parameters as keyword arguments (everything but
``type``) plus ``name`` and returns a :class:`~wetok_bench.tokenizers.base.Tokenizer`. Its
parameters are declared on it with :func:`wetok_bench.core.params.declare` (types, ranges, choices,
paths, list expansions: what suite validation checks); a factory without a declaration is
described by its signature and type hints.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from wetok_bench.core.errors import UsageError
from wetok_bench.core.param_hints import declaration_of
from wetok_bench.core.params import Declaration, check_entry
from wetok_bench.core.registry import Registry, callable_object
from wetok_bench.tokenizers.base import Tokenizer

Factory = Callable[..., Tokenizer]

ENTRY_POINT_GROUP = "wetok_bench.tokenizers"

#: Every tokenizer family by suite ``type``: built-ins (``module:factory``, imported on first use),
#: families registered in this process, plug-ins.
TOKENIZERS: Registry[Factory] = Registry("tokenizer type", check=callable_object, group=ENTRY_POINT_GROUP)
for _type, _factory in {
    "wetok": "wetok:create_wetok",
    "diffusers-vae": "diffusers:create_diffusers_vae",
    "cosmos": "cosmos:create_cosmos",
    "taesd": "taesd:create_taesd",
    "codec": "codecs:create_codec",
    "identity": "identity:create_identity",
    "open-magvit2": "seed_voken:create_open_magvit2",
    "ibq": "seed_voken:create_ibq",
    "llamagen-vq": "llamagen:create_llamagen_vq",
    "vqgan": "vqgan:create_vqgan",
    "var-vqvae": "var:create_var_vqvae",
}.items():
    TOKENIZERS.builtin(_type, f"wetok_bench.tokenizers.{_factory}")
TOKENIZERS.alias("diffusers", "diffusers-vae")


def register_tokenizer(type_name: str, factory: Factory | str | None = None, *, overwrite: bool = False):
    """Register ``factory`` (or a lazy ``"module:attr"``) under suite type ``type_name``; usable
    as a decorator. Names are letters, digits, ``.``, ``_`` and ``-``; a taken name is a
    :class:`~wetok_bench.core.errors.RegistryError` unless ``overwrite``."""
    if factory is not None:
        return TOKENIZERS.register(type_name, factory, overwrite=overwrite)
    return TOKENIZERS.decorator(type_name, overwrite=overwrite)


def plugin_modules() -> list[str]:
    """Modules of the families that are not built in (entry points and ``register_tokenizer``
    calls), in order: :func:`wetok_bench.tokenizers.cards.known_cards` reads a ``CARDS`` list from
    each, as it does from the built-in family modules. Nothing is imported here."""
    modules: dict[str, None] = {}
    for type_name in TOKENIZERS.names():
        if TOKENIZERS.is_builtin(type_name) or TOKENIZERS.alias_of(type_name):
            continue
        module = TOKENIZERS.module_of(type_name)
        if module and not module.startswith("wetok_bench.tokenizers."):
            modules[module] = None
    return list(modules)


def tokenizer_types() -> list[str]:
    """Every registered suite ``type``, built-in and plug-in (aliases included), sorted."""
    return sorted(TOKENIZERS.names())


def alias_of(type_name: str) -> str | None:
    """The family ``type_name`` is another name of (``diffusers`` -> ``diffusers-vae``), else None."""
    return TOKENIZERS.alias_of(type_name)


def get_factory(type_name: str) -> Factory:
    """The factory for ``type_name`` (imported on first use); an unknown type names the closest.

    A plug-in that cannot be loaded is a :class:`~wetok_bench.core.plugins.PluginError`.
    """
    return TOKENIZERS.get(type_name)


def unknown_type_message(type_name: str) -> str:
    return TOKENIZERS.unknown_message(type_name)


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
    (:func:`wetok_bench.core.params.check_entry`): an unknown parameter (naming the closest valid one),
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
