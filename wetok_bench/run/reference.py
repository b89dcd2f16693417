"""Reference statistics: the originals' Inception statistics per (dataset, resolution).

Memory first, then the disk cache (:mod:`wetok_bench.metrics.ref_cache`), then a pass over the
originals, shard by shard across ranks and folded in shard order (the same bits for any number
of ranks)."""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

from wetok_bench import distributed as D
from wetok_bench.hashing import sha256_json
from wetok_bench.progress import Progress
from wetok_bench.run.fold import OrderedFold
from wetok_bench.run.groups import GROUP_FIELD, GroupStats, decode_groups, encode_flat, group_labels, split_flat
from wetok_bench.run.setup import PassSettings, loader_kwargs


class ReferenceStore:
    """Originals' Inception statistics per (dataset, resolution), computed at most once per run."""

    def __init__(self, protocol, settings: PassSettings, evaluator, ctx: D.DistContext, progress: bool) -> None:
        self.protocol, self.settings, self.evaluator, self.ctx, self.progress = protocol, settings, evaluator, ctx, progress
        self._memo: dict[tuple[str, Any], Any] = {}
        self._frechet: dict[int, Any] = {}
        #: cache key of each rFID reference state handed out by :meth:`get` (by id)
        self._keys: dict[int, dict] = {}
        self._groups: dict[tuple[str, Any], Any] = {}

    def groups(self, dataset_name: str, resolution) -> Any:
        """The originals' per-supercategory statistics (``{label: FeatureStats}``, rank 0) of
        :meth:`get` of this dataset and resolution; None when its records carry no supercategories."""
        return self._groups.get((dataset_name, resolution))

    def frechet(self, stats) -> Any:
        """The Frechet reference (factorised covariance) of ``stats``, built once per reference:
        every tokenizer measured on the same dataset reuses it. For statistics from :meth:`get`
        the factor is cached on disk with them (a warm run does not factorise again)."""
        from wetok_bench.metrics.fid import FrechetReference
        from wetok_bench.metrics.ref_cache import cached_frechet_reference

        if id(stats) not in self._frechet:
            key = self._keys.get(id(stats))
            if key is not None and self.ctx.is_main:
                self._frechet[id(stats)], _ = cached_frechet_reference(key, stats)
            else:
                self._frechet[id(stats)] = FrechetReference(stats)
        return self._frechet[id(stats)]

    def get(self, dataset_name: str, dataset_fp: dict, records: Sequence, resolution) -> Any:
        """The statistics of ``records`` (a dataset's selection) at ``resolution``."""
        from wetok_bench.metrics.ref_cache import cached_reference_stats

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
        # COCO: the per-supercategory statistics in a file of their own (the main file, its key unchanged)
        labels = group_labels(records) if "rfid" in self.evaluator.set_metrics else None
        group_key = {**key, "groups": GROUP_FIELD} if labels is not None else None
        group_codec = {"encode": encode_flat, "decode": lambda flat: split_flat(flat)[1]}
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
        if stats.get("rfid") is not None:
            self._keys[id(stats["rfid"])] = key
        return stats

    def _compute(self, records: Sequence, resolution, label: str, labels: dict | None = None):
        """Originals' statistics, shard by shard (see :class:`~wetok_bench.distributed.ShardPlan`),
        folded in shard order: the same bits for any number of ranks; with ``labels`` (key ->
        supercategories) also per supercategory. Returns (states, groups: None without labels
        and on ranks other than 0)."""
        from wetok_bench.data.loader import iterate_batches

        settings = self.settings
        plan = D.ShardPlan.build(len(records), settings.batch_size, settings.shard_size, self.ctx.world_size)
        fold = OrderedFold(plan, self.ctx, decode=self.evaluator.decode_states)
        group_fold = OrderedFold(plan, self.ctx, decode=decode_groups)
        bar = Progress(plan.images_of(self.ctx.rank), label, enabled=self.progress and self.ctx.is_main)
        for shard in plan.shards_of(self.ctx.rank):
            lo, hi = plan.bounds(shard)
            stats = None
            groups = GroupStats(labels, feature_dim(self.evaluator)) if labels is not None else None
            for batch in iterate_batches(records[lo:hi], resolution, settings.batch_size, resize=self.protocol.resize,
                                         **loader_kwargs(settings, self.evaluator.device)):
                if len(batch.keys):
                    stats = stats if stats is not None else self.evaluator.new_reference()
                    images = batch.images.to(self.evaluator.device, non_blocking=True)
                    if groups is None:
                        self.evaluator.update_reference(stats, images)
                    else:  # one extractor pass for the whole set and its supercategories
                        features = self.evaluator.reference_features(images)
                        for state in stats.values():
                            state.update(features)
                        groups.add(list(batch.keys), features)
                bar.update(len(batch.keys) + len(batch.skipped))
            fold.add(shard, stats.state_dict() if stats is not None else None)
            if labels is not None:
                group_fold.add(shard, groups.state())
        bar.close()
        total = fold.result()
        group_total = group_fold.result() if labels is not None else None
        if labels is not None and self.ctx.is_main and group_total is None:
            group_total = decode_groups({})  # no labelled image
        return (total if total is not None else self.evaluator.new_reference()), group_total


class _CacheMiss(Exception):
    pass


def _raise_miss():
    raise _CacheMiss


def feature_dim(evaluator) -> int | None:
    """Inception feature dimension of the evaluator (None when rFID is off)."""
    return evaluator.inception.dim if evaluator.inception is not None else None
