"""Paper tables: our measured numbers beside the published ones, in the WeTok paper's layout.

The WeTok paper reports zero-shot reconstruction on ImageNet-1k val (50k) and MS-COCO val2017
(5k) at 256x256: one row per tokenizer with its compression ratio and rFID, PSNR, SSIM and
LPIPS. Here every metric gets three columns: ours, published (with a numbered source cited
under the table) and the difference ``ours - published``. The metrics are the metric
registry's (label, decimals and column order from there): each one that a row of the table has,
measured or published, in the registry's column order (the papers' rFID, PSNR, SSIM, LPIPS, then
the others), so a plug-in metric's columns follow LPIPS. A cell with no published value says
"not published"; a published model we have not run says "not run".

Results are matched to published records by model name and dataset (rule in
:mod:`wetok_bench.results.baselines`). Like with like: every published number records the
protocol it was produced under, and a difference is computed only when that protocol has the
convention of the table's (:attr:`MetricProtocol.convention`: the same preprocessing and
per-image values). Then "ours" is aggregated as the source's script aggregates (the protocol's
``official`` rule applied to our per-image values: WeTok's 8 ranks x batch 100, Open-MAGVIT2's
pooled PSNR ...), marked with an asterisk where that differs from the plain mean. A number of
another protocol is shown with no difference, and the cell says which protocol it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wetok_bench.metrics.aggregate import official_value
from wetok_bench.metrics.base import ResultKey
from wetok_bench.metrics.registry import metric_names, summary_keys
from wetok_bench.report.leaderboard import Row
from wetok_bench.report.tables import Cell, Table, format_number
from wetok_bench.results.baselines import (
    OTHER_PROTOCOL,
    PAPER_DATASETS,
    PublishedRecord,
    PublishedSet,
    match_model,
    result_paper_dataset,
)
from wetok_bench.results.records import json_float

NOT_PUBLISHED = "not published"
NOT_RUN = "not run"
#: marks an "ours" value aggregated as the source's script aggregates (not the plain mean)
OFFICIAL_MARK = "*"


def _protocol(name: str | None):
    """The registered protocol called ``name``, or None (``other``, unknown, a missing plug-in)."""
    from wetok_bench.protocols import PROTOCOLS, get_protocol

    return get_protocol(name) if name and name != OTHER_PROTOCOL and name in PROTOCOLS else None


def comparable(ours: str | None, published: str) -> bool:
    """Whether a number measured under protocol ``ours`` can be set against one published under
    ``published``: both registered and of the same convention."""
    mine, theirs = _protocol(ours), _protocol(published)
    return mine is not None and theirs is not None and mine.convention == theirs.convention


def aggregated_as(row: Row, metric: str, value: float | None, protocol_name: str) -> tuple[float | None, bool]:
    """Our ``metric`` as the script of protocol ``protocol_name`` reports it: its ``official``
    rule over our per-image values when it has one for the metric (then True), else ``value``."""
    protocol = _protocol(protocol_name)
    official = getattr(protocol, "official", None)
    if official is None or metric not in official.metrics or value is None:
        return value, False
    try:
        frame = row.job.per_image()
    except (OSError, ValueError):
        return value, False
    if metric not in frame.columns or frame[metric].isna().any():
        return value, False
    return official_value(frame[metric].to_numpy(dtype=float), official, metric), True


@dataclass
class PaperRow:
    """One tokenizer in a paper table: measured values (None: not measured) and published records."""

    label: str
    model: str | None
    ratio: float | None
    measured: dict[str, float | None] | None
    published: dict[str, PublishedRecord] = field(default_factory=dict)
    #: the measured job's leaderboard row (None for a published model not run)
    source: Row | None = None


@dataclass
class PaperTable:
    """A paper-style table for one dataset, resolution and (measured) protocol."""

    dataset: str
    resolution: int | str  # pixels per side, or "original"
    protocol: str | None
    rows: list[PaperRow]
    pending: list[tuple[str, str]] = field(default_factory=list)
    measured_on: list[str] = field(default_factory=list)  # "dataset (N images)" of the measured rows


def paper_keys() -> list[ResultKey]:
    """The headline result key (named after its metric) of every registered metric, in the
    registry's column order: the columns a paper table may have."""
    names = set(metric_names())
    return [key for key in summary_keys() if key.name in names]


