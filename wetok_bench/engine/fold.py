"""Per-shard feature statistics folded in global shard order, whatever the number of ranks."""

from __future__ import annotations

from wetok_bench.core import distributed as D


def stats_from_state(state: dict):
    """:class:`~wetok_bench.metrics.functional.fid.FeatureStats` from its ``state_dict``."""
    from wetok_bench.metrics.functional.fid import FeatureStats

    return FeatureStats.from_state_dict(state)


class OrderedFold:
    """Merges per-shard feature statistics in global shard order, whatever the number of ranks.

    Float64 addition is not associative: ``all_reduce`` of per-rank totals differs from one
    process's running sum in the last bits, which a rank-deficient covariance (N < 2048) blows
    up to 1e-6 in rFID. Folding the same per-shard states in the same order gives identical
    bits. Rank 0 folds its own shards as they finish; other ranks keep theirs (one d x d state
    per shard) until :meth:`result` passes them to rank 0 in order.
    """

    def __init__(self, plan: D.ShardPlan, ctx: D.DistContext, decode=stats_from_state) -> None:
        # decode: a shard's state -> an object with merge (FeatureStats, or the evaluator's SetStates)
        self.plan, self.ctx, self.decode = plan, ctx, decode
        self.total = None
        self.pending: dict[int, dict | None] = {}

    def _fold(self, state: dict | None) -> None:
        if state is not None:
            stats = self.decode(state)
            self.total = stats if self.total is None else self.total.merge(stats)

    def add(self, shard: int, state: dict | None) -> None:
        """Record shard ``shard``'s state; call in increasing shard order."""
        if self.ctx.is_main:
            self._fold(state)
        else:
            self.pending[shard] = state

    def result(self):
        """The folded statistics on rank 0 (None elsewhere); a collective call on every rank."""
        for shard in range(len(self.plan.shards_of(0)), self.plan.count):
            owner = self.plan.owner(shard)
            state = D.broadcast_object(self.pending.pop(shard, None) if self.ctx.rank == owner else None, self.ctx, src=owner)
            if self.ctx.is_main:
                self._fold(state)
        return self.total if self.ctx.is_main else None
