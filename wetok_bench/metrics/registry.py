"""The metric registry: every metric name, direction, unit and weights file comes from here.

A metric is one class in one module (timm / torch-fidelity style registration), with its
metadata as class attributes and the running computation as instance methods (the torchmetrics
pattern; see :mod:`wetok_bench.metrics.base`). Built-in metrics are imported lazily, by module
path, the first time the registry is read; plug-ins register through the entry-point group
``wetok_bench.metrics`` (each entry point names a :class:`~wetok_bench.metrics.base.Metric`
subclass, or a module whose ``METRIC`` is one)::

    [project.entry-points."wetok_bench.metrics"]
    my_metric = "my_package.my_metric:MyMetric"

or call :func:`register_metric` directly. Entry points are read by
:class:`wetok_bench.plugins.PluginGroup`: a plug-in that cannot be loaded is left out of
:func:`metric_names` with one warning, and naming it is its :class:`~wetok_bench.plugins.PluginError`. Adding a built-in metric is its module under
``wetok_bench/metrics/defs/`` plus one line in :data:`_BUILTIN`.

Protocol fingerprints: :func:`protocol_fingerprint` covers the protocol's settings (which the
classic metrics, :data:`CLASSIC`, read and every recorded result was measured under) plus, for
each other enabled metric, the protocol options and suite settings it reads; so registering a
metric leaves every recorded fingerprint valid, and its options count only where it is enabled.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from wetok_bench.errors import UsageError
from wetok_bench.hashing import sha256_json
from wetok_bench.plugins import PluginError, PluginGroup

if TYPE_CHECKING:  # the metric classes import torch; names and lookups here must not
    from wetok_bench.metrics.base import Metric, ResultKey

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wetok_bench.metrics"

#: Built-in metrics: name -> module whose ``METRIC`` is the class (imported on first use).
_BUILTIN: dict[str, str] = {
    "psnr": "wetok_bench.metrics.defs.psnr",
    "ssim": "wetok_bench.metrics.defs.ssim",
    "lpips": "wetok_bench.metrics.defs.lpips",
    "rfid": "wetok_bench.metrics.defs.rfid",
    "kid": "wetok_bench.metrics.defs.kid",
}

#: The metrics every protocol version up to now was defined with: their options are the
#: protocol's own settings (``MetricProtocol.to_dict()``), always in its fingerprint.
CLASSIC = ("psnr", "ssim", "lpips", "rfid")

#: Result keys that are not metrics but are reported beside them: (higher_is_better, unit, description).
EXTRA_KEYS: dict[str, tuple[bool, str, str]] = {
    "bits_per_image": (False, "bits", "mean coded size per image"),
}

#: Built-ins (once imported) and metrics registered in this process; entry points are in _PLUGINS.
_REGISTRY: dict[str, type[Metric]] = {}


def register_metric(cls: type[Metric], *, overwrite: bool = False) -> type[Metric]:
    """Register a metric class under ``cls.name`` (usable as a decorator); returns ``cls``.

    Checked: a :class:`Metric` subclass, a lower-case identifier name not taken (unless
    ``overwrite``), ``level`` one of ``image`` / ``set``, a boolean ``higher_is_better``.
    """
    name = _checked_metric(cls).name
    if name in _REGISTRY and _REGISTRY[name] is not cls and not overwrite:
        raise UsageError(f"metric {name!r} is already registered ({_REGISTRY[name].__module__}); pass overwrite=True")
    _REGISTRY[name] = cls
    return cls


def _checked_metric(cls: Any) -> type[Metric]:
    """``cls`` if it is a usable metric class (see :func:`register_metric`), else UsageError."""
    from wetok_bench.metrics.base import LEVELS, Metric
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise UsageError(f"a metric must be a Metric subclass, got {cls!r}")
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise UsageError(f"metric {cls.__name__}: name must be a lower-case identifier, got {name!r}")
    if cls.level not in LEVELS:
        raise UsageError(f"metric {name!r}: level must be one of {LEVELS}, got {cls.level!r}")
    if cls.settings_key not in (None, name):
        raise UsageError(f"metric {name!r}: its settings block must be named after it ({name!r}), got {cls.settings_key!r}")
    if not isinstance(cls.higher_is_better, bool):
        raise UsageError(f"metric {name!r}: higher_is_better must be True or False")
    return cls


def _load_builtin(name: str) -> None:
    module = importlib.import_module(_BUILTIN[name])
    register_metric(module.METRIC)


def _plugin_metric(name: str, obj: Any) -> type[Metric]:
    """The metric class of entry point ``name`` (the class, or a module's ``METRIC``), checked;
    its ``name`` must be the entry point's, the name suites use."""
    cls = _checked_metric(getattr(obj, "METRIC", obj))
    if cls.name != name:
        raise UsageError(f"its class {cls.__name__} is named {cls.name!r}, not {name!r} as the entry point")
    return cls


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP, "metric", reserved=lambda: _BUILTIN, check=_plugin_metric,
                       name_re=re.compile(r"^[a-z_][a-z0-9_]*$"))


