"""``score`` results as a job folder: the runner's records, so ``report`` and ``check`` read them.

``wetok-bench score REF RECON --results DIR`` (or :func:`write_score_job` on the result of
:func:`~wetok_bench.scoring.score_folders`) writes ``DIR/<name>__<dataset>__<resolution>/``
with ``summary.json`` (a :class:`~wetok_bench.results.JobSummary`), ``per_image.csv`` and
``manifest.json`` (a :class:`~wetok_bench.results.Manifest`), as a ``run`` job does:

- the tokenizer is ``name`` (default: the reconstruction folder's name), of type ``score``;
  its kind and compression are unknown (the images alone do not say how they were coded);
- the dataset is ``dataset`` (default: the reference folder's name), of type ``folder``;
- the resolution is the images' side when every original is the same square size, else
  ``original``;
- per-image rows are keyed by the original's relative path; the suite name is ``score``.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from wetok_bench.results import JobSummary, Manifest, job_id, write_job

#: The ``suite`` of a score job and the ``type`` of its tokenizer.
SCORE = "score"


def _resolution(ref_dir: Path, paths: list[str]) -> int | str:
    sizes = set()
    for path in paths:
        with Image.open(ref_dir / path) as image:
            sizes.add(image.size)
    if len(sizes) == 1:
        (width, height), = sizes
        if width == height:
            return width
    return "original"


def score_job(result: dict[str, Any], *, name: str | None = None, dataset: str | None = None
              ) -> tuple[JobSummary, list[dict[str, Any]], list[str], Manifest]:
    """(summary, per-image rows, their columns, manifest) of a ``score_folders`` result."""
    from wetok_bench.run.versions import git_commit, library_versions

    ref_dir, recon_dir = Path(result["ref_dir"]), Path(result["recon_dir"])
    name = name or recon_dir.resolve().name
    dataset = dataset or ref_dir.resolve().name
    per_image = result["per_image"]
    resolution = _resolution(ref_dir, [row["path"] for row in per_image]) if per_image else "original"
    metric_columns = [k for k in (per_image[0] if per_image else {}) if k not in ("path", "recon_path")]
    rows = [{"key": row["path"], **{k: row[k] for k in metric_columns}} for row in per_image]
    fid = dict(result.get("fid") or {})
    cache_hit = fid.pop("reference_cache_hit", None)
    counts = result["counts"]
    summary = JobSummary(
        suite=SCORE,
        job=job_id(name, dataset, resolution),
        status="ok",
        tokenizer={"name": name, "type": SCORE, "display_name": name},
        dataset={"name": dataset, "type": "folder"},
        resolution=resolution,
        protocol=result["protocol"],
        metrics=result["means"],
        metric_info=result.get("metric_info"),
        skipped_metrics=result.get("skipped_metrics") or {},
        rfid=fid or None,
        counts={"images": counts["images"], "skipped": counts.get("skipped", 0),
                "selected": counts.get("pairs", counts["images"]), "reference_images": fid.get("n_ref")},
        skipped_files=result.get("skipped_files") or [],
        clamped=result.get("clamped"),
    )
    manifest = Manifest(
        job=summary.job,
        protocol=result["protocol"],
        metrics=result.get("evaluator"),
        dataset={"kind": "folder", "root": str(ref_dir), "count": counts.get("pairs", counts["images"])},
        tokenizer={"spec": {"type": SCORE, "name": name, "recon_dir": str(recon_dir)}},
        versions=library_versions(),
        git_commit=git_commit(),
        host=socket.gethostname(),
        date=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=list(sys.argv),
        images=counts["images"],
        extra={"ref_dir": str(ref_dir), "recon_dir": str(recon_dir), "reference_cache_hit": cache_hit},
    )
    return summary, rows, ["key", *metric_columns], manifest


def write_score_job(result: dict[str, Any], results_dir: str | Path, *, name: str | None = None,
                    dataset: str | None = None) -> Path:
    """Write the job folder of a ``score_folders`` result under ``results_dir``; returns it."""
    summary, rows, columns, manifest = score_job(result, name=name, dataset=dataset)
    folder = Path(results_dir) / summary.job
    write_job(folder, summary, rows, columns, manifest)
    return folder
