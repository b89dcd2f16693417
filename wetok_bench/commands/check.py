"""Regression gate: compare results with a recorded baseline (``wetok-bench check``).

For every baseline entry (tokenizer, dataset, resolution) and every metric it records, the
result's value is compared with the recorded one. Only a change in the worse direction counts
(``higher_is_better`` from the baseline's ``metric_info``, else the result's, else the metric
registry). A change is a regression when::

    worsening > max(abs_tol, rel_tol * |baseline value|)

so a worsening exactly at the tolerance holds (a 1e-12 relative slack absorbs float rounding).
With ``significance=alpha`` (``--significance 0.05``) a per-image metric's worsening beyond the
tolerance must also be significant: the paired test of the baseline's per-image values against
the result's on the same images (:mod:`wetok_bench.results.paired`: two-sided Wilcoxon
signed-rank test) must give ``p < alpha``; otherwise the row is ``not-significant`` and does
not fail. A baseline without per-image values (recorded before they were kept) keeps the
regression, with a note. Set metrics (rFID, KID, ...) have no per-image values: tolerance only.

Outcomes and exit codes:

* 0: every entry holds (unchanged, within tolerance, or better).
* 1: at least one regression, or a baseline entry without a result (job not run, job failed,
  or metric missing): a gate must not pass because a tokenizer silently stopped running; or a
  job that measured another number of images than the baseline recorded (``counts.images``:
  e.g. a file became unreadable and was skipped), named with both counts, because its means
  are then over another set of images. Baselines recorded before counts were kept carry no
  ``images``; their counts are not compared and the report says so in a note.
  Results not in the baseline are listed as "new" and do not fail; so is a metric a result has
  that its baseline entry does not record (measured, not gated).
* 2 (:class:`UsageError`): unusable input: results or baseline missing or garbled, duplicate
  results for one entry, or a result measured under a different protocol fingerprint than the
  baseline recorded (the numbers would not be comparable).

Values: ``summary.metrics`` (the runner's means), ``summary.rfid.rfid`` and
``summary.compression.bits_per_image``; ``--record`` keeps those whose direction is known
(``metric_info`` or the built-in table), leaving auxiliary numbers such as counts out. ``inf`` (lossless PSNR) equals ``inf``; ``nan`` always
fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.registry import higher_is_better
from wetok_bench.results.baselines import index_results, load_recorded
from wetok_bench.results.records import JobResult, json_float, load_results
from wetok_bench.results.values import result_values


@dataclass(frozen=True)
class Tolerance:
    """Allowed worsening: ``max(abs, rel * |baseline|)`` in the metric's unit."""

    abs: float = 0.0
    rel: float = 0.0

    def allowed(self, baseline: float) -> float:
        scale = abs(baseline) if math.isfinite(baseline) else 0.0
        return max(self.abs, self.rel * scale)


def default_tolerance(metric: str) -> Tolerance:
    """The tolerance the metric registry gives ``metric`` (:attr:`ResultKey.tolerance`: tight
    enough to catch a real change, loose enough for library-version noise); a key the registry
    does not know gets the registry's default."""
    from wetok_bench.metrics.base import ResultKey
    from wetok_bench.metrics.registry import key_info

    info = key_info(metric) or ResultKey(metric, True)
    return Tolerance(*info.tolerance)


_SLACK = 1e-12


def parse_tolerances(specs: Iterable[str]) -> dict[str, Tolerance]:
    """``["psnr=0.1", "rfid=0.5,0.05"]`` -> tolerances (``METRIC=ABS[,REL]``); bad specs are a UsageError."""
    parsed: dict[str, Tolerance] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        parts = value.split(",")
        try:
            if not sep or not name.strip() or len(parts) > 2:
                raise ValueError
            numbers = [float(p) for p in parts]
            if any(n < 0 or not math.isfinite(n) for n in numbers):
                raise ValueError
        except ValueError:
            raise UsageError(f"--tolerance {spec!r}: expected METRIC=ABS[,REL] with non-negative numbers, e.g. psnr=0.1 or rfid=0.5,0.05") from None
        parsed[name.strip()] = Tolerance(abs=numbers[0], rel=numbers[1] if len(numbers) == 2 else 0.0)
    return parsed


@dataclass
class CheckRow:
    """One compared number."""

    tokenizer: str
    dataset: str
    resolution: str
    metric: str
    baseline: float | None
    result: float | None
    allowed: float | None
    status: str  # ok | better | regression | not-significant | missing | new | count (image count differs)
    detail: str = ""

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.result is None:
            return None
        if self.baseline == self.result:
            return 0.0
        return self.result - self.baseline

    @property
    def moved(self) -> bool:
        return self.status in (*FAILING, "new") or (self.delta not in (None, 0.0))


#: Row statuses that fail the gate.
FAILING = ("regression", "missing", "count")