def _ensure_loaded() -> None:
    for name in _BUILTIN:
        if name not in _REGISTRY:
            _load_builtin(name)


def available_names() -> tuple[str, ...]:
    """Metric names a suite may request, without importing any metric (built-ins, plug-in
    entry points, and classes registered in this process); for validation that must not load torch."""
    return tuple(dict.fromkeys([*_BUILTIN, *_PLUGINS.names(), *_REGISTRY]))


class _AvailableNames(Sequence):
    """:func:`available_names` as a read-only sequence read when used (suite choices)."""

    def __getitem__(self, index):
        return available_names()[index]

    def __len__(self) -> int:
        return len(available_names())

    def __contains__(self, name: object) -> bool:
        return name in available_names()

    def __repr__(self) -> str:
        return repr(available_names())


#: Every metric name a suite may request (read lazily; imports no metric).
KNOWN_METRICS: Sequence[str] = _AvailableNames()


def metric_names() -> tuple[str, ...]:
    """Every usable metric name: built-ins in :data:`_BUILTIN` order, those registered in this
    process, then the plug-ins that load (a broken one is logged once and left out; asking for
    it by name, :func:`get_metric`, raises its :class:`~wetok_bench.plugins.PluginError`)."""
    _ensure_loaded()
    return (*_REGISTRY, *_PLUGINS.load_all(skip=_REGISTRY))


def get_metric(name: str) -> type[Metric]:
    """The metric class registered under ``name``; unknown names are a :class:`UsageError`."""
    _ensure_loaded()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _PLUGINS:
        return _PLUGINS.load(name)
    raise UsageError(f"unknown metric {name!r} (known: {', '.join(metric_names())})")


