"""The metric registry: every metric name, direction, unit and weights file comes from here.

A metric is one class in one module (timm / torch-fidelity style registration), with its
metadata as class attributes and the running computation as instance methods (the torchmetrics
pattern; see :mod:`wetok_bench.metrics.base`). Built-in metrics are imported lazily, by module
path, the first time the registry is read; plug-ins register through the entry-point group
``wetok_bench.metrics`` (each entry point names a :class:`~wetok_bench.metrics.base.Metric`
subclass, or a module whose ``METRIC`` is one)::

    [project.entry-points."wetok_bench.metrics"]
    my_metric = "my_package.my_metric:MyMetric"

or call :func:`register_metric` directly. :data:`METRICS` is a
:class:`~wetok_bench.core.registry.Registry`: a plug-in that cannot be loaded is left out of
:func:`metric_names` with one warning, and naming it is its
:class:`~wetok_bench.core.plugins.PluginError`. Adding a built-in metric is its module under
``wetok_bench/metrics/`` plus its name in the ``METRICS.builtin`` loop below.

Protocol fingerprints: :func:`protocol_fingerprint` covers the protocol's settings (which the
classic metrics, :data:`CLASSIC`, read and every recorded result was measured under) plus, for
each other enabled metric, the protocol options and suite settings it reads; so registering a
metric leaves every recorded fingerprint valid, and its options count only where it is enabled.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import sha256_json
from wetok_bench.core.plugins import PluginError
from wetok_bench.core.registry import Registry, RegistryError

if TYPE_CHECKING:  # the metric classes import torch; names and lookups here must not
    from wetok_bench.metrics.base import Metric, ResultKey

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wetok_bench.metrics"

#: The metrics every protocol version up to now was defined with: their options are the
#: protocol's own settings (``MetricProtocol.to_dict()``), always in its fingerprint.
CLASSIC = ("psnr", "ssim", "lpips", "rfid")

def _checked_metric(name: str, obj: Any) -> type[Metric]:
    """The metric class of an entry (the class, or a module's ``METRIC``) if it is usable:
    a :class:`Metric` subclass whose ``name`` is the entry's name (the name suites use), a
    lower-case identifier, ``level`` one of ``image`` / ``set``, a boolean ``higher_is_better``."""
    from wetok_bench.metrics.base import LEVELS, Metric

    cls = getattr(obj, "METRIC", obj)
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise RegistryError(f"a metric must be a Metric subclass, got {cls!r}")
    own = getattr(cls, "name", "")
    if not isinstance(own, str) or not own.isidentifier() or own != own.lower():
        raise RegistryError(f"metric {cls.__name__}: name must be a lower-case identifier, got {own!r}")
    if own != name:
        raise RegistryError(f"its class {cls.__name__} is named {own!r}, not {name!r} as the entry point")
    if cls.level not in LEVELS:
        raise RegistryError(f"metric {own!r}: level must be one of {LEVELS}, got {cls.level!r}")
    if cls.settings_key not in (None, own):
        raise RegistryError(f"metric {own!r}: its settings block must be named after it ({own!r}), got {cls.settings_key!r}")
    if not isinstance(cls.higher_is_better, bool):
        raise RegistryError(f"metric {own!r}: higher_is_better must be True or False")
    return cls


#: Every metric: built-ins (``module:METRIC``, imported on first use), registered classes, plug-ins.
METRICS: Registry[type[Metric]] = Registry("metric", check=_checked_metric, group=ENTRY_POINT_GROUP,
                                           name_re=re.compile(r"^[a-z_][a-z0-9_]*$"))
for _name in ("psnr", "ssim", "lpips", "rfid", "kid", "fd_dinov2", "cmmd"):
    METRICS.builtin(_name, f"wetok_bench.metrics.{_name}:METRIC")


def register_metric(cls: type[Metric], *, overwrite: bool = False) -> type[Metric]:
    """Register a metric class under ``cls.name`` (usable as a decorator); returns ``cls``.

    Checked: a :class:`Metric` subclass, a lower-case identifier name not taken (unless
    ``overwrite``), ``level`` one of ``image`` / ``set``, a boolean ``higher_is_better``.
    """
    name = getattr(cls, "name", "")
    return METRICS.register(name, _checked_metric(name, cls), overwrite=overwrite)


def available_names() -> tuple[str, ...]:
    """Metric names a suite may request, without importing any metric (built-ins, plug-in
    entry points, and classes registered in this process); for validation that must not load torch."""
    return tuple(METRICS.names())


def metric_names() -> tuple[str, ...]:
    """Every usable metric name: built-ins, those registered in this process, then the plug-ins
    that load (a broken one is logged once and left out; asking for it by name,
    :func:`get_metric`, raises its :class:`~wetok_bench.core.plugins.PluginError`)."""
    return tuple(METRICS.load_all())


def closest_metric(name: str) -> str:
    """``"; did you mean 'x'?"`` for the registered metric name closest to ``name``, or ``""``."""
    from wetok_bench.core.errors import closest

    return closest(name, METRICS.names())


def get_metric(name: str) -> type[Metric]:
    """The metric class registered under ``name``; unknown names are a :class:`RegistryError`."""
    return METRICS.get(name)


def check_metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    """``metrics`` without duplicates, each checked to be registered (non-empty)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    names = metric_names()
    for name in metrics:
        if name not in names and name in METRICS:
            METRICS.get(name)  # a plug-in that fails: its PluginError, not "unknown metric"
    unknown = [m for m in metrics if m not in names]
    if unknown or not metrics:
        raise UsageError(f"unknown metric(s) {unknown} (valid: {', '.join(names)})")
    return tuple(dict.fromkeys(metrics))


def result_keys(protocol=None, metrics: Iterable[str] | None = None) -> dict[str, ResultKey]:
    """Every result key (name -> :class:`ResultKey`) of ``metrics`` (default: all registered),
    in column order (:attr:`ResultKey.order`, then registry order).

    ``protocol`` None lists the keys any protocol can produce (e.g. both ``lpips`` and
    ``lpips_vgg``), for readers of results (check, report, baselines).
    """
    out: dict[str, ResultKey] = {}
    for name in metrics if metrics is not None else metric_names():
        for key in get_metric(name).result_keys(protocol):
            out.setdefault(key.name, key)
    return dict(sorted(out.items(), key=lambda item: item[1].order))


def extra_keys() -> dict[str, ResultKey]:
    """Keys reported beside the metrics that are not a metric's (``bits_per_image``)."""
    from wetok_bench.metrics.base import ResultKey

    return {"bits_per_image": ResultKey("bits_per_image", False, "bits", "mean coded size per image", per_image=False,
                                        label="Bits / image", decimals=0, summary=False, tolerance=(0.0, 0.005))}


def key_info(key: str) -> ResultKey | None:
    """The :class:`ResultKey` of a result key (a metric's or :func:`extra_keys`), or None:
    the one place a key's direction, unit, label, decimals and tolerance are read from."""
    return result_keys().get(key) or extra_keys().get(key)


def higher_is_better(key: str) -> bool | None:
    """Direction of a result key from the registry (None: not a registered key)."""
    info = key_info(key)
    return info.higher_is_better if info is not None else None


def summary_keys(present: Iterable[str] | None = None) -> list[ResultKey]:
    """The keys shown as columns (:attr:`ResultKey.summary`), in column order; with ``present``,
    only those among it (the keys some result has)."""
    wanted = None if present is None else set(present)
    return [key for name, key in result_keys().items() if key.summary and (wanted is None or name in wanted)]


def settings_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, message)`` for each registered metric's settings block in ``values`` that its
    metric refuses (:meth:`Metric.parse_settings`); absent or null blocks are its defaults. A
    requested plug-in metric that cannot be loaded is a problem of ``metrics``."""
    problems = []
    requested = values.get("metrics")
    loaded = metric_names()
    for name in requested if isinstance(requested, list) else []:
        if isinstance(name, str) and name not in loaded and name in METRICS:
            try:
                METRICS.get(name)
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
    is the suite's settings (a mapping or :class:`~wetok_bench.config.settings.Settings`)."""
    raw = raw.to_dict() if hasattr(raw, "to_dict") else (raw or {})
    out: dict[str, Any] = {}
    for name in metrics:
        cls = get_metric(name)
        if cls.settings_key is not None:
            parsed = cls.parse_settings(raw.get(cls.settings_key))
            if parsed is not None:  # None: a metric whose defaults are no settings at all (rfid)
                out[name] = parsed
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


