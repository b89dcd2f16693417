"""One job's streaming pass over this rank's shards: decode -> ``tokenizer.reconstruct`` ->
per-image rows and the reconstructions' float64 Inception sums, resuming finished shards."""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import torch

from wetok_bench import distributed as D
from wetok_bench.errors import TokenizerOutputError, UsageError, WetokBenchError
from wetok_bench.progress import Progress
from wetok_bench.run.console import name_files, warn
from wetok_bench.run.cost import CostMeter
from wetok_bench.run.cycles import CycleRunner
from wetok_bench.run.fold import OrderedFold
from wetok_bench.run.grids import GridPicker, GridSpec, merge_states
from wetok_bench.run.groups import OLD_SHARD_GROUPS, GroupStats, decode_groups, group_labels
from wetok_bench.run.setup import PassSettings, loader_kwargs
from wetok_bench.run.shards import ShardStore
from wetok_bench.run.tokens import TokenCounter, is_discrete
from wetok_bench.tokenizers.base import ImageNoise, Tokenizer, find_non_finite

log = logging.getLogger(__name__)


#: Why a job resumed from shards written before token counting has no token statistics.
OLD_SHARD_TOKENS = "resumed from shards written before token statistics were recorded (run with --force to count them)"


class JobFailed(WetokBenchError):
    """A job could not finish; the message names the tokenizer and the files of the failing batch."""


def noise_seed(tokenizer: Tokenizer, suite_seed: int) -> int:
    """Seed of a tokenizer's per-image noise: its entry's ``seed`` when set, else the suite's."""
    return tokenizer.noise_seed if tokenizer.noise_seed is not None else suite_seed


