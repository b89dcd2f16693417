"""The streaming pass: a suite's jobs measured in one pass each, resumable and distributed.

For each dataset x resolution the originals' Inception statistics come from the reference cache
(computed once, in parallel across ranks, on a miss). For each tokenizer, each job then streams
the images once: decode -> uint8 originals -> ``tokenizer.reconstruct`` -> the protocol's views
-> per-image PSNR/SSIM/LPIPS rows and the reconstructions' float64 Inception sums.

Shards: the sorted image list is cut into global shards of ``shard_size`` images (rounded up to
whole batches; :class:`~wetok_bench.distributed.ShardPlan`); each rank measures a contiguous
block of them. Each finished shard (rows, skipped files and partial float64 sums) is written
atomically to ``<job>/.partial/shardNNNNNN.pt``. A run started again with the same command
reuses every shard whose fingerprint (suite, protocol, tokenizer, dataset, shard and batch
size) matches and recomputes the rest; a changed fingerprint discards the partial state
instead of mixing it in.

Distributed: shards are folded in shard order (:class:`OrderedFold`), so 1 and N ranks give
bit-identical per-image values, statistics and rFID. Rank 0 alone writes results.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from wetok_bench import __version__
from wetok_bench import distributed as D
from wetok_bench.errors import MissingWeightsError, TokenizerOutputError, UsageError, WetokBenchError
from wetok_bench.hashing import sha256_json
from wetok_bench.lock import FolderLock
from wetok_bench.progress import Progress
from wetok_bench.results import write_job, write_json
from wetok_bench.suite import Job, Suite, TokenizerEntry
from wetok_bench.tokenizers.base import ImageNoise, Tokenizer, find_non_finite

PARTIAL_DIR = ".partial"


# --- set-up -------------------------------------------------------------------------------------


def resolve_device(name: str, ctx: D.DistContext | None = None) -> torch.device:
    """``auto`` -> this rank's GPU when CUDA is available, else CPU; ``cuda`` without a
    number -> ``cuda:<local rank>``. An unavailable CUDA device is a :class:`UsageError`."""
    local_rank = ctx.local_rank if ctx else 0
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"device {name!r} requested but CUDA is not available (use device: cpu or auto)")
        if name == "cuda":
            name = f"cuda:{local_rank}"
        # Inception and LPIPS are specified in float32: TF32 would move rFID in the 3rd digit.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch.device(name)


@dataclass
class MetricSetup:
    """Which metrics run, with which weights files, and which are skipped (and why)."""

    metrics: list[str]
    inception_weights: Path | None = None
    lpips_weights: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def resolve_metric_weights(suite: Suite) -> MetricSetup:
    """Resolve the weights every requested metric needs, honouring ``on_missing_weights``.

    ``error``: the first missing file raises :class:`MissingWeightsError` (naming what to
    download and where to put it). ``skip``: the metric is left out and its reason recorded.
    """
    from wetok_bench.weights import resolve_weights

    explicit = suite.settings["weights"] or {}
    protocol = suite.protocol
    setup = MetricSetup(metrics=[])
    needs: dict[str, list[tuple[str, str, str | None]]] = {
        "rfid": [
            (
                "inception",
                "inception-v3-compat" if protocol.fid_extractor == "inception-v3-compat" else "pytorch-fid-inception",
                explicit.get("inception"),
            )
        ],
        "lpips": [(f"lpips_{net}", f"lpips-{net}-backbone", explicit.get(f"lpips_{net}")) for net in protocol.lpips_nets],
    }
    for metric in suite.metrics:
        resolved: dict[str, Path] = {}
        try:
            for slot, registry_name, path in needs.get(metric, []):
                resolved[slot] = resolve_weights(registry_name, path)
        except MissingWeightsError as error:
            if suite.settings["on_missing_weights"] == "error":
                raise
            setup.skipped[metric] = f"weights missing: {error}"
            continue
        setup.metrics.append(metric)
        if "inception" in resolved:
            setup.inception_weights = resolved["inception"]
        setup.lpips_weights.update({k.removeprefix("lpips_"): v for k, v in resolved.items() if k.startswith("lpips_")})
    return setup


def build_evaluator(suite: Suite, setup: MetricSetup, device: torch.device):
    from wetok_bench.metrics.evaluator import ReconstructionEvaluator

    return ReconstructionEvaluator(
        suite.protocol,
        setup.metrics,
        device=device,
        inception_weights=setup.inception_weights,
        lpips_weights=setup.lpips_weights or None,
    )


# --- reference statistics -------------------------------------------------------------------------


class ReferenceStore:
    """Originals' Inception statistics per (dataset, resolution): memory, then disk cache, then a pass."""

    def __init__(self, suite: Suite, evaluator, ctx: D.DistContext, progress: bool) -> None:
        self.suite, self.evaluator, self.ctx, self.progress = suite, evaluator, ctx, progress
        self._memo: dict[tuple[str, Any], Any] = {}
        self._frechet: dict[int, Any] = {}

    def frechet(self, stats) -> Any:
        """The Frechet reference (factorised covariance) of ``stats``, built once per reference:
        every tokenizer measured on the same dataset reuses it."""
        from wetok_bench.metrics.fid import FrechetReference

        if id(stats) not in self._frechet:
            self._frechet[id(stats)] = FrechetReference(stats)
        return self._frechet[id(stats)]

    def get(self, dataset_name: str, dataset_fp: dict, records: Sequence, resolution) -> Any:
        from wetok_bench.metrics.ref_cache import cached_reference_stats

        memo_key = (dataset_name, resolution)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = {
            "dataset": {k: dataset_fp.get(k) for k in ("kind", "count", "sha256")},
            "selection": sha256_json([r.key for r in records]),
            "resolution": resolution,
            "preprocess": self.suite.protocol.resize,
            "protocol": self.suite.protocol.fingerprint,
            "features": self.evaluator.fingerprint()["weights"].get("inception"),
        }
        cached = None
        if self.ctx.is_main:
            with contextlib.suppress(_CacheMiss):
                # Only a hit is taken here; on a miss every rank computes its shards below.
                cached, _ = cached_reference_stats(key, _raise_miss)
        cached = D.broadcast_object(cached.state_dict() if cached is not None else None, self.ctx)
        if cached is not None:
            stats = _stats_from_state(cached)
        else:
            stats = self._compute(records, resolution, f"reference {dataset_name}@{resolution}")
            if self.ctx.is_main:
                cached_reference_stats(key, lambda: stats)
        self._memo[memo_key] = stats
        return stats

    def _compute(self, records: Sequence, resolution, label: str):
        """Originals' statistics, shard by shard (see :class:`~wetok_bench.distributed.ShardPlan`),
        folded in shard order: the same bits for any number of ranks."""
        from wetok_bench.data.loader import iterate_batches
        from wetok_bench.metrics.fid import FeatureStats

        settings = self.suite.settings
        plan = D.ShardPlan.build(len(records), settings["batch_size"], settings["shard_size"], self.ctx.world_size)
        fold = OrderedFold(plan, self.ctx)
        bar = Progress(plan.images_of(self.ctx.rank), label, enabled=self.progress and self.ctx.is_main)
        for shard in plan.shards_of(self.ctx.rank):
            lo, hi = plan.bounds(shard)
            stats = None
            for batch in iterate_batches(records[lo:hi], resolution, settings["batch_size"], **_loader_kwargs(self.suite, self.evaluator)):
                if len(batch.keys):
                    features = self.evaluator.reference_features(batch.images.to(self.evaluator.device, non_blocking=True))
                    stats = stats if stats is not None else FeatureStats(features.shape[1])
                    stats.update(features)
                bar.update(len(batch.keys) + len(batch.skipped))
            fold.add(shard, stats.state_dict() if stats is not None else None)
        bar.close()
        total = fold.result()
        return total if total is not None else FeatureStats(_feature_dim(self.evaluator))