def _measured(row: Row) -> dict[str, float | None]:
    """Each metric's value in the job: the leaderboard row's (mean over images, rFID), else the
    summary's mean (a metric the leaderboard has no column for); None when not measured."""
    metrics = row.job.summary.get("metrics") or {}
    values: dict[str, float | None] = {}
    for key in paper_keys():
        if key.name in row.stats:
            values[key.name] = row.value(key.name)
        else:
            values[key.name] = json_float(metrics[key.name]) if metrics.get(key.name) is not None else None
    return values


def build_paper_tables(rows: list[Row], published: PublishedSet, *, measured_only: bool = False) -> list[PaperTable]:
    """Paper tables for every (dataset, resolution) that has a measured or a published number.

    ``measured_only``: only the tables a job matches (its dataset is a paper dataset, at the
    table's resolution; one table per protocol measured), as the report shows them.
    """
    by_key: dict[tuple, list[PublishedRecord]] = {}
    for record in published.records:
        by_key.setdefault((record.dataset, record.resolution), []).append(record)
    measured: dict[tuple, list[Row]] = {}
    for row in rows:
        dataset = result_paper_dataset(row.job.summary)
        resolution = row.job.summary.get("resolution")
        if dataset in PAPER_DATASETS and (isinstance(resolution, int) or resolution == "original"):
            protocol = (row.job.summary.get("protocol") or {}).get("name", "?")
            measured.setdefault((dataset, resolution, protocol), []).append(row)
    keys = set(measured)
    if not measured_only:
        keys |= {(d, r, None) for (d, r) in by_key if not any(k[:2] == (d, r) for k in measured)}
    tables = []
    for dataset, resolution, protocol in sorted(keys, key=lambda k: (list(PAPER_DATASETS).index(k[0]), _resolution_order(k[1]), k[2] or "")):
        records = by_key.get((dataset, resolution), [])
        members = measured.get((dataset, resolution, protocol), [])
        measured_on = sorted({f"{(r.job.summary.get('dataset') or {}).get('name', '?')} ({r.images} images)" for r in members})
        tables.append(
            PaperTable(
                dataset=dataset,
                resolution=resolution,
                protocol=protocol,
                rows=_paper_rows(members, records),
                pending=list(published.pending),
                measured_on=measured_on,
            )
        )
    return tables


def _resolution_order(resolution: int | str) -> tuple[int, int]:
    """Fixed sizes in increasing order, then "original"."""
    return (1, 0) if resolution == "original" else (0, int(resolution))


def resolution_label(resolution: int | str) -> str:
    """``256x256`` or ``original resolution``."""
    return "original resolution" if resolution == "original" else f"{resolution}x{resolution}"


def _paper_rows(rows: list[Row], records: list[PublishedRecord]) -> list[PaperRow]:
    published_by_model: dict[str, dict[str, PublishedRecord]] = {}
    for record in records:
        published_by_model.setdefault(record.model, {}).setdefault(record.metric, record)
    out: list[PaperRow] = []
    matched: set[str] = set()
    for row in rows:
        model = match_model(row.job.summary, set(published_by_model))
        if model:
            matched.add(model)
        out.append(
            PaperRow(
                label=row.tokenizer,
                model=model,
                ratio=row.ratio,
                measured=_measured(row),
                published=published_by_model.get(model, {}) if model else {},
                source=row,
            )
        )
    for model, metrics in published_by_model.items():
        if model in matched:
            continue
        first = next(iter(metrics.values()))
        ratio = next((r.compression_ratio for r in metrics.values() if r.compression_ratio), None)
        out.append(PaperRow(label=first.label, model=model, ratio=ratio, measured=None, published=metrics))
    out.sort(key=lambda r: (r.ratio is None, r.ratio or 0.0, r.label.lower()))
    return out


