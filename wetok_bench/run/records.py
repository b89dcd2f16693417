"""The records a job writes: ``summary.json`` (ok or failed) and ``manifest.json``.

The file layout and writing are :mod:`wetok_bench.results`; this module decides their content.
"""

from __future__ import annotations

import socket
import sys
import time
from typing import Any

import torch

from wetok_bench.results import JobSummary, Manifest
from wetok_bench.run.console import warn
from wetok_bench.run.versions import git_commit, library_versions
from wetok_bench.suite import Job, TokenizerEntry
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


def protocol_info(protocol) -> dict:
    return {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint}


def _job_header(suite_name: str, job: Job, protocol, tokenizer: Tokenizer | None) -> dict:
    return {
        "suite": suite_name,
        "job": job.id,
        "tokenizer": tokenizer_info(job.tokenizer, tokenizer),
        "dataset": {"name": job.dataset.name, "type": job.dataset.spec["type"]},
        "resolution": job.resolution,
        "protocol": protocol_info(protocol),
    }


def metric_columns(rows: list[dict]) -> list[str]:
    """The metric columns of the per-image rows, in their order."""
    return [k for k in (rows[0] if rows else {}) if k not in NON_METRIC_COLUMNS]


def failure_summary(suite_name: str, job: Job, protocol, message: str) -> dict:
    """The summary of a job that did not finish."""
    header = _job_header(suite_name, job, protocol, None)
    return JobSummary(status="failed", error=message, metrics={}, **header).to_dict()


def build_summary(suite_name: str, job: Job, protocol, tokenizer: Tokenizer, setup, rows: list[dict],
                  skipped: list[dict], stats, ref_stats, reference, n_selected: int,
                  clamp: tuple[int, int] = (0, 0), sets: dict[str, dict] | None = None) -> dict:
    """The summary of a finished job: means over images (and the protocol's official aggregates,
    e.g. ``psnr_official`` under ``wetok``), rFID, compression, counts, skipped files, and
    ``clamped``: reconstruction values beyond the clamp threshold (``clamp`` = (clamped, total)).
    ``sets``: other set-level metrics' blocks by name (KID: ``summary["kid"]``, its headline keys
    in ``metrics``; a ``{"skipped": reason}`` block goes to ``skipped_metrics``)."""
    from wetok_bench.metrics.aggregate import METRICS, protocol_aggregates, summarize
    from wetok_bench.metrics.evaluator import CLAMP_THRESHOLD
    from wetok_bench.metrics.fid import fid_result

    columns = metric_columns(rows)
    per_metric = {c: [r[c] for r in rows] for c in columns}
    metrics = summarize({c: torch.tensor(v, dtype=torch.float64).numpy() for c, v in per_metric.items()}) if rows else {}
    # Rows are in the order of the job's image list (sorted keys), as the official layout needs.
    metrics.update(protocol_aggregates(protocol, per_metric) if rows else {})
    header = _job_header(suite_name, job, protocol, tokenizer)
    summary: dict[str, Any] = {"suite": header.pop("suite"), "job": header.pop("job"), "status": "ok", **header}
    rfid = None
    if reference is not None and stats is not None and stats.n >= 2:
        rfid = fid_result(reference, stats, ref_n=ref_stats.n)
        metrics["rfid"] = rfid["rfid"]
    skipped_metrics = dict(setup.skipped)  # the run's reasons, shared by every job: copied, never changed
    if rfid is None and "rfid" in setup.metrics:
        skipped_metrics.setdefault("rfid", "fewer than 2 images measured")
    from wetok_bench.metrics.registry import get_metric

    for name, block in (sets or {}).items():
        if "skipped" in block:
            skipped_metrics[name] = block["skipped"]
        else:
            metrics.update(get_metric(name).headline(block))
    summary["metrics"] = metrics
    summary["metric_info"] = {
        name: {"higher_is_better": m.higher_is_better, "unit": m.unit, "description": m.description}
        for name, m in METRICS.items()
        if name in metrics
    }
    summary["skipped_metrics"] = skipped_metrics
    if rfid is not None:
        summary["rfid"] = rfid
    summary.update({name: block for name, block in (sets or {}).items() if "skipped" not in block})
    summary["compression"] = compression_summary(tokenizer, job.resolution, rows)
    summary["counts"] = {"images": len(rows), "skipped": len(skipped), "selected": n_selected,
                         "reference_images": int(ref_stats.n) if ref_stats is not None else None}
    summary["skipped_files"] = skipped
    clamped, total = (int(n) for n in clamp)
    summary["clamped"] = {"values": clamped, "total": total, "fraction": clamped / total if total else 0.0,
                          "threshold": CLAMP_THRESHOLD}
    return summary


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


def build_manifest(suite, job: Job, tokenizer: Tokenizer, evaluator, dataset_fp: dict, world_size: int,
                   wall: float, images_per_s: float, compute_s: float, n: int, *,
                   num_images: int | None, job_fingerprint: dict) -> dict:
    """What produced a job's numbers: suite, protocol, metric weights, tokenizer and dataset
    fingerprints, seed, the image limit in force (``--num-images`` or the suite's), device,
    versions, commit, timings, and the job fingerprint that decides reuse."""
    device = evaluator.device
    return Manifest(
        # the merged suite, the files it included and every setting in force (defaults filled in)
        suite={"name": suite.name, "source": suite.source, "hash": suite.suite_hash, "config": suite.raw,
               "includes": suite.includes, "settings": suite.settings.to_dict()},
        job=job.id,
        protocol={**suite.protocol.to_dict(), "fingerprint": suite.protocol.fingerprint},
        metrics=evaluator.fingerprint(),
        tokenizer={"spec": job.tokenizer.spec, "fingerprint": tokenizer.fingerprint()},
        dataset={**dataset_fp, "spec": job.dataset.spec},
        seed=suite.settings.seed,
        num_images_limit=num_images,
        device=str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        world_size=world_size,
        versions=library_versions(),
        git_commit=git_commit(),
        host=socket.gethostname(),
        date=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=sys.argv,
        wall_time_s=wall,
        images_per_s=images_per_s,
        compute_time_s=compute_s,
        images=n,
        job_fingerprint=job_fingerprint,
    ).to_dict()