class OrderedFold:
    """Merges per-shard feature statistics in global shard order, whatever the number of ranks.

    Float64 addition is not associative: ``all_reduce`` of per-rank totals differs from one
    process's running sum in the last bits, which a rank-deficient covariance (N < 2048) blows
    up to 1e-6 in rFID. Folding the same per-shard states in the same order gives identical
    bits. Rank 0 folds its own shards as they finish; other ranks keep theirs (one d x d state
    per shard) until :meth:`result` passes them to rank 0 in order.
    """

    def __init__(self, plan: D.ShardPlan, ctx: D.DistContext) -> None:
        self.plan, self.ctx = plan, ctx
        self.total = None
        self.pending: dict[int, dict | None] = {}

    def _fold(self, state: dict | None) -> None:
        if state is not None:
            stats = _stats_from_state(state)
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


class _CacheMiss(Exception):
    pass


def _raise_miss():
    raise _CacheMiss


def _stats_from_state(state: dict):
    from wetok_bench.metrics.fid import FeatureStats

    return FeatureStats.from_state_dict(state)


def _feature_dim(evaluator) -> int | None:
    """Inception feature dimension of the evaluator (None when rFID is off)."""
    return evaluator.inception.dim if evaluator.inception is not None else None


def _loader_kwargs(suite: Suite, evaluator) -> dict:
    on_gpu = getattr(evaluator, "device", torch.device("cpu")).type == "cuda"
    return {"num_workers": suite.settings["num_workers"], "pin_memory": on_gpu}


