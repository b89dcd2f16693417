"""One job's streaming pass over this rank's shards: decode -> ``tokenizer.reconstruct`` ->
per-image rows and the reconstructions' set-metric states, resuming finished shards."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import torch

from wetok_bench.config.suite import Job
from wetok_bench.core import distributed as D
from wetok_bench.core.errors import TokenizerOutputError, UsageError, WetokBenchError
from wetok_bench.core.progress import Progress
from wetok_bench.engine.console import name_files, warn
from wetok_bench.engine.context import RunContext
from wetok_bench.engine.cost import CostMeter
from wetok_bench.engine.cycles import CycleRunner
from wetok_bench.engine.fold import OrderedFold
from wetok_bench.engine.grids import GridPicker, GridSpec
from wetok_bench.engine.groups import OLD_SHARD_GROUPS, GroupStats, decode_groups, group_labels
from wetok_bench.engine.setup import loader_kwargs
from wetok_bench.engine.shards import ShardStore, ShardWriteError
from wetok_bench.engine.state import PassPart, PassResult, ShardResult
from wetok_bench.engine.tokens import TokenCounter, is_discrete
from wetok_bench.tokenizers.base import ImageNoise, Tokenizer, find_non_finite

log = logging.getLogger(__name__)


class JobFailed(WetokBenchError):
    """A job could not finish; the message names the tokenizer and the files of the failing batch."""


def noise_seed(tokenizer: Tokenizer, suite_seed: int) -> int:
    """Seed of a tokenizer's per-image noise: its entry's ``seed`` when set, else the suite's."""
    return tokenizer.noise_seed if tokenizer.noise_seed is not None else suite_seed


