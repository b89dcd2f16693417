"""One job's streaming pass over this rank's shards: decode -> ``tokenizer.reconstruct`` ->
per-image rows and the reconstructions' set-metric states, resuming finished shards.

A pass serves one or more *lanes*: protocols that read the same preprocessed images (the same
resize rule and uint8 -> float rule, :func:`preprocessing_key`). The tokenizer runs once per
batch for all of them; each lane scores the reconstruction with its own evaluator (views and
features that two protocols define alike are computed once, through a memo the lanes share),
keeps its own shards in its own job folder and gets its own :class:`PassResult`: exactly what a
pass under that protocol alone gives."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
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


def preprocessing_key(protocol) -> tuple[str, str]:
    """What a protocol's tokenizer input depends on: its resize rule and uint8 -> float rule.
    Protocols with the same key share one tokenizer pass."""
    return (protocol.resize, protocol.u8_float)


@dataclass
class Lane:
    """One protocol's part of a pass: its run context (protocol, evaluator, job folders), the
    shard store in its job folder, and the images its grids keep."""

    run: RunContext
    store: ShardStore
    grids: GridSpec = GridSpec()

    @property
    def evaluator(self):
        return self.run.evaluator


class _LaneState:
    """A lane's running state through the pass: folds of its set states, its part, its labels."""

    def __init__(self, lane: Lane, plan, dist, records: Sequence) -> None:
        evaluator = lane.evaluator
        self.lane = lane
        #: record key -> labels of its group (COCO supercategories), when a per-group metric runs
        self.labels = group_labels(records) if evaluator.group_metric is not None else None
        self.fold = OrderedFold(plan, dist, decode=evaluator.decode_states)
        # per-group statistics, folded in shard order like the main ones
        self.group_fold = OrderedFold(plan, dist, decode=lambda state: decode_groups(
            state, evaluator.set_metrics[evaluator.group_metric].state_from_dict))
        self.groups_missing = False
        # each re-encoding cycle's set states, folded like the main ones (cycle -> fold)
        self.cycle_folds = {k: OrderedFold(plan, dist, decode=evaluator.decode_states)
                            for k in range(2, lane.run.settings.cycles + 1)}
        self.part = PassPart()

    def add(self, index: int | None, shard: ShardResult, counts_tokens: bool, resumed: bool) -> None:
        self.part.add(shard, self.lane.grids, counts_tokens=counts_tokens, resumed=resumed)
        if index is not None:
            self.fold.add(index, shard.stats)
            self.groups_missing |= self.labels is not None and "groups" in shard.missing
            self.group_fold.add(index, shard.groups)
            for cycle, cycle_fold in self.cycle_folds.items():
                cycle_fold.add(index, ((shard.cycles or {}).get("sets") or {}).get(cycle))

    def result(self, dist) -> PassResult | None:
        stats, groups = self.fold.result(), self.group_fold.result()
        groups_missing = any(D.gather_objects(self.groups_missing, dist)) if dist.enabled else self.groups_missing
        cycle_stats = {cycle: cycle_fold.result() for cycle, cycle_fold in self.cycle_folds.items()}
        parts = D.gather_objects(self.part, dist)
        if not dist.is_main:
            return None
        return PassResult(part=PassPart.merge(parts), stats=stats, cycle_stats=cycle_stats,
                          groups=({"skipped": OLD_SHARD_GROUPS} if groups_missing
                                  else groups if self.labels is not None else None))