def check_metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    """``metrics`` without duplicates, each checked to be registered (non-empty)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    names = metric_names()
    for name in metrics:
        if name not in names and name in _PLUGINS:
            _PLUGINS.load(name)  # a plug-in that fails: its PluginError, not "unknown metric"
    unknown = [m for m in metrics if m not in names]
    if unknown or not metrics:
        raise UsageError(f"unknown metric(s) {unknown} (valid: {', '.join(names)})")
    return tuple(dict.fromkeys(metrics))


def result_keys(protocol=None, metrics: Iterable[str] | None = None) -> dict[str, ResultKey]:
    """Every result key (name -> :class:`ResultKey`) of ``metrics`` (default: all registered).

    ``protocol`` None lists the keys any protocol can produce (e.g. both ``lpips`` and
    ``lpips_vgg``), for readers of results (check, report, baselines).
    """
    out: dict[str, ResultKey] = {}
    for name in metrics if metrics is not None else metric_names():
        for key in get_metric(name).result_keys(protocol):
            out.setdefault(key.name, key)
    return out


def key_info(key: str) -> ResultKey | None:
    """The :class:`ResultKey` of a result key (a metric's or :data:`EXTRA_KEYS`), or None."""
    from wetok_bench.metrics.base import ResultKey

    found = result_keys().get(key)
    if found is None and key in EXTRA_KEYS:
        found = ResultKey(key, *EXTRA_KEYS[key])
    return found


def higher_is_better(key: str) -> bool | None:
    """Direction of a result key from the registry (None: not a registered key)."""
    info = key_info(key)
    return info.higher_is_better if info is not None else None


class _Directions(Mapping):
    """``{result key: higher_is_better}`` of every registered metric's keys and :data:`EXTRA_KEYS`
    (read when used, so plug-ins registered later appear)."""

    def _table(self) -> dict[str, bool]:
        table = {name: key.higher_is_better for name, key in result_keys().items()}
        table.update({name: extra[0] for name, extra in EXTRA_KEYS.items()})
        return table

    def __getitem__(self, key: str) -> bool:
        return self._table()[key]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


#: Direction of every known result key (check, reports, baselines read it).
DIRECTIONS: Mapping[str, bool] = _Directions()


def settings_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, message)`` for each registered metric's settings block in ``values`` that its
    metric refuses (:meth:`Metric.parse_settings`); absent or null blocks are its defaults. A
    requested plug-in metric that cannot be loaded is a problem of ``metrics``."""
    problems = []
    requested = values.get("metrics")
    loaded = metric_names()
    for name in requested if isinstance(requested, list) else []:
        if isinstance(name, str) and name not in loaded and name in _PLUGINS:
            try:
                _PLUGINS.load(name)
            except PluginError as error:
                problems.append(("metrics", str(error)))
    for name in metric_names():
        key = get_metric(name).settings_key
        if key is None and values.get(name) is not None:
            problems.append((name, f"metric {name!r} takes no settings"))
        if key is not None and values.get(key) is not None:
            try:
                get_metric(name).parse_settings(values[key])
            except UsageError as error:
                problems.append((key, str(error).removeprefix(f"{key}: ")))
    return problems


def metric_settings(metrics: Iterable[str], raw: Any) -> dict[str, Any]:
    """The validated settings of each metric that has a suite block (``kid: {...}``); ``raw``
    is the suite's settings (a mapping or :class:`~wetok_bench.settings.Settings`)."""
    raw = raw.to_dict() if hasattr(raw, "to_dict") else (raw or {})
    out: dict[str, Any] = {}
    for name in metrics:
        cls = get_metric(name)
        if cls.settings_key is not None:
            out[name] = cls.parse_settings(raw.get(cls.settings_key))
    return out


def metric_options(protocol, metrics: Iterable[str], settings: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """What each enabled non-classic metric reads: ``{name: {protocol option: value, settings}}``."""
    settings = settings or {}
    out: dict[str, dict] = {}
    for name in metrics:
        if name in CLASSIC:
            continue
        cls = get_metric(name)
        block = {option: getattr(protocol, option) for option in cls.protocol_options}
        if name in settings:
            block["settings"] = cls.settings_dict(settings[name])
        if block:
            out[name] = block
    return out


def protocol_fingerprint(protocol, metrics: Iterable[str], settings: Mapping[str, Any] | None = None) -> str:
    """sha256 of what the enabled ``metrics`` read under ``protocol``.

    With only classic metrics this is ``protocol.fingerprint`` (byte-identical to every
    recorded one); another enabled metric adds its :func:`metric_options`.
    """
    extra = metric_options(protocol, metrics, settings)
    if not extra:
        return protocol.fingerprint
    return sha256_json({**protocol.to_dict(), "metric_options": extra})


def weights_needs(protocol, metrics: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Per metric, its weights files as ``(slot, weights registry name)`` under ``protocol``."""
    return {name: list(get_metric(name).weights(protocol)) for name in metrics}