def weight_slots() -> list[str]:
    """Every weights slot some registered metric reads under some registered protocol
    (``inception``, ``lpips_alex``, ``lpips_vgg`` ...): the keys a suite's ``weights:`` block and
    ``score --weights`` accept."""
    from wetok_bench.protocols import PROTOCOLS

    protocols = list(PROTOCOLS.load_all().values())
    return list(dict.fromkeys(slot for name in metric_names() for protocol in protocols
                              for slot, _ in get_metric(name).weights(protocol)))


def weight_names() -> list[str]:
    """Every weights file (its registry name: ``inception-v3-compat``, ``pytorch-fid-inception``
    ...) some registered metric reads under some registered protocol: a suite's ``weights:``
    block accepts them as keys too, for suites whose protocols read different files in one slot."""
    from wetok_bench.protocols import PROTOCOLS

    protocols = list(PROTOCOLS.load_all().values())
    return list(dict.fromkeys(name for metric in metric_names() for protocol in protocols
                              for _, name in get_metric(metric).weights(protocol)))


def ambiguous_weight_slots(given: Iterable[str], metrics: Iterable[str], protocols) -> list[tuple[str, list[str]]]:
    """``(slot, file names)`` of each slot in ``given`` that the ``protocols`` fill with different
    files (``inception``: torch-fidelity's under ``standard``, pytorch-fid's under ``wetok``) and
    whose files are not all given by name: one path for it would be loaded into both networks."""
    given, metrics = set(given), list(metrics)
    by_slot: dict[str, set[str]] = {}
    for protocol in protocols:
        for needs in weights_needs(protocol, [m for m in metrics if protocol.defines(m)]).values():
            for slot, name in needs:
                by_slot.setdefault(slot, set()).add(name)
    return [(slot, sorted(names)) for slot, names in sorted(by_slot.items())
            if slot in given and len(names) > 1 and not names <= given]


def weights_needs(protocol, metrics: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Per metric, its weights files as ``(slot, weights registry name)`` under ``protocol``."""
    return {name: list(get_metric(name).weights(protocol)) for name in metrics}
