"""What a metric is: one class with its metadata and its running computation.

Two levels:

:class:`ImageMetric`
    a value per image (PSNR, SSIM, LPIPS); ``update(batch)`` returns them, the summary is the
    mean over images (:func:`~wetok_bench.metrics.aggregate.summarize`); per-image values merge
    across shards and ranks by concatenation in shard order, so no state of its own.
:class:`SetMetric`
    one value for the whole set (rFID, KID), from features of a shared feature extractor
    (:mod:`wetok_bench.metrics.extractors`: one network pass per batch whatever the number of set
    metrics). It keeps a state of the reconstructions' features (``new_state``) with
    ``update(features)``, ``merge(other)``, ``state_dict()`` and ``n``; states of shards and
    ranks merge exactly when merged in shard order. The originals' state is the same type
    (the reference), and ``compute(reference)`` gives the summary block.

Class attributes are the metadata the registry, suite validation, weights resolution, check,
reports and the CLI read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch

from wetok_bench.core.devices import fp32_strict

LEVELS = ("image", "set")


@dataclass(frozen=True)
class ResultKey:
    """A value a metric reports, and everything readers need to show, compare and gate it.

    Attributes:
        name: its key in results (``psnr``, ``lpips_vgg``, ``rfid`` ...).
        higher_is_better: direction of improvement (check, reports, rankings).
        unit: of the value (``dB``; ``""`` for unitless).
        description: what the value is.
        per_image: a mean over per-image values (else one value for the set).
        label, decimals: how reports show it (label default: the key).
        order: position among the columns of tables and plots (the papers' order: rFID, PSNR,
            SSIM, LPIPS; a plug-in's keys follow).
        summary: shown as a column of the console table, leaderboards and paper tables, and
            drawn against rate and re-encoding cycle (False: kept in the files only).
        tolerance: ``(abs, rel)``: the worsening ``check`` allows, ``max(abs, rel * |baseline|)``
            in the key's unit.
        bd: a quality axis of the Bjontegaard-delta table (BD-<label> at equal rate);
            ``bd_rate``: the quality at which BD-rate is measured.
        grid_rank: preference for ranking a job's worst images in the grids (lower first; None:
            not preferred, used only when no preferred key was measured).
    """

    name: str
    higher_is_better: bool
    unit: str = ""
    description: str = ""
    per_image: bool = True
    label: str = ""
    decimals: int = 4
    order: int = 100
    summary: bool = True
    tolerance: tuple[float, float] = (0.0, 0.01)
    bd: bool = False
    bd_rate: bool = False
    grid_rank: int | None = None

    def to_dict(self) -> dict:
        """The result's ``metric_info`` entry: ``higher_is_better``, ``unit``, ``description``."""
        return {"higher_is_better": self.higher_is_better, "unit": self.unit, "description": self.description}

    @property
    def header(self) -> str:
        """Column header: the label, with the unit in brackets when there is one."""
        label = self.label or self.name
        return f"{label} ({self.unit})" if self.unit else label


class Batch:
    """One batch as metrics see it: uint8 originals, float reconstructions (on the metrics'
    device), the protocol, and views and features computed once and shared by every metric.

    ``memo``: where views and features are kept, by a key naming what they depend on (the
    protocol's view keys, the network and its weights); a pass scoring the same batch under
    several protocols passes one memo to all, so what two protocols define alike is made once.
    """

    def __init__(self, protocol, original_u8: torch.Tensor, recon: torch.Tensor,
                 extractors: Mapping[str, Any] | None = None, memo: dict[str, Any] | None = None) -> None:
        self.protocol, self.original_u8, self.recon = protocol, original_u8, recon
        self._extractors = extractors or {}
        self._memo: dict[str, Any] = {} if memo is None else memo

    def view(self, name: str, make: Callable[[], Any]) -> Any:
        """``make()`` the first time ``name`` is asked for in this batch, then the same object.
        ``name`` must name everything the value depends on (the memo may be shared)."""
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    def features(self, extractor: str) -> torch.Tensor:
        """The reconstructions' features (float64 B x dim) from the named extractor, once per batch,
        on the view it reads (:attr:`ExtractorSpec.view`: the Inception view or the uint8 one)."""
        from wetok_bench.metrics.extractors import extractor_view

        net = self._extractors[extractor]
        if extractor_view(extractor) == "uint8":
            view_key, make = self.protocol.pixel_view_key, lambda: self.view(
                self.protocol.pixel_view_key, lambda: self.protocol.pixel_views(self.original_u8, self.recon))[1]
        else:
            view_key, make = self.protocol.fid_view_key, lambda: self.protocol.fid_view_recon(self.recon)
        key = f"features:{extractor}:{getattr(net, 'weights_sha256', id(net))}:{view_key}"
        return self.view(key, lambda: _features(net, make()))


