"""Recording a baseline for the regression gate (``wetok-bench check --record FILE``).

From finished results, the values whose direction is known (``metric_info`` or the built-in
table of :mod:`wetok_bench.commands.check`) are written per (tokenizer, dataset, resolution) with the
protocol fingerprint, the image count, the per-image values of the per-image metrics (for
``check --significance``: about 20 bytes per image and metric) and the library versions, as JSON
or YAML; the file is read back through :func:`wetok_bench.results.baselines.load_recorded`
before it is returned.
"""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from pathlib import Path
from typing import Iterable

import yaml

from wetok_bench.core.errors import UsageError
from wetok_bench.core.versions import __version__
from wetok_bench.metrics.aggregate import jsonable
from wetok_bench.metrics.registry import higher_is_better, key_info
from wetok_bench.results.baselines import RECORDED_SCHEMA_VERSION, index_results, load_recorded, result_key
from wetok_bench.results.records import JobResult, atomic_write_text, load_results, write_json
from wetok_bench.results.values import result_values


def _library_versions(jobs: list[JobResult]) -> dict[str, str]:
    for job in jobs:
        for key in ("versions", "library_versions"):
            found = job.manifest.get(key)
            if isinstance(found, dict) and found:
                return {str(k): str(v) for k, v in found.items()}
    versions = {"python": platform.python_version(), "wetok_bench": __version__}
    for package in ("torch", "torchvision", "torch-fidelity", "lpips", "numpy", "scikit-image"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _known_direction(metric: str, info: dict) -> bool:
    return isinstance((info.get(metric) or {}).get("higher_is_better"), bool) or higher_is_better(metric) is not None


def _per_image(job: JobResult, values: dict) -> dict:
    """``{"per_image": {"keys": [...], "values": {metric: [...]}}}`` of the gated per-image metrics,
    for ``check --significance`` (a paired test against the baseline's images); {} without rows."""
    try:
        frame = job.per_image()
    except (OSError, ValueError):
        return {}
    metrics = [m for m in values if m in frame.columns and getattr(key_info(m), "per_image", False)]
    if not metrics or "key" not in frame.columns:
        return {}
    return {"per_image": {"keys": [str(k) for k in frame["key"]],
                          "values": {m: jsonable([float(v) for v in frame[m]]) for m in metrics}}}


def record_baseline(results_paths: Iterable[str | Path], out_path: str | Path) -> Path:
    """Write a recorded baseline (JSON if ``out_path`` ends in ``.json``, else YAML) from results."""
    out = Path(out_path)
    if out.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise UsageError(f"--record {out}: use a .json, .yaml or .yml file name")
    jobs = load_results(list(results_paths))
    index_results(jobs)
    failed = [j for j in jobs if j.summary.get("status", "ok") != "ok"]
    if failed:
        raise UsageError("cannot record a baseline from failed jobs: " + ", ".join(str(j.folder) for j in failed))
    protocols: dict[str, str] = {}
    entries = []
    for job in jobs:
        summary = job.summary
        protocol = dict(summary.get("protocol") or {})
        if not protocol.get("fingerprint"):
            raise UsageError(f"{job.folder}: summary has no protocol fingerprint; cannot record")
        previous = protocols.setdefault(str(protocol.get("name")), protocol["fingerprint"])
        if previous != protocol["fingerprint"]:
            raise UsageError(f"results mix two fingerprints of protocol {protocol.get('name')!r}; record one run at a time")
        info = summary.get("metric_info") or {}
        # only numbers with a known direction can be gated (auxiliary counts are left out)
        values = {m: v for m, v in result_values(summary).items() if _known_direction(m, info)}
        tokenizer, dataset, resolution = result_key(summary)
        entries.append({
            "tokenizer": tokenizer,
            "dataset": dataset,
            "resolution": summary.get("resolution", resolution),
            "protocol": {k: protocol.get(k) for k in ("name", "version", "fingerprint")},
            "images": (summary.get("counts") or {}).get("images"),
            "metrics": values,
            "metric_info": {
                m: {"higher_is_better": (info.get(m) or {}).get("higher_is_better", higher_is_better(m)),
                    "unit": (info.get(m) or {}).get("unit", getattr(key_info(m), "unit", ""))}
                for m in values
            },
            **_per_image(job, values),
        })
    data = {
        "kind": "recorded",
        "schema_version": RECORDED_SCHEMA_VERSION,
        "suite": sorted({str(j.summary.get("suite", "?")) for j in jobs}),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "recorded_with": f"wetok-bench {__version__}",
        "library_versions": _library_versions(jobs),
        "protocols": protocols,
        "entries": entries,
    }
    if out.suffix.lower() == ".json":
        write_json(out, data)
    else:
        atomic_write_text(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    load_recorded(out)  # what we write must pass our own validation
    return out