@dataclass
class CheckReport:
    """Outcome of a check: rows, and the exit code they imply."""

    baseline: Path
    rows: list[CheckRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckRow]:
        return [r for r in self.rows if r.status in FAILING]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def to_text(self) -> str:
        """A plain-text table of what moved, and a one-line verdict."""
        moved = [r for r in self.rows if r.moved]
        header = ("status", "tokenizer", "dataset", "res", "metric", "baseline", "result", "delta", "allowed")
        lines = [header] + [
            (r.status.upper() if r.status in FAILING else r.status, r.tokenizer, r.dataset,
             r.resolution, r.metric, _fmt(r.baseline), _fmt(r.result), _fmt(r.delta, signed=True), _fmt(r.allowed))
            for r in moved
        ]
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines] if moved else []
        for r in moved:
            if r.detail:
                text.append(f"  {r.tokenizer}/{r.dataset}/{r.metric}: {r.detail}")
        text += [f"note: {note}" for note in self.notes]
        unchanged = len(self.rows) - len(moved)
        verdict = "FAIL" if self.failures else "PASS"
        text.append(
            f"{verdict}: {len(self.failures)} failing, {len(moved)} moved, {unchanged} unchanged "
            f"(baseline {self.baseline})"
        )
        return "\n".join(text) + "\n"

    def to_markdown(self) -> str:
        """A Markdown summary for a CI job summary (e.g. ``$GITHUB_STEP_SUMMARY``)."""
        verdict = ":x: FAIL" if self.failures else ":white_check_mark: PASS"
        out = [f"## wetok-bench check: {verdict}", "",
               f"Baseline `{self.baseline}`: {len(self.rows)} numbers compared, "
               f"{len(self.failures)} failing, {sum(r.moved for r in self.rows)} moved.", ""]
        moved = [r for r in self.rows if r.moved]
        if moved:
            out += ["| status | tokenizer | dataset | res | metric | baseline | result | delta | allowed |",
                    "|:--|:--|:--|--:|:--|--:|--:|--:|--:|"]
            for r in sorted(moved, key=lambda r: (r.status not in FAILING, r.tokenizer, r.metric)):
                status = f"**{r.status}**" if r.status in FAILING else r.status
                out.append(f"| {status} | {r.tokenizer} | {r.dataset} | {r.resolution} | {r.metric} | "
                           f"{_fmt(r.baseline)} | {_fmt(r.result)} | {_fmt(r.delta, signed=True)} | {_fmt(r.allowed)} |")
            details = [f"- {r.tokenizer} / {r.dataset} / {r.metric}: {r.detail}" for r in moved if r.detail]
            if details:
                out += [""] + details
        else:
            out.append("Nothing moved.")
        if self.notes:
            out += [""] + [f"Note: {note}" for note in self.notes]
        return "\n".join(out) + "\n"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    text = f"{value:+.6g}" if signed else f"{value:.6g}"
    return text


def _direction(metric: str, entry: dict, job: JobResult | None) -> bool:
    for info in (entry.get("metric_info") or {}, (job.summary.get("metric_info") if job else None) or {}):
        value = (info.get(metric) or {}).get("higher_is_better")
        if isinstance(value, bool):
            return value
    registered = higher_is_better(metric)
    if registered is not None:
        return registered
    raise UsageError(f"metric {metric!r}: no higher_is_better in the baseline or the results; cannot tell worse from better")


def compare_value(baseline: float, result: float, higher_is_better: bool, tolerance: Tolerance) -> tuple[str, float]:
    """(status, allowed worsening) of one number: ``ok``, ``better`` or ``regression``."""
    allowed = tolerance.allowed(baseline)
    if math.isnan(result):
        return "regression", allowed
    if result == baseline:
        return "ok", allowed
    worsening = (baseline - result) if higher_is_better else (result - baseline)
    if math.isnan(worsening):  # inf - inf of the same sign is handled above; this is -inf vs inf
        return "regression", allowed
    if worsening > allowed + _SLACK * max(1.0, abs(baseline) if math.isfinite(baseline) else 1.0):
        return "regression", allowed
    return ("better" if worsening < 0 else "ok"), allowed


