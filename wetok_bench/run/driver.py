"""A suite's run: the lock, the set-up, then every job in turn (one tokenizer loaded at a time).

A failing job (tokenizer error, NaN output, missing checkpoint) is recorded with its error and
the other jobs still run. Rank 0 alone writes results.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from wetok_bench import distributed as D
from wetok_bench.envvars import expand_path
from wetok_bench.grid_files import GRID_DIR
from wetok_bench.errors import UsageError
from wetok_bench.lock import FolderLock
from wetok_bench.metrics.evaluator import clamp_warning
from wetok_bench.metrics.registry import metric_settings
from wetok_bench.results import LAST_FAILURE_FILE, write_job, write_json
from wetok_bench.run.console import error as print_error
from wetok_bench.run.console import warn
from wetok_bench.run.cost import cost_summary, merge_cost, parameter_count
from wetok_bench.run.cycles import CYCLES_FILE, cycle_set_values, cycle_summary
from wetok_bench.run.groups import add_group_block
from wetok_bench.run.grids import GridSpec, save_grids
from wetok_bench.run.job import JobFailed, JobRunner
from wetok_bench.run.records import add_label_columns, build_manifest, build_summary, failure_summary, metric_columns
from wetok_bench.run.reference import ReferenceStore
from wetok_bench.run.reuse import clear_earlier_outputs, clear_failure, finished_summary, has_good_result, job_fingerprint
from wetok_bench.run.selection import load_dataset_records, select_jobs
from wetok_bench.run.setup import PassSettings, build_evaluator, resolve_device, resolve_metric_weights
from wetok_bench.run.shards import ShardStore
from wetok_bench.run.tokens import merge_tokens, tokens_summary
from wetok_bench.skips import format_skipped
from wetok_bench.suite import Job, Suite, TokenizerEntry
from wetok_bench.tokenizers.base import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    job: Job
    status: str  # ok | failed
    folder: Path
    summary: dict = field(default_factory=dict)
    error: str = ""
    images_per_s: float = 0.0
    #: A finished job with the same fingerprint, taken as it was (not measured again).
    reused: bool = False


@dataclass
class RunReport:
    """What a run did: one outcome per job; ``exit_code`` is 0 when every job finished."""

    suite: Suite
    outcomes: list[JobOutcome]
    out_dir: Path

    @property
    def exit_code(self) -> int:
        return 0 if all(o.status == "ok" for o in self.outcomes) else 1


def run_suite(
    suite: Suite,
    *,
    only: Sequence[str] | None = None,
    num_images: int | None = None,
    device: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    force: bool = False,
) -> RunReport:
    """Run every selected job of ``suite``; results go to ``<out>/<suite name>/<job id>/``.

    A failing job (tokenizer error, NaN output, missing checkpoint) is recorded with its error
    and the other jobs still run; see :attr:`RunReport.exit_code`. A finished job whose
    fingerprint is unchanged is reused (:mod:`.reuse`) unless ``force``.
    """
    device_name = device or suite.settings.device
    ctx = D.init_from_env("cuda" if device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available()) else "cpu")
    try:
        dev = resolve_device(device_name, local_rank=ctx.local_rank)
        out_dir = expand_path(out or suite.settings.output, what="results folder") / suite.name
        jobs = select_jobs(suite, only)
        with contextlib.ExitStack() as held:
            refused = None
            if ctx.is_main:
                try:
                    held.enter_context(FolderLock(out_dir))
                except UsageError as error:
                    refused = str(error)
            # Every rank learns whether rank 0 got the lock, so all of them stop with its message
            # (a rank left waiting in a collective would die of a torn connection instead).
            refused = D.broadcast_object(refused, ctx)
            if refused is not None:
                raise UsageError(refused)
            outcomes = _run_jobs(suite, jobs, dev, out_dir, ctx, num_images, progress, force)
            # no rank tears its process group down while another still uses it (gloo aborted a rank
            # that finished first now and then: "terminate called without an active exception")
            D.barrier(ctx)
            return RunReport(suite, outcomes, out_dir)
    finally:
        D.shutdown(ctx)


def _run_jobs(suite, jobs, dev, out_dir, ctx, num_images, progress, force=False) -> list[JobOutcome]:
    settings = suite.settings
    setup = resolve_metric_weights(suite.protocol, suite.metrics, explicit=settings.weights,
                                   on_missing=settings.on_missing_weights)
    setup.settings = metric_settings(setup.metrics, settings)  # each metric's own block (kid: ...), validated
    for metric, reason in setup.skipped.items():
        if ctx.is_main:
            warn(f"metric {metric} skipped: {reason}")
    evaluator = build_evaluator(suite.protocol, setup, dev)
    datasets = load_dataset_records(suite, num_images)
    limit = num_images if num_images is not None else settings.num_images
    # Rank 0 hashes the images (once, not once per rank racing on the digest cache); all get its fingerprints.
    dataset_fps = D.computed_on_main(lambda: {name: chosen.dataset.fingerprint() for name, chosen in datasets.items()},
                                     ctx)
    refs = ReferenceStore(suite.protocol, PassSettings.from_settings(settings), evaluator, ctx, progress)
    outcomes: dict[str, JobOutcome] = {}
    by_tokenizer: dict[str, list[Job]] = {}
    for job in jobs:
        by_tokenizer.setdefault(job.tokenizer.name, []).append(job)
    for name, tok_jobs in by_tokenizer.items():
        pending = []
        for job in tok_jobs:
            def fingerprint_and_reuse(job=job):  # rank 0: it hashes the checkpoints once and decides reuse
                fingerprint = job_fingerprint(
                    entry_spec=job.tokenizer.spec, protocol=suite.protocol, metrics=setup.metrics,
                    metric_weights=evaluator.fingerprint(), dataset_fp=dataset_fps[job.dataset.name],
                    keys=[r.key for r in datasets[job.dataset.name].records], resolution=job.resolution,
                    seed=settings.seed, on_nonfinite=settings.on_nonfinite, cycles=settings.cycles)
                return fingerprint, None if force else finished_summary(out_dir / job.id, fingerprint)

            fingerprint, reused = D.computed_on_main(fingerprint_and_reuse, ctx)
            if reused is not None:
                outcomes[job.id] = JobOutcome(job=job, status="ok", folder=out_dir / job.id, summary=reused, reused=True)
            else:
                pending.append((job, fingerprint))
        if not pending:
            continue  # every job of this tokenizer is finished: it is not even loaded
        try:
            tokenizer = _load_tokenizer(tok_jobs[0].tokenizer, dev)
        except Exception as error:  # noqa: BLE001 - one tokenizer's load failure fails its jobs only
            log.debug("tokenizer %r could not be loaded", name, exc_info=True)  # --debug: the factory's traceback
            message = f"tokenizer {name!r} could not be loaded: {error}"
            outcomes.update({job.id: _record_failure(suite, job, out_dir, message, ctx) for job, _ in pending})
            continue
        for job, fingerprint in pending:
            chosen = datasets[job.dataset.name]
            outcomes[job.id] = _run_one(suite, job, tokenizer, evaluator, setup, chosen.missing, dataset_fps[job.dataset.name],
                                        chosen.records, refs, out_dir, ctx, progress, fingerprint, limit)
        del tokenizer
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return [outcomes[job.id] for job in jobs]


def _load_tokenizer(entry: TokenizerEntry, dev: torch.device) -> Tokenizer:
    from wetok_bench.tokenizers.registry import create_tokenizer

    return create_tokenizer(entry.spec).to(dev)


def _record_failure(suite: Suite, job: Job, out_dir: Path, message: str, ctx: D.DistContext) -> JobOutcome:
    """Record a failed attempt: ``summary.json`` when the job has no good result, else
    ``last_failure.json`` beside the good one (never over it)."""
    folder = out_dir / job.id
    if ctx.is_main:
        failure = failure_summary(suite.name, job, suite.protocol, message)
        if has_good_result(folder):
            failure["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_json(folder / LAST_FAILURE_FILE, failure)
            print_error(f"{job.id}: {message} (the earlier result in {folder / 'summary.json'} is kept; "
                        f"this attempt is recorded in {LAST_FAILURE_FILE})")
        else:
            print_error(f"{job.id}: {message}")
            write_json(folder / "summary.json", failure)
    return JobOutcome(job=job, status="failed", folder=folder, error=message)


def _run_one(suite, job, tokenizer, evaluator, setup, missing, dataset_fp, records, refs, out_dir, ctx, progress,
             job_fp, num_images) -> JobOutcome:
    folder = out_dir / job.id
    settings = PassSettings.from_settings(suite.settings)
    start = time.perf_counter()
    try:
        # What the shards' numbers and layout depend on (not num_workers, output, or the suite's other jobs).
        resume_fp = {"job": job_fp, "tokenizer": tokenizer.fingerprint(),
                     "shard_size": settings.shard_size, "batch_size": settings.batch_size}
        ref_stats = refs.get(job.dataset.name, dataset_fp, records, job.resolution) if evaluator.set_metrics else None
        runner = JobRunner(name=job.tokenizer.name, label=job.id, tokenizer=tokenizer, evaluator=evaluator,
                           protocol=suite.protocol, resolution=job.resolution, settings=settings,
                           store=ShardStore(folder, resume_fp, ctx), ctx=ctx, progress=progress,
                           grids=GridSpec.from_settings(suite.settings.grids, records))
        merged = runner.run(records)
        rows, skipped, stats, compute_s, grid_states, clamp, extra = _gather(merged, ctx)
    except JobFailed as error:
        return _record_failure(suite, job, out_dir, str(error), ctx)
    wall = time.perf_counter() - start
    if not ctx.is_main:
        return JobOutcome(job=job, status="ok", folder=folder)
    skipped.extend({"key": key, "reason": reason} for key, reason in missing)
    n_selected = len(records) + len(missing)
    if skipped:
        warn(f"{job.id}: {format_skipped(skipped, total=n_selected)} (all listed in summary.json)")
    if not rows:
        return _record_failure(suite, job, out_dir, f"no image measured: all {n_selected} selected images were skipped", ctx)
    message = clamp_warning(job.tokenizer.name, *clamp)
    if message:
        warn(message)
    ref_states = ref_stats  # every set metric's originals' states (the re-encoding cycles score against them)
    stats, ref_stats, reference, sets = _set_results(evaluator, refs, stats, ref_stats)
    summary = build_summary(suite.name, job, suite.protocol, tokenizer, setup, rows, skipped, stats, ref_stats, reference,
                            n_selected, clamp, sets=sets)
    _add_blocks(summary, extra, merged, tokenizer, evaluator, refs, ref_states, settings, setup.metrics, wall, len(rows))
    add_group_block(summary, merged.get("groups"), refs.groups(job.dataset.name, job.resolution))  # COCO
    images_per_s = len(rows) / wall if wall > 0 else 0.0
    manifest = build_manifest(suite, job, tokenizer, evaluator, dataset_fp, ctx.world_size, wall, images_per_s, compute_s,
                              len(rows), num_images=num_images, job_fingerprint=job_fp)
    columns = ["key", *metric_columns(rows), "bits", "height", "width"]
    columns += add_label_columns(rows, records)  # COCO categories, for the report's per-category means
    write_job(folder, summary, rows, columns, manifest)
    if settings.cycles > 1:
        from wetok_bench.results import atomic_write_text, rows_to_csv

        cycle_columns = ["key", "cycle", *(c for c in metric_columns(rows) if c in (extra["cycle_rows"] or [{}])[0])]
        by_cycle = sorted(extra["cycle_rows"], key=lambda r: r["cycle"])  # stable: image order within a cycle
        atomic_write_text(folder / CYCLES_FILE, rows_to_csv(by_cycle, cycle_columns))
    clear_earlier_outputs(folder, [GRID_DIR] + ([] if settings.cycles > 1 else [CYCLES_FILE]))  # rewritten or gone
    clear_failure(folder)
    runner.store.discard()
    if runner.grids.enabled:
        save_grids(folder, runner.grids, grid_states, setup.metrics, rows)
    return JobOutcome(job=job, status="ok", folder=folder, summary=summary, images_per_s=images_per_s)


def _set_results(evaluator, refs: ReferenceStore, states, ref_states):
    """rFID's (recon stats, reference stats, Frechet reference) for the summary, and every other
    set metric's block (``{"skipped": reason}`` when it cannot be computed, e.g. too few images)."""
    states, ref_states = states or {}, ref_states or {}
    stats, ref = states.get("rfid"), ref_states.get("rfid")
    reference = refs.frechet(ref) if ref is not None and ref.n >= 2 else None
    sets: dict[str, dict] = {}
    for name, metric in evaluator.set_metrics.items():
        if name == "rfid":
            continue
        try:
            sets[name] = metric.compute(ref_states[name], states[name])
        except (UsageError, KeyError) as error:
            sets[name] = {"skipped": str(error) if isinstance(error, UsageError) else "no image measured"}
    return stats, ref, reference, sets


