"""Result files: one folder per job, written atomically, read back by reports and checks.

Layout (``<out>/<suite>/<tokenizer>__<dataset>__<resolution>/``):

``summary.json``
    the numbers and what they mean (schema below; ``SCHEMA_VERSION``).
``per_image.csv``
    one row per image: ``key``, one column per per-image metric (``psnr``, ``ssim``,
    ``lpips``, ``lpips_vgg`` ...), ``bits`` (bits of that image's code), ``height``/``width``;
    for COCO also ``categories`` and ``supercategories`` (``;``-separated, sorted).
``per_image_cycles.csv``
    only with ``cycles: K`` > 1: one row per image and re-encoding cycle 2..K (``key``,
    ``cycle``, one column per per-image metric), cycle-major, images in list order.
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
    rfid_by_supercategory  {label: {rfid, images, unreliable}} (COCO with rFID) or absent
    compression     {bits_per_image (mean), ratio (mean of per-image ratios), tokens, bits_per_token,
                     latent_shape, codebook, per_image: bool (codecs: sizes vary per image)}
    counts          {images, skipped, selected, reference_images}
    skipped_files   [{key, reason}]
    clamped         {values, total, fraction, threshold}: reconstruction values beyond the clamp
                    threshold (a warning is logged above a small fraction)
    tokens          discrete tokenizers only: {codebook_usage, code_entropy_bits, code_perplexity,
                    per_group, codebook_size, groups, codebook_scope, tokens ...} or {skipped}
    cost            {encode_s_per_image, decode_s_per_image, images_per_s, peak_memory_bytes,
                    parameters, warmup_batches ...} (wetok_bench.engine.cost)
    cycles          with ``cycles: K`` > 1: [{cycle, psnr, ssim, lpips, rfid}] for k = 1..K
                    (per-image values of cycles >= 2 in per_image_cycles.csv)

Under protocol ``wetok`` ``metrics`` also holds ``psnr_official`` / ``ssim_official``, the
official script's batch-mean layout computed from the per-image rows
(:func:`wetok_bench.metrics.aggregate.protocol_aggregates`). ``compression.error`` says why the
static accounting (tokens, bits per token) is missing when the tokenizer's ``compression()`` failed.
    clamped         {values, total, fraction, threshold}: reconstruction values clamped

The files are typed records: :class:`JobSummary` (``summary.json``) and :class:`Manifest`
(``manifest.json``), each with ``from_dict`` / ``to_dict``; the runner and ``score`` write
them, reports and checks read them. ``schema_version`` is :data:`SCHEMA_VERSION` in every
file written; a reader accepts :data:`READABLE_SCHEMA_VERSIONS` (older folders stay readable:
a key they lack reads as None, a key this version does not know is kept in ``extra``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.aggregate import jsonable

#: Version of the summary and manifest layout written now.
SCHEMA_VERSION = 1
#: Versions a reader accepts (the ones written before included).
READABLE_SCHEMA_VERSIONS = (1,)
SUMMARY_FILE = "summary.json"
PER_IMAGE_FILE = "per_image.csv"
MANIFEST_FILE = "manifest.json"
#: A failed attempt of a job that has a good result: written beside it, never over it.
LAST_FAILURE_FILE = "last_failure.json"


def shared_file_mode() -> int:
    """The mode ``open()`` gives a new file now: 0o666 less the process's current umask.

    Read at each write, not once at import (a program may set its umask after importing us),
    from ``/proc/self/status`` where there is one, which changes nothing; elsewhere by setting
    and restoring it, the only portable way."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


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
        os.chmod(tmp, shared_file_mode())  # mkstemp makes 0600 files; results are meant to be shared
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


class _Record:
    """A JSON record with typed fields: ``from_dict`` keeps unknown keys in ``extra``, ``to_dict``
    writes the fields in declaration order, leaving out optional ones that are None."""

    #: Fields written even when None.
    _always: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "record"):
        """The record of ``data``; a schema version this reader does not know is a UsageError."""
        if not isinstance(data, Mapping):
            raise UsageError(f"{where}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version", 1)  # manifests before the field existed are version 1
        if version not in READABLE_SCHEMA_VERSIONS and version != SCHEMA_VERSION:
            raise UsageError(f"{where}: schema_version {version!r}, expected {SCHEMA_VERSION}")
        names = {f.name for f in fields(cls)} - {"extra"}
        missing = [n for n in cls._always if n not in data and n != "schema_version"]
        if missing:
            raise UsageError(f"{where}: missing {', '.join(missing)}")
        known = {k: v for k, v in data.items() if k in names}
        return cls(**{**known, "schema_version": version}, extra={k: v for k, v in data.items() if k not in names})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name != "extra" and (getattr(self, f.name) is not None or f.name in self._always)}
        return {**out, **self.extra}


def _schema_version() -> int:
    return SCHEMA_VERSION  # read when a record is made (tests patch the module's value)