class JobRunner:
    """Runs one job's streaming pass over this rank's shards, resuming finished shards.

    ``name`` is the tokenizer entry's name (for messages), ``label`` the job id (progress bar),
    ``grids`` which images' scored reconstructions the shards keep for the grids.
    """

    def __init__(self, *, name: str, label: str, tokenizer: Tokenizer, evaluator, protocol, resolution,
                 settings: PassSettings, store: ShardStore, ctx: D.DistContext, progress: bool,
                 grids: GridSpec = GridSpec()) -> None:
        self.name, self.label, self.tokenizer, self.evaluator = name, label, tokenizer, evaluator
        self.protocol, self.resolution, self.settings = protocol, resolution, settings
        self.store, self.ctx, self.progress, self.grids = store, ctx, progress, grids
        #: record key -> supercategories (COCO), when rFID runs and the records carry them
        self.labels: dict[str, list[str]] | None = None

    def _load(self, index: int, keys: list[str]) -> dict | None:
        """A finished shard, when it also holds the grid candidates of this job's grid settings
        (grid images are never reconstructed again: a shard without them is measured again)."""
        shard = self.store.load(index, keys)
        if shard is not None and (shard.get("grid") or {}).get("spec") != self.grids.as_dict():
            return None
        return shard

    def run(self, records: Sequence) -> dict:
        """Measure this rank's slice; returns the merged partial result of this rank."""
        from wetok_bench.data.loader import iterate_batches

        self.store.prepare()
        settings = self.settings
        self.labels = group_labels(records) if "rfid" in self.evaluator.set_metrics else None
        plan = D.ShardPlan.build(len(records), settings.batch_size, settings.shard_size, self.ctx.world_size)
        mine = list(plan.shards_of(self.ctx.rank))
        fold = OrderedFold(plan, self.ctx, decode=self.evaluator.decode_states)
        # per-supercategory reconstruction statistics, folded in shard order like the main ones
        group_fold, groups_missing = OrderedFold(plan, self.ctx, decode=decode_groups), False
        # each re-encoding cycle's set states, folded like the main ones (cycle -> fold)
        cycle_folds = {k: OrderedFold(plan, self.ctx, decode=self.evaluator.decode_states)
                       for k in range(2, settings.cycles + 1)}
        merged: dict[str, Any] = {"rows": [], "skipped": [], "stats": None, "compute_s": 0.0, "grids": None,
                                  "clamp": [0, 0], "tokens": [], "cost": [], "cycle_rows": []}
        bar = Progress(plan.images_of(self.ctx.rank), self.label, enabled=self.progress and self.ctx.is_main)
        failure: str | None = None
        # Every rank walks the same number of steps (the most shards any rank has), so the
        # per-shard failure exchange below always pairs up.
        for step in range(plan.max_per_rank):
            index = mine[step] if step < len(mine) else None
            shard_records = records[slice(*plan.bounds(index))] if index is not None else []
            keys = [r.key for r in shard_records]
            shard = self._load(index, keys) if keys else {"rows": [], "skipped": [], "stats": None}
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
                    shard["compute_s"] = time.perf_counter() - start
                    self.store.save(index, shard)
            elif shard is not None:
                bar.update(len(keys))
            if self.ctx.enabled:
                flags = D.gather_objects(failure, self.ctx)
                failure = next((f for f in flags if f), None)
            if failure is not None:
                break
            merged["rows"].extend(shard["rows"])
            merged["skipped"].extend(shard["skipped"])
            merged["compute_s"] += shard.get("compute_s", 0.0)
            merged["clamp"] = [a + b for a, b in zip(merged["clamp"], shard.get("clamp", [0, 0]))]
            if shard.get("grid"):
                merged["grids"] = merge_states(self.grids, merged["grids"], shard["grid"])
            # token counts, cost sums and cycles (absent from shards written before they existed)
            uncounted = index is not None and "tokens" not in shard and is_discrete(self.tokenizer)
            merged["tokens"].append({"stats": None, "skipped": OLD_SHARD_TOKENS} if uncounted else shard.get("tokens"))
            merged["cost"].append(shard.get("cost"))
            merged["cycle_rows"].extend((shard.get("cycles") or {}).get("rows", []))
            if index is not None:
                fold.add(index, shard["stats"])
                groups_missing |= self.labels is not None and "groups" not in shard
                group_fold.add(index, shard.get("groups"))
                for cycle, cycle_fold in cycle_folds.items():
                    cycle_fold.add(index, ((shard.get("cycles") or {}).get("sets") or {}).get(cycle))
        bar.close()
        if failure is not None:
            raise JobFailed(failure)
        merged["stats"] = fold.result()
        groups = group_fold.result()
        if self.ctx.enabled:
            groups_missing = any(D.gather_objects(groups_missing, self.ctx))
        merged["groups"] = ({"skipped": OLD_SHARD_GROUPS} if groups_missing
                            else groups if self.labels is not None else None)
        merged["cycle_stats"] = {cycle: cycle_fold.result() for cycle, cycle_fold in cycle_folds.items()}
        return merged

    def _measure(self, shard_records: Sequence, iterate_batches, bar: Progress) -> dict:
        protocol, settings = self.protocol, self.settings
        rows: list[dict] = []
        skipped: list[dict] = []
        self.evaluator.reset()
        device = self.evaluator.device
        seed = noise_seed(self.tokenizer, settings.seed)
        picker = GridPicker(self.grids)
        meter = CostMeter(device)
        counter = TokenCounter(self.tokenizer.codebook_size) if is_discrete(self.tokenizer) else None
        cycles = CycleRunner(settings.cycles, self.tokenizer, self.evaluator, protocol, seed)
        groups = GroupStats(self.labels, self.evaluator.recon_stats.dim, device) if self.labels is not None else None
        for batch in iterate_batches(shard_records, self.resolution, settings.batch_size, resize=protocol.resize,
                                     **loader_kwargs(settings, device)):
            skipped.extend({"key": k, "reason": r} for k, r in batch.skipped)
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
                keep = list(range(len(batch.keys)))
                bad = find_non_finite(recon)
                if bad:
                    names = name_files([batch.keys[i] for i in bad])
                    if settings.on_nonfinite == "error":
                        raise TokenizerOutputError(
                            f"tokenizer {self.name!r} returned NaN/Inf for {names} "
                            f"(set on_nonfinite: skip to record these images as skipped and go on)"
                        )
                    warn(f"tokenizer {self.name!r} returned NaN/Inf for {names}; skipped")
                    skipped.extend({"key": batch.keys[i], "reason": "tokenizer output has NaN/Inf"} for i in bad)
                    keep = [i for i in keep if i not in set(bad)]
                if keep:
                    index = torch.tensor(keep, device=recon.device)
                    kept_original, kept_recon = original.index_select(0, index), recon.index_select(0, index)
                    values = self.evaluator.update(kept_original, kept_recon)
                    picker.add([batch.keys[i] for i in keep], kept_original, kept_recon, values)
                    if groups is not None:
                        groups.add([batch.keys[i] for i in keep], self.evaluator.last_recon_features)
                    if counter is not None:
                        counter.add(tokens[0], keep)
                    if cycles.enabled:
                        self._cycles(cycles, [batch.keys[i] for i in keep], kept_original, kept_recon)
                    bits_kept = bits.index_select(0, index.cpu())
                    for j, i in enumerate(keep):
                        row = {"key": batch.keys[i]}
                        row.update({name: float(v[j]) for name, v in values.items()})
                        row["bits"] = float(bits_kept[j])
                        row["height"], row["width"] = int(original.shape[-2]), int(original.shape[-1])
                        rows.append(row)
            bar.update(len(batch.keys) + len(batch.skipped))
        states = self.evaluator.set_states()  # every set metric's (rFID's sums, KID's features ...)
        return {
            "keys": [r.key for r in shard_records],
            "rows": rows,
            "skipped": skipped,
            "stats": states if self.evaluator.set_metrics and self.evaluator.decode_states(states).n > 0 else None,
            "grid": picker.state(),
            # (clamped, total) reconstruction values of this shard (the evaluator counts since reset),
            # the re-encoding cycles' own left out
            "clamp": [int(n) - int(c) for n, c in zip(self.evaluator.clamp_counts, cycles.clamp)],
            "tokens": counter.state() if counter is not None else None,
            "cost": meter.state(),
            "cycles": cycles.state() if cycles.enabled else None,
            "groups": groups.state() if groups is not None else None,
        }

    def _cycles(self, cycles: CycleRunner, keys: list[str], original, recon) -> None:
        """Re-encoding cycles 2..K of a batch; a failure names the files and the cycle."""
        try:
            cycles.run(keys, original, recon)
        except (UsageError, TokenizerOutputError) as error:
            raise JobFailed(f"tokenizer {self.name!r}, re-encoding {name_files(keys)}: {error}") from error
        except Exception as error:  # noqa: BLE001
            raise JobFailed(f"tokenizer {self.name!r} failed re-encoding {name_files(keys)}: "
                            f"{type(error).__name__}: {error}") from error