class JobRunner:
    """Runs one job's streaming pass over this rank's shards for one or more lanes (protocols
    with the same preprocessing), resuming each lane's finished shards.

    Each lane's ``grids`` says which images' scored reconstructions its shards keep.
    """

    def __init__(self, job: Job, tokenizer: Tokenizer, lanes: Sequence[Lane]) -> None:
        if not lanes:
            raise ValueError("a pass needs at least one lane")
        keys = {preprocessing_key(lane.run.protocol) for lane in lanes}
        if len(keys) > 1:
            raise ValueError(f"lanes of one pass must share their preprocessing, got {sorted(keys)}")
        self.job, self.tokenizer, self.lanes = job, tokenizer, list(lanes)
        self.run = self.lanes[0].run  # the pass settings, process group and protocol preprocessing they share
        self.name, self.label = job.tokenizer.name, job.id
        self._states: dict[int, _LaneState] = {}

    def _load(self, lane: Lane, index: int, keys: list[str]) -> ShardResult | None:
        """A lane's finished shard, when it also holds the grid candidates of its grid settings
        (grid images are never reconstructed again: a shard without them is measured again)."""
        data = lane.store.load(index, keys)
        if data is None:
            return None
        shard = ShardResult.from_dict(data)
        if lane.run.settings.keep_features and shard.features is None and shard.rows and lane.evaluator.set_metrics:
            return None  # written without the features now asked for: measured again
        return shard if shard.grid_spec() == lane.grids.as_dict() else None

    def pass_over(self, records: Sequence) -> list[PassResult | None]:
        """Measure this rank's slice; each lane's whole-job :class:`PassResult` on rank 0 (None
        elsewhere), in lane order. A collective call on every rank."""
        from wetok_bench.data.loader import iterate_batches

        for lane in self.lanes:
            lane.store.prepare()
        settings, dist = self.run.settings, self.run.dist
        plan = D.ShardPlan.build(len(records), settings.batch_size, settings.shard_size, dist.world_size)
        mine = list(plan.shards_of(dist.rank))
        states = [_LaneState(lane, plan, dist, records) for lane in self.lanes]
        self._states = {id(state.lane): state for state in states}
        bar = Progress(plan.images_of(dist.rank), self.label, enabled=self.run.progress and dist.is_main)
        failure: str | None = None
        # Every rank walks the same number of steps (the most shards any rank has), so the
        # per-shard failure exchange below always pairs up.
        for step in range(plan.max_per_rank):
            index = mine[step] if step < len(mine) else None
            shard_records = records[slice(*plan.bounds(index))] if index is not None else []
            keys = [r.key for r in shard_records]
            shards = {id(lane): (self._load(lane, index, keys) if keys else ShardResult.empty()) for lane in self.lanes}
            resumed = {lane_id: shard is not None and bool(keys) for lane_id, shard in shards.items()}
            todo = [lane for lane in self.lanes if shards[id(lane)] is None]
            if todo and failure is None:
                start = time.perf_counter()
                measured = None
                try:
                    measured = self._measure(shard_records, iterate_batches, bar, todo)
                except (TokenizerOutputError, JobFailed) as error:
                    failure = str(error)
                    log.debug("%s failed", self.label, exc_info=True)  # --debug: the tokenizer's traceback
                except WetokBenchError as error:
                    failure = f"tokenizer {self.name!r}: {error}"
                    log.debug("%s failed", self.label, exc_info=True)
                except Exception as error:  # noqa: BLE001 - a tokenizer's crash fails its job, not the suite
                    failure = f"tokenizer {self.name!r} raised {type(error).__name__}: {error}"
                    log.debug("%s failed", self.label, exc_info=True)
                if measured is not None:
                    compute_s = time.perf_counter() - start
                    for lane, shard in zip(todo, measured):
                        shard.compute_s = compute_s
                        shards[id(lane)] = shard
                        try:
                            lane.store.save(index, shard.to_dict())
                        except ShardWriteError as error:  # every rank learns it below, and the job stops
                            failure = str(error)
            elif not todo:
                bar.update(len(keys))
            if dist.enabled:
                flags = D.gather_objects(failure, dist)
                failure = next((f for f in flags if f), None)
            if failure is not None:
                break
            counts_tokens = index is not None and is_discrete(self.tokenizer)
            for state in states:
                lane_id = id(state.lane)
                state.add(index, shards[lane_id], counts_tokens, resumed[lane_id])
        bar.close()
        if failure is not None:
            raise JobFailed(failure)
        return [state.result(dist) for state in states]

    def _measure(self, shard_records: Sequence, iterate_batches, bar: Progress, lanes: Sequence[Lane]
                 ) -> list[ShardResult]:
        """Reconstruct the shard's images once and score them in every lane of ``lanes``."""
        protocol, settings = self.run.protocol, self.run.settings
        skipped: list[dict] = []
        upscaled: list[str] = []
        device = lanes[0].evaluator.device
        seed = noise_seed(self.tokenizer, settings.seed)
        meter = CostMeter(device)
        counter = TokenCounter(self.tokenizer.codebook_size) if is_discrete(self.tokenizer) else None
        scorers = [_LaneScorer(lane, self._states[id(lane)].labels, self.tokenizer, seed) for lane in lanes]
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
                    if counter is not None:
                        counter.add(tokens[0], keep)
                    bits_kept = bits.index_select(0, index.cpu())
                    shared: dict = {}  # views and features two lanes' protocols define alike, made once
                    for scorer in scorers:
                        scorer.score(kept_keys, kept_original, kept_recon, bits_kept, shared, self._cycles)
            bar.update(len(batch.keys) + len(batch.skipped))
        return [scorer.shard(shard_records, skipped, upscaled, counter, meter) for scorer in scorers]

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