def pending_notes(pending: list[tuple[str, str]]) -> list[str]:
    """One line per published table not transcribed yet (shown once under all paper tables)."""
    return [f"Not available here: {what} ({citation})." for citation, what in pending]


def paper_table(table: PaperTable, *, with_pending: bool = True) -> Table:
    """The display table: Method, Ratio, then ours / published / difference per metric.

    ``with_pending``: end the notes with :func:`pending_notes` (the report prints them once,
    under all tables, instead).
    """
    sources: dict[str, int] = {}
    source_text: dict[str, str] = {}
    headers = ["Method", "Ratio"]
    numeric = [False, True]
    shown = [key for key in paper_keys() if any(
        key.name in row.published or (row.measured or {}).get(key.name) is not None for row in table.rows)]
    for key in shown:
        label = key.label or key.name
        headers += [f"{label} ours", f"{label} published", f"{label} diff"]
        numeric += [True, True, True]
    body: list[list[Cell]] = []
    marked = other = False
    for row in table.rows:
        cells = [Cell(row.label, row.label), Cell(format_number(row.ratio, 1), row.ratio)]
        for key in shown:
            metric, decimals = key.name, key.decimals
            ours = None if row.measured is None else row.measured.get(metric)
            record = row.published.get(metric)
            like = record is not None and comparable(table.protocol, record.protocol)
            official = False
            if like and row.source is not None:
                ours, official = aggregated_as(row.source, metric, ours, record.protocol)
            marked |= official
            if row.measured is None:
                cells.append(Cell(NOT_RUN, None))
            else:
                cells.append(Cell(format_number(ours, decimals), ours, mark=OFFICIAL_MARK if official else ""))
            if record is None:
                cells.append(Cell(NOT_PUBLISHED, None))
                cells.append(Cell("–", None))
                continue
            number = sources.setdefault(record.source, len(sources) + 1)
            source_text[record.source] = f"{record.citation}, {record.url}. Protocol: {record.protocol_notes}"
            cells.append(Cell(f"{format_number(record.value, decimals)} [{number}]", record.value))
            if not like:  # another convention: the number is shown, not subtracted
                other |= row.measured is not None
                cells.append(Cell(f"under {record.protocol}", None))
            elif ours is None:
                cells.append(Cell("–", None))
            else:
                diff = ours - record.value
                cells.append(Cell(("+" if diff > 0 else "") + format_number(diff, decimals), diff))
        body.append(cells)
    protocol = f"measured under protocol {table.protocol}" if table.protocol else "nothing measured yet"
    notes = [f"diff = ours - published, only where the published number was produced under the convention ours "
             f"was measured with (ours {protocol})."]
    if marked:
        notes.append(f"{OFFICIAL_MARK} ours aggregated as the source's evaluation script aggregates (its official "
                     "layout: ranks, batches, padding, pooled PSNR), for a like-with-like difference.")
    if other:
        notes.append("'under P': the published number was produced under protocol P, another convention (or "
                     f"'{OTHER_PROTOCOL}': an evaluation not replicated here); measure under P for a difference "
                     "(`protocol: [..., P]` in the suite).")
    if table.measured_on:
        notes.append("Ours measured on: " + ", ".join(table.measured_on) + ".")
    for source, number in sorted(sources.items(), key=lambda kv: kv[1]):
        notes.append(f"[{number}] {source_text[source]}")
    unmatched = [r.label for r in table.rows if r.measured is not None and not r.model]
    if unmatched:
        notes.append(
            "No published record matches: " + ", ".join(unmatched)
            + " (set tokenizer.paper_name in the suite to match a published model name)."
        )
    if with_pending:
        notes += pending_notes(table.pending)
    # zero-shot for most sources, in-domain for some (each source's protocol note says which)
    title = f"{PAPER_DATASETS[table.dataset]} at {resolution_label(table.resolution)}, reconstruction"
    return Table(
        title=title,
        headers=headers,
        numeric=numeric,
        rows=body,
        notes=notes,
        table_id=f"paper-{table.dataset}-{table.resolution}-{table.protocol or 'published'}",
    )
