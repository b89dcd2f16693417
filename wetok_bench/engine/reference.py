"""Reference statistics: the originals' set-metric states per (dataset, resolution).

Memory first, then the disk cache (:mod:`wetok_bench.metrics.reference_cache`), then a pass over the
originals, shard by shard across ranks and folded in shard order (the same bits for any number
of ranks). Each set metric's reference state is prepared once for all the jobs compared with it
(:meth:`~wetok_bench.metrics.base.SetMetric.prepare_reference`: rFID's factorised covariance,
cached on disk beside the statistics)."""

from __future__ import annotations

import contextlib
from typing import Any, Mapping, Sequence

from wetok_bench.core import distributed as D
from wetok_bench.core.hashing import sha256_json
from wetok_bench.core.progress import Progress
from wetok_bench.engine.fold import OrderedFold
from wetok_bench.engine.groups import GROUP_FIELD, GroupStats, decode_groups, encode_flat, group_labels, split_flat
from wetok_bench.engine.setup import PassSettings, loader_kwargs


class ReferenceStore:
    """Originals' states per (dataset, resolution), computed at most once per run."""

    def __init__(self, protocol, settings: PassSettings, evaluator, ctx: D.DistContext, progress: bool) -> None:
        self.protocol, self.settings, self.evaluator, self.ctx, self.progress = protocol, settings, evaluator, ctx, progress
        self._memo: dict[tuple[str, Any], Any] = {}
        self._prepared: dict[int, Any] = {}
        #: the cache key of each reference state handed out by :meth:`get` (by id of the state)
        self._keys: dict[int, dict] = {}
        self._groups: dict[tuple[str, Any], Any] = {}

    def groups(self, dataset_name: str, resolution) -> Any:
        """The originals' per-group states (``{label: state}``, rank 0) of :meth:`get` of this
        dataset and resolution; None when its records carry no supercategories."""
        return self._groups.get((dataset_name, resolution))

    def prepared(self, states: Mapping[str, Any] | None) -> dict[str, Any]:
        """Each set metric's reference state prepared once (``{name: prepared}``): every
        tokenizer measured on the same dataset reuses it. For states from :meth:`get` a metric may
        keep its preparation on disk with them (rFID's factor: a warm run does not factorise again)."""
        out: dict[str, Any] = {}
        for name, state in (states or {}).items():
            if state is None:
                continue
            if id(state) not in self._prepared:
                metric = type(self.evaluator.set_metrics[name])
                key = self._keys.get(id(state)) if self.ctx.is_main else None
                self._prepared[id(state)] = metric.prepare_reference(state, cache_key=key)
            out[name] = self._prepared[id(state)]
        return out

    def _decode_groups(self, state: dict):
        return decode_groups(state, self.evaluator.set_metrics[self.evaluator.group_metric].state_from_dict)

    def get(self, dataset_name: str, dataset_fp: dict, records: Sequence, resolution) -> Any:
        """The states of ``records`` (a dataset's selection) at ``resolution``."""
        from wetok_bench.metrics.reference_cache import cached_reference_stats

        memo_key = (dataset_name, resolution)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = {
            "dataset": {k: dataset_fp.get(k) for k in ("kind", "count", "sha256")},
            "selection": sha256_json([r.key for r in records]),
            "resolution": resolution,
            "preprocess": self.protocol.resize,
            "protocol": self.protocol.fingerprint,
            "features": self.evaluator.fingerprint()["weights"].get("inception"),
            **self.evaluator.reference_cache_key(),  # nothing with rFID alone: old caches stay valid
        }
        codec = {"encode": self.evaluator.encode_reference, "decode": self.evaluator.decode_reference}
        # COCO: the per-group states in a file of their own (the main file, its key unchanged)
        labels = group_labels(records) if self.evaluator.group_metric is not None else None
        group_key = {**key, "groups": GROUP_FIELD} if labels is not None else None
        group_codec = {"encode": encode_flat, "decode": lambda flat: self._decode_groups(split_flat(flat)[1])}
        cached = groups = None
        if self.ctx.is_main:
            with contextlib.suppress(_CacheMiss):
                # Only a hit is taken here; on a miss every rank computes its shards below.
                if group_key is not None:  # a missing groups file is a miss of both
                    groups, _ = cached_reference_stats(group_key, _raise_miss, **group_codec)
                cached, _ = cached_reference_stats(key, _raise_miss, **codec)
        cached = D.broadcast_object(self.evaluator.encode_reference(cached) if cached is not None else None, self.ctx)
        if cached is not None:
            stats = self.evaluator.decode_reference(cached)
        else:
            stats, groups = self._compute(records, resolution, f"reference {dataset_name}@{resolution}", labels)
            if self.ctx.is_main:
                cached_reference_stats(key, lambda: stats, **codec)
                if group_key is not None:
                    cached_reference_stats(group_key, lambda: groups, **group_codec)
        self._memo[memo_key] = stats
        self._groups[memo_key] = groups
        for state in stats.values():
            self._keys[id(state)] = key
        return stats

    def _compute(self, records: Sequence, resolution, label: str, labels: dict | None = None):
        """Originals' states, shard by shard (see :class:`~wetok_bench.core.distributed.ShardPlan`),
        folded in shard order: the same bits for any number of ranks; with ``labels`` (key ->
        supercategories) also per group. Returns (states, groups: None without labels and on ranks
        other than 0)."""
        from wetok_bench.data.loader import iterate_batches

        settings, evaluator = self.settings, self.evaluator
        plan = D.ShardPlan.build(len(records), settings.batch_size, settings.shard_size, self.ctx.world_size)
        fold = OrderedFold(plan, self.ctx, decode=evaluator.decode_states)
        group_fold = OrderedFold(plan, self.ctx, decode=self._decode_groups)
        group_metric = evaluator.set_metrics.get(evaluator.group_metric) if labels is not None else None
        bar = Progress(plan.images_of(self.ctx.rank), label, enabled=self.progress and self.ctx.is_main)
        for shard in plan.shards_of(self.ctx.rank):
            lo, hi = plan.bounds(shard)
            stats = None
            groups = (GroupStats(labels, lambda: group_metric.new_reference_state(group_metric.dim))
                      if group_metric is not None else None)
            for batch in iterate_batches(records[lo:hi], resolution, settings.batch_size, resize=self.protocol.resize,
                                         **loader_kwargs(settings, evaluator.device)):
                if len(batch.keys):
                    stats = stats if stats is not None else evaluator.new_reference()
                    images = batch.images.to(evaluator.device, non_blocking=True)
                    features = evaluator.update_reference(stats, images)  # one pass per extractor
                    if groups is not None:
                        groups.add(list(batch.keys), features[evaluator.extractor_of(evaluator.group_metric)])
                bar.update(len(batch.keys) + len(batch.skipped))
            fold.add(shard, stats.state_dict() if stats is not None else None)
            if labels is not None:
                group_fold.add(shard, groups.state())
        bar.close()
        total = fold.result()
        group_total = group_fold.result() if labels is not None else None
        if labels is not None and self.ctx.is_main and group_total is None:
            group_total = self._decode_groups({})  # no labelled image
        return (total if total is not None else evaluator.new_reference()), group_total


class _CacheMiss(Exception):
    pass


def _raise_miss():
    raise _CacheMiss
