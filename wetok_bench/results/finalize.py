"""One finalize: what a measurement becomes in a job's ``summary.json``, for ``run``, ``score``
and the Python API alike.

A :class:`Measurement` holds what a pass measured: per-image rows (in the sorted image order),
each set metric's block (or why it was skipped), the files skipped, the clamp counts.
:func:`finalize` turns it into the :class:`~wetok_bench.results.records.JobSummary` every path
writes: ``metrics`` (the mean over images of each per-image value, the protocol's official
aggregates, each set metric's headline values), ``metric_info`` (from the metric registry),
``skipped_metrics``, each set metric's block under its name, ``counts``, ``skipped_files`` and
``clamped``. ``run`` adds its tokenizer blocks (compression, tokens, cost, cycles) to the same
record; ``score`` and the API have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from wetok_bench.metrics.aggregate import protocol_aggregates, summarize
from wetok_bench.metrics.evaluator import CLAMP_THRESHOLD
from wetok_bench.metrics.registry import get_metric, result_keys
from wetok_bench.results.records import JobSummary


@dataclass(frozen=True)
class JobHeader:
    """Who measured what: the suite, the job id (its folder), the tokenizer and dataset blocks
    (``{name, type, ...}``) and the resolution (pixels per side, or ``original``)."""

    suite: str
    job: str
    tokenizer: dict[str, Any]
    dataset: dict[str, Any]
    resolution: int | str


@dataclass
class Measurement:
    """What one pass over a dataset measured.

    Attributes:
        rows: per-image rows in the sorted image order: ``key``, one value per key of
            ``value_keys``, and any other columns (``bits``, ``height`` ...).
        value_keys: the per-image metric keys of the rows, in column order.
        sets: each set metric's block by name (:meth:`ReconstructionEvaluator.compute_sets`):
            its values, or ``{"skipped": reason}``.
        skipped_files: ``{"key", "reason"}`` of every selected image that was not measured.
        selected: images selected (measured + skipped).
        reference_images: images behind the set metrics' reference (None without set metrics).
        clamp: the reconstructions' range counts: values beyond the clamp threshold, values seen
            (then what :func:`~wetok_bench.metrics.evaluator.clamp_warning` reads).
        skipped_metrics: metrics left out before the pass (weights missing), with the reason.
        upscaled: images enlarged to the resolution (smaller on their short side); None where
            images are not resized (``score``, the API, ``resolution: original``).
        preprocessed: originals ``score`` brought to their reconstruction's size by the
            protocol's resize rule (None: every original was used as stored).
    """

    rows: list[dict[str, Any]]
    value_keys: list[str]
    sets: dict[str, dict] = field(default_factory=dict)
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    selected: int = 0
    reference_images: int | None = None
    clamp: Sequence = (0, 0)
    skipped_metrics: Mapping[str, str] = field(default_factory=dict)
    upscaled: int | None = None
    preprocessed: int | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """Each per-image metric's values (float64, image order)."""
        return {key: np.asarray([row[key] for row in self.rows], dtype=np.float64) for key in self.value_keys}


def metric_values(protocol: Any, measurement: Measurement) -> tuple[dict[str, Any], dict[str, str]]:
    """``(metrics, skipped_metrics)`` of a summary: the means over images (with
    ``psnr_finite_mean`` / ``psnr_inf_count``), the protocol's official aggregates, and each set
    metric's headline values; a set metric that could not be computed is a skipped metric."""
    columns = measurement.columns()
    metrics: dict[str, Any] = summarize(columns) if measurement.rows else {}
    # rows are in the order of the sorted image list, as the official layouts need
    metrics.update(protocol_aggregates(protocol, {k: v.tolist() for k, v in columns.items()}) if measurement.rows else {})
    skipped = dict(measurement.skipped_metrics)  # the run's reasons are shared by its jobs: copied, never changed
    for name, block in measurement.sets.items():
        if "skipped" in block:
            skipped[name] = block["skipped"]
        else:
            metrics.update(get_metric(name).headline(block))
    return metrics, skipped


def finalize(header: JobHeader, protocol: Any, measurement: Measurement) -> JobSummary:
    """The summary record of a finished measurement (see the module doc)."""
    metrics, skipped_metrics = metric_values(protocol, measurement)
    registered = result_keys()
    info = {name: registered.get(name) for name in metrics}
    clamped, total = (int(n) for n in measurement.clamp[:2])
    return JobSummary(
        suite=header.suite,
        job=header.job,
        status="ok",
        tokenizer=dict(header.tokenizer),
        dataset=dict(header.dataset),
        resolution=header.resolution,
        protocol={"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
        metrics=metrics,
        metric_info={name: key.to_dict() for name, key in info.items() if key is not None},
        skipped_metrics=skipped_metrics,
        counts={"images": len(measurement.rows), "skipped": len(measurement.skipped_files),
                "selected": measurement.selected, "reference_images": measurement.reference_images,
                **({"upscaled": measurement.upscaled} if measurement.upscaled is not None else {}),
                **({"preprocessed": measurement.preprocessed} if measurement.preprocessed is not None else {})},
        skipped_files=list(measurement.skipped_files),
        clamped={"values": clamped, "total": total, "fraction": clamped / total if total else 0.0,
                 "threshold": CLAMP_THRESHOLD},
        **_set_blocks(measurement.sets),
    )


def _set_blocks(sets: Mapping[str, dict]) -> dict[str, Any]:
    """The set metrics' blocks as record fields: ``rfid`` is a field of :class:`JobSummary`, any
    other metric's block (``kid``) is kept in ``extra`` under its name."""
    blocks = {name: block for name, block in sets.items() if "skipped" not in block}
    fields = {name: blocks.pop(name) for name in list(blocks) if name in JobSummary.__dataclass_fields__}
    return {**fields, "extra": blocks}