@dataclass
class JobSummary(_Record):
    """``summary.json``: one job's numbers and what they mean (keys in the module docstring).

    ``status`` is ``ok`` or ``failed`` (then ``error`` says why). ``metrics`` are means over
    images (and a protocol's official aggregates), ``rfid`` the FID block, ``compression``
    the bits accounting (None for ``score`` jobs: the code is unknown there).
    """

    suite: str
    job: str
    status: str
    tokenizer: dict[str, Any]
    dataset: dict[str, Any]
    resolution: int | str
    protocol: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metric_info: dict[str, Any] | None = None
    skipped_metrics: dict[str, str] | None = None
    rfid: dict[str, Any] | None = None
    compression: dict[str, Any] | None = None
    counts: dict[str, Any] | None = None
    skipped_files: list[dict[str, Any]] | None = None
    clamped: dict[str, Any] | None = None
    #: discrete tokenizers' codebook usage, code entropy and perplexity (:mod:`wetok_bench.engine.tokens`)
    tokens: dict[str, Any] | None = None
    #: encode/decode time per image, images/s, peak memory, parameters (:mod:`wetok_bench.engine.cost`)
    cost: dict[str, Any] | None = None
    #: re-encoding cycles, ``[{"cycle": k, <metric>: value}]`` for k = 1..K (:mod:`wetok_bench.engine.cycles`)
    cycles: list[dict[str, Any]] | None = None
    schema_version: int = field(default_factory=_schema_version)
    extra: dict[str, Any] = field(default_factory=dict)

    _always: ClassVar[tuple[str, ...]] = ("schema_version", "suite", "job", "status", "tokenizer", "dataset",
                                          "resolution", "protocol", "metrics")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        return {"schema_version": out.pop("schema_version"), **out}  # first, as always written


@dataclass
class Manifest(_Record):
    """``manifest.json``: what produced a job's numbers (provenance; see the module docstring).

    ``suite``: name, source, hash, the merged ``config`` and its ``includes``; ``command``:
    the command line (``score`` jobs: ``score`` with its folders in ``extra``).
    """

    job: str | None = None
    suite: dict[str, Any] | None = None
    protocol: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    tokenizer: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    seed: int | None = None
    num_images_limit: int | None = None
    device: str | None = None
    world_size: int | None = None
    versions: dict[str, str] | None = None
    git_commit: str | None = None
    host: str | None = None
    date: str | None = None
    command: list[str] | str | None = None
    wall_time_s: float | None = None
    images_per_s: float | None = None
    compute_time_s: float | None = None
    images: int | None = None
    job_fingerprint: dict[str, Any] | None = None
    schema_version: int = field(default_factory=_schema_version)
    extra: dict[str, Any] = field(default_factory=dict)

    _always: ClassVar[tuple[str, ...]] = ("schema_version",)


def write_job(folder: Path, summary: JobSummary | Mapping[str, Any], rows: list[dict[str, Any]], columns: list[str],
              manifest: Manifest | Mapping[str, Any]) -> None:
    """Write one job's three files atomically (the summary last: its presence marks completion).

    A mapping is taken as the record's fields (``schema_version`` added when absent)."""
    if not isinstance(summary, JobSummary):
        summary = JobSummary.from_dict({"schema_version": SCHEMA_VERSION, **summary}, where=str(folder / SUMMARY_FILE))
    if not isinstance(manifest, Manifest):
        manifest = Manifest.from_dict({"schema_version": SCHEMA_VERSION, **manifest}, where=str(folder / MANIFEST_FILE))
    write_json(folder / MANIFEST_FILE, manifest.to_dict())
    atomic_write_text(folder / PER_IMAGE_FILE, rows_to_csv(rows, columns))
    write_json(folder / SUMMARY_FILE, summary.to_dict())


@dataclass
class JobResult:
    """One job's results as read back from disk."""

    folder: Path
    summary: dict
    manifest: dict = field(default_factory=dict)

    @property
    def record(self) -> JobSummary:
        """The summary as a typed record."""
        return JobSummary.from_dict(self.summary, where=str(self.folder / SUMMARY_FILE))

    @property
    def provenance(self) -> Manifest:
        """The manifest as a typed record."""
        return Manifest.from_dict(self.manifest, where=str(self.folder / MANIFEST_FILE))

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
    if not isinstance(summary, dict) or "schema_version" not in summary:
        raise UsageError(f"{folder / SUMMARY_FILE}: schema_version None, expected {SCHEMA_VERSION}")
    summary = JobSummary.from_dict(summary, where=str(folder / SUMMARY_FILE)).to_dict()
    manifest: dict = {}
    if (folder / MANIFEST_FILE).is_file():
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read {folder / MANIFEST_FILE}: {error}") from None
        manifest = Manifest.from_dict(manifest, where=str(folder / MANIFEST_FILE)).to_dict()
    return JobResult(folder=folder, summary=summary, manifest=manifest)


def load_results(paths: Iterable[str | Path]) -> list[JobResult]:
    """All job results under ``paths``; no job found is a :class:`UsageError`."""
    folders = find_job_folders(paths)
    if not folders:
        raise UsageError(f"no results (no {SUMMARY_FILE}) under: {', '.join(map(str, paths))}")
    return [load_job(f) for f in folders]
