"""The records a job writes: ``summary.json`` (ok or failed) and ``manifest.json``.

The file layout and writing are :mod:`wetok_bench.results.records`; this module decides their content.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from wetok_bench.config.suite import Job, TokenizerEntry
from wetok_bench.core.versions import git_commit, library_versions
from wetok_bench.engine.console import warn
from wetok_bench.engine.context import RunContext
from wetok_bench.results.finalize import JobHeader
from wetok_bench.results.records import JobSummary, Manifest
from wetok_bench.tokenizers.base import Tokenizer

#: Per-image label columns copied from the dataset records' meta (COCO: categories and
#: supercategories shown in the image), each a ``;``-separated sorted list.
LABEL_COLUMNS = ("categories", "supercategories")
#: Per-image CSV columns that are not metrics.
NON_METRIC_COLUMNS = ("key", "bits", "height", "width", *LABEL_COLUMNS)


def add_label_columns(rows: list[dict], records) -> list[str]:
    """Copy the records' :data:`LABEL_COLUMNS` meta into ``rows`` (by key); the columns added."""
    meta = {r.key: r.meta for r in records}
    present = [c for c in LABEL_COLUMNS if any(c in m for m in meta.values())]
    for row in rows:
        for column in present:
            row[column] = ";".join(meta.get(row["key"], {}).get(column, []))
    return present


def tokenizer_info(entry: TokenizerEntry, tokenizer: Tokenizer | None) -> dict:
    """The tokenizer block of a summary (``kind`` only once the tokenizer loaded)."""
    info = {"name": entry.name, "type": entry.type, "display_name": entry.display_name}
    if entry.paper_name:
        info["paper_name"] = entry.paper_name
    if "model" in entry.spec:
        info["model"] = entry.spec["model"]
    if tokenizer is not None:
        info["kind"] = tokenizer.kind
    return info


def job_header(suite_name: str, job: Job, tokenizer: Tokenizer | None) -> JobHeader:
    """Who measured what (:class:`~wetok_bench.results.finalize.JobHeader`) for a suite's job."""
    return JobHeader(suite=suite_name, job=job.id, tokenizer=tokenizer_info(job.tokenizer, tokenizer),
                     dataset={"name": job.dataset.name, "type": job.dataset.spec["type"]}, resolution=job.resolution)


def metric_columns(rows: list[dict]) -> list[str]:
    """The metric columns of the per-image rows, in their order."""
    return [k for k in (rows[0] if rows else {}) if k not in NON_METRIC_COLUMNS]


def failure_summary(suite_name: str, job: Job, protocol, message: str) -> dict:
    """The summary of a job that did not finish."""
    header = job_header(suite_name, job, None)
    return JobSummary(suite=header.suite, job=header.job, status="failed", error=message, tokenizer=header.tokenizer,
                      dataset=header.dataset, resolution=header.resolution, metrics={},
                      protocol={"name": protocol.name, "version": protocol.version,
                                "fingerprint": protocol.fingerprint}).to_dict()


def compression_summary(tokenizer: Tokenizer, resolution, rows: list[dict]) -> dict:
    """Mean bits per image and mean per-image ratio ``H * W * 24 / bits``; the tokenizer's static
    accounting (tokens, bits per token, latent shape, codebook) at a square resolution."""
    bits = [r["bits"] for r in rows]
    ratios = [r["height"] * r["width"] * 24 / r["bits"] for r in rows if r["bits"] > 0]
    out: dict[str, Any] = {
        "bits_per_image": sum(bits) / len(bits) if bits else None,
        "ratio": sum(ratios) / len(ratios) if ratios else None,
        "per_image": tokenizer.kind == "codec" or resolution == "original",
    }
    if isinstance(resolution, int) and tokenizer.kind != "codec":
        try:
            static = tokenizer.compression(resolution, resolution).to_dict()
            out.update({k: static[k] for k in ("tokens", "bits_per_token", "latent_shape", "codebook")})
        except Exception as error:  # noqa: BLE001 - the measured bits stand; the static table is recorded as missing
            out["error"] = f"{type(error).__name__}: {error}"
            warn(f"tokenizer {tokenizer.name!r}: compression({resolution}, {resolution}) failed, "
                 f"tokens and bits per token not recorded: {out['error']}")
    return out


@dataclass(frozen=True)
class JobTiming:
    """How long a job took: ``wall`` seconds of this run (data loading and metrics included),
    ``compute`` seconds of its longest rank's measured shards, ``images`` in the results,
    ``measured`` of them by this run (the rest resumed from an earlier run's shards)."""

    wall: float
    compute: float
    images: int
    measured: int

    @property
    def images_per_s(self) -> float | None:
        """Images this run measured per second of its wall time; None when it measured none
        (every shard resumed): a resumed job's images are not divided by this run's time."""
        return self.measured / self.wall if self.wall > 0 and self.measured else None


def build_manifest(run: RunContext, job: Job, tokenizer: Tokenizer, fingerprints: JobFingerprints,
                   timing: JobTiming) -> dict:
    """What produced a job's numbers: suite, protocol, metric weights, tokenizer and dataset
    fingerprints, seed, the image limit in force (``--num-images`` or the suite's), device,
    versions, commit, timings, and the job fingerprint that decides reuse."""
    suite, evaluator = run.suite, run.evaluator
    device = evaluator.device
    return Manifest(
        # the merged suite, the files it included and every setting in force (defaults filled in)
        suite={"name": suite.name, "source": suite.source, "hash": suite.suite_hash, "config": suite.raw,
               "includes": suite.includes, "settings": suite.settings.to_dict()},
        job=job.id,
        protocol={**suite.protocol.to_dict(), "fingerprint": suite.protocol.fingerprint},
        metrics=evaluator.fingerprint(),
        tokenizer={"spec": job.tokenizer.spec, "fingerprint": tokenizer.fingerprint()},
        dataset={**fingerprints.dataset, "spec": job.dataset.spec},
        seed=suite.settings.seed,
        num_images_limit=run.num_images,
        device=str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        world_size=run.dist.world_size,
        versions=library_versions(),
        git_commit=git_commit(),
        host=socket.gethostname(),
        date=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=sys.argv,
        wall_time_s=timing.wall,
        images_per_s=timing.images_per_s,
        compute_time_s=timing.compute,
        images=timing.images,
        job_fingerprint=fingerprints.job,
    ).to_dict()


@dataclass(frozen=True)
class JobFingerprints:
    """What decides a job's numbers (``job``: :func:`~wetok_bench.engine.reuse.job_fingerprint`)
    and its dataset's fingerprint (``dataset``: kind, count, sha256 ...)."""

    job: dict
    dataset: dict
