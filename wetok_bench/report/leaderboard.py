"""Leaderboards: one table per (dataset, resolution, protocol) built from job results.

Each row is one job. Numbers come from the job's files:

* the metric columns are the metric registry's summary keys some job has, in the registry's
  column order (rFID, PSNR, SSIM, LPIPS, then others), each with its label, decimals and
  direction from the registry;
* a per-image metric (PSNR, SSIM, LPIPS ...): the mean of the ``per_image.csv`` column over
  images, with a percentile-bootstrap interval (:mod:`.bootstrap`, fixed seed, 1,000
  resamples). Without ``per_image.csv`` the summary's mean is shown without interval. A column
  holding ``inf`` (PSNR of lossless images) has mean ``inf`` and no interval; the number of
  lossless images is shown instead.
* bits per image: the mean of the ``bits`` column when present (codecs vary per image),
  otherwise ``summary.compression.bits_per_image``; compression ratio:
  ``summary.compression.ratio`` (the mean of per-image ratios, the runner's definition).
* a set metric (rFID, KID ...): its value in the summary; no interval, because per-image
  features are not kept; a value its block marks unreliable (fewer images than the feature
  dimension) is marked ``†``.

Metrics listed in ``skipped_metrics`` show as a dash with the reason in the notes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import ResultKey
from wetok_bench.metrics.registry import higher_is_better, summary_keys
from wetok_bench.results.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, MeanCI, bootstrap_mean_ci
from wetok_bench.report.extra_columns import extra_columns, extra_notes, extra_values
from wetok_bench.results.records import LAST_FAILURE_FILE, PER_IMAGE_FILE, JobResult, json_float
from wetok_bench.results.values import reliability


def metric_keys(jobs: list[JobResult]) -> list[ResultKey]:
    """The registry's summary keys (:func:`~wetok_bench.metrics.registry.summary_keys`) that some
    job's summary has, in column order."""
    return summary_keys({k for job in jobs for k in (job.summary.get("metrics") or {})})


@dataclass(frozen=True)
class Column:
    """A leaderboard column: ``key`` (used by ``--sort-by``), header, and sort direction;
    ``detail``: shown in the page's second table (codes and cost), not beside the metrics."""

    key: str
    header: str
    numeric: bool
    higher_is_better: bool | None = None  # None: not a quality metric (sorted ascending)
    decimals: int | None = None
    detail: bool = False


@dataclass
class Row:
    """One job's line in a leaderboard (raw values; formatting happens in :mod:`.tables`)."""

    job: JobResult
    tokenizer: str
    name: str
    family: str
    kind: str
    tokens: float | None
    shape: str
    bits: float | None
    ratio: float | None
    #: each metric column's mean (with its interval for per-image metrics), None where not measured
    stats: dict[str, MeanCI | None]
    images: int | None
    skipped: dict[str, str] = field(default_factory=dict)
    #: set-metric values marked unreliable: key -> reason (fewer images than the feature dimension)
    unreliable: dict[str, str] = field(default_factory=dict)
    #: token statistics and cost columns (:mod:`.extra_columns`)
    extra: dict[str, float | None] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """Raw value of column ``key`` (a metric's mean for metric columns)."""
        if key in self.extra:
            return self.extra[key]
        if key in self.stats:
            stat = self.stats[key]
            return None if stat is None else stat.mean
        return getattr(self, key, None)  # a metric column this job did not measure: None


@dataclass
class Leaderboard:
    """Rows of one (dataset, resolution, protocol) group, with the notes printed under it."""

    dataset: str
    resolution: Any
    protocol: dict
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        protocol = f"{self.protocol.get('name', '?')} v{self.protocol.get('version', '?')}"
        return f"{self.dataset} @ {self.resolution} - protocol {protocol}"

    @property
    def slug(self) -> str:
        """File-name stem for this group."""
        text = f"{self.dataset}_{self.resolution}_{self.protocol.get('name', 'unknown')}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _higher_is_better(jobs: list[JobResult], metric: str) -> bool | None:
    for job in jobs:
        info = (job.summary.get("metric_info") or {}).get(metric) or {}
        if isinstance(info.get("higher_is_better"), bool):
            return info["higher_is_better"]
    return higher_is_better(metric)


def columns_for(jobs: list[JobResult]) -> list[Column]:
    """Leaderboard columns, with metric directions from the jobs' ``metric_info`` (else the registry)."""
    return [
        Column("tokenizer", "Tokenizer", numeric=False),
        Column("kind", "Type", numeric=False, detail=True),
        Column("tokens", "Tokens", numeric=True, decimals=0, detail=True),
        Column("shape", "Codebook / latent", numeric=False, detail=True),
        Column("bits", "Bits / image", numeric=True, decimals=0, detail=True),
        Column("ratio", "Compression", numeric=True, decimals=1),
        *(Column(key.name, key.header, numeric=True, higher_is_better=_higher_is_better(jobs, key.name),
                 decimals=key.decimals) for key in metric_keys(jobs)),
        *extra_columns(jobs, Column),  # code usage, perplexity, encode/decode time, parameters (details)
        Column("images", "Images", numeric=True, decimals=0),
    ]