class _LaneScorer:
    """One lane's scoring of a shard's reconstructions: its evaluator's rows and states, its grid
    candidates, its re-encoding cycles and per-group statistics."""

    def __init__(self, lane: Lane, labels, tokenizer: Tokenizer, seed: int) -> None:
        evaluator = lane.evaluator
        self.lane, self.evaluator, self.rows = lane, evaluator, []
        evaluator.reset()
        self.picker = GridPicker(lane.grids)
        self.cycles = CycleRunner(lane.run.settings.cycles, tokenizer, evaluator, lane.run.protocol, seed)
        self.group_extractor = evaluator.extractor_of(evaluator.group_metric) if labels is not None else None
        #: per-image features kept (``keep_features``): network -> {"recon": [...], "original": [...]}
        self.features = ({name: {"recon": [], "original": []} for name in evaluator.extractors}
                         if lane.run.settings.keep_features else None)
        self.groups = None
        if self.group_extractor is not None:
            metric = evaluator.set_metrics[evaluator.group_metric]
            self.groups = GroupStats(labels, lambda: metric.new_state(metric.dim))

    def score(self, keys: list[str], original: torch.Tensor, recon: torch.Tensor, bits: torch.Tensor, shared: dict,
              run_cycles) -> None:
        values = self.evaluator.update(original, recon, shared=shared)
        if self.features is not None:  # the originals' features again, in the images' order (one more pass)
            originals = self.evaluator.reference_features(original)
            for name, kept in self.features.items():
                kept["recon"].append(self.evaluator.last_features[name].to("cpu", torch.float32))
                kept["original"].append(originals[name].to("cpu", torch.float32))
        self.picker.add(keys, original, recon, values)
        if self.groups is not None:
            self.groups.add(keys, self.evaluator.last_features[self.group_extractor])
        if self.cycles.enabled:
            run_cycles(self.cycles, keys, original, recon)
        for j, key in enumerate(keys):
            row = {"key": key, **{name: float(v[j]) for name, v in values.items()}, "bits": float(bits[j])}
            row["height"], row["width"] = int(original.shape[-2]), int(original.shape[-1])
            self.rows.append(row)

    def shard(self, shard_records: Sequence, skipped: list[dict], upscaled: list[str], counter, meter) -> ShardResult:
        evaluator = self.evaluator
        states = evaluator.set_states()  # every set metric's (rFID's sums, KID's features ...)
        return ShardResult(
            keys=[r.key for r in shard_records],
            rows=self.rows,
            skipped=list(skipped),
            stats=states if evaluator.set_metrics and evaluator.decode_states(states).n > 0 else None,
            grid=self.picker.state(),
            # the reconstructions' range counts of this shard (the evaluator counts since reset; the
            # re-encoding cycles' own are not counted)
            clamp=evaluator.clamp_counts,
            tokens=counter.state() if counter is not None else None,
            cost=meter.state(),
            cycles=self.cycles.state() if self.cycles.enabled else None,
            groups=self.groups.state() if self.groups is not None else None,
            upscaled=list(upscaled),
            features=({name: {side: torch.cat(parts) if parts else torch.zeros(0) for side, parts in kept.items()}
                       for name, kept in self.features.items()} if self.features is not None else None),
        )
