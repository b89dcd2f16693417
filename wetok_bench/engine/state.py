"""What the stages of a job's pass hand each other, typed.

:class:`ShardResult` is one measured shard (its rows, skipped files, set-metric states and the
rest; saved in ``.partial/`` for a resumed run, read back by :meth:`ShardResult.from_dict`).
:class:`PassPart` is what one rank measured, its shards added in shard order; the ranks' parts
merge on rank 0 in rank order (:meth:`PassPart.merge`), which is the global shard order. The set
states are not in it: they are folded in shard order by
:class:`~wetok_bench.engine.fold.OrderedFold` and arrive in :class:`PassResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from wetok_bench.engine.cost import merge_cost
from wetok_bench.engine.grids import GridSpec, merge_states
from wetok_bench.engine.tokens import merge_tokens
from wetok_bench.metrics.evaluator import merge_clamp_counts, new_clamp_counts

#: Why a job resumed from shards written before token counting has no token statistics.
OLD_SHARD_TOKENS = "resumed from shards written before token statistics were recorded (run with --force to count them)"


@dataclass
class ShardResult:
    """One shard of a job, as measured (or read back from its ``.partial`` file).

    Attributes:
        keys: the shard's image keys (a file covering other keys is not this shard).
        rows: per-image rows of the images measured.
        skipped: ``{"key", "reason"}`` of the images not measured.
        stats: every set metric's state (``{name: state_dict}``), None without any.
        grid: the grid candidates (:class:`~wetok_bench.engine.grids.GridPicker` state).
        clamp: the reconstructions' range counts (:func:`~wetok_bench.metrics.evaluator.new_clamp_counts`:
            values beyond the clamp threshold, values seen, dark values, largest magnitude).
        tokens: token counts (discrete tokenizers), None otherwise.
        cost: encode/decode time sums and peaks (:mod:`~wetok_bench.engine.cost`).
        cycles: re-encoding cycles' rows and set states (``cycles: K`` > 1).
        groups: per-group set states (COCO supercategories).
        upscaled: keys of the images smaller than the resolution on their short side (enlarged).
        features: with ``keep_features``, each set-metric network's per-image features
            (``{network: {"recon": float32 N x d, "original": float32 N x d}}``, rows in order).
        compute_s: seconds the shard took to measure.
        missing: optional fields a file written by an older version lacks (``tokens``, ``groups``).
    """

    keys: list[str]
    rows: list[dict]
    skipped: list[dict]
    stats: dict | None = None
    grid: dict | None = None
    clamp: list = field(default_factory=new_clamp_counts)
    tokens: dict | None = None
    cost: dict | None = None
    cycles: dict | None = None
    groups: dict | None = None
    upscaled: list[str] = field(default_factory=list)
    features: dict | None = None
    compute_s: float = 0.0
    missing: frozenset[str] = frozenset()

    #: fields of the file layout, in order (the file is a plain dict of them: tensors, lists, numbers)
    FIELDS = ("keys", "rows", "skipped", "stats", "grid", "clamp", "tokens", "cost", "cycles", "groups", "upscaled",
              "features", "compute_s")

    @classmethod
    def empty(cls) -> "ShardResult":
        """A rank's step without a shard (ranks walk the same number of steps)."""
        return cls(keys=[], rows=[], skipped=[])

    def to_dict(self) -> dict[str, Any]:
        """The ``.partial/shardNNNNNN.pt`` layout."""
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShardResult":
        """A shard file's content; fields it lacks take their defaults and are named in ``missing``."""
        return cls(**{name: data[name] for name in cls.FIELDS if name in data},
                   missing=frozenset(name for name in ("tokens", "groups") if name not in data))

    def grid_spec(self) -> dict | None:
        """The grid settings the shard's candidates were picked for (None: none kept)."""
        return (self.grid or {}).get("spec")


@dataclass
class PassPart:
    """What ranks measured, shard by shard: rows, skipped files, grid candidates, clamp counts,
    token counts and cost sums per shard, the cycles' rows; ``compute_s``: the longest rank's."""

    rows: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    compute_s: float = 0.0
    grids: list[dict] = field(default_factory=list)
    clamp: list = field(default_factory=new_clamp_counts)
    tokens: list[dict | None] = field(default_factory=list)
    cost: list[dict | None] = field(default_factory=list)
    cycle_rows: list[dict] = field(default_factory=list)
    upscaled: list[str] = field(default_factory=list)
    #: images of the shards measured by this run, and of those resumed from an earlier run's files
    measured: int = 0
    resumed: int = 0
    #: each network's per-image features, shard by shard (``keep_features``)
    features: list[dict] = field(default_factory=list)

    def add(self, shard: ShardResult, grid_spec: GridSpec, *, counts_tokens: bool, resumed: bool = False) -> None:
        """Add the next shard of this rank (``counts_tokens``: the tokenizer is discrete, so a
        shard written before token counting says so; ``resumed``: read back, not measured now)."""
        if resumed:
            self.resumed += len(shard.rows)
        else:
            self.measured += len(shard.rows)
        self.rows.extend(shard.rows)
        self.skipped.extend(shard.skipped)
        self.compute_s += shard.compute_s
        self.clamp = merge_clamp_counts(self.clamp, shard.clamp)
        if shard.grid:
            self.grids = [merge_states(grid_spec, self.grids[0] if self.grids else None, shard.grid)]
        uncounted = counts_tokens and "tokens" in shard.missing
        self.tokens.append({"stats": None, "skipped": OLD_SHARD_TOKENS} if uncounted else shard.tokens)
        self.cost.append(shard.cost)
        self.cycle_rows.extend((shard.cycles or {}).get("rows", []))
        self.upscaled.extend(shard.upscaled)
        if shard.features:
            self.features.append(shard.features)

    @classmethod
    def merge(cls, parts: Sequence["PassPart"]) -> "PassPart":
        """The ranks' parts in rank order as one (rows in the global shard order)."""
        merged = cls()
        for part in parts:
            merged.rows.extend(part.rows)
            merged.skipped.extend(part.skipped)
            merged.grids.extend(part.grids)
            merged.clamp = merge_clamp_counts(merged.clamp, part.clamp)
            merged.tokens.extend(part.tokens)
            merged.cost.extend(part.cost)
            merged.cycle_rows.extend(part.cycle_rows)
            merged.upscaled.extend(part.upscaled)
            merged.features.extend(part.features)
            merged.measured += part.measured
            merged.resumed += part.resumed
        merged.compute_s = max((part.compute_s for part in parts), default=0.0)
        return merged

    def token_counts(self) -> dict | None:
        """Every shard's token counts added (:func:`~wetok_bench.engine.tokens.merge_tokens`)."""
        return merge_tokens(self.tokens)

    def cost_sums(self) -> dict:
        """Every shard's cost sums added (:func:`~wetok_bench.engine.cost.merge_cost`)."""
        return merge_cost(self.cost)


@dataclass
class PassResult:
    """A job's pass, on rank 0: every rank's :class:`PassPart` merged, the set states folded in
    shard order (``stats``; None without set metrics), the per-group states (``groups``: states
    by label, ``{"skipped": reason}`` for shards written before groups were kept, None for
    unlabelled images) and each re-encoding cycle's folded set states."""

    part: PassPart
    stats: Any = None
    groups: Any = None
    cycle_stats: dict[int, Any] = field(default_factory=dict)
