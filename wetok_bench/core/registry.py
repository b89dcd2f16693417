"""One registry type for every pluggable kind: tokenizer families, metrics, dataset kinds,
feature extractors, resize rules and metric protocols.

A :class:`Registry` maps names to objects. Built-in entries are lazy ``"module:attr"`` strings,
imported the first time they are asked for, so listing names and validating a suite import no
heavy backend. Third-party entries come from an entry-point group (:class:`PluginGroup`), read on
first use and loaded only when named; a plug-in cannot shadow a built-in. Every object, built-in,
registered or plug-in, passes the registry's ``check`` (a base-class or instance check) before it
is handed out. Every failure is one error type, :class:`RegistryError` (a
:class:`~wetok_bench.core.errors.UsageError`): an unknown name (with the closest known one), a
name or object that cannot be registered, a plug-in that cannot be loaded
(:class:`PluginError`, a subclass, naming its entry point and distribution).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar

from wetok_bench.core.errors import RegistryError, UsageError, closest
from wetok_bench.core.plugins import NAME_RE, PluginError, PluginGroup

T = TypeVar("T")

__all__ = ["Registry", "RegistryError", "PluginError", "subclass_of", "instance_of", "callable_object", "closest"]


def subclass_of(base: type) -> Callable[[str, Any], Any]:
    """A check that accepts subclasses of ``base``."""

    def check(name: str, obj: Any) -> Any:
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise RegistryError(f"{obj!r} is not a {base.__name__} subclass")
        return obj

    return check


def instance_of(cls: type) -> Callable[[str, Any], Any]:
    """A check that accepts instances of ``cls``."""

    def check(name: str, obj: Any) -> Any:
        if not isinstance(obj, cls):
            raise RegistryError(f"{obj!r} is not a {cls.__name__}")
        return obj

    return check


def callable_object(name: str, obj: Any) -> Any:
    """A check that accepts any callable (factories, resize rules)."""
    if not callable(obj):
        raise RegistryError(f"{obj!r} is not callable")
    return obj


class Registry(Generic[T]):
    """Named objects of one kind.

    Args:
        kind: how messages name an entry (``tokenizer type``, ``metric``, ``dataset type`` ...).
        check: ``(name, obj) -> obj`` run on every object before it is handed out; raises when
            the object is not of the kind (:func:`subclass_of`, :func:`instance_of`,
            :func:`callable_object`, or the kind's own).
        group: the entry-point group plug-ins register in (None: no plug-ins).
        name_re: the names accepted (default: letters, digits, ``.``, ``_``, ``-``).
    """

    def __init__(self, kind: str, *, check: Callable[[str, Any], Any] | None = None, group: str | None = None,
                 name_re=NAME_RE) -> None:
        self.kind = kind
        self._check = check
        self._name_re = name_re
        self._entries: dict[str, Any] = {}  # name -> object, or "module:attr" until first use
        self._builtin: dict[str, str] = {}  # name -> "module:attr" of the built-ins
        self._aliases: dict[str, str] = {}
        self.plugins = PluginGroup(group, kind, reserved=self._reserved, check=self._checked,
                                   name_re=name_re) if group else None

    # --- registration ---------------------------------------------------------------------

    def builtin(self, name: str, target: str) -> None:
        """Declare a built-in entry ``"module:attr"``, imported when first asked for."""
        self._builtin[name] = target
        self._entries[name] = target

    def alias(self, alias: str, name: str) -> None:
        """Make ``alias`` another name of entry ``name``."""
        self._aliases[alias] = name

    def register(self, name: str, obj: T | str, *, overwrite: bool = False) -> T | str:
        """Register ``obj`` (or a lazy ``"module:attr"``) under ``name``; returns it.

        A name that is not valid, a taken name (unless ``overwrite``) and an object that fails
        the registry's check are a :class:`RegistryError`.
        """
        if not isinstance(name, str) or not self._name_re.match(name):
            raise RegistryError(f"invalid {self.kind} name {name!r}")
        taken = self._entries.get(name, self._aliases.get(name))
        if taken is not None and taken is not obj and taken != obj and not overwrite:
            raise RegistryError(f"{self.kind} {name!r} is already registered; pass overwrite=True")
        if not isinstance(obj, str):
            obj = self._checked(name, obj)
        self._entries[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove a registered (non-built-in) entry; a built-in is restored to its lazy target."""
        if name in self._builtin:
            self._entries[name] = self._builtin[name]
        else:
            self._entries.pop(name, None)

    def snapshot(self) -> tuple[dict, dict]:
        """What is registered now, for :meth:`restore` (tests that register their own entries)."""
        return dict(self._entries), dict(self._aliases)

    def restore(self, snapshot: tuple[dict, dict]) -> None:
        """Go back to a :meth:`snapshot`; entry points are read afresh on next use."""
        self._entries, self._aliases = dict(snapshot[0]), dict(snapshot[1])
        self.reset_plugins()

    def decorator(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """``@registry.decorator("name")``: register the decorated object."""

        def wrap(obj: T) -> T:
            self.register(name, obj, overwrite=overwrite)
            return obj

        return wrap

    # --- lookup ---------------------------------------------------------------------------

    def _reserved(self) -> list[str]:
        return [*self._builtin, *self._aliases]

    def _checked(self, name: str, obj: Any) -> Any:
        if self._check is None:
            return obj
        try:
            return self._check(name, obj)
        except RegistryError:
            raise
        except (TypeError, ValueError, UsageError) as error:
            raise RegistryError(f"{self.kind} {name!r}: {error}") from None

    def names(self) -> list[str]:
        """Every name, built-ins first, then registered ones, aliases, then plug-ins (nothing imported)."""
        plugins = self.plugins.names() if self.plugins is not None else []
        return list(dict.fromkeys([*self._entries, *self._aliases, *plugins]))

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases or (self.plugins is not None and name in self.plugins)

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def alias_of(self, name: str) -> str | None:
        """The entry ``name`` is another name of, else None."""
        return self._aliases.get(name)

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin and self._entries.get(name) is not None

    def module_of(self, name: str) -> str | None:
        """The module that defines entry ``name`` (nothing imported for lazy entries and plug-ins)."""
        name = self._aliases.get(name, name)
        if name in self._entries:
            obj = self._entries[name]
            return obj.partition(":")[0] if isinstance(obj, str) else getattr(obj, "__module__", None)
        if self.plugins is not None and name in self.plugins:
            return self.plugins.module_of(name)
        return None

    def get(self, name: str) -> T:
        """The object registered under ``name`` (imported on first use).

        An unknown name is a :class:`RegistryError` naming the closest known one; a plug-in that
        cannot be loaded its :class:`PluginError`.
        """
        name = self._aliases.get(name, name)
        if name in self._entries:
            obj = self._entries[name]
            if isinstance(obj, str):
                module, _, attr = obj.partition(":")
                obj = self._checked(name, getattr(importlib.import_module(module), attr))
                self._entries[name] = obj
            return obj
        if self.plugins is not None and name in self.plugins:
            return self.plugins.load(name)
        raise RegistryError(self.unknown_message(name))

    def unknown_message(self, name: object) -> str:
        """``unknown <kind> 'x'; did you mean 'y'? (known: ...)``."""
        known = self.names()
        return f"unknown {self.kind} {name!r}{closest(name, known)} (known: {', '.join(known)})"

    def load_all(self) -> dict[str, T]:
        """Every entry by name, loaded; a plug-in that fails is left out with one warning."""
        out: dict[str, T] = {name: self.get(name) for name in list(self._entries)}
        if self.plugins is not None:
            out.update(self.plugins.load_all(skip=out))
        return out

    def reset_plugins(self) -> None:
        """Read the entry points afresh on next use (tests installing plug-ins)."""
        if self.plugins is not None:
            self.plugins.reset()