def _features(net, images: torch.Tensor) -> torch.Tensor:
    # every extractor, plug-ins included, runs in float32 as specified (TF32 off, restored after)
    with torch.inference_mode(), fp32_strict():
        return net(images)


class SetStates(dict):
    """Set metrics' states by metric name (``{"rfid": FeatureStats, "kid": FeatureBank}``);
    merging merges each (exact when merged in shard order), ``n`` is the images counted."""

    def merge(self, other: "SetStates") -> "SetStates":
        for name, state in other.items():
            if name in self:
                self[name].merge(state)
            else:
                self[name] = state
        return self

    @property
    def n(self) -> int:
        return max((int(state.n) for state in self.values()), default=0)

    def state_dict(self) -> dict[str, dict]:
        return {name: state.state_dict() for name, state in self.items()}


class Metric:
    """Base of every metric. Subclass :class:`ImageMetric` or :class:`SetMetric`.

    Class attributes:
        name: registry name (the suite's ``metrics:`` entry).
        level: ``image`` or ``set``.
        higher_is_better, unit, description: of the headline result key ``name``.
        protocol_options: the :class:`~wetok_bench.protocols.MetricProtocol` fields it reads
            (a non-classic metric's enter the fingerprint when it is enabled).
        settings_key: the suite setting block it reads (``kid``), or None.
        label, decimals, order, summary, tolerance, bd, bd_rate, grid_rank: of its headline
            key (:class:`ResultKey`): how reports show it (``PSNR``, 2), where its column goes,
            what ``check`` allows, its roles in the Bjontegaard table and the grids.

    The constructor gets the protocol, the device, its weights files by slot (see
    :meth:`weights`; None = resolve the known file) and its parsed settings.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = "image"
    higher_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    description: ClassVar[str] = ""
    protocol_options: ClassVar[tuple[str, ...]] = ()
    settings_key: ClassVar[str | None] = None
    label: ClassVar[str] = ""
    decimals: ClassVar[int] = 4
    order: ClassVar[int] = 100
    summary: ClassVar[bool] = True
    tolerance: ClassVar[tuple[float, float]] = (0.0, 0.01)
    bd: ClassVar[bool] = False
    bd_rate: ClassVar[bool] = False
    grid_rank: ClassVar[int | None] = None

    def __init__(self, protocol, device: torch.device, weights: Mapping[str, "str | Path | None"] | None = None,
                 settings: Any = None) -> None:
        self.protocol, self.device, self.settings = protocol, device, settings
        self.weights_files = dict(weights or {})

    @classmethod
    def result_keys(cls, protocol=None) -> tuple[ResultKey, ...]:
        """The keys it reports under ``protocol`` (None: every key it can report)."""
        return (cls.headline_key(),)

    @classmethod
    def headline_key(cls, **changes) -> ResultKey:
        """The :class:`ResultKey` of the class attributes (``changes`` override them: a metric
        with several keys derives the others from it)."""
        fields = dict(name=cls.name, higher_is_better=cls.higher_is_better, unit=cls.unit, description=cls.description,
                      per_image=cls.level == "image", label=cls.label, decimals=cls.decimals, order=cls.order,
                      summary=cls.summary, tolerance=cls.tolerance, bd=cls.bd, bd_rate=cls.bd_rate,
                      grid_rank=cls.grid_rank)
        return ResultKey(**{**fields, **changes})

    @classmethod
    def weights(cls, protocol) -> tuple[tuple[str, str], ...]:
        """Weights files it needs under ``protocol``: ``(slot, weights registry name)`` pairs."""
        return ()

    @classmethod
    def parse_settings(cls, raw: Any) -> Any:
        """Validated settings from the suite block ``settings_key`` (None: its defaults)."""
        return None

    @classmethod
    def settings_dict(cls, settings: Any) -> dict:
        """Settings as plain data (recorded in the summary and the fingerprint)."""
        return {}

    def weights_fingerprint(self) -> dict[str, dict]:
        """``{slot: {sha256 ...}}`` of the weights it loaded (the manifest's ``weights``)."""
        return {}

    def reset(self) -> None:
        """Forget what was seen (networks stay loaded)."""


class ImageMetric(Metric):
    """A metric with one value per image."""

    level: ClassVar[str] = "image"

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-image values (tensors of shape [B]) keyed by its result keys."""
        raise NotImplementedError


class SetMetric(Metric):
    """A metric of the whole set, from features of the protocol's feature extractor.

    Subclasses give :meth:`new_state`, :meth:`state_from_dict` and :meth:`compute`; the
    extractor is built once by the engine and its features shared (:meth:`Batch.features`).
    """

    level: ClassVar[str] = "set"
    #: also computed per image group (COCO supercategory) when the images are labelled; its
    #: summary block is :meth:`group_block`
    per_group: ClassVar[bool] = False

    @classmethod
    def group_block(cls) -> str:
        """The summary key of its per-group values: ``<name>_by_supercategory``."""
        return f"{cls.name}_by_supercategory"

    @classmethod
    def extractor(cls, protocol) -> str:
        """Name of the feature extractor it reads (:mod:`wetok_bench.metrics.extractors`)."""
        return protocol.fid_extractor

    @classmethod
    def weights(cls, protocol) -> tuple[tuple[str, str], ...]:
        from wetok_bench.metrics.extractors import get_extractor

        spec = get_extractor(cls.extractor(protocol))
        return ((spec.slot, spec.weights_name),)

    def __init__(self, protocol, device, weights=None, settings=None, dim: int = 2048) -> None:
        super().__init__(protocol, device, weights, settings)
        self.dim = dim
        self.state = self.new_state(dim)

    def new_state(self, dim: int):
        """An empty features state (update / merge / state_dict / n)."""
        raise NotImplementedError

    def new_reference_state(self, dim: int):
        """An empty originals' state (default: :meth:`new_state`)."""
        return self.new_state(dim)

    def state_from_dict(self, state: dict):
        """A features state from its ``state_dict``."""
        raise NotImplementedError

    def update(self, batch: Batch) -> None:
        self.state.update(batch.features(self.extractor(self.protocol)))

    def reset(self) -> None:
        self.state = self.new_state(self.dim)

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def merge(self, state: dict) -> None:
        """Merge another shard's or rank's ``state_dict`` (call in shard order)."""
        self.state.merge(self.state_from_dict(state))

    @classmethod
    def prepare_reference(cls, reference: Any, cache_key: dict | None = None) -> Any:
        """The originals' state made ready to be compared with many reconstruction sets (default:
        the state itself); ``cache_key``: the reference cache's key of that state, for a metric
        that keeps its preparation on disk beside it."""
        return reference

    def compute(self, reference, state=None) -> dict:
        """The summary block against the originals' ``reference`` state (or its
        :meth:`prepare_reference`; ``state``: the reconstructions', default this metric's own).
        A :class:`~wetok_bench.core.errors.UsageError` when it cannot be computed (too few images)."""
        raise NotImplementedError

    @classmethod
    def value_from_features(cls, protocol, reference, features, settings: Any = None) -> float:
        """The headline value of reconstruction ``features`` against originals' ``reference``
        features (arrays N x d, rows = images), through the metric's own states and
        :meth:`compute` on the CPU: the replicate of a paired set bootstrap
        (:func:`wetok_bench.results.paired.paired_set_bootstrap`)."""
        features, reference = (torch.as_tensor(np.asarray(a)) for a in (features, reference))
        metric = cls(protocol, torch.device("cpu"), settings=settings, dim=int(features.shape[1]))
        ref = metric.new_reference_state(metric.dim)
        ref.update(reference)
        metric.state.update(features)
        return float(metric.compute(ref)[cls.name])

    @classmethod
    def headline(cls, block: Mapping[str, Any]) -> dict[str, float]:
        """The values of its result keys in a :meth:`compute` block (the summary's ``metrics``)."""
        return {key.name: block[key.name] for key in cls.result_keys() if key.name in block}