def _shape_text(compression: dict) -> str:
    shape = compression.get("latent_shape") or []
    codebook = compression.get("codebook") or ""
    parts = ["x".join(str(int(s)) for s in shape)] if shape else []
    if codebook:
        parts.append(str(codebook))
    return ", ".join(parts)


def build_row(job: JobResult, *, keys: list[ResultKey] | None = None, n_resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> Row:
    """One leaderboard row from one job (see the module doc for where each number comes from);
    ``keys``: the board's metric columns (default: the job's own), each in ``stats`` (None where
    this job has no value)."""
    summary = job.summary
    tokenizer = summary.get("tokenizer") or {}
    compression = summary.get("compression") or {}
    metrics = summary.get("metrics") or {}
    skipped = {str(k): str(v) for k, v in (summary.get("skipped_metrics") or {}).items()}
    try:
        frame = job.per_image()
    except (OSError, ValueError):
        frame = None
    stats: dict[str, MeanCI | None] = {}
    unreliable: dict[str, str] = {}
    for key in keys if keys is not None else metric_keys([job]):
        metric = key.name
        if key.per_image and frame is not None and metric in frame.columns:
            stats[metric] = bootstrap_mean_ci(frame[metric].to_numpy(dtype=float), n_resamples=n_resamples, seed=seed)
        elif metrics.get(metric) is not None:
            mean = json_float(metrics[metric])
            stats[metric] = MeanCI(mean, None, None, 0, int(math.isinf(mean)), 0.95, n_resamples, seed)
        else:
            stats[metric] = None
        flagged, reason = reliability(summary, metric)
        if flagged:
            unreliable[metric] = reason or "fewer images than the feature dimension"
    if frame is not None and "bits" in frame.columns and frame["bits"].notna().any():
        bits = float(frame["bits"].astype(float).mean())
    else:
        bits = json_float(compression.get("bits_per_image"))
    counts = summary.get("counts") or {}
    images = counts.get("images")
    if images is None and frame is not None:
        images = len(frame)
    return Row(
        job=job,
        tokenizer=str(tokenizer.get("display_name") or tokenizer.get("name") or job.folder.name),
        name=str(tokenizer.get("name") or job.folder.name),
        family=str(tokenizer.get("type") or tokenizer.get("name") or ""),
        kind=str(tokenizer.get("kind") or ""),
        tokens=json_float(compression.get("tokens")),
        shape=_shape_text(compression),
        bits=bits,
        ratio=json_float(compression.get("ratio")),
        stats=stats,
        images=None if images is None else int(images),
        skipped=skipped,
        unreliable=unreliable,
        extra=extra_values(summary),
    )


def group_key(job: JobResult) -> tuple:
    """(dataset name, resolution, protocol name, protocol version, protocol fingerprint)."""
    summary = job.summary
    protocol = summary.get("protocol") or {}
    return (
        str((summary.get("dataset") or {}).get("name", "?")),
        str(summary.get("resolution", "?")),
        str(protocol.get("name", "?")),
        str(protocol.get("version", "?")),
        str(protocol.get("fingerprint", "?")),
    )


def build_leaderboards(
    jobs: list[JobResult],
    *,
    sort_by: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[Leaderboard]:
    """One leaderboard per (dataset, resolution, protocol); failed jobs go into the notes."""
    groups: dict[tuple, list[JobResult]] = {}
    for job in jobs:
        groups.setdefault(group_key(job), []).append(job)
    boards = []
    for key in sorted(groups):
        members = groups[key]
        ok, repeated = _once([j for j in members if j.summary.get("status", "ok") == "ok"])
        failed = [j for j in members if j.summary.get("status", "ok") != "ok"]
        keys = metric_keys(members)
        rows = [build_row(j, keys=keys, n_resamples=n_resamples, seed=seed) for j in ok]
        board = Leaderboard(
            dataset=key[0],
            resolution=members[0].summary.get("resolution", "?"),
            protocol=dict(members[0].summary.get("protocol") or {}),
            columns=columns_for(members),
            rows=rows,
        )
        board.notes = _notes(board, failed, n_resamples, seed) + repeated
        boards.append(sort_leaderboard(board, sort_by) if sort_by else board)
    return boards


def _identity(job: JobResult) -> tuple[str, str]:
    """What makes two result folders the same measurement: the job id and its job fingerprint
    (else the whole summary, for results without one)."""
    fingerprint = (job.manifest or {}).get("job_fingerprint")
    return str(job.summary.get("job", job.folder.name)), json.dumps(fingerprint if fingerprint else job.summary,
                                                                      sort_keys=True, default=str)


def _once(jobs: list[JobResult]) -> tuple[list[JobResult], list[str]]:
    """The jobs with each measurement once (the first folder given), and a note per repeat."""
    first: dict[tuple[str, str], JobResult] = {}
    notes = []
    for job in jobs:
        key = _identity(job)
        if key in first:
            notes.append(f"{key[0]}: the same results in {first[key].folder} and {job.folder}; shown once")
        else:
            first[key] = job
    return list(first.values()), notes


def _last_failure(folder: Path) -> dict | None:
    """The failed attempt recorded beside a good result (``last_failure.json``), if any."""
    try:
        return json.loads((folder / LAST_FAILURE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _who(names: list[str], board: Leaderboard) -> str:
    """The tokenizers a note is about: their names, or "All N tokenizers" when it is every row."""
    if len(names) > 1 and len(names) == len(board.rows):
        return f"All {len(names)} tokenizers"
    return ", ".join(names)


def _notes(board: Leaderboard, failed: list[JobResult], n_resamples: int, seed: int) -> list[str]:
    keys = {key.name: key for key in summary_keys() if key.name in {c.key for c in board.columns}}
    notes = [
        f"+- is half the width of a 95% percentile-bootstrap interval of the mean over images "
        f"({n_resamples} resamples, seed {seed}).",
    ]
    notes += [f"{key.label or key.name} has no interval: per-image features are not kept."
              for key in keys.values() if not key.per_image]
    reasons: dict[tuple[str, str], list[str]] = {}
    for row in board.rows:
        for name, reason in row.unreliable.items():
            reasons.setdefault((name, reason), []).append(row.tokenizer)
    for (name, reason), names in reasons.items():
        label = keys[name].label if name in keys else name
        notes.append(f"† {label} unreliable ({reason}): {_who(names, board)}.")
    skipped: dict[tuple[str, str], list[str]] = {}
    for row in board.rows:
        for name, stat in row.stats.items():
            if stat is not None and stat.n_infinite:
                label = keys[name].label if name in keys else name
                notes.append(f"{row.tokenizer}: {stat.n_infinite} of {stat.n} images reconstructed losslessly "
                             f"({label} = inf), so mean {label} is inf and has no interval.")
        for metric, reason in row.skipped.items():
            skipped.setdefault((metric, reason), []).append(row.tokenizer)
        counts = row.job.summary.get("counts") or {}
        if counts.get("skipped"):
            of = f" of {counts['selected']}" if counts.get("selected") else ""
            notes.append(f"{row.tokenizer}: {counts['skipped']}{of} selected images skipped "
                         "(files and reasons in summary.json skipped_files).")
        if not (row.job.folder / PER_IMAGE_FILE).is_file():
            notes.append(f"{row.tokenizer}: per_image.csv missing, summary means shown without interval.")
        failure = _last_failure(row.job.folder)
        if failure is not None:
            notes.append(f"{row.tokenizer}: a later attempt ({failure.get('date', 'date unknown')}) failed - "
                         f"{failure.get('error', 'no error recorded')}; the numbers shown are from the earlier good run.")
    for (metric, reason), names in skipped.items():
        notes.append(f"{_who(names, board)}: {metric} skipped - {reason}")
    notes += extra_notes(board.rows)  # code usage per group, what the timings are
    for job in failed:
        name = (job.summary.get("tokenizer") or {}).get("name", job.folder.name)
        notes.append(f"{name}: job failed - {job.summary.get('error', 'no error recorded')}")
    return notes


def sort_leaderboard(board: Leaderboard, sort_by: str) -> Leaderboard:
    """Rows sorted by column ``sort_by``; a leading ``-`` reverses the default order.

    Default order: quality metrics best first (from ``higher_is_better``), other columns
    ascending. Missing values always go last.
    """
    reverse_request = sort_by.startswith("-")
    key = sort_by.lstrip("-")
    columns = {c.key: c for c in board.columns}
    if key not in columns:
        raise UsageError(f"cannot sort by {key!r}: columns are {', '.join(columns)}")
    column = columns[key]
    descending = bool(column.higher_is_better) != reverse_request

    def missing(row: Row) -> bool:
        value = row.value(key)
        return value is None or (isinstance(value, float) and math.isnan(value))

    present = [r for r in board.rows if not missing(r)]
    absent = [r for r in board.rows if missing(r)]
    sort_value = (lambda r: r.value(key)) if column.numeric else (lambda r: str(r.value(key)).lower())
    present.sort(key=sort_value, reverse=descending)
    return replace(board, rows=present + absent)