def check_results(
    results_paths: Iterable[str | Path],
    baseline_path: str | Path,
    *,
    tolerances: dict[str, Tolerance] | None = None,
    significance: float | None = None,
) -> CheckReport:
    """Compare results with a recorded baseline; see the module doc for the rules."""
    if significance is not None and not 0.0 < significance < 1.0:
        raise UsageError(f"--significance must be a level in (0, 1), e.g. 0.05; got {significance}")
    baseline = load_recorded(Path(baseline_path))
    jobs = index_results(load_results(list(results_paths)))
    tolerances = tolerances or {}
    report = CheckReport(baseline=Path(baseline_path))
    seen: set[tuple] = set()
    uncounted = 0
    for entry in baseline["entries"]:
        key = (str(entry["tokenizer"]), str(entry["dataset"]), str(entry["resolution"]))
        seen.add(key)
        job = jobs.get(key)
        if job is not None:
            recorded = entry["protocol"]["fingerprint"]
            found = (job.summary.get("protocol") or {}).get("fingerprint")
            if found != recorded:
                raise UsageError(
                    f"{job.folder}: protocol fingerprint {found!r} differs from the baseline's {recorded!r} "
                    f"for {'/'.join(key)}: results under another protocol are not comparable; re-record the baseline"
                )
        status_failed = job is not None and job.summary.get("status", "ok") != "ok"
        values = result_values(job.summary) if job is not None and not status_failed else {}
        skipped = (job.summary.get("skipped_metrics") or {}) if job is not None else {}
        if "images" not in entry or entry["images"] is None:
            uncounted += 1
        elif job is not None and not status_failed:
            count_row = _count_row(key, entry["images"], job)
            if count_row is not None:
                report.rows.append(count_row)
        for metric, recorded_value in entry["metrics"].items():
            base_value = json_float(recorded_value)
            row = CheckRow(*key, metric=metric, baseline=base_value, result=None, allowed=None, status="missing")
            if job is None:
                row.detail = "no result for this baseline entry (job not run?)"
            elif status_failed:
                row.detail = f"job failed: {job.summary.get('error', 'no error recorded')}"
            elif metric not in values:
                row.detail = f"metric not in results ({skipped.get(metric, 'not computed')})"
            else:
                row.result = values[metric]
                higher = _direction(metric, entry, job)
                row.status, row.allowed = compare_value(base_value, row.result, higher,
                                                          tolerances.get(metric) or default_tolerance(metric))
                if row.status == "regression":
                    row.detail = f"worse ({'higher' if higher else 'lower'} is better) by more than {_fmt(row.allowed)}"
                    if significance is not None:
                        _test_significance(row, entry, job, significance)
            report.rows.append(row)
        # a number the job measured that the baseline does not gate is listed, as a new job is
        for metric in sorted(set(values) - set(entry["metrics"])):
            if higher_is_better(metric) is not None:
                report.rows.append(CheckRow(*key, metric=metric, baseline=None, result=values[metric], allowed=None,
                                            status="new", detail="measured, not in the baseline (not gated)"))
    for key, job in sorted(jobs.items()):
        if key not in seen:
            report.rows.append(CheckRow(*key, metric="*", baseline=None, result=None, allowed=None, status="new",
                                        detail="result not in the baseline (not checked)"))
    if uncounted:
        report.notes.append(
            f"{uncounted} of {len(baseline['entries'])} baseline entries record no image count (recorded before "
            f"counts were kept): image counts not compared; re-record the baseline with `check --record` to gate them"
        )
    return report


def _test_significance(row: CheckRow, entry: dict, job: JobResult, alpha: float) -> None:
    """Keep a regression only when the paired test on the same images says it is significant."""
    from wetok_bench.metrics.registry import key_info
    from wetok_bench.results.paired import match_keys, paired_difference

    info = key_info(row.metric)
    if info is None or not info.per_image:
        row.detail += "; a set metric: no per-image values, tolerance only"
        return
    recorded = entry.get("per_image") or {}
    if row.metric not in (recorded.get("values") or {}):
        row.detail += "; the baseline has no per-image values (re-record it): significance not tested"
        return
    try:
        frame = job.per_image()
    except (OSError, ValueError):
        row.detail += f"; {job.folder}/per_image.csv unreadable: significance not tested"
        return
    base = [json_float(v) for v in recorded["values"][row.metric]]
    ours, theirs, _ = match_keys([str(k) for k in frame["key"]], list(frame[row.metric]), recorded["keys"], base)
    test = paired_difference(theirs, ours)
    p = test.p_wilcoxon
    interval = f"[{_fmt(test.low)}, {_fmt(test.high)}]" if test.low is not None else "no interval"
    if p is not None and p < alpha:
        row.detail += f"; significant: Wilcoxon p = {p:.2g} < {alpha:g} over {test.n} paired images, {interval}"
        return
    row.status = "not-significant"
    row.detail += (f"; not significant at {alpha:g}: Wilcoxon p = {'-' if p is None else f'{p:.2g}'} over {test.n} "
                   f"paired images (difference {interval}): not failing")


def _count_row(key: tuple, recorded: object, job: JobResult) -> CheckRow | None:
    """A failing row when the job measured another number of images than the baseline, else None."""
    counts = job.summary.get("counts") or {}
    found = counts.get("images")
    try:
        expected = int(recorded)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"baseline entry {'/'.join(key)}: images = {recorded!r} is not a count") from None
    if found == expected:
        return None
    skipped = counts.get("skipped")
    why = f"; {skipped} file(s) skipped, see skipped_files in {job.folder / 'summary.json'}" if skipped else ""
    return CheckRow(
        *key, metric="images", baseline=float(expected), result=None if found is None else float(found),
        allowed=0.0, status="count",
        detail=f"measured {found if found is not None else 'an unrecorded number of'} images, the baseline {expected}: "
        f"its means are over other images{why}",
    )
