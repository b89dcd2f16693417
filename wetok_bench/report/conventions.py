"""The conventions table: one job's numbers under every protocol it was measured under.

A suite with ``protocol: [standard, wetok, llamagen, ...]`` measures each reconstruction under
every convention in one pass (one results folder per protocol). For each (tokenizer, dataset,
resolution) measured under two protocols or more, this table puts the numbers side by side with
the difference each convention makes against a base protocol (``standard`` when measured, else
the first in name order): the answer to "why does my number differ from the paper's". A
protocol's script aggregate (``psnr_official`` ...: ranks, batches, pooled PSNR) gets a column
of its own, its difference taken against the base's mean over images.
"""

from __future__ import annotations

from wetok_bench.metrics.registry import key_info, summary_keys
from wetok_bench.report.tables import Cell, Table, format_number
from wetok_bench.results.records import JobResult, json_float

BASE = "standard"
OFFICIAL_SUFFIX = "_official"


def _group_key(job: JobResult) -> tuple[str, str, str]:
    summary = job.summary
    return (str((summary.get("tokenizer") or {}).get("name", "?")), str((summary.get("dataset") or {}).get("name", "?")),
            str(summary.get("resolution", "?")))


def _protocol_name(job: JobResult) -> str:
    return str((job.summary.get("protocol") or {}).get("name", "?"))


def conventions_tables(jobs: list[JobResult]) -> list[Table]:
    """One table per (tokenizer, dataset, resolution) measured under two protocols or more."""
    groups: dict[tuple[str, str, str], dict[str, JobResult]] = {}
    for job in jobs:
        if job.summary.get("status", "ok") != "ok":
            continue
        groups.setdefault(_group_key(job), {})[_protocol_name(job)] = job
    return [_table(key, by_protocol) for key, by_protocol in sorted(groups.items()) if len(by_protocol) > 1]


def _columns(by_protocol: dict[str, JobResult]) -> list[tuple[str, str]]:
    """``(result key, the metric it compares with)``: headline metrics, then script aggregates."""
    present = {k for job in by_protocol.values() for k, v in job.metrics.items() if v is not None}
    columns = [(key.name, key.name) for key in summary_keys(present)]
    for key, _ in list(columns):
        if key + OFFICIAL_SUFFIX in present:
            columns.append((key + OFFICIAL_SUFFIX, key))
    return columns


def _table(key: tuple[str, str, str], by_protocol: dict[str, JobResult]) -> Table:
    tokenizer, dataset, resolution = key
    names = sorted(by_protocol, key=lambda n: (n != BASE, n))
    base = names[0]
    columns = _columns(by_protocol)
    headers, numeric = ["Protocol"], [False]
    for name, metric in columns:
        info = key_info(metric)
        label = (info.label or metric) if info else metric
        if name != metric:
            label += " (script's aggregate)"
        headers += [label, f"Δ vs {base}"]
        numeric += [True, True]
    rows = []
    base_values = by_protocol[base].metrics
    for protocol in names:
        values = by_protocol[protocol].metrics
        cells = [Cell(protocol, protocol)]
        for name, metric in columns:
            info = key_info(metric)
            decimals = info.decimals if info else 4
            value = json_float(values.get(name))
            reference = json_float(base_values.get(metric))
            cells.append(Cell(format_number(value, decimals), value))
            if value is None or reference is None or (protocol == base and name == metric):
                cells.append(Cell("–", None))
            else:
                delta = value - reference
                cells.append(Cell(("+" if delta > 0 else "") + format_number(delta, decimals), delta))
        rows.append(cells)
    images = {p: (job.summary.get("counts") or {}).get("images") for p, job in by_protocol.items()}
    notes = [f"The same reconstructions of {tokenizer} scored under each protocol's convention; Δ = value - "
             f"{base}'s value of the same metric (a script's aggregate against {base}'s mean over images).",
             "Images measured: " + ", ".join(f"{p} {n}" for p, n in images.items()) + "."]
    if any(json_float(by_protocol[p].metrics.get(name)) is None for p in names for name, _ in columns):
        notes.append("'–': not defined by that protocol (e.g. no LPIPS under llamagen, rFID only under titok) or "
                     "not measured.")
    return Table(title=f"Conventions: {tokenizer} on {dataset} at {resolution}", headers=headers, numeric=numeric,
                 rows=rows, notes=notes, table_id=f"conventions-{tokenizer}-{dataset}-{resolution}")