def _add_blocks(summary: dict, extra: dict, merged: dict, tokenizer, evaluator, refs, ref_states, settings, metrics,
                wall: float, images: int) -> None:
    """The ``tokens`` (discrete tokenizers), ``cost`` and ``cycles`` (``cycles: K`` > 1) blocks."""
    tokens = tokens_summary(extra["tokens"])
    if tokens is not None:
        summary["tokens"] = tokens
    summary["cost"] = cost_summary(extra["cost"], parameters=parameter_count(tokenizer), images=images, wall_s=wall,
                                   device=evaluator.device)
    if settings.cycles > 1:
        sets = {k: cycle_set_values(evaluator, refs.frechet, ref_states, states)
                for k, states in (merged.get("cycle_stats") or {}).items()}
        # per-image result keys (psnr, ssim, lpips, lpips_vgg ...), then the set metrics' (rfid, kid ...)
        names = [*evaluator.value_keys, *dict.fromkeys(k for values in sets.values() for k in values), *metrics]
        summary["cycles"] = cycle_summary(summary["metrics"], extra["cycle_rows"], sets, settings.cycles,
                                          list(dict.fromkeys(names)))


def _gather(merged: dict, ctx: D.DistContext):
    """Rows, skips and grid candidates of every rank on rank 0, in shard order; the folded statistics (rank 0);
    ``extra``: the token counts and cost sums added over ranks, the cycles' rows in shard order."""
    keys = ("rows", "skipped", "compute_s", "grids", "clamp", "tokens", "cost", "cycle_rows")
    parts = D.gather_objects({k: merged[k] for k in keys}, ctx)
    rows = [row for part in parts for row in part["rows"]]
    skipped = [s for part in parts for s in part["skipped"]]
    grids = [part["grids"] for part in parts if part["grids"]]
    clamp = (sum(p["clamp"][0] for p in parts), sum(p["clamp"][1] for p in parts))
    extra = {"tokens": merge_tokens([t for p in parts for t in p["tokens"]]),
             "cost": merge_cost([c for p in parts for c in p["cost"]]),
             "cycle_rows": [r for p in parts for r in p["cycle_rows"]]}
    return rows, skipped, merged["stats"], max(p["compute_s"] for p in parts), grids, clamp, extra
