"""Re-encoding stability (suite setting ``cycles: K``): each image's reconstruction is encoded
and decoded again, K - 1 more times, and every cycle is scored against the original.

Input of cycle k >= 2: the reconstruction of cycle k - 1 as the uint8 image a user would save,
clamped to [-1, 1] and rounded (``round((x + 1) * 127.5)``, :func:`~wetok_bench.protocols.round_to_u8`),
then converted by the protocol's uint8 -> float rule (``protocol.original_float``), exactly as the
originals are fed to the tokenizer (the WeTok paper's experiment feeds the decoded image back). For
a codec, cycle k is thus k successive encode/decode round trips of the uint8 image.

Noise: cycle k of image ``key`` draws from the generator of ``f"{key}#cycle{k}"``
(:meth:`ImageNoise.for_images`), per image and distinct per cycle; cycle 1 is the job's own pass.

Scoring: the evaluator's per-image metrics as for cycle 1; the set-level states (rFID's sums) of
each cycle are kept apart by swapping each set metric's ``state`` for the cycle's own during its
update, stored per shard and folded in shard order like the main ones (exact under ``torchrun``
and on resume). Reconstructions of cycles >= 2 are not counted in the job's clamp figures.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from wetok_bench.protocols import round_to_u8
from wetok_bench.tokenizers.base import ImageNoise

#: The per-image file of cycles >= 2 (long format: key, cycle, one column per per-image metric).
CYCLES_FILE = "per_image_cycles.csv"


def cycle_keys(keys: Sequence[str], cycle: int) -> list[str]:
    """Noise keys of cycle ``cycle`` (>= 2) of these images."""
    return [f"{key}#cycle{cycle}" for key in keys]


def next_input(protocol, recon: torch.Tensor) -> torch.Tensor:
    """The tokenizer input of the next cycle: the saved uint8 view of ``recon``, as float."""
    return protocol.original_float(round_to_u8(recon))


class CycleRunner:
    """Cycles 2..K of one shard: per-image rows and each cycle's set-metric states."""

    def __init__(self, cycles: int, tokenizer, evaluator, protocol, seed: int) -> None:
        self.cycles, self.tokenizer, self.evaluator, self.protocol, self.seed = cycles, tokenizer, evaluator, protocol, seed
        self.rows: list[dict[str, Any]] = []
        self.states: dict[int, dict[str, Any]] = {}  # cycle -> {set metric: its state object}

    @property
    def enabled(self) -> bool:
        return self.cycles > 1

    def run(self, keys: Sequence[str], original_u8: torch.Tensor, recon: torch.Tensor) -> None:
        """Cycles 2..K of a batch of measured images (``recon``: their cycle-1 reconstruction)."""
        for cycle in range(2, self.cycles + 1):
            noise = ImageNoise.for_images(self.seed, cycle_keys(keys, cycle))
            recon, _ = self.tokenizer.reconstruct(next_input(self.protocol, recon), noise=noise)
            values = self._score(cycle, original_u8, recon)
            for j, key in enumerate(keys):
                self.rows.append({"key": key, "cycle": cycle, **{name: float(v[j]) for name, v in values.items()}})

    def _score(self, cycle: int, original_u8: torch.Tensor, recon: torch.Tensor) -> dict[str, torch.Tensor]:
        ev = self.evaluator
        mine = self.states.setdefault(cycle, {name: m.new_state(m.dim) for name, m in ev.set_metrics.items()})
        main = {name: m.state for name, m in ev.set_metrics.items()}
        before = ev.clamp_counts  # the job's range counts: a cycle's reconstructions are not counted in them
        try:
            for name, metric in ev.set_metrics.items():
                metric.state = mine[name]
            values = ev.update(original_u8, recon)
        finally:
            for name, metric in ev.set_metrics.items():
                mine[name], metric.state = metric.state, main[name]
            ev.clamp_counts = before
        return values

    def state(self) -> dict[str, Any]:
        """What a shard stores: rows and each cycle's set states (``state_dict``s; None without images)."""
        sets = {cycle: {name: s.state_dict() for name, s in states.items()}
                for cycle, states in self.states.items()} if self.evaluator.set_metrics else {}
        return {"rows": self.rows, "sets": sets}


def cycle_set_values(evaluator, prepared: dict, states) -> dict[str, float]:
    """Headline values of a cycle's set metrics (``rfid``, KID's ...) against the originals'
    prepared references (:meth:`ReferenceStore.prepared`); a metric that cannot be computed (fewer
    than 2 images) is left out."""
    from wetok_bench.metrics.registry import get_metric

    out: dict[str, float] = {}
    for name, block in evaluator.compute_sets(prepared, states or {}).items():
        if "skipped" not in block:
            out.update(get_metric(name).headline(block))
    return out


def cycle_summary(main_metrics: dict, cycle_rows: list[dict], cycle_sets: dict[int, dict], cycles: int,
                  metric_names: Sequence[str]) -> list[dict[str, Any]]:
    """The ``cycles`` list of ``summary.json``: ``{"cycle": k, <metric>: value, ...}`` for k = 1..K.

    Cycle 1 is the job's main metrics (``main_metrics``, the names in ``metric_names``); cycle
    k >= 2 the means of its per-image values over the same images (as the main means:
    :func:`~wetok_bench.metrics.aggregate.summarize`) and its set metrics' values (``cycle_sets[k]``).
    """
    from wetok_bench.metrics.aggregate import summarize

    out = [{"cycle": 1, **{m: main_metrics[m] for m in metric_names if m in main_metrics}}]
    for cycle in range(2, cycles + 1):
        mine = [r for r in cycle_rows if r["cycle"] == cycle]
        names = [k for k in (mine[0] if mine else {}) if k not in ("key", "cycle")]
        means = summarize({n: [r[n] for r in mine] for n in names}) if mine else {}
        entry: dict[str, Any] = {"cycle": cycle, **{m: means[m] for m in metric_names if m in means}}
        entry.update(cycle_sets.get(cycle) or {})
        out.append(entry)
    return out
