"""A suite's run: the lock, the set-up, then every job in turn (one tokenizer loaded at a time).

A failing job (tokenizer error, NaN output, missing checkpoint) is recorded with its error and
the other jobs still run. Rank 0 alone writes results.

Several protocols (``protocol: [standard, wetok, llamagen]``): each protocol gets a run context
of its own (:meth:`Suite.under`: its evaluator, its reference statistics, its results folder
``<out>/<suite>/<protocol>/``), and each job runs one pass per distinct preprocessing
(:func:`~wetok_bench.engine.job.preprocessing_key`) in which the tokenizer reconstructs every
batch once and every protocol of the group scores it (:class:`~wetok_bench.engine.job.Lane`).
Each protocol's job folder is then what a run under that protocol alone writes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from wetok_bench.config.suite import Job, Suite, TokenizerEntry
from wetok_bench.core import distributed as D
from wetok_bench.core.devices import resolve_device
from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import UsageError
from wetok_bench.core.lock import FolderLock
from wetok_bench.core.names import job_folder
from wetok_bench.core.skips import format_skipped
from wetok_bench.engine.console import error as print_error
from wetok_bench.engine.console import warn
from wetok_bench.engine.context import RunContext
from wetok_bench.engine.cost import cost_summary, parameter_count
from wetok_bench.engine.cycles import CYCLES_FILE, cycle_set_values, cycle_summary
from wetok_bench.engine.grids import GridSpec, save_grids
from wetok_bench.engine.groups import add_group_block
from wetok_bench.engine.job import JobFailed, JobRunner, Lane, preprocessing_key
from wetok_bench.engine.records import (
    JobFingerprints,
    JobTiming,
    add_label_columns,
    build_manifest,
    compression_summary,
    failure_summary,
    job_header,
    metric_columns,
)
from wetok_bench.engine.reference import ReferenceStore
from wetok_bench.engine.reuse import (
    clear_earlier_outputs,
    clear_failure,
    finished_summary,
    has_good_result,
    job_fingerprint,
)
from wetok_bench.engine.selection import SelectedImages, load_dataset_records, select_jobs
from wetok_bench.engine.setup import PassSettings
from wetok_bench.engine.shards import ShardStore
from wetok_bench.engine.state import PassResult
from wetok_bench.engine.tokens import tokens_summary
from wetok_bench.metrics.evaluator import clamp_warning
from wetok_bench.metrics.registry import metric_settings
from wetok_bench.metrics.setup import build_evaluator, resolve_metric_weights
from wetok_bench.results.finalize import Measurement, finalize
from wetok_bench.results.features import FEATURES_DIR, write_features
from wetok_bench.results.grid_files import GRID_DIR
from wetok_bench.results.records import LAST_FAILURE_FILE, atomic_write_text, rows_to_csv, write_job, write_json
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
    #: the protocol it was measured under
    protocol: str = ""


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
    """Run every selected job of ``suite``; results go to ``<out>/<suite name>/<job id>/``
    (``<out>/<suite name>/<protocol>/<job id>/`` when the suite lists several protocols).

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
            runs = [_run_context(suite.under(protocol) if suite.multi_protocol else suite, dev,
                                 out_dir / protocol.name if suite.multi_protocol else out_dir, ctx, progress, num_images,
                                 undefined=[m for m in suite.metrics if not protocol.defines(m)])
                    for protocol in suite.protocols]
            _share_references(runs)
            outcomes = _run_jobs(runs, jobs, num_images, force)
            # no rank tears its process group down while another still uses it (gloo aborted a rank
            # that finished first now and then: "terminate called without an active exception")
            D.barrier(ctx)
            return RunReport(suite, outcomes, out_dir)
    finally:
        D.shutdown(ctx)


def _run_context(suite: Suite, dev: torch.device, out_dir: Path, ctx: D.DistContext, progress: bool,
                 num_images: int | None, undefined: Sequence[str] = ()) -> RunContext:
    """The metrics with their weights and evaluator, the reference store: what every job of one
    protocol shares. ``undefined``: metrics of a multi-protocol suite this protocol does not
    define (recorded as skipped, with the reason)."""
    settings = suite.settings
    setup = resolve_metric_weights(suite.protocol, suite.metrics, explicit=settings.weights,
                                   on_missing=settings.on_missing_weights)
    setup.settings = metric_settings(setup.metrics, settings)  # each metric's own block (kid: ...), validated
    setup.skipped.update({metric: f"not defined by protocol {suite.protocol.name} (its official evaluation does "
                                  f"not compute it)" for metric in undefined})
    for metric, reason in setup.skipped.items():
        if ctx.is_main:
            warn(f"metric {metric} skipped: {reason}")
    evaluator = build_evaluator(suite.protocol, setup, dev)
    passing = PassSettings.from_settings(settings)
    refs = ReferenceStore(suite.protocol, passing, evaluator, ctx, progress)
    return RunContext(suite=suite, settings=passing, setup=setup, evaluator=evaluator, refs=refs, dist=ctx,
                      out_dir=out_dir, progress=progress,
                      num_images=num_images if num_images is not None else settings.num_images)