class JobRunner:
    """Runs one job's streaming pass over this rank's shards, resuming finished shards.

    ``grids`` says which images' scored reconstructions the shards keep for the grids.
    """

    def __init__(self, run: RunContext, job: Job, tokenizer: Tokenizer, store: ShardStore,
                 grids: GridSpec = GridSpec()) -> None:
        self.run, self.job, self.tokenizer, self.store, self.grids = run, job, tokenizer, store, grids
        self.evaluator = run.evaluator
        self.name, self.label = job.tokenizer.name, job.id
        #: record key -> labels of its group (COCO supercategories), when a per-group metric runs
        self.labels: dict[str, list[str]] | None = None

    def _load(self, index: int, keys: list[str]) -> ShardResult | None:
        """A finished shard, when it also holds the grid candidates of this job's grid settings
        (grid images are never reconstructed again: a shard without them is measured again)."""
        data = self.store.load(index, keys)
        if data is None:
            return None
        shard = ShardResult.from_dict(data)
        return shard if shard.grid_spec() == self.grids.as_dict() else None

    def pass_over(self, records: Sequence) -> PassResult | None:
        """Measure this rank's slice; the whole job's :class:`PassResult` on rank 0 (None
        elsewhere). A collective call on every rank."""
        from wetok_bench.data.loader import iterate_batches

        self.store.prepare()
        settings, dist = self.run.settings, self.run.dist
        self.labels = group_labels(records) if self.evaluator.group_metric is not None else None
        plan = D.ShardPlan.build(len(records), settings.batch_size, settings.shard_size, dist.world_size)
        mine = list(plan.shards_of(dist.rank))
        fold = OrderedFold(plan, dist, decode=self.evaluator.decode_states)
        # per-group statistics, folded in shard order like the main ones
        group_fold, groups_missing = OrderedFold(plan, dist, decode=self._decode_groups), False
        # each re-encoding cycle's set states, folded like the main ones (cycle -> fold)
        cycle_folds = {k: OrderedFold(plan, dist, decode=self.evaluator.decode_states)
                       for k in range(2, settings.cycles + 1)}
        part = PassPart()
        bar = Progress(plan.images_of(dist.rank), self.label, enabled=self.run.progress and dist.is_main)
        failure: str | None = None
        # Every rank walks the same number of steps (the most shards any rank has), so the
        # per-shard failure exchange below always pairs up.
        for step in range(plan.max_per_rank):
            index = mine[step] if step < len(mine) else None
            shard_records = records[slice(*plan.bounds(index))] if index is not None else []
            keys = [r.key for r in shard_records]
            shard = self._load(index, keys) if keys else ShardResult.empty()
            resumed = shard is not None and bool(keys)
            if shard is None and failure is None:
                start = time.perf_counter()
                try:
                    shard = self._measure(shard_records, iterate_batches, bar)
                except (TokenizerOutputError, JobFailed) as error:
                    failure = str(error)
                    log.debug("%s failed", self.label, exc_info=True)  # --debug: the tokenizer's traceback
                except WetokBenchError as error:
                    failure = f"tokenizer {self.name!r}: {error}"
                    log.debug("%s failed", self.label, exc_info=True)
                except Exception as error:  # noqa: BLE001 - a tokenizer's crash fails its job, not the suite
                    failure = f"tokenizer {self.name!r} raised {type(error).__name__}: {error}"
                    log.debug("%s failed", self.label, exc_info=True)
                if shard is not None:
                    shard.compute_s = time.perf_counter() - start
                    try:
                        self.store.save(index, shard.to_dict())
                    except ShardWriteError as error:  # every rank learns it below, and the job stops
                        failure, shard = str(error), None
            elif shard is not None:
                bar.update(len(keys))
            if dist.enabled:
                flags = D.gather_objects(failure, dist)
                failure = next((f for f in flags if f), None)
            if failure is not None:
                break
            part.add(shard, self.grids, counts_tokens=index is not None and is_discrete(self.tokenizer), resumed=resumed)
            if index is not None:
                fold.add(index, shard.stats)
                groups_missing |= self.labels is not None and "groups" in shard.missing
                group_fold.add(index, shard.groups)
                for cycle, cycle_fold in cycle_folds.items():
                    cycle_fold.add(index, ((shard.cycles or {}).get("sets") or {}).get(cycle))
        bar.close()
        if failure is not None:
            raise JobFailed(failure)
        stats, groups = fold.result(), group_fold.result()
        if dist.enabled:
            groups_missing = any(D.gather_objects(groups_missing, dist))
        cycle_stats = {cycle: cycle_fold.result() for cycle, cycle_fold in cycle_folds.items()}
        parts = D.gather_objects(part, dist)
        if not dist.is_main:
            return None
        return PassResult(part=PassPart.merge(parts), stats=stats, cycle_stats=cycle_stats,
                          groups=({"skipped": OLD_SHARD_GROUPS} if groups_missing
                                  else groups if self.labels is not None else None))

    def _measure(self, shard_records: Sequence, iterate_batches, bar: Progress) -> ShardResult:
        protocol, settings, evaluator = self.run.protocol, self.run.settings, self.evaluator
        rows: list[dict] = []
        skipped: list[dict] = []
        upscaled: list[str] = []
        evaluator.reset()
        device = evaluator.device
        seed = noise_seed(self.tokenizer, settings.seed)
        picker = GridPicker(self.grids)
        meter = CostMeter(device)
        counter = TokenCounter(self.tokenizer.codebook_size) if is_discrete(self.tokenizer) else None
        cycles = CycleRunner(settings.cycles, self.tokenizer, evaluator, protocol, seed)
        group_extractor = evaluator.extractor_of(evaluator.group_metric) if self.labels is not None else None
        groups = None
        if group_extractor is not None:
            metric = evaluator.set_metrics[evaluator.group_metric]
            groups = GroupStats(self.labels, lambda: metric.new_state(metric.dim))
        for batch in iterate_batches(shard_records, self.job.resolution, settings.batch_size, resize=protocol.resize,
                                     **loader_kwargs(settings, device)):
            skipped.extend({"key": k, "reason": r} for k, r in batch.skipped)
            if isinstance(self.job.resolution, int):  # an image enlarged to the resolution shows its blur
                upscaled.extend(k for k, size in zip(batch.keys, batch.original_sizes) if min(size) < self.job.resolution)
            if len(batch.keys):
                original = batch.images.to(device, non_blocking=True)
                noise = ImageNoise.for_images(seed, batch.keys)
                try:
                    recon, bits, *tokens = self.tokenizer.reconstruct(
                        protocol.original_float(original), noise=noise, with_tokens=counter is not None,
                        **meter.timer_kwargs(self.tokenizer, len(batch.keys)))
                    meter.end_batch()
                except (UsageError, TokenizerOutputError):
                    raise
                except Exception as error:  # noqa: BLE001
                    raise JobFailed(
                        f"tokenizer {self.name!r} failed on {name_files(batch.keys)}: {type(error).__name__}: {error}"
                    ) from error
                keep = self._finite(batch.keys, recon, skipped)
                if keep:
                    index = torch.tensor(keep, device=recon.device)
                    kept_original, kept_recon = original.index_select(0, index), recon.index_select(0, index)
                    kept_keys = [batch.keys[i] for i in keep]
                    values = evaluator.update(kept_original, kept_recon)
                    picker.add(kept_keys, kept_original, kept_recon, values)
                    if groups is not None:
                        groups.add(kept_keys, evaluator.last_features[group_extractor])
                    if counter is not None:
                        counter.add(tokens[0], keep)
                    if cycles.enabled:
                        self._cycles(cycles, kept_keys, kept_original, kept_recon)
                    bits_kept = bits.index_select(0, index.cpu())
                    for j, key in enumerate(kept_keys):
                        row = {"key": key, **{name: float(v[j]) for name, v in values.items()}, "bits": float(bits_kept[j])}
                        row["height"], row["width"] = int(original.shape[-2]), int(original.shape[-1])
                        rows.append(row)
            bar.update(len(batch.keys) + len(batch.skipped))
        states = evaluator.set_states()  # every set metric's (rFID's sums, KID's features ...)
        return ShardResult(
            keys=[r.key for r in shard_records],
            rows=rows,
            skipped=skipped,
            stats=states if evaluator.set_metrics and evaluator.decode_states(states).n > 0 else None,
            grid=picker.state(),
            # the reconstructions' range counts of this shard (the evaluator counts since reset; the
            # re-encoding cycles' own are not counted)
            clamp=evaluator.clamp_counts,
            tokens=counter.state() if counter is not None else None,
            cost=meter.state(),
            cycles=cycles.state() if cycles.enabled else None,
            groups=groups.state() if groups is not None else None,
            upscaled=upscaled,
        )

    def _decode_groups(self, state: dict):
        """A shard's per-group states (the group metric's ``state_dict``s by label)."""
        return decode_groups(state, self.evaluator.set_metrics[self.evaluator.group_metric].state_from_dict)

    def _finite(self, keys: Sequence[str], recon: torch.Tensor, skipped: list[dict]) -> list[int]:
        """Indices of the images whose reconstruction is finite; a NaN/Inf one is an error, or
        with ``on_nonfinite: skip`` a recorded and named skip."""
        bad = find_non_finite(recon)
        if not bad:
            return list(range(len(keys)))
        names = name_files([keys[i] for i in bad])
        if self.run.settings.on_nonfinite == "error":
            raise TokenizerOutputError(f"tokenizer {self.name!r} returned NaN/Inf for {names} "
                                       f"(set on_nonfinite: skip to record these images as skipped and go on)")
        warn(f"tokenizer {self.name!r} returned NaN/Inf for {names}; skipped")
        skipped.extend({"key": keys[i], "reason": "tokenizer output has NaN/Inf"} for i in bad)
        return [i for i in range(len(keys)) if i not in set(bad)]

    def _cycles(self, cycles: CycleRunner, keys: list[str], original, recon) -> None:
        """Re-encoding cycles 2..K of a batch; a failure names the files and the cycle."""
        try:
            cycles.run(keys, original, recon)
        except (UsageError, TokenizerOutputError) as error:
            raise JobFailed(f"tokenizer {self.name!r}, re-encoding {name_files(keys)}: {error}") from error
        except Exception as error:  # noqa: BLE001
            raise JobFailed(f"tokenizer {self.name!r} failed re-encoding {name_files(keys)}: "
                            f"{type(error).__name__}: {error}") from error