# --- one job ------------------------------------------------------------------------------------


class JobFailed(WetokBenchError):
    """A job could not finish; the message names the tokenizer and the files of the failing batch."""


@dataclass
class JobOutcome:
    job: Job
    status: str  # ok | failed
    folder: Path
    summary: dict = field(default_factory=dict)
    error: str = ""
    images_per_s: float = 0.0


class JobRunner:
    """Runs one job's streaming pass over this rank's shards, resuming finished shards."""

    def __init__(self, suite: Suite, job: Job, tokenizer: Tokenizer, evaluator, folder: Path,
                 ctx: D.DistContext, fingerprint: dict, progress: bool) -> None:
        self.suite, self.job, self.tokenizer, self.evaluator = suite, job, tokenizer, evaluator
        self.folder, self.ctx, self.fingerprint, self.progress = folder, ctx, fingerprint, progress
        self.partial = folder / PARTIAL_DIR

    # partial state --------------------------------------------------------------------------

    def _prepare_partial(self) -> None:
        """Keep ``.partial`` only when it was written for exactly this job definition."""
        from wetok_bench.results import atomic_write_text
        import json

        state_file = self.partial / "state.json"
        if self.ctx.is_main:
            keep = False
            with contextlib.suppress(OSError, ValueError):
                keep = json.loads(state_file.read_text()) == json.loads(json.dumps(self.fingerprint, default=str))
            if not keep:
                shutil.rmtree(self.partial, ignore_errors=True)
                self.partial.mkdir(parents=True, exist_ok=True)
                atomic_write_text(state_file, json.dumps(self.fingerprint, default=str, sort_keys=True))
        D.barrier(self.ctx)

    def _shard_path(self, index: int) -> Path:
        # Global shard numbers: a resumed run finds its shards whatever the number of ranks.
        return self.partial / f"shard{index:06d}.pt"

    def _load_shard(self, index: int, keys: list[str]) -> dict | None:
        path = self._shard_path(index)
        if not path.is_file():
            return None
        try:
            shard = torch.load(path, map_location="cpu", weights_only=True)
            if shard.get("keys") != keys:
                return None
            return shard
        except Exception:  # noqa: BLE001 - a torn or corrupt shard is recomputed, never trusted
            return None

    def _save_shard(self, index: int, shard: dict) -> None:
        path = self._shard_path(index)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(shard, tmp)
        os.replace(tmp, path)

    # the pass ---------------------------------------------------------------------------------

    def run(self, records: Sequence) -> dict:
        """Measure this rank's slice; returns the merged partial result of this rank."""
        from wetok_bench.data.loader import iterate_batches

        self._prepare_partial()
        settings = self.suite.settings
        plan = D.ShardPlan.build(len(records), settings["batch_size"], settings["shard_size"], self.ctx.world_size)
        mine = list(plan.shards_of(self.ctx.rank))
        fold = OrderedFold(plan, self.ctx)
        merged: dict[str, Any] = {"rows": [], "skipped": [], "stats": None, "compute_s": 0.0}
        bar = Progress(plan.images_of(self.ctx.rank), f"{self.job.id}", enabled=self.progress and self.ctx.is_main)
        failure: str | None = None
        # Every rank walks the same number of steps (the most shards any rank has), so the
        # per-shard failure exchange below always pairs up.
        for step in range(plan.max_per_rank):
            index = mine[step] if step < len(mine) else None
            shard_records = records[slice(*plan.bounds(index))] if index is not None else []
            keys = [r.key for r in shard_records]
            shard = self._load_shard(index, keys) if keys else {"rows": [], "skipped": [], "stats": None}
            if shard is None and failure is None:
                start = time.perf_counter()
                try:
                    shard = self._measure(shard_records, iterate_batches, bar)
                except (TokenizerOutputError, JobFailed) as error:
                    failure = str(error)
                except WetokBenchError as error:
                    failure = f"tokenizer {self.job.tokenizer.name!r}: {error}"
                except Exception as error:  # noqa: BLE001 - a tokenizer's crash fails its job, not the suite
                    failure = f"tokenizer {self.job.tokenizer.name!r} raised {type(error).__name__}: {error}"
                    if os.environ.get("WETOK_BENCH_DEBUG"):
                        traceback.print_exc()
                if shard is not None:
                    shard["compute_s"] = time.perf_counter() - start
                    self._save_shard(index, shard)
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
            if index is not None:
                fold.add(index, shard["stats"])
        bar.close()
        if failure is not None:
            raise JobFailed(failure)
        merged["stats"] = fold.result()
        return merged

    def _measure(self, shard_records: Sequence, iterate_batches, bar: Progress) -> dict:
        from wetok_bench.metrics.fid import FeatureStats

        protocol = self.suite.protocol
        settings = self.suite.settings
        rows: list[dict] = []
        skipped: list[dict] = []
        self.evaluator.reset()
        device = self.evaluator.device
        for batch in iterate_batches(shard_records, self.job.resolution, settings["batch_size"], **_loader_kwargs(self.suite, self.evaluator)):
            skipped.extend({"key": k, "reason": r} for k, r in batch.skipped)
            if len(batch.keys):
                original = batch.images.to(device, non_blocking=True)
                noise = ImageNoise.for_images(_noise_seed(self.tokenizer, settings["seed"]), batch.keys)
                try:
                    recon, bits = self.tokenizer.reconstruct(protocol.original_float(original), noise=noise)
                except (UsageError, TokenizerOutputError):
                    raise
                except Exception as error:  # noqa: BLE001
                    raise JobFailed(
                        f"tokenizer {self.job.tokenizer.name!r} failed on {_name_files(batch.keys)}: "
                        f"{type(error).__name__}: {error}"
                    ) from error
                keep = list(range(len(batch.keys)))
                bad = find_non_finite(recon)
                if bad:
                    names = _name_files([batch.keys[i] for i in bad])
                    if settings["on_nonfinite"] == "error":
                        raise TokenizerOutputError(
                            f"tokenizer {self.job.tokenizer.name!r} returned NaN/Inf for {names} "
                            f"(set on_nonfinite: skip to record these images as skipped and go on)"
                        )
                    print(f"warning: tokenizer {self.job.tokenizer.name!r} returned NaN/Inf for {names}; skipped", file=sys.stderr)
                    skipped.extend({"key": batch.keys[i], "reason": "tokenizer output has NaN/Inf"} for i in bad)
                    keep = [i for i in keep if i not in set(bad)]
                if keep:
                    index = torch.tensor(keep, device=recon.device)
                    values = self.evaluator.update(original.index_select(0, index), recon.index_select(0, index))
                    bits_kept = bits.index_select(0, index.cpu())
                    for j, i in enumerate(keep):
                        row = {"key": batch.keys[i]}
                        row.update({name: float(v[j]) for name, v in values.items()})
                        row["bits"] = float(bits_kept[j])
                        row["height"], row["width"] = int(original.shape[-2]), int(original.shape[-1])
                        rows.append(row)
            bar.update(len(batch.keys) + len(batch.skipped))
        stats = self.evaluator.recon_stats
        return {
            "keys": [r.key for r in shard_records],
            "rows": rows,
            "skipped": skipped,
            "stats": stats.state_dict() if isinstance(stats, FeatureStats) and stats.n > 0 else None,
        }


