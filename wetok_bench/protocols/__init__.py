"""Named, versioned metric protocols: a number means nothing without its definition.

A protocol (:class:`~wetok_bench.protocols.base.MetricProtocol`) pins every choice that changes
a metric's value (resize, uint8 conversion, feature extractor and its input, SSIM window, LPIPS
backbones and input) and has a fingerprint stored beside every result. Each protocol is one
module here with its declaration (``PROTOCOL``) and one line in :data:`PROTOCOLS`; third-party
protocols register through the entry-point group ``wetok_bench.protocols``. See
``docs/protocols.md``.
"""

from __future__ import annotations

from wetok_bench.core.registry import Registry, instance_of
from wetok_bench.protocols.base import MetricProtocol, OfficialAggregate
from wetok_bench.protocols.pixels import round_to_u8, truncate_to_u8, u8_float_table, u8_to_signed_float

__all__ = ["DEFAULT_PROTOCOL", "MetricProtocol", "OfficialAggregate", "PROTOCOLS", "get_protocol", "round_to_u8", "truncate_to_u8",
           "u8_float_table", "u8_to_signed_float"]

#: Every protocol by name: built-ins (``module:PROTOCOL``, imported on first use), plug-ins.
PROTOCOLS: Registry[MetricProtocol] = Registry("metric protocol", check=instance_of(MetricProtocol),
                                               group="wetok_bench.protocols")
for _name in ("standard", "wetok", "seed-voken", "open-magvit2-v1", "ibq", "llamagen", "dc-ae", "titok"):
    PROTOCOLS.builtin(_name, f"wetok_bench.protocols.{_name.replace('-', '_')}:PROTOCOL")

DEFAULT_PROTOCOL = "standard"


def get_protocol(name: str) -> MetricProtocol:
    """The protocol registered under ``name``; unknown names are a :class:`RegistryError`."""
    return PROTOCOLS.get(name)
