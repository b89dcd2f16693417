"""One object that computes every requested metric of a protocol on batches of (original, reconstruction).

:class:`ReconstructionEvaluator` is what the suite runner, ``wetok-bench score`` and the Python
API (:mod:`wetok_bench.engine.api`) drive in their streaming loops. It builds the registered
metrics (:mod:`wetok_bench.metrics.registry`) and the feature extractors their set-level
metrics share (one Inception pass per batch for rFID and KID), takes uint8 originals and the
tokenizer's float output, returns per-image values (PSNR, SSIM, LPIPS ...) and accumulates the
set-level states (rFID's float64 sums, KID's features). It does no file I/O beyond loading
weights when it is built.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

import torch

from wetok_bench.core.devices import fp32_strict, resolve_device  # noqa: F401 - resolve_device re-exported
from wetok_bench.core.errors import TokenizerOutputError, UsageError
from wetok_bench.metrics import registry
from wetok_bench.metrics.base import Batch, ImageMetric, SetMetric, SetStates
from wetok_bench.metrics.extractors import extractor_view, get_extractor
from wetok_bench.metrics.functional.psnr import check_image_pair
from wetok_bench.protocols import MetricProtocol, get_protocol

#: The metrics measured when none are named (every registered one: ``registry.metric_names()``).
VALID_METRICS = registry.CLASSIC
DEFAULT_METRICS = registry.CLASSIC
#: Libraries whose versions can change a value; recorded in every fingerprint.
_VERSIONED = ("torch", "torchvision", "lpips", "torch-fidelity", "clean-fid", "scikit-image", "numpy")

LpipsWeights = Mapping[str, "str | Path | None"] | str | Path | None

#: A reconstruction value counts as clamped when ``|x| > CLAMP_THRESHOLD``. Every protocol clamps
#: to [-1, 1]; overshoots within half a uint8 step (1/255 in the [-1, 1] scale) are normal for
#: decoders and change no rounded pixel, so only values beyond that, where the clamp changes the
#: pixel the protocol would otherwise give, are counted (and recorded in the summary).
CLAMP_THRESHOLD = 1.0 + 1.0 / 255.0
#: An output in [0, 255] (or any unnormalised range) reaches far beyond 1: :func:`clamp_warning`
#: speaks when some value's magnitude exceeds this. Decoders that overshoot a little (TAESD's have no
#: output clamp and reach about 1.2) stay below it.
RANGE_LIMIT = 2.0
#: Dark pixels: originals below uint8 96 are below -0.25 in [-1, 1]. An output in [0, 1] has no value
#: there, however dark the image: :func:`clamp_warning` speaks when the originals have more than
#: :data:`DARK_SHARE` of their values dark and the reconstructions fewer than a tenth as many.
DARK_U8, DARK_FLOAT, DARK_SHARE = 96, -0.25, 0.05


def new_clamp_counts() -> list:
    """``[clamped, total, dark reconstruction values, dark original values, max |x|]``: what a
    shard keeps of the reconstructions' range (older shards kept the first two only)."""
    return [0, 0, 0, 0, 0.0]


def merge_clamp_counts(a: Sequence, b: Sequence) -> list:
    """Two shards' counts together: sums, the maximum by maximum (a shard that kept two: unknown rest)."""
    if len(a) < 5 or len(b) < 5:
        return [a[0] + b[0], a[1] + b[1]]
    return [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], max(a[4], b[4])]


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _lpips_paths(protocol: MetricProtocol, weights: LpipsWeights) -> dict[str, str | Path | None]:
    """Backbone file per LPIPS net of ``protocol`` (None = resolve the known file)."""
    nets = protocol.lpips_nets
    if weights is None:
        return {net: None for net in nets}
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(nets))
        if unknown:
            raise UsageError(
                f"LPIPS weights given for {unknown}, but protocol {protocol.name!r} uses {list(nets)}"
            )
        return {net: weights.get(net) for net in nets}
    if len(nets) > 1:
        raise UsageError(
            f"protocol {protocol.name!r} uses LPIPS backbones {list(nets)}: give one weights file per backbone "
            f"(e.g. --lpips-weights alex=PATH --lpips-weights vgg=PATH)"
        )
    return {nets[0]: weights}