def _share_references(runs: list[RunContext]) -> None:
    """Protocols of one convention (``wetok``, ``seed-voken``, ``open-magvit2-v1``) with the same
    metrics have the same originals' statistics: one reference store serves them all, so the
    reference pass runs once."""
    stores: dict[tuple, object] = {}
    for run in runs:
        key = (run.protocol.convention, tuple(run.setup.metrics), tuple(sorted(map(str, run.setup.weights.items()))))
        run.refs = stores.setdefault(key, run.refs)


def _run_jobs(runs: list[RunContext], jobs: list[Job], num_images: int | None, force: bool) -> list[JobOutcome]:
    """Every job under every protocol (``runs``: one context per protocol); outcomes job by job,
    each job's in the suite's protocol order."""
    first = runs[0]
    datasets = load_dataset_records(first.suite, num_images)
    # Rank 0 hashes the images (once, not once per rank racing on the digest cache); all get its fingerprints.
    dataset_fps = D.computed_on_main(lambda: {name: chosen.dataset.fingerprint() for name, chosen in datasets.items()},
                                     first.dist)
    outcomes: dict[tuple[str, str], JobOutcome] = {}
    by_tokenizer: dict[str, list[Job]] = {}
    for job in jobs:
        by_tokenizer.setdefault(job.tokenizer.name, []).append(job)
    for name, tok_jobs in by_tokenizer.items():
        pending: list[tuple[Job, list[tuple[RunContext, JobFingerprints]]]] = []
        for job in tok_jobs:
            images, dataset_fp = datasets[job.dataset.name], dataset_fps[job.dataset.name]
            todo = []
            for run in runs:
                def fingerprint_and_reuse(run=run, job=job, images=images, dataset_fp=dataset_fp):
                    # rank 0: it hashes the checkpoints once and decides reuse
                    fingerprint = job_fingerprint(run, job, dataset_fp, [r.key for r in images.records])
                    return fingerprint, None if force else finished_summary(_folder(run, job), fingerprint)

                fingerprint, reused = D.computed_on_main(fingerprint_and_reuse, run.dist)
                if reused is not None:
                    outcomes[_key(run, job)] = JobOutcome(job=job, status="ok", folder=_folder(run, job), summary=reused,
                                                          reused=True, protocol=run.protocol.name)
                else:
                    todo.append((run, JobFingerprints(job=fingerprint, dataset=dataset_fp)))
            if todo:
                pending.append((job, todo))
        if not pending:
            continue  # every job of this tokenizer is finished: it is not even loaded
        try:
            tokenizer = _load_tokenizer(tok_jobs[0].tokenizer, first.evaluator.device)
        except Exception as error:  # noqa: BLE001 - one tokenizer's load failure fails its jobs only
            log.debug("tokenizer %r could not be loaded", name, exc_info=True)  # --debug: the factory's traceback
            message = f"tokenizer {name!r} could not be loaded: {error}"
            outcomes.update({_key(run, job): _record_failure(run, job, message) for job, todo in pending for run, _ in todo})
            continue
        for job, todo in pending:
            problem = _size_problem(job, tokenizer)
            if problem is not None:  # before any image is read, the reference pass included
                outcomes.update({_key(run, job): _record_failure(run, job, problem) for run, _ in todo})
                continue
            groups: dict[tuple, list[tuple[RunContext, JobFingerprints]]] = {}
            for run, fingerprints in todo:  # one pass per preprocessing, every protocol of it scoring
                groups.setdefault(preprocessing_key(run.protocol), []).append((run, fingerprints))
            with _size_policy(job, tokenizer):
                for group in groups.values():
                    outcomes.update(_run_pass(group, job, tokenizer, datasets[job.dataset.name]))
        del tokenizer
        if first.evaluator.device.type == "cuda":
            torch.cuda.empty_cache()
    return [outcomes[_key(run, job)] for job in jobs for run in runs]


