"""The Python API for training loops: the metrics of ``wetok-bench run`` on your own batches.

::

    from wetok_bench import ReconstructionMetrics

    metrics = ReconstructionMetrics(protocol="standard", metrics=["psnr", "ssim", "lpips", "rfid"], device="cuda")
    for originals_u8 in val_loader:                      # uint8, B x 3 x H x W
        x = metrics.protocol.original_float(originals_u8)  # the protocol's uint8 -> [-1, 1] floats
        metrics.update(originals_u8, model.reconstruct(x))
    values = metrics.compute()                            # {"psnr": ..., "rfid": ..., ...}
    metrics.reset()

It drives the same :class:`~wetok_bench.metrics.evaluator.ReconstructionEvaluator` as ``run``
(same views, networks, arithmetic), and feeds the originals to the set-level metrics' reference
from the same batches. ``compute()`` returns what a run summary's ``metrics`` holds for the same
images in the same order and batches: means over images (``psnr_finite_mean`` ...), the
protocol's official aggregates, and each set metric's headline values (``rfid``, ``kid``,
``kid_std``); :attr:`details` then holds the set metrics' blocks (counts, reliability).

Distributed (DDP): every rank calls ``update`` on its own images and ``compute()`` on all ranks
(a collective call); the ranks' states (per-image values, rFID's float64 sums, KID's features)
are gathered and merged in rank order, as the runner folds its shards, so the result is exact
and the same on every rank: the value a single process gets from rank 0's images, then rank 1's,
and so on. Memory: per-image values (8 bytes per image and metric); rFID O(2048^2) per side;
KID keeps the features (8 KiB per image and side).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.core.names import job_id
from wetok_bench.metrics import registry
from wetok_bench.metrics.evaluator import DEFAULT_METRICS, ReconstructionEvaluator
from wetok_bench.results.finalize import JobHeader, Measurement, finalize, metric_values
from wetok_bench.results.records import JobSummary


class ReconstructionMetrics:
    """Streaming reconstruction metrics under a named protocol (torchmetrics-style).

    Args:
        protocol: ``standard``, ``wetok`` or a :class:`~wetok_bench.protocols.MetricProtocol`.
        metrics: registered metric names (``wetok-bench list metrics``).
        device: where the networks run (``auto``, ``cpu``, ``cuda[:N]``).
        weights: weights files by slot (``inception``, ``lpips_alex``, ``lpips_vgg``); missing
            slots resolve the known files offline first.
        settings: metrics' settings blocks as in a suite (``{"kid": {"subset_size": 100}}``).
    """

    def __init__(self, protocol: Any = "standard", metrics: Sequence[str] = DEFAULT_METRICS,
                 device: str | torch.device = "cpu", *, weights: Mapping[str, str | Path] | None = None,
                 settings: Mapping[str, Any] | None = None) -> None:
        metrics = registry.check_metrics(metrics)
        self.evaluator = ReconstructionEvaluator(protocol, metrics, device, weights=weights,
                                                 settings=registry.metric_settings(metrics, settings))
        self.details: dict[str, dict] = {}
        self.reset()

    @property
    def protocol(self):
        return self.evaluator.protocol

    def reset(self) -> None:
        """Forget every image seen (networks stay loaded)."""
        self.evaluator.reset()
        self._rows: dict[str, list[torch.Tensor]] = defaultdict(list)
        self._reference = self.evaluator.new_reference()

    def update(self, originals_u8: torch.Tensor, reconstructions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Add a batch: uint8 originals (B x 3 x H x W) and their float reconstructions in
        [-1, 1]; returns the batch's per-image values (float64 CPU tensors [B])."""
        values = self.evaluator.update(originals_u8, reconstructions)
        self.evaluator.update_reference(self._reference, originals_u8)
        for key, value in values.items():
            self._rows[key].append(value)
        return values

    def state_dict(self) -> dict:
        """This process's state: per-image values, the reconstructions' and the originals' set states."""
        return {"rows": {key: torch.cat(parts) for key, parts in self._rows.items()},
                "recon": self.evaluator.set_states(), "reference": self._reference.state_dict()}

    def _merged(self, states: Sequence[dict]) -> tuple[dict[str, np.ndarray], Any, Any]:
        """Rows, recon states and reference states of ``states`` merged in order."""
        rows: dict[str, list[torch.Tensor]] = defaultdict(list)
        recon = reference = None
        for state in states:
            for key, values in state["rows"].items():
                rows[key].append(values)
            if state["recon"]:
                mine, theirs = self.evaluator.decode_states(state["recon"]), self.evaluator.decode_states(state["reference"])
                recon = mine if recon is None else recon.merge(mine)
                reference = theirs if reference is None else reference.merge(theirs)
        return {key: torch.cat(parts).numpy() for key, parts in rows.items()}, recon, reference

    def measurement(self) -> Measurement:
        """Everything seen (all ranks under torch.distributed, a collective call) as a
        :class:`~wetok_bench.results.finalize.Measurement`: per-image rows in the order added
        (rank 0's, then rank 1's ...), each set metric's block against the originals' states."""
        import torch.distributed as dist

        states = [self.state_dict()]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            states = [None] * dist.get_world_size()
            dist.all_gather_object(states, self.state_dict())
        rows, recon, reference = self._merged(states)
        if not rows and recon is None:
            raise UsageError("no image was added: call update() first")
        count = len(next(iter(rows.values()))) if rows else recon.n
        table = [{"key": str(i), **{key: float(values[i]) for key, values in rows.items()}} for i in range(count)]
        sets = self.evaluator.compute_sets(self.evaluator.prepare_references(reference), recon) if recon is not None else {}
        return Measurement(rows=table, value_keys=list(rows), sets=sets, selected=count,
                           reference_images=reference.n if reference is not None else None,
                           clamp=self.evaluator.clamp_counts)

    def compute(self) -> dict[str, Any]:
        """Every metric's value over all images seen (all ranks under torch.distributed): what a
        run summary's ``metrics`` holds for the same images; :attr:`details` then holds the set
        metrics' blocks (counts, reliability)."""
        measurement = self.measurement()
        self.details = measurement.sets
        return metric_values(self.protocol, measurement)[0]

    def summary(self, *, name: str = "api", dataset: str = "api", resolution: int | str = "original") -> JobSummary:
        """The ``summary.json`` record of everything seen (:func:`~wetok_bench.results.finalize.finalize`),
        as ``run`` and ``score`` write it; ``name`` / ``dataset`` name the tokenizer and images."""
        header = JobHeader(suite="api", job=job_id(name, dataset, resolution),
                           tokenizer={"name": name, "type": "api", "display_name": name},
                           dataset={"name": dataset, "type": "api"}, resolution=resolution)
        measurement = self.measurement()
        self.details = measurement.sets
        return finalize(header, self.protocol, measurement)