class ReconstructionEvaluator:
    """Per-image metrics and streaming set-level states under one metric protocol.

    Args:
        protocol: a :class:`MetricProtocol` or its name (``standard``, ``wetok``).
        metrics: registered metric names (default :data:`DEFAULT_METRICS`, less those the
            protocol does not define); one the protocol does not define is a UsageError.
        device: where the networks and the metric arithmetic run (``auto`` allowed).
        inception_weights: Inception weights file; None resolves the protocol's known file.
        lpips_weights: backbone file(s): one path (protocols with one backbone), a mapping
            ``{"alex": path, "vgg": path}``, or None to resolve the known files.
        weights: any metric's files by slot (``inception``, ``lpips_alex``, a plug-in's own).
        settings: parsed settings per metric name (:func:`registry.metric_settings`); a metric
            without an entry gets its defaults.

    Typical loop::

        ev = ReconstructionEvaluator("standard")
        ref = ev.new_reference()
        for originals_u8 in loader:                       # uint8 B x 3 x H x W
            ev.update_reference(ref, originals_u8)        # or a cached reference
            rows.append(ev.update(originals_u8, tokenizer.reconstruct(ev.protocol.original_float(originals_u8))))
        results = ev.compute_sets(ref)                    # {"rfid": {...}, ...}
    """

    def __init__(
        self,
        protocol: MetricProtocol | str,
        metrics: Sequence[str] = DEFAULT_METRICS,
        device: str | torch.device = "cpu",
        inception_weights: str | Path | None = None,
        lpips_weights: LpipsWeights = None,
        weights: Mapping[str, "str | Path | None"] | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> None:
        self.protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
        if metrics is DEFAULT_METRICS:  # the defaults a protocol defines (no LPIPS under llamagen)
            metrics = [m for m in metrics if self.protocol.defines(m)]
        self.metrics = registry.check_metrics(metrics)
        undefined = [m for m in self.metrics if not self.protocol.defines(m)]
        if undefined:
            raise UsageError(f"protocol {self.protocol.name!r} does not define {', '.join(undefined)} (its official "
                             f"evaluation does not compute it); leave it out or choose another protocol")
        self.device = resolve_device(device)
        files: dict[str, str | Path | None] = dict(weights or {})
        if inception_weights is not None:
            files.setdefault("inception", inception_weights)
        if "lpips" in self.metrics:
            files.update({f"lpips_{net}": path for net, path in _lpips_paths(self.protocol, lpips_weights).items()
                          if path is not None or f"lpips_{net}" not in files})
        settings = dict(settings or {})
        defaults = {name: settings.get(name, registry.get_metric(name).parse_settings(None))
                    for name in self.metrics if registry.get_metric(name).settings_key is not None}
        # a metric whose default is no settings at all (rfid) records none: fingerprints unchanged
        self.settings = {name: value for name, value in defaults.items() if value is not None}
        self._clamp = new_clamp_counts()
        #: the last batch's reconstruction features by extractor (set by update; per-group statistics read them)
        self.last_features: dict[str, torch.Tensor] = {}
        #: feature extractors by name, built once and shared by every set metric naming them
        self.extractors: dict[str, object] = {}
        self.image_metrics: dict[str, ImageMetric] = {}
        self.set_metrics: dict[str, SetMetric] = {}
        for name in self.metrics:
            cls = registry.get_metric(name)
            mine = {slot: files.get(slot) for slot, _ in cls.weights(self.protocol)}
            if issubclass(cls, SetMetric):
                extractor = cls.extractor(self.protocol)
                if extractor not in self.extractors:
                    spec = get_extractor(extractor)
                    self.extractors[extractor] = spec.build(files.get(spec.slot), self.device)
                dim = self.extractors[extractor].dim
                self.set_metrics[name] = cls(self.protocol, self.device, mine, self.settings.get(name), dim=dim)
            else:
                self.image_metrics[name] = cls(self.protocol, self.device, mine, self.settings.get(name))
        #: the set metric also computed per image group (rFID per COCO supercategory), or None
        self.group_metric: str | None = next((name for name, m in self.set_metrics.items() if m.per_group), None)

    # --- per batch -----------------------------------------------------------------------

    @property
    def value_keys(self) -> list[str]:
        """Keys of the per-image values :meth:`update` returns, in order."""
        return [key.name for metric in self.image_metrics.values() for key in metric.result_keys(self.protocol)]

    def reference_features(self, original_u8: torch.Tensor) -> dict[str, torch.Tensor]:
        """Features (float64, B x dim) of uint8 originals by extractor name, each through the
        protocol's view (one pass per extractor, shared by the set metrics that read it)."""
        if not self.extractors:
            raise UsageError("reference features need a set-level metric (rfid, kid ...), which this evaluator "
                             "was built without")
        _check_originals(original_u8)
        original_u8 = original_u8.to(self.device)
        views = {"fid": self.protocol.fid_view_original, "uint8": self.protocol.original_u8_view}
        with torch.inference_mode(), fp32_strict():
            return {name: net(views[extractor_view(name)](original_u8)) for name, net in self.extractors.items()}

    def extractor_of(self, name: str) -> str:
        """The extractor set metric ``name`` reads."""
        return type(self.set_metrics[name]).extractor(self.protocol)

    def new_reference(self) -> SetStates:
        """Empty originals' states, one per set metric (``{name: state}``)."""
        return SetStates({name: metric.new_reference_state(metric.dim) for name, metric in self.set_metrics.items()})

    def update_reference(self, reference: Mapping[str, object], original_u8: torch.Tensor) -> dict[str, torch.Tensor]:
        """Add uint8 originals to ``reference`` (each set metric's state gets its extractor's
        features); returns those features by extractor ({} without set metrics)."""
        if not self.set_metrics:
            return {}
        features = self.reference_features(original_u8)
        for name, state in reference.items():
            state.update(features[self.extractor_of(name)])
        return features

    # The originals' states as one flat {name: tensor} dict (reference cache files): rFID's
    # FeatureStats fields unprefixed, exactly the layout of the files written before other set
    # metrics existed, so those stay valid; another metric's fields as "<metric>.<field>".

    def reference_cache_key(self) -> dict:
        """What the cache key adds for this evaluator's set metrics: nothing with rFID alone
        (old files stay valid), else the metrics whose states the file also keeps."""
        kept = sorted(name for name in self.set_metrics if name != "rfid")
        key: dict = {"kept_states": kept} if kept else {}
        # every feature network besides the Inception whose weights the key already names
        others = {get_extractor(name).slot: net.weights_sha256 for name, net in self.extractors.items()
                  if get_extractor(name).slot != "inception"}
        if others:
            key["feature_weights"] = dict(sorted(others.items()))
        return key

    def encode_reference(self, reference: Mapping[str, object]) -> dict[str, torch.Tensor]:
        flat: dict[str, torch.Tensor] = {}
        for name, state in reference.items():
            for field, value in state.state_dict().items():
                flat[field if name == "rfid" else f"{name}.{field}"] = torch.as_tensor(value)
        return flat

    def decode_reference(self, flat: Mapping[str, torch.Tensor]) -> SetStates:
        parts: dict[str, dict] = {name: {} for name in self.set_metrics}
        for field, value in flat.items():
            name, _, rest = field.rpartition(".")
            parts[name or "rfid"][rest] = value
        return SetStates({name: self.set_metrics[name].state_from_dict(parts[name]) for name in self.set_metrics})

    def update(self, original_u8: torch.Tensor, recon: torch.Tensor, *, shared: dict | None = None
               ) -> dict[str, torch.Tensor]:
        """Score one batch; returns per-image float64 CPU tensors [B] keyed by :attr:`value_keys`.

        Args:
            original_u8: uint8 originals, B x 3 x H x W.
            recon: the tokenizer's reconstruction of them, float, nominally in [-1, 1]
                (clamped and quantized here as the protocol says).
            shared: a memo of views and features (:class:`~wetok_bench.metrics.base.Batch`)
                shared with other evaluators scoring the same tensors under other protocols.

        Also adds the reconstructions' features to every set metric's state.
        """
        _check_originals(original_u8)
        check_image_pair(original_u8, recon, "reconstruction")
        if not recon.is_floating_point():
            raise UsageError(f"reconstructions must be float in [-1, 1], got {recon.dtype} (uint8 files: u8 / 127.5 - 1)")
        original_u8 = original_u8.to(self.device)
        recon = recon.to(self.device)
        self._clamp = merge_clamp_counts(self._clamp, _range_counts(original_u8, recon))
        batch = Batch(self.protocol, original_u8, recon, self.extractors, memo=shared)
        out: dict[str, torch.Tensor] = {}
        for metric in self.image_metrics.values():
            out.update(metric.update(batch))
        for metric in self.set_metrics.values():
            metric.update(batch)
        self.last_features = {name: batch.features(name) for name in self.extractors}  # computed once, above
        return {key: value.detach().to("cpu", torch.float64) for key, value in out.items()}

    # --- set level -----------------------------------------------------------------------

    def set_states(self) -> dict[str, dict]:
        """Every set metric's state as a ``state_dict`` (``{name: state}``), for shards and ranks."""
        return {name: metric.state_dict() for name, metric in self.set_metrics.items()}

    def decode_states(self, states: Mapping[str, dict]) -> SetStates:
        """:class:`SetStates` from :meth:`set_states` output (a shard's; an rFID-only shard
        written before other set metrics existed, a bare FeatureStats state, reads too)."""
        if "outer" in states:
            states = {"rfid": states}
        return SetStates({name: self.set_metrics[name].state_from_dict(state) for name, state in states.items()})

    def merge_states(self, states: Mapping[str, dict]) -> None:
        """Merge :meth:`set_states` of another shard or rank (call in shard order: exact)."""
        for name, state in states.items():
            self.set_metrics[name].merge(state)

    @property
    def clamp_counts(self) -> list:
        """The reconstructions' range since :meth:`reset` (or construction), :func:`new_clamp_counts`:
        values with ``|x| > CLAMP_THRESHOLD`` that the protocol clamped, all values seen, the dark
        values of reconstructions and originals, the largest magnitude."""
        return list(self._clamp)

    @clamp_counts.setter
    def clamp_counts(self, counts: Sequence) -> None:
        self._clamp = list(counts)

    def reset(self) -> None:
        """Forget the reconstructions seen so far (the networks stay loaded)."""
        self._clamp = new_clamp_counts()
        for metric in [*self.image_metrics.values(), *self.set_metrics.values()]:
            metric.reset()

    def prepare_references(self, reference: Mapping[str, object]) -> dict[str, object]:
        """Each set metric's originals' state made ready for many comparisons
        (:meth:`SetMetric.prepare_reference`: rFID's factorised covariance)."""
        return {name: metric.prepare_reference(reference[name]) for name, metric in self.set_metrics.items()
                if reference.get(name) is not None}

    def compute_sets(self, reference: Mapping[str, object], states: Mapping[str, object] | None = None) -> dict[str, dict]:
        """Every set metric's summary block against the originals' states ``reference``
        ({name: state, or a prepared reference}); ``states``: the reconstructions' (default the
        evaluator's own). A metric that cannot be computed (fewer than 2 images, no reference)
        gives ``{"skipped": reason}``."""
        out: dict[str, dict] = {}
        for name, metric in self.set_metrics.items():
            if reference.get(name) is None:
                out[name] = {"skipped": "no reference (originals') features"}
                continue
            if states is not None and states.get(name) is None:
                out[name] = {"skipped": "no image measured"}
                continue
            try:
                out[name] = metric.compute(reference[name], states[name] if states is not None else None)
            except UsageError as error:
                out[name] = {"skipped": str(error)}
        return out

    def fingerprint(self) -> dict:
        """Everything that defines the values: protocol, metrics, weight hashes, library versions.

        ``protocol_fingerprint`` covers what the enabled metrics read
        (:func:`registry.protocol_fingerprint`; the protocol's own with classic metrics);
        ``metric_settings`` is present only when a metric with settings (KID) is enabled.
        """
        weights: dict[str, dict] = {}
        for name, net in self.extractors.items():
            weights[get_extractor(name).slot] = {"kind": net.kind, "sha256": net.weights_sha256}
        for metric in self.image_metrics.values():
            weights.update(metric.weights_fingerprint())
        out = {
            "protocol": self.protocol.name,
            "protocol_version": self.protocol.version,
            "protocol_fingerprint": registry.protocol_fingerprint(self.protocol, self.metrics, self.settings),
            "protocol_settings": self.protocol.to_dict(),
            "metrics": list(self.metrics),
            "weights": weights,
            "versions": _library_versions(),
        }
        if self.settings:
            out["metric_settings"] = {name: registry.get_metric(name).settings_dict(value)
                                      for name, value in self.settings.items()}
        return out


def clamp_warning(name: str, counts: Sequence) -> str | None:
    """One line saying that ``name``'s output looks like another range than [-1, 1], or None.

    ``counts``: :attr:`ReconstructionEvaluator.clamp_counts` (:func:`new_clamp_counts`). A value
    beyond :data:`RANGE_LIMIT` points at [0, 255] (or an unnormalised output); no dark value where
    the originals have many (:data:`DARK_SHARE`) points at [0, 1]. A decoder that overshoots [-1, 1]
    a little is right: its clamped share is recorded in the summary, without a warning.
    """
    if len(counts) < 5 or counts[1] <= 0:
        return None
    clamped, total, dark, dark_originals, largest = counts[:5]
    if largest > RANGE_LIMIT:
        return (f"{name}: reconstruction values reach {largest:.4g} ({clamped / total:.2%} beyond +-{CLAMP_THRESHOLD:.4f}, "
                f"clamped to [-1, 1]): is the output in [-1, 1] (not [0, 255])?")
    if dark_originals > DARK_SHARE * total and dark < 0.1 * dark_originals:
        return (f"{name}: {dark_originals / total:.1%} of the originals' values are below {DARK_FLOAT} in [-1, 1], "
                f"{dark / total:.2%} of the reconstructions': is the output in [-1, 1] (not [0, 1])?")
    return None


def _range_counts(original_u8: torch.Tensor, recon: torch.Tensor) -> list:
    """:func:`new_clamp_counts` of one batch; a :class:`TokenizerOutputError` for NaN or Inf.

    One pass (``aminmax``, which propagates NaN) finds the extremes; the values beyond the clamp
    threshold are counted only when an extreme lies beyond it, with the same comparisons in
    ``recon``'s dtype.
    """
    low, high = torch.aminmax(recon)
    finite, beyond = torch.stack([torch.isfinite(low) & torch.isfinite(high),
                                  (high > CLAMP_THRESHOLD) | (low < -CLAMP_THRESHOLD)]).tolist()
    if not finite:
        raise TokenizerOutputError("the reconstruction contains NaN or Inf values")
    clamped = int(torch.count_nonzero(recon.abs() > CLAMP_THRESHOLD)) if beyond else 0
    dark = int(torch.count_nonzero(recon < DARK_FLOAT))
    dark_originals = int(torch.count_nonzero(original_u8 < DARK_U8))
    return [clamped, recon.numel(), dark, dark_originals, max(abs(float(low)), abs(float(high)))]


def _check_originals(original_u8: torch.Tensor) -> None:
    if original_u8.dtype != torch.uint8:
        raise UsageError(f"originals must be uint8 images, got {original_u8.dtype}")
    if original_u8.ndim != 4 or original_u8.shape[1] != 3:
        raise UsageError(f"originals must be B x 3 x H x W, got shape {tuple(original_u8.shape)}")