def _key(run: RunContext, job: Job) -> tuple[str, str]:
    return run.protocol.name, job.id


def _size_problem(job: Job, tokenizer: Tokenizer) -> str | None:
    """Why the job's resolution cannot be measured (not a multiple of the tokenizer's factor,
    without padding), known once the model is loaded; None when it can."""
    factor = int(getattr(tokenizer, "downsample", 1) or 1)
    if isinstance(job.resolution, int) and job.resolution % factor and tokenizer.size_policy != "pad":
        return (f"tokenizer {job.tokenizer.name!r}: resolution {job.resolution} is not a multiple of its spatial factor "
                f"{factor}; choose a resolution that is, or set size_policy: pad")
    return None


@contextlib.contextmanager
def _size_policy(job: Job, tokenizer: Tokenizer):
    """At ``resolution: original`` every image keeps its own size: the tokenizer pads each to its
    factor and crops the output back (``size_policy: pad``) unless the entry chose a policy."""
    kept = tokenizer.size_policy
    if job.resolution == "original" and "size_policy" not in job.tokenizer.spec:
        tokenizer.size_policy = "pad"
    try:
        yield
    finally:
        tokenizer.size_policy = kept


def _folder(run: RunContext, job: Job) -> Path:
    """The job's folder under the suite's results folder (its names checked to stay inside)."""
    return job_folder(run.out_dir, job.tokenizer.name, job.dataset.name, job.resolution)


def _load_tokenizer(entry: TokenizerEntry, dev: torch.device) -> Tokenizer:
    from wetok_bench.tokenizers.registry import create_tokenizer

    return create_tokenizer(entry.spec).to(dev)


