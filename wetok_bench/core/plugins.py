"""Plug-ins from entry points: one loader for every registry (tokenizers, datasets, metrics).

A :class:`PluginGroup` reads its entry-point group (``wetok_bench.tokenizers``, ...) once, on
first use, and imports an entry point only when it is asked for. Its names are listed without
importing anything (suite validation and ``list`` stay fast); a name that a built-in holds, or
that is not a valid suite name, is left out with a warning (a plug-in cannot shadow a
built-in). Nothing is read at import time.

A plug-in that cannot be loaded (its module does not import, the attribute is missing, the
object is not what the registry needs) is a :class:`PluginError` naming the entry point, its
distribution and the error, raised where it is used: ``create_tokenizer``, a suite naming it,
``list`` (which shows the message beside the name and goes on). It is never silently dropped
and never a bare traceback (``--debug`` logs the traceback). The error is kept, so it is
reported the same way each time and the module is imported once.

Tests that install plug-ins (a ``*.dist-info`` folder on ``sys.path``) call :func:`reset`, before
and after, so that every group reads its entry points afresh.
"""

from __future__ import annotations

import logging
import re
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Iterable

from wetok_bench.core.errors import RegistryError, UsageError

log = logging.getLogger(__name__)

#: Suite names of plug-ins: letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: Every group made so far, by entry-point group name (what :func:`reset` resets).
_GROUPS: dict[str, PluginGroup] = {}


class PluginError(RegistryError):
    """A plug-in entry point that cannot be loaded or is not what its registry needs."""


def origin(ep: EntryPoint) -> str:
    """Where an entry point comes from: ``distribution 'NAME VERSION'`` (or ``an unknown distribution``)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    try:
        return f"distribution '{dist.metadata['Name']} {dist.version}'"
    except Exception:  # noqa: BLE001 - broken metadata must not hide the real error
        return "a distribution with unreadable metadata"


class PluginGroup:
    """The entry points of one group, read once; each loaded (and checked) when first asked for.

    ``what``: how messages name an entry (``tokenizer type``, ``dataset type``, ``metric``).
    ``reserved``: names that built-ins hold (called when the group is read). ``check``: turns a
    loaded object into what the registry keeps, or raises (any exception: the message is shown).
    ``name_re``: the names accepted (default :data:`NAME_RE`).
    """

    def __init__(self, group: str, what: str, *, reserved: Callable[[], Iterable[str]] = tuple,
                 check: Callable[[str, Any], Any] | None = None, name_re: re.Pattern = NAME_RE) -> None:
        self.group = group
        self.what = what
        self._reserved = reserved
        self._check = check
        self._name_re = name_re
        self._points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, Any] = {}
        self._errors: dict[str, PluginError] = {}
        _GROUPS[group] = self  # a registry module imported again replaces its group

    def points(self) -> dict[str, EntryPoint]:
        """Usable entry points by name, in the order found (read once; nothing imported)."""
        if self._points is None:
            reserved = set(self._reserved())
            points: dict[str, EntryPoint] = {}
            for ep in entry_points(group=self.group):
                if ep.name in reserved:
                    log.warning("%s plug-in %r (%s, %s) is ignored: a built-in has that name",
                                self.what, ep.name, ep.value, origin(ep))
                elif not self._name_re.match(ep.name):
                    log.warning("%s plug-in %r (%s, %s) is ignored: not a valid name",
                                self.what, ep.name, ep.value, origin(ep))
                elif ep.name in points:
                    log.warning("%s plug-in %r (%s, %s) is ignored: %s already provides it",
                                self.what, ep.name, ep.value, origin(ep), origin(points[ep.name]))
                else:
                    points[ep.name] = ep
            self._points = points
        return self._points

    def names(self) -> list[str]:
        """Names of the plug-ins of this group, in the order found."""
        return list(self.points())

    def __contains__(self, name: object) -> bool:
        return name in self.points()

    def load(self, name: str) -> Any:
        """The checked object of plug-in ``name`` (imported once); :class:`PluginError` if it fails."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._errors:
            raise self._errors[name]
        ep = self.points()[name]
        try:
            obj = ep.load()
            if self._check is not None:
                obj = self._check(name, obj)
        except Exception as error:  # noqa: BLE001 - any failure of third-party code is reported as its own
            log.debug("%s plug-in %r failed to load", self.what, name, exc_info=True)
            reason = str(error) if isinstance(error, UsageError) else f"{type(error).__name__}: {error}"
            self._errors[name] = PluginError(
                f"{self.what} {name!r}: cannot load plug-in {ep.value!r} (entry point {ep.name!r} of "
                f"{origin(ep)}, group {self.group}): {reason}")
            raise self._errors[name] from None
        self._loaded[name] = obj
        return obj

    def load_all(self, skip: Iterable[str] = ()) -> dict[str, Any]:
        """Every plug-in but those in ``skip``, loaded and checked, by name; one that fails is left
        out, with its :class:`PluginError` logged as a warning the first time (see :meth:`load`)."""
        skip = set(skip)
        out: dict[str, Any] = {}
        for name in self.points():
            if name in skip:
                continue
            reported = name in self._errors
            try:
                out[name] = self.load(name)
            except PluginError as error:
                if not reported:
                    log.warning("%s; left out", error)
        return out

    def module_of(self, name: str) -> str:
        """The module an entry point names (nothing imported)."""
        return self.points()[name].module

    def reset(self) -> None:
        """Forget what was read and loaded: the next use reads the entry points afresh."""
        self._points = None
        self._loaded.clear()
        self._errors.clear()


def reset(group: str | None = None) -> None:
    """Make ``group`` (default: every group) read its entry points afresh on next use."""
    for name, plugin_group in _GROUPS.items():
        if group is None or name == group:
            plugin_group.reset()
