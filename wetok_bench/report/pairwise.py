"""Pairwise comparisons: for each pair of jobs in a leaderboard (same dataset, resolution and
protocol, hence the same images), whether their difference in each per-image metric is resolved
(:mod:`wetok_bench.results.paired`: paired bootstrap interval, sign test, Wilcoxon signed-rank
test, and the images a difference of that size needs).

One table per leaderboard with two jobs or more: one row per pair (A, B in the leaderboard's
order), per metric the difference ``B - A`` with its interval, marked ``*`` where the interval
excludes 0 (resolved), the Wilcoxon p-value, and the images needed to resolve a difference of
the observed size (80 % power). A note per metric says how many images a difference of the
``check`` tolerance needs, from the median spread of the pairs.

Set metrics (rFID, KID, FD-DINOv2, CMMD) get a column too when both jobs kept their networks'
per-image features (suite ``keep_features: true``, :mod:`wetok_bench.results.features`): the
difference with the interval of a paired bootstrap over the same resampled images for both jobs
and the reference (:func:`~wetok_bench.results.paired.paired_set_bootstrap`, ``set_resamples``
replicates; each replicate computes the metric twice, a Frechet distance at d = 2048 takes about a
second on a CPU for 50,000 images).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.registry import get_metric, summary_keys
from wetok_bench.report.leaderboard import Leaderboard, Row
from wetok_bench.report.tables import Cell, Table, format_number
from wetok_bench.results.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED
from wetok_bench.results.features import read_features
from wetok_bench.results.paired import (
    DEFAULT_POWER,
    PairedDifference,
    SetDifference,
    images_needed,
    match_keys,
    paired_difference,
    paired_set_bootstrap,
)

#: replicates of the paired set-metric bootstrap (each computes the metric twice)
DEFAULT_SET_RESAMPLES = 100

RESOLVED_MARK = "*"


def _frame(row: Row):
    try:
        return row.job.per_image()
    except (OSError, ValueError):
        return None


def pairwise_table(board: Leaderboard, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   confidence: float = DEFAULT_CONFIDENCE, set_resamples: int = DEFAULT_SET_RESAMPLES) -> Table | None:
    """The pairwise table of one leaderboard (None with fewer than two jobs with per-image rows)."""
    frames = [(row, _frame(row)) for row in board.rows]
    frames = [(row, frame) for row, frame in frames if frame is not None and "key" in frame.columns]
    if len(frames) < 2:
        return None
    keys = [key for key in summary_keys() if key.per_image and all(key.name in f.columns for _, f in frames)]
    set_keys = [key for key in summary_keys() if not key.per_image and _set_features(key.name, frames[0][0]) is not None
                and all(_set_features(key.name, row) is not None for row, _ in frames)]
    if not keys and not set_keys:
        return None
    headers, numeric = ["A", "B"], [False, False]
    for key in keys:
        label = key.label or key.name
        headers += [f"Δ {label} (B - A)", f"p {label}", f"images for Δ {label}"]
        numeric += [True, True, True]
    for key in set_keys:
        headers.append(f"Δ {key.label or key.name} (B - A)")
        numeric.append(True)
    rows, spreads, differences = [], {key.name: [] for key in keys}, []
    for (row_a, frame_a), (row_b, frame_b) in combinations(frames, 2):
        cells = [Cell(row_a.tokenizer, row_a.tokenizer), Cell(row_b.tokenizer, row_b.tokenizer)]
        for key in keys:
            a, b, unmatched = match_keys(list(frame_a["key"]), list(frame_a[key.name]),
                                         list(frame_b["key"]), list(frame_b[key.name]))
            result = paired_difference(a, b, n_resamples=n_resamples, seed=seed, confidence=confidence)
            differences.append(result)
            if result.sd is not None:
                spreads[key.name].append(result.sd)
            cells += _cells(result, key.decimals)
        for key in set_keys:
            cells.append(_set_cell(key, row_a, row_b, set_resamples, seed, confidence))
        rows.append(cells)
    notes = [
        f"Δ = B - A over the images both jobs measured, with its {confidence:.0%} percentile-bootstrap interval "
        f"({n_resamples} resamples of the paired differences, seed {seed}); {RESOLVED_MARK}: the interval excludes 0, "
        "the difference is resolved. p: two-sided Wilcoxon signed-rank test (zero differences left out; the sign "
        "test is in the JSON of each comparison). images for Δ: the images a difference of that size needs to be "
        f"resolved at {1 - confidence:.0%} two-sided with {DEFAULT_POWER:.0%} power, from the spread of these differences.",
    ]
    for key in keys:
        if spreads[key.name] and key.tolerance[0] > 0:
            spread = float(np.median(spreads[key.name]))
            needed = images_needed(spread, key.tolerance[0], alpha=1 - confidence)
            unit = f" {key.unit}" if key.unit else ""
            if needed is not None:
                notes.append(f"{key.label or key.name}: a difference of {key.tolerance[0]:g}{unit} (check's tolerance) "
                             f"needs about {needed} images (median spread of these pairs: {spread:.3g}{unit}).")
    if set_keys:
        notes.append(f"{', '.join(k.label or k.name for k in set_keys)}: the difference with the {confidence:.0%} "
                     f"interval of a paired bootstrap ({set_resamples} replicates, seed {seed}) over the same "
                     f"resampled images for both jobs and the originals, from the per-image features the jobs kept "
                     f"(keep_features); {RESOLVED_MARK}: resolved.")
    infinite = sum(d.n_infinite for d in differences)
    if infinite:
        notes.append(f"{infinite} image pair(s) with an infinite value (lossless PSNR) are left out of the differences.")
    return Table(title=f"{board.title}: pairwise", headers=headers, numeric=numeric, rows=rows, notes=notes,
                 table_id=f"pairwise-{board.slug}")


def _cells(result: PairedDifference, decimals: int) -> list[Cell]:
    if result.n == 0:
        return [Cell("–", None), Cell("–", None), Cell("–", None)]
    delta = ("+" if result.mean > 0 else "") + format_number(result.mean, decimals + 1)
    if result.low is not None:
        delta += f" [{format_number(result.low, decimals + 1)}, {format_number(result.high, decimals + 1)}]"
    p = result.p_wilcoxon
    needed = result.images_needed()
    return [Cell(delta, result.mean, mark=RESOLVED_MARK if result.resolved else ""),
            Cell("–" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4"), p),
            Cell("–" if needed is None else str(needed), needed if needed is not None else math.inf)]


def _set_features(metric: str, row: Row):
    """``(metric class, protocol, network features)`` of a set metric a job kept features for, or None."""
    from wetok_bench.protocols import PROTOCOLS, get_protocol

    name = (row.job.summary.get("protocol") or {}).get("name")
    if name not in PROTOCOLS:
        return None
    try:
        cls = get_metric(metric)
    except Exception:  # noqa: BLE001 - a metric of a plug-in not installed here
        return None
    protocol = get_protocol(name)
    network = cls.extractor(protocol) if hasattr(cls, "extractor") else None
    kept = read_features(row.job.folder, network) if network else None
    return None if kept is None else (cls, protocol, kept)


def _set_cell(key, row_a: Row, row_b: Row, n_resamples: int, seed: int, confidence: float) -> Cell:
    cls, protocol, (keys_a, recon_a, original_a) = _set_features(key.name, row_a)
    _, _, (keys_b, recon_b, _) = _set_features(key.name, row_b)
    position = {k: i for i, k in enumerate(keys_b)}
    common = [(i, position[k]) for i, k in enumerate(keys_a) if k in position]
    if len(common) < 2:
        return Cell("–", None)
    index_a, index_b = (np.asarray(idx) for idx in zip(*common))
    settings = _recorded_settings(cls, row_a)

    def value(reference: np.ndarray, features: np.ndarray) -> float:
        return cls.value_from_features(protocol, reference, features, settings)

    try:
        result = paired_set_bootstrap(value, original_a[index_a], recon_a[index_a], recon_b[index_b],
                                      n_resamples=n_resamples, seed=seed, confidence=confidence)
    except UsageError:  # e.g. a KID subset larger than the images
        return Cell("–", None)
    return _set_difference_cell(result, key.decimals)


def _recorded_settings(cls, row: Row):
    """The metric's settings as the job recorded them (KID's subsets), None for its defaults."""
    recorded = ((row.job.manifest.get("metrics") or {}).get("metric_settings") or {}).get(cls.name)
    if recorded is None or cls.settings_key is None:
        return None
    try:
        return cls.parse_settings(recorded)
    except UsageError:
        return None


def _set_difference_cell(result: SetDifference, decimals: int) -> Cell:
    text = ("+" if result.difference > 0 else "") + format_number(result.difference, decimals + 1)
    text += f" [{format_number(result.low, decimals + 1)}, {format_number(result.high, decimals + 1)}]"
    return Cell(text, result.difference, mark=RESOLVED_MARK if result.resolved else "")