def _record_failure(run: RunContext, job: Job, message: str) -> JobOutcome:
    """Record a failed attempt: ``summary.json`` when the job has no good result, else
    ``last_failure.json`` beside the good one (never over it)."""
    folder = _folder(run, job)
    if run.dist.is_main:
        failure = failure_summary(run.suite.name, job, run.protocol, message)
        if has_good_result(folder):
            failure["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_json(folder / LAST_FAILURE_FILE, failure)
            print_error(f"{job.id}: {message} (the earlier result in {folder / 'summary.json'} is kept; "
                        f"this attempt is recorded in {LAST_FAILURE_FILE})")
        else:
            print_error(f"{job.id}: {message}")
            write_json(folder / "summary.json", failure)
    return JobOutcome(job=job, status="failed", folder=folder, error=message, protocol=run.protocol.name)


def _run_pass(group: list[tuple[RunContext, JobFingerprints]], job: Job, tokenizer: Tokenizer,
              images: SelectedImages) -> dict[tuple[str, str], JobOutcome]:
    """One pass of ``job`` for protocols with the same preprocessing; each one's outcome."""
    start = time.perf_counter()
    lanes, refs = [], []
    try:
        for run, fingerprints in group:
            settings = run.settings
            # What the shards' numbers and layout depend on (not num_workers, output, or the suite's other jobs).
            resume_fp = {"job": fingerprints.job, "tokenizer": tokenizer.fingerprint(),
                         "shard_size": settings.shard_size, "batch_size": settings.batch_size}
            refs.append(run.refs.get(job.dataset.name, fingerprints.dataset, images.records, job.resolution)
                        if run.evaluator.set_metrics else None)
            lanes.append(Lane(run, ShardStore(_folder(run, job), resume_fp, run.dist),
                              GridSpec.from_settings(run.suite.settings.grids, images.records)))
        results = JobRunner(job, tokenizer, lanes).pass_over(images.records)
    except JobFailed as error:
        return {_key(run, job): _record_failure(run, job, str(error)) for run, _ in group}
    wall = time.perf_counter() - start
    return {_key(lane.run, job): _finish(lane, job, tokenizer, images, fingerprints, result, ref_states, wall)
            for lane, (_, fingerprints), result, ref_states in zip(lanes, group, results, refs)}


def _finish(lane: Lane, job: Job, tokenizer: Tokenizer, images: SelectedImages, fingerprints: JobFingerprints,
            result: PassResult | None, ref_states, wall: float) -> JobOutcome:
    """A lane's pass result made into its job folder (rank 0; the others only report ok)."""
    run = lane.run
    folder = _folder(run, job)
    settings, evaluator = run.settings, run.evaluator
    if result is None:  # not rank 0
        return JobOutcome(job=job, status="ok", folder=folder, protocol=run.protocol.name)
    part = result.part
    skipped = part.skipped + [{"key": key, "reason": reason} for key, reason in images.missing]
    n_selected = len(images.records) + len(images.missing)
    if skipped:
        warn(f"{job.id}: {format_skipped(skipped, total=n_selected)} (all listed in summary.json)")
    if not part.rows:
        return _record_failure(run, job, f"no image measured: all {n_selected} selected images were skipped")
    if part.upscaled:
        warn(f"{job.id}: {len(part.upscaled)} of {len(part.rows)} images are smaller than {job.resolution} px on "
             f"their short side and were enlarged to it (e.g. {', '.join(part.upscaled[:3])}); recorded as counts.upscaled")
    message = clamp_warning(job.tokenizer.name, part.clamp)
    if message:
        warn(message)
    prepared = run.refs.prepared(ref_states)
    measurement = Measurement(
        rows=part.rows, value_keys=evaluator.value_keys,
        sets=evaluator.compute_sets(prepared, result.stats or {}) if evaluator.set_metrics else {},
        skipped_files=skipped, selected=n_selected, reference_images=ref_states.n if ref_states is not None else None,
        clamp=part.clamp, skipped_metrics=run.setup.skipped,
        upscaled=len(part.upscaled) or None)  # recorded when some image was enlarged
    summary = finalize(job_header(run.suite.name, job, tokenizer), run.protocol, measurement).to_dict()
    summary["compression"] = compression_summary(tokenizer, job.resolution, part.rows)
    timing = JobTiming(wall=wall, compute=part.compute_s, images=len(part.rows), measured=part.measured)
    _add_blocks(summary, run, tokenizer, result, prepared, timing)
    group_metric = evaluator.set_metrics.get(evaluator.group_metric) if evaluator.group_metric else None
    add_group_block(summary, group_metric, result.groups, run.refs.groups(job.dataset.name, job.resolution))  # COCO
    manifest = build_manifest(run, job, tokenizer, fingerprints, timing)
    rows = part.rows
    columns = ["key", *metric_columns(rows), "bits", "height", "width"]
    columns += add_label_columns(rows, images.records)  # COCO categories, for the report's per-category means
    write_job(folder, summary, rows, columns, manifest)
    if settings.cycles > 1:
        cycle_columns = ["key", "cycle", *(c for c in metric_columns(rows) if c in (part.cycle_rows or [{}])[0])]
        by_cycle = sorted(part.cycle_rows, key=lambda r: r["cycle"])  # stable: image order within a cycle
        atomic_write_text(folder / CYCLES_FILE, rows_to_csv(by_cycle, cycle_columns))
    clear_earlier_outputs(folder, [GRID_DIR] + ([] if settings.cycles > 1 else [CYCLES_FILE])
                          + ([] if settings.keep_features else [FEATURES_DIR]))  # rewritten or gone
    if settings.keep_features:
        write_features(folder, [row["key"] for row in rows], part.features)
    clear_failure(folder)
    lane.store.discard()
    if lane.grids.enabled:
        save_grids(folder, lane.grids, part.grids, run.setup.metrics, rows)
    return JobOutcome(job=job, status="ok", folder=folder, summary=summary, images_per_s=timing.images_per_s,
                      protocol=run.protocol.name)


def _add_blocks(summary: dict, run: RunContext, tokenizer: Tokenizer, result: PassResult, prepared: dict,
                timing: JobTiming) -> None:
    """The ``tokens`` (discrete tokenizers), ``cost`` and ``cycles`` (``cycles: K`` > 1) blocks."""
    tokens = tokens_summary(result.part.token_counts())
    if tokens is not None:
        summary["tokens"] = tokens
    summary["cost"] = cost_summary(result.part.cost_sums(), parameters=parameter_count(tokenizer), timing=timing,
                                   device=run.evaluator.device)
    if run.settings.cycles > 1:
        evaluator = run.evaluator
        sets = {k: cycle_set_values(evaluator, prepared, states) for k, states in result.cycle_stats.items()}
        # per-image result keys (psnr, ssim, lpips, lpips_vgg ...), then the set metrics' (rfid, kid ...)
        names = [*evaluator.value_keys, *dict.fromkeys(k for values in sets.values() for k in values), *run.setup.metrics]
        summary["cycles"] = cycle_summary(summary["metrics"], result.part.cycle_rows, sets, run.settings.cycles,
                                          list(dict.fromkeys(names)))
