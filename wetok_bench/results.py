"""Result files: one folder per job, written atomically, read back by reports and checks.

Layout (``<out>/<suite>/<tokenizer>__<dataset>__<resolution>/``):

``summary.json``
    the numbers and what they mean (schema below; ``SCHEMA_VERSION``).
``per_image.csv``
    one row per image: ``key``, one column per per-image metric (``psnr``, ``ssim``,
    ``lpips``, ``lpips_vgg`` ...), ``bits`` (bits of that image's code).
``manifest.json``
    provenance: protocol settings and fingerprint, tokenizer fingerprint (weights sha256),
    dataset fingerprint, suite hash, seed, device, library versions, git commit, wall time,
    images/s, command line, ``job_fingerprint`` (what decides the numbers; a rerun with the
    same fingerprint reuses the job).
``last_failure.json``
    only when a later attempt failed after a good result: that attempt's failed summary
    (the good files stay as they were).

``summary.json`` keys::

    schema_version  int
    suite           suite name
    job             job id (the folder name)
    status          "ok" | "failed"   (failed jobs carry "error")
    tokenizer       {name, type, kind: discrete|continuous|codec|identity, display_name}
    dataset         {name, type}
    resolution      int or "original"
    protocol        {name, version, fingerprint}
    metrics         {metric: mean over images}   (psnr may be "inf"; see metrics.aggregate)
    metric_info     {metric: {higher_is_better, unit, description}}
    skipped_metrics {metric: reason}             (e.g. weights missing with on_missing_weights: skip)
    rfid            {rfid, n, n_ref, feature_dim, unreliable, reason} or absent
    compression     {bits_per_image (mean), ratio (mean of per-image ratios), tokens, bits_per_token,
                     latent_shape, codebook, per_image: bool (codecs: sizes vary per image)}
    counts          {images, skipped, reference_images}
    skipped_files   [{key, reason}]
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from wetok_bench.errors import UsageError
from wetok_bench.metrics.aggregate import jsonable

SCHEMA_VERSION = 1
_UMASK = os.umask(0)
os.umask(_UMASK)
SUMMARY_FILE = "summary.json"
PER_IMAGE_FILE = "per_image.csv"
MANIFEST_FILE = "manifest.json"
#: A failed attempt of a job that has a good result: written beside it, never over it.
LAST_FAILURE_FILE = "last_failure.json"


def job_id(tokenizer: str, dataset: str, resolution: int | str) -> str:
    """Folder name of a job: ``<tokenizer>__<dataset>__<resolution>``."""
    return f"{tokenizer}__{dataset}__{resolution}"


def json_float(value: Any) -> float | None:
    """Inverse of the JSON encoding of floats: "inf"/"nan" strings back to float, None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return float(value)
    return float(value)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def rows_to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _format_cell(row.get(c)) for c in columns})
    return buffer.getvalue()


def _format_cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else jsonable(value)
    return value


def write_job(folder: Path, summary: dict, rows: list[dict[str, Any]], columns: list[str], manifest: dict) -> None:
    """Write one job's three files atomically (the summary last: its presence marks completion)."""
    write_json(folder / MANIFEST_FILE, manifest)
    atomic_write_text(folder / PER_IMAGE_FILE, rows_to_csv(rows, columns))
    write_json(folder / SUMMARY_FILE, {"schema_version": SCHEMA_VERSION, **summary})


@dataclass
class JobResult:
    """One job's results as read back from disk."""

    folder: Path
    summary: dict
    manifest: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float | None]:
        return {k: json_float(v) for k, v in self.summary.get("metrics", {}).items()}

    def per_image(self):
        """Per-image rows as a pandas DataFrame (``inf`` strings parsed as floats)."""
        import pandas as pd

        return pd.read_csv(self.folder / PER_IMAGE_FILE)


def find_job_folders(paths: Iterable[str | Path]) -> list[Path]:
    """Every folder holding a ``summary.json`` under the given paths (recursively), sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"results path not found: {path}")
        if (path / SUMMARY_FILE).is_file():
            found.append(path)
        else:
            found.extend(p.parent for p in path.rglob(SUMMARY_FILE))
    return sorted(dict.fromkeys(found))


def load_job(folder: Path) -> JobResult:
    """Read one job folder; unreadable or wrong-schema files are a :class:`UsageError`."""
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {folder / SUMMARY_FILE}: {error}") from None
    if summary.get("schema_version") != SCHEMA_VERSION:
        raise UsageError(
            f"{folder / SUMMARY_FILE}: schema_version {summary.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    manifest: dict = {}
    if (folder / MANIFEST_FILE).is_file():
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read {folder / MANIFEST_FILE}: {error}") from None
    return JobResult(folder=folder, summary=summary, manifest=manifest)


def load_results(paths: Iterable[str | Path]) -> list[JobResult]:
    """All job results under ``paths``; no job found is a :class:`UsageError`."""
    folders = find_job_folders(paths)
    if not folders:
        raise UsageError(f"no results (no {SUMMARY_FILE}) under: {', '.join(map(str, paths))}")
    return [load_job(f) for f in folders]
