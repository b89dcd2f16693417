"""Baseline files: published reference numbers and recorded CI baselines (``baselines/``).

Two kinds of file live there; ``baselines/README.md`` documents both schemas in full.

``kind: published`` (YAML): numbers a paper or model card reports, with where they come from::

    kind: published
    source: {id, citation, url, protocol, protocol_notes}
    pending: [free text: tables known to exist but not transcribed yet]   # optional
    records:
      - {model, label, dataset, resolution, metric, value, protocol?, compression_ratio?, notes?}

One record is one (source, tokenizer, dataset, resolution, metric) number. ``protocol`` is the
convention the number was produced under: a registered protocol (``wetok``, ``llamagen`` ...,
:data:`~wetok_bench.protocols.PROTOCOLS`) whose official script made it, or :data:`OTHER_PROTOCOL`
(an evaluation the project does not replicate); a record's own ``protocol`` overrides its
source's. Paper tables compute a difference only between numbers of the same protocol.

``kind: recorded`` (JSON or YAML): what ``wetok-bench check --record`` writes from results, and
what ``wetok-bench check --baseline`` compares against::

    kind: recorded
    schema_version: 1
    suite, date, library_versions, protocols: {name: fingerprint}
    entries:
      - {tokenizer, dataset, resolution, protocol: {name, version, fingerprint},
         images, metrics: {metric: value}, metric_info: {metric: {higher_is_better, unit}},
         per_image?: {keys: [...], values: {metric: [...]}}}   # for check --significance

Matching measured results to published records (used by the paper tables):

* model: a result matches a record when ``record.model`` equals the first of
  ``summary["tokenizer"]["paper_name"]``, ``["model"]``, ``["name"]`` that is present and
  equal; ``paper_name`` lets a suite map its own job name onto the published name.
* dataset: ``summary["dataset"]["paper_name"]`` if present; otherwise ``imagenet-val`` when the
  dataset's type or name contains "imagenet", ``coco-val2017`` when it contains "coco".
* resolution: equal integers, or both ``"original"`` (images at their own size, padded to the
  tokenizer's factor and cropped back).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.registry import extra_keys, key_info, result_keys
from wetok_bench.results.records import JobResult


def known_metrics() -> list[str]:
    """Metric names a published record may carry: the metric registry's result keys (and
    ``bits_per_image``)."""
    return [*result_keys(), *extra_keys()]
#: Datasets of the WeTok paper's reconstruction tables.
PAPER_DATASETS = {
    "imagenet-val": "ImageNet-1k val (50,000 images)",
    "coco-val2017": "MS-COCO val2017 (5,000 images)",
}
RECORDED_SCHEMA_VERSION = 1
_SOURCE_FIELDS = ("id", "citation", "url", "protocol", "protocol_notes")
#: The ``protocol`` of a published number made by an evaluation the project does not replicate.
OTHER_PROTOCOL = "other"
_RECORD_FIELDS = ("model", "label", "dataset", "resolution", "metric", "value")


@dataclass(frozen=True)
class PublishedRecord:
    """One published number.

    Attributes:
        source: short id of the source (``wetok-paper``); ``citation`` and ``url`` say where.
        model: card / paper name results are matched on (see the module doc).
        label: how the source names the tokenizer (shown in tables).
        dataset: ``imagenet-val`` or ``coco-val2017``.
        resolution: image side in pixels, or ``"original"`` (each image at its own size).
        metric: one of :func:`known_metrics`.
        value: the published number, in the metric's unit.
        protocol_notes: how the source measured it (protocols differ from ours).
        compression_ratio: the source's compression ratio for this model, if it states one.
        protocol: the registered protocol whose official script produced it, or
            :data:`OTHER_PROTOCOL`.
    """

    source: str
    citation: str
    url: str
    protocol_notes: str
    model: str
    label: str
    dataset: str
    resolution: int | str
    metric: str
    value: float
    compression_ratio: float | None = None
    notes: str = ""
    file: str = ""
    protocol: str = OTHER_PROTOCOL


@dataclass
class PublishedSet:
    """Every published record of a folder, and the tables still to be transcribed."""

    records: list[PublishedRecord] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (source citation, what is missing)


def read_data_file(path: Path) -> Any:
    """Parse a JSON or YAML file; unreadable files are a :class:`UsageError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read baseline file {path}: {error.strerror or error}") from None
    try:
        if Path(path).suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: not valid {'JSON' if Path(path).suffix == '.json' else 'YAML'}: {error}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def validate_published(data: Any) -> list[str]:
    """Problems with a ``kind: published`` document (empty list: valid)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return ["top level must be a mapping"]
    source = data.get("source")
    if not isinstance(source, dict):
        problems.append("'source' must be a mapping with " + ", ".join(_SOURCE_FIELDS))
    else:
        for key in _SOURCE_FIELDS:
            if not isinstance(source.get(key), str) or not source.get(key, "").strip():
                problems.append(f"source.{key} missing or empty" + (_PROTOCOL_HINT if key == "protocol" else ""))
        problems.extend(_protocol_problem("source.protocol", source.get("protocol")))
    pending = data.get("pending", [])
    if not isinstance(pending, list) or not all(isinstance(p, str) and p.strip() for p in pending):
        problems.append("'pending' must be a list of non-empty strings")
    records = data.get("records")
    if not isinstance(records, list) or (not records and not pending):
        problems.append("'records' must be a list (empty only when 'pending' says what is missing)")
        return problems
    seen: set[tuple] = set()
    for i, record in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(record, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for key in _RECORD_FIELDS:
            if key not in record:
                problems.append(f"{where}: missing '{key}'")
        unknown = set(record) - set(_RECORD_FIELDS) - {"compression_ratio", "notes", "protocol"}
        if unknown:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        if "metric" in record and (not isinstance(record["metric"], str) or key_info(record["metric"]) is None):
            problems.append(f"{where}: metric {record['metric']!r} not one of {', '.join(known_metrics())}")
        if "dataset" in record and record["dataset"] not in PAPER_DATASETS:
            problems.append(f"{where}: dataset {record['dataset']!r} not one of {', '.join(PAPER_DATASETS)}")
        if "value" in record and not _is_number(record["value"]):
            problems.append(f"{where}: value {record['value']!r} is not a finite number")
        if "resolution" in record and not _is_resolution(record["resolution"]):
            problems.append(f"{where}: resolution {record['resolution']!r} is not a positive integer or 'original'")
        if "protocol" in record:
            problems.extend(_protocol_problem(f"{where}: protocol", record["protocol"]))
        ratio = record.get("compression_ratio")
        if ratio is not None and not (_is_number(ratio) and ratio > 0):
            problems.append(f"{where}: compression_ratio {ratio!r} is not a positive number")
        for key in ("model", "label"):
            if key in record and not (isinstance(record[key], str) and record[key].strip()):
                problems.append(f"{where}: {key} must be a non-empty string")
        key = tuple(record.get(k) for k in ("model", "dataset", "resolution", "metric"))
        if key in seen:
            problems.append(f"{where}: duplicate record for (model, dataset, resolution, metric) {key}")
        seen.add(key)
    return problems


_PROTOCOL_HINT = (" (the convention the numbers were produced under: a protocol of `wetok-bench list protocols`, "
                  f"or '{OTHER_PROTOCOL}')")


def _protocol_problem(where: str, value: Any) -> list[str]:
    """A published protocol must be a registered protocol's name or :data:`OTHER_PROTOCOL`."""
    from wetok_bench.protocols import PROTOCOLS

    if not isinstance(value, str) or not value.strip():
        return []  # reported as missing
    if value != OTHER_PROTOCOL and value not in PROTOCOLS:
        return [f"{where} {value!r} is not a registered protocol nor '{OTHER_PROTOCOL}'"]
    return []


def _is_resolution(value: Any) -> bool:
    """A published resolution: a positive int (pixels per side) or ``"original"``."""
    if value == "original":
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_recorded(data: Any) -> list[str]:
    """Problems with a ``kind: recorded`` document (empty list: valid)."""
    if not isinstance(data, dict):
        return ["top level must be a mapping"]
    problems: list[str] = []
    if data.get("schema_version") != RECORDED_SCHEMA_VERSION:
        problems.append(f"schema_version {data.get('schema_version')!r}, expected {RECORDED_SCHEMA_VERSION}")
    if not isinstance(data.get("protocols"), dict) or not data.get("protocols"):
        problems.append("'protocols' must map protocol name -> fingerprint")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        return problems + ["'entries' must be a non-empty list"]
    seen: set[tuple] = set()
    for i, entry in enumerate(entries):
        where = f"entries[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for key in ("tokenizer", "dataset", "resolution", "protocol", "metrics"):
            if key not in entry:
                problems.append(f"{where}: missing '{key}'")
        protocol = entry.get("protocol")
        if not isinstance(protocol, dict) or not isinstance(protocol.get("fingerprint"), str):
            problems.append(f"{where}: protocol must carry a fingerprint")
        metrics = entry.get("metrics")
        if not isinstance(metrics, dict) or not metrics:
            problems.append(f"{where}: metrics must be a non-empty mapping")
        else:
            for name, value in metrics.items():
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    problems.append(f"{where}: metrics.{name} = {value!r} is not a number")
                    continue
                if math.isnan(number):
                    problems.append(f"{where}: metrics.{name} is NaN")
        per_image = entry.get("per_image")
        if per_image is not None:
            keys = per_image.get("keys") if isinstance(per_image, dict) else None
            columns = per_image.get("values") if isinstance(per_image, dict) else None
            if not isinstance(keys, list) or not isinstance(columns, dict) or any(
                    not isinstance(v, list) or len(v) != len(keys) for v in columns.values()):
                problems.append(f"{where}: per_image must be {{keys: [...], values: {{metric: [one per key]}}}}")
        key = (entry.get("tokenizer"), entry.get("dataset"), entry.get("resolution"))
        if key in seen:
            problems.append(f"{where}: duplicate entry {key}")
        seen.add(key)
    return problems


def validate_file(path: Path) -> list[str]:
    """Problems with one baseline file of either kind; unreadable files are a UsageError."""
    data = read_data_file(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "published":
        return validate_published(data)
    if kind == "recorded":
        return validate_recorded(data)
    return [f"'kind' must be 'published' or 'recorded', got {kind!r}"]


def baseline_files(folder: Path) -> list[Path]:
    """Every data file (``.yaml``, ``.yml``, ``.json``) under ``folder``, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".yaml", ".yml", ".json"))


def load_published(folder: Path) -> PublishedSet:
    """All ``kind: published`` records under ``folder``; an invalid file is a UsageError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"baselines folder not found: {folder}")
    found = PublishedSet()
    for path in baseline_files(folder):
        data = read_data_file(path)
        if not isinstance(data, dict) or data.get("kind") != "published":
            continue
        problems = validate_published(data)
        if problems:
            raise UsageError(f"{path}: invalid published baseline: " + "; ".join(problems))
        source = data["source"]
        for pending in data.get("pending", []):
            found.pending.append((source["citation"], pending))
        for record in data["records"]:
            found.records.append(
                PublishedRecord(
                    source=source["id"],
                    citation=source["citation"],
                    url=source["url"],
                    protocol_notes=source["protocol_notes"],
                    model=record["model"],
                    label=record["label"],
                    dataset=record["dataset"],
                    resolution=record["resolution"],
                    metric=record["metric"],
                    value=float(record["value"]),
                    compression_ratio=None if record.get("compression_ratio") is None else float(record["compression_ratio"]),
                    notes=str(record.get("notes", "")),
                    file=str(path),
                    protocol=str(record.get("protocol", source["protocol"])),
                )
            )
    return found


def load_recorded(path: Path) -> dict:
    """A ``kind: recorded`` baseline as a dict; missing, garbled or invalid files are a UsageError."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"baseline file not found: {path} (write one with `wetok-bench check RESULTS --record {path}`)")
    data = read_data_file(path)
    if not isinstance(data, dict) or data.get("kind") != "recorded":
        raise UsageError(f"{path}: not a recorded baseline (expected 'kind: recorded')")
    problems = validate_recorded(data)
    if problems:
        raise UsageError(f"{path}: invalid recorded baseline: " + "; ".join(problems))
    return data


def result_model_names(summary: dict) -> list[str]:
    """Names a result is matched on, most specific first (see the module doc)."""
    tokenizer = summary.get("tokenizer") or {}
    return [str(tokenizer[k]) for k in ("paper_name", "model", "name") if tokenizer.get(k)]


def result_paper_dataset(summary: dict) -> str | None:
    """The paper dataset id of a result (``imagenet-val``, ``coco-val2017``) or None."""
    dataset = summary.get("dataset") or {}
    if dataset.get("paper_name"):
        return str(dataset["paper_name"])
    text = f"{dataset.get('type', '')} {dataset.get('name', '')}".lower()
    if "imagenet" in text:
        return "imagenet-val"
    if "coco" in text:
        return "coco-val2017"
    return None


def match_model(summary: dict, models: set[str]) -> str | None:
    """The first of :func:`result_model_names` that is in ``models``, or None."""
    for name in result_model_names(summary):
        if name in models:
            return name
    return None


# --- the values a recorded baseline keeps of a result (check and record) ---------------------


def result_key(summary: dict) -> tuple[str, str, str]:
    """(tokenizer name, dataset name, resolution) of a result: what baseline entries are keyed on."""
    return (
        str((summary.get("tokenizer") or {}).get("name", "?")),
        str((summary.get("dataset") or {}).get("name", "?")),
        str(summary.get("resolution", "?")),
    )


def index_results(jobs: list[JobResult]) -> dict[tuple, JobResult]:
    """Results by :func:`result_key`; two results for one key are a :class:`UsageError`."""
    indexed: dict[tuple, JobResult] = {}
    for job in jobs:
        key = result_key(job.summary)
        if key in indexed:
            raise UsageError(f"two results for {key}: {indexed[key].folder} and {job.folder}; pass one suite's results")
        indexed[key] = job
    return indexed