def _noise_seed(tokenizer: Tokenizer, suite_seed: int) -> int:
    """Seed of a tokenizer's per-image noise: its entry's ``seed`` when set, else the suite's."""
    return tokenizer.noise_seed if tokenizer.noise_seed is not None else suite_seed


def _name_files(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# --- the suite ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What a run did: one outcome per job; ``exit_code`` is 0 when every job finished."""

    suite: Suite
    outcomes: list[JobOutcome]
    out_dir: Path

    @property
    def exit_code(self) -> int:
        return 0 if all(o.status == "ok" for o in self.outcomes) else 1


def select_jobs(suite: Suite, only: Sequence[str] | None) -> list[Job]:
    """The suite's jobs, filtered by ``--only`` patterns (tokenizer, dataset or job id; fnmatch)."""
    from fnmatch import fnmatch

    jobs = suite.jobs()
    if not only:
        return jobs
    chosen = [j for j in jobs if any(fnmatch(n, p) for p in only for n in (j.tokenizer.name, j.dataset.name, j.id))]
    if not chosen:
        names = sorted({j.tokenizer.name for j in jobs} | {j.dataset.name for j in jobs})
        raise UsageError(f"--only {', '.join(only)} matches no job (tokenizers and datasets: {', '.join(names)})")
    return chosen


def load_dataset_records(suite: Suite, num_images: int | None) -> dict[str, tuple[Any, list]]:
    """Each dataset with its deterministic selection of records (``num_images``, ``subset``, ``seed``)."""
    from wetok_bench.data.loader import select_subset
    from wetok_bench.data.registry import create_dataset

    n = num_images if num_images is not None else suite.settings["num_images"]
    out = {}
    for entry in suite.datasets:
        dataset = create_dataset(entry.spec)
        for warning in getattr(dataset, "warnings", []):
            print(f"warning: dataset {entry.name!r}: {warning}", file=sys.stderr)
        records = select_subset(dataset.records(), n, rule=suite.settings["subset"], seed=suite.settings["seed"])
        if not records:
            raise UsageError(f"dataset {entry.name!r} has no images ({dataset.describe()})")
        out[entry.name] = (dataset, list(records))
    return out


def run_suite(
    suite: Suite,
    *,
    only: Sequence[str] | None = None,
    num_images: int | None = None,
    device: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> RunReport:
    """Run every selected job of ``suite``; results go to ``<out>/<suite name>/<job id>/``.

    A failing job (tokenizer error, NaN output, missing checkpoint) is recorded with its error
    and the other jobs still run; see :attr:`RunReport.exit_code`.
    """
    device_name = device or suite.settings["device"]
    ctx = D.init_from_env("cuda" if device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available()) else "cpu")
    try:
        dev = resolve_device(device_name, ctx)
        out_dir = Path(os.path.expandvars(str(out or suite.settings["output"]))).expanduser() / suite.name
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
            return RunReport(suite, _run_jobs(suite, jobs, dev, out_dir, ctx, num_images, progress), out_dir)
    finally:
        D.shutdown(ctx)


def _run_jobs(suite, jobs, dev, out_dir, ctx, num_images, progress) -> list[JobOutcome]:
    setup = resolve_metric_weights(suite)
    for metric, reason in setup.skipped.items():
        if ctx.is_main:
            print(f"warning: metric {metric} skipped: {reason}", file=sys.stderr)
    evaluator = build_evaluator(suite, setup, dev)
    datasets = load_dataset_records(suite, num_images)
    refs = ReferenceStore(suite, evaluator, ctx, progress)
    outcomes: list[JobOutcome] = []
    by_tokenizer: dict[str, list[Job]] = {}
    for job in jobs:
        by_tokenizer.setdefault(job.tokenizer.name, []).append(job)
    for name, tok_jobs in by_tokenizer.items():
        entry = tok_jobs[0].tokenizer
        try:
            tokenizer = _load_tokenizer(entry, dev)
        except Exception as error:  # noqa: BLE001 - one tokenizer's load failure fails its jobs only
            message = f"tokenizer {name!r} could not be loaded: {error}"
            outcomes.extend(_record_failure(suite, job, out_dir, message, ctx) for job in tok_jobs)
            continue
        for job in tok_jobs:
            dataset, records = datasets[job.dataset.name]
            outcomes.append(_run_one(suite, job, tokenizer, evaluator, setup, dataset, records, refs, out_dir, ctx, progress))
        del tokenizer
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return outcomes


def _load_tokenizer(entry: TokenizerEntry, dev: torch.device) -> Tokenizer:
    from wetok_bench.tokenizers.registry import create_tokenizer

    return create_tokenizer(entry.spec).to(dev)


def _record_failure(suite: Suite, job: Job, out_dir: Path, message: str, ctx: D.DistContext) -> JobOutcome:
    folder = out_dir / job.id
    if ctx.is_main:
        print(f"error: {job.id}: {message}", file=sys.stderr)
        write_json(folder / "summary.json", {
            "schema_version": 1, "suite": suite.name, "job": job.id, "status": "failed", "error": message,
            "tokenizer": _tokenizer_info(job.tokenizer, None), "dataset": {"name": job.dataset.name, "type": job.dataset.spec["type"]},
            "resolution": job.resolution,
            "protocol": {"name": suite.protocol.name, "version": suite.protocol.version, "fingerprint": suite.protocol.fingerprint},
            "metrics": {},
        })
    return JobOutcome(job=job, status="failed", folder=folder, error=message)


def _tokenizer_info(entry: TokenizerEntry, tokenizer: Tokenizer | None) -> dict:
    info = {"name": entry.name, "type": entry.type, "display_name": entry.display_name}
    if entry.paper_name:
        info["paper_name"] = entry.paper_name
    if "model" in entry.spec:
        info["model"] = entry.spec["model"]
    if tokenizer is not None:
        info["kind"] = tokenizer.kind
    return info


def _run_one(suite, job, tokenizer, evaluator, setup, dataset, records, refs, out_dir, ctx, progress) -> JobOutcome:
    folder = out_dir / job.id
    start = time.perf_counter()
    try:
        dataset_fp = dataset.fingerprint()
        fingerprint = {
            "suite_hash": suite.suite_hash,
            "protocol": suite.protocol.fingerprint,
            "tokenizer": tokenizer.fingerprint(),
            "dataset": {k: dataset_fp.get(k) for k in ("kind", "count", "sha256")},
            "selection": sha256_json([r.key for r in records]),
            "resolution": job.resolution,
            "metrics": setup.metrics,
            "shard_size": suite.settings["shard_size"],
            "batch_size": suite.settings["batch_size"],
        }
        ref_stats = refs.get(job.dataset.name, dataset_fp, records, job.resolution) if "rfid" in setup.metrics else None
        merged = JobRunner(suite, job, tokenizer, evaluator, folder, ctx, fingerprint, progress).run(records)
        rows, skipped, stats, compute_s = _gather(merged, evaluator, ctx)
    except JobFailed as error:
        return _record_failure(suite, job, out_dir, str(error), ctx)
    wall = time.perf_counter() - start
    if not ctx.is_main:
        return JobOutcome(job=job, status="ok", folder=folder)
    skipped.extend({"key": key, "reason": reason} for key, reason in getattr(dataset, "missing", []) if key in {r.key for r in records})
    reference = refs.frechet(ref_stats) if ref_stats is not None and ref_stats.n >= 2 else None
    summary = _summary(suite, job, tokenizer, setup, rows, skipped, stats, ref_stats, reference, len(records))
    images_per_s = len(rows) / wall if wall > 0 else 0.0
    manifest = _manifest(suite, job, tokenizer, evaluator, dataset_fp, ctx, wall, images_per_s, compute_s, len(rows))
    columns = ["key", *[c for c in _metric_columns(rows)], "bits", "height", "width"]
    write_job(folder, summary, rows, columns, manifest)
    shutil.rmtree(folder / PARTIAL_DIR, ignore_errors=True)
    if suite.settings.get("grids"):
        _save_grids(suite, job, tokenizer, records, rows, folder)
    return JobOutcome(job=job, status="ok", folder=folder, summary=summary, images_per_s=images_per_s)


def _gather(merged: dict, evaluator, ctx: D.DistContext):
    """Rows and skips of every rank on rank 0, in shard order; the folded statistics (rank 0)."""
    parts = D.gather_objects({"rows": merged["rows"], "skipped": merged["skipped"], "compute_s": merged["compute_s"]}, ctx)
    rows = [row for part in parts for row in part["rows"]]
    skipped = [s for part in parts for s in part["skipped"]]
    return rows, skipped, merged["stats"], max(p["compute_s"] for p in parts)


def _metric_columns(rows: list[dict]) -> list[str]:
    skip = {"key", "bits", "height", "width"}
    return [k for k in (rows[0] if rows else {}) if k not in skip]


def _summary(suite, job, tokenizer, setup, rows, skipped, stats, ref_stats, reference, n_selected) -> dict:
    from wetok_bench.metrics.aggregate import METRICS, summarize
    from wetok_bench.metrics.fid import fid_result

    columns = _metric_columns(rows)
    per_metric = {c: [r[c] for r in rows] for c in columns}
    metrics = summarize({c: torch.tensor(v, dtype=torch.float64).numpy() for c, v in per_metric.items()}) if rows else {}
    summary: dict[str, Any] = {
        "suite": suite.name,
        "job": job.id,
        "status": "ok",
        "tokenizer": _tokenizer_info(job.tokenizer, tokenizer),
        "dataset": {"name": job.dataset.name, "type": job.dataset.spec["type"]},
        "resolution": job.resolution,
        "protocol": {"name": suite.protocol.name, "version": suite.protocol.version, "fingerprint": suite.protocol.fingerprint},
    }
    rfid = None
    if reference is not None and stats is not None and stats.n >= 2:
        rfid = fid_result(reference, stats, ref_n=ref_stats.n)
        metrics["rfid"] = rfid["rfid"]
    elif "rfid" in setup.metrics:
        setup.skipped.setdefault("rfid", "fewer than 2 images measured")
    summary["metrics"] = metrics
    summary["metric_info"] = {
        name: {"higher_is_better": m.higher_is_better, "unit": m.unit, "description": m.description}
        for name, m in METRICS.items()
        if name in metrics
    }
    summary["skipped_metrics"] = dict(setup.skipped)
    if rfid is not None:
        summary["rfid"] = rfid
    summary["compression"] = _compression_summary(tokenizer, job.resolution, rows)
    summary["counts"] = {"images": len(rows), "skipped": len(skipped), "selected": n_selected,
                         "reference_images": int(ref_stats.n) if ref_stats is not None else None}
    summary["skipped_files"] = skipped
    return summary


def _compression_summary(tokenizer: Tokenizer, resolution, rows: list[dict]) -> dict:
    bits = [r["bits"] for r in rows]
    ratios = [r["height"] * r["width"] * 24 / r["bits"] for r in rows if r["bits"] > 0]
    out: dict[str, Any] = {
        "bits_per_image": sum(bits) / len(bits) if bits else None,
        "ratio": sum(ratios) / len(ratios) if ratios else None,
        "per_image": tokenizer.kind == "codec" or resolution == "original",
    }
    if isinstance(resolution, int) and tokenizer.kind != "codec":
        with contextlib.suppress(Exception):
            static = tokenizer.compression(resolution, resolution).to_dict()
            out.update({k: static[k] for k in ("tokens", "bits_per_token", "latent_shape", "codebook")})
    return out


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"wetok-bench": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "torch-fidelity", "clean-fid", "lpips", "scikit-image", "numpy", "Pillow", "diffusers", "safetensors"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def git_commit() -> str | None:
    """Commit of the wetok-bench checkout when it runs from one (None for an installed wheel)."""
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return None
    with contextlib.suppress(Exception):
        result = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if result.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return result.stdout.strip() + ("+dirty" if dirty else "")
    return None


def _manifest(suite, job, tokenizer, evaluator, dataset_fp, ctx, wall, images_per_s, compute_s, n) -> dict:
    device = evaluator.device
    return {
        "suite": {"name": suite.name, "source": suite.source, "hash": suite.suite_hash, "config": suite.raw},
        "job": job.id,
        "protocol": {**suite.protocol.to_dict(), "fingerprint": suite.protocol.fingerprint},
        "metrics": evaluator.fingerprint(),
        "tokenizer": {"spec": job.tokenizer.spec, "fingerprint": tokenizer.fingerprint()},
        "dataset": {**dataset_fp, "spec": job.dataset.spec},
        "seed": suite.settings["seed"],
        "num_images_limit": suite.settings["num_images"],
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "world_size": ctx.world_size,
        "versions": library_versions(),
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
        "wall_time_s": wall,
        "images_per_s": images_per_s,
        "compute_time_s": compute_s,
        "images": n,
    }


def _save_grids(suite, job, tokenizer, records, rows, folder) -> None:
    """Save originals and reconstructions of the grid images for the report.

    The grid images are the suite's fixed set (``grids.keys``, else the first ``grids.count``)
    and the ``grids.worst_k`` images with the highest LPIPS (PSNR lowest when LPIPS is off).
    They are reconstructed again here (a few images), which keeps shards and ranks free of
    image payloads; ``grids/index.json`` lists them with their per-image values.
    """
    from wetok_bench.data.loader import iterate_batches

    grids = suite.settings["grids"]
    by_key = {r.key: r for r in records}
    row_by_key = {r["key"]: r for r in rows}
    fixed = [k for k in (grids.get("keys") or [r.key for r in records[: int(grids.get("count") or 0)]]) if k in row_by_key]
    k = int(grids.get("worst_k") or 0)
    rank_metric = "lpips" if rows and "lpips" in rows[0] else "psnr"
    worst = [r["key"] for r in sorted(rows, key=lambda r: (-r[rank_metric] if rank_metric == "lpips" else r[rank_metric]))[:k]] if k else []
    chosen = list(dict.fromkeys(fixed + worst))
    if not chosen:
        return
    from wetok_bench.protocols import round_to_u8
    from wetok_bench.report.grids import save_grid

    originals, recons, keys = [], [], []
    for batch in iterate_batches([by_key[key] for key in chosen], job.resolution, 1):
        for i, key in enumerate(batch.keys):
            original = batch.images[i : i + 1].to(tokenizer.device)
            noise = ImageNoise.for_images(_noise_seed(tokenizer, suite.settings["seed"]), [key])
            recon, _ = tokenizer.reconstruct(suite.protocol.original_float(original), noise=noise)
            originals.append(original[0].cpu())
            recons.append(round_to_u8(recon[0]).cpu())
            keys.append(key)
    if not keys:
        return
    if len({tuple(o.shape) for o in originals}) > 1:
        return  # "original" resolution with mixed sizes: no common grid
    save_grid(folder, torch.stack(originals), torch.stack(recons), keys,
              fixed=[k in fixed for k in keys], worst=[k in worst for k in keys],
              values=[{m: row_by_key[k].get(m) for m in ("psnr", "ssim", "lpips")} for k in keys],
              rank_metric=rank_metric)


# --- printing and dry runs -----------------------------------------------------------------------------


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def format_table(outcomes: Sequence[JobOutcome]) -> str:
    """The results table printed at the end of a run (one line per job)."""
    header = f"{'job':44s} {'ratio':>8s} {'rFID':>8s} {'PSNR':>7s} {'SSIM':>6s} {'LPIPS':>6s} {'images':>6s}  status"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        m = o.summary.get("metrics", {})
        comp = o.summary.get("compression", {})
        counts = o.summary.get("counts", {})
        lines.append(
            f"{o.job.id[:44]:44s} {_fmt(comp.get('ratio'), 1):>8s} {_fmt(m.get('rfid'), 3):>8s} "
            f"{_fmt(m.get('psnr'), 2):>7s} {_fmt(m.get('ssim'), 4):>6s} {_fmt(m.get('lpips'), 4):>6s} "
            f"{counts.get('images', '-')!s:>6s}  {o.status}" + (f": {o.error}" if o.error else "")
        )
    return "\n".join(lines)


def describe_dry_run(suite: Suite, only: Sequence[str] | None = None, num_images: int | None = None) -> str:
    """The job list with the weights and data each would use, and what is missing."""
    from wetok_bench import weights as W
    from wetok_bench.data.registry import create_dataset

    lines = [f"suite {suite.name} ({suite.source}), protocol {suite.protocol.name} v{suite.protocol.version} "
             f"[{suite.protocol.fingerprint[:12]}], metrics {', '.join(suite.metrics)}"]
    lines.append("metric weights:")
    needed = []
    if "rfid" in suite.metrics:
        needed.append("inception-v3-compat" if suite.protocol.fid_extractor == "inception-v3-compat" else "pytorch-fid-inception")
    if "lpips" in suite.metrics:
        needed.extend(f"lpips-{net}-backbone" for net in suite.protocol.lpips_nets)
    for name in needed:
        found = W.find_local(W.get_weights_file(name))
        lines.append(f"  {name:24s} {found or 'MISSING (' + W.get_weights_file(name).url + ')'}")
    if any(not W.find_local(W.get_weights_file(n)) for n in needed):
        lines.append(f"  on_missing_weights: {suite.settings['on_missing_weights']}")
    lines.append("datasets:")
    for entry in suite.datasets:
        try:
            dataset = create_dataset(entry.spec)
            count = len(dataset.records())
            limit = num_images or suite.settings["num_images"]
            lines.append(f"  {entry.name:24s} {dataset.describe()} ({count} images" + (f", using {min(count, limit)})" if limit else ")"))
        except WetokBenchError as error:
            lines.append(f"  {entry.name:24s} MISSING: {error}")
    lines.append("jobs:")
    for job in select_jobs(suite, only):
        lines.append(f"  {job.id:44s} {job.tokenizer.type}: {_describe_spec(job.tokenizer.spec)}")
    return "\n".join(lines)


def _describe_spec(spec: dict) -> str:
    from wetok_bench.tokenizers.cards import known_cards
    from wetok_bench.weights import checkpoint_present

    parts = []
    card = known_cards().get(spec.get("model")) if isinstance(spec.get("model"), str) else None
    if card is not None and card.source.startswith("hf://") and not any(k in spec for k in ("checkpoint", "path", "pretrained")):
        parts.append(f"weights={card.source}" + ("" if checkpoint_present(card.source) else " (MISSING)"))
    for key, value in spec.items():
        if key in ("type", "name"):
            continue
        text = f"{key}={value}"
        if key in ("checkpoint", "encoder", "decoder", "path") and isinstance(value, str) and not checkpoint_present(value):
            text += " (MISSING)"
        parts.append(text)
    return ", ".join(parts) or "(defaults)"
