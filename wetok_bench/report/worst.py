"""The images that are worst across tokenizers, for one worst-k grid per leaderboard.

Each job saves its own worst k by the rank metric (:mod:`.grids`); shown job by job, a suite's
tokenizers mostly repeat the same photos. Here the candidates (every image some job flagged as
worst) are ordered by their mean rank over the tokenizers: in each job's ``per_image.csv`` the
images are ranked by the rank metric, worst first, and the rank is scaled to [0, 1] (0: that
job's worst image). The first k (k: the most images any job flagged) form one grid with a
column per tokenizer. Identity jobs (lossless: PSNR inf, nothing to see) are left out, of the
fixed-image grid too. A tokenizer that did not save an image gets a grey tile, named in the
caption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from wetok_bench.metrics.registry import higher_is_better
from wetok_bench.report.leaderboard import Row

#: Grey of a tile whose image the tokenizer did not save.
MISSING_TILE = 200


@dataclass
class WorstImage:
    """One image of the cross-tokenizer worst set: mean scaled rank (0 = worst everywhere)."""

    key: str
    mean_rank: float
    flagged: int  # jobs that had it among their own worst k
    tokenizers: int  # jobs it was ranked in


def shown_rows(loaded: Sequence[tuple[Row, str, list]]) -> list[tuple[Row, str, list]]:
    """The loaded grid jobs worth showing: every one but identity tokenizers."""
    return [item for item in loaded if item[0].kind != "identity"]


def _higher_is_better(row: Row, metric: str) -> bool:
    info = (row.job.summary.get("metric_info") or {}).get(metric) or {}
    if isinstance(info.get("higher_is_better"), bool):
        return info["higher_is_better"]
    return bool(higher_is_better(metric))


def scaled_ranks(row: Row, metric: str) -> dict[str, float]:
    """key -> rank of the image in the job by ``metric``, worst first, scaled to [0, 1]."""
    try:
        frame = row.job.per_image()
    except (OSError, ValueError):
        return {}
    if frame is None or metric not in frame.columns:
        return {}
    values = frame[["key", metric]].dropna()
    if values.empty:
        return {}
    # worst first: ascending when higher is better; ties keep the file order (stable sort)
    ordered = values.sort_values(metric, ascending=_higher_is_better(row, metric), kind="stable")
    n = len(ordered)
    return {str(k): (i / (n - 1) if n > 1 else 0.0) for i, k in enumerate(ordered["key"])}


def worst_across(loaded: Sequence[tuple[Row, str, list]]) -> tuple[str, list[WorstImage]]:
    """(rank metric, the worst images across the jobs, worst first); ``("", [])`` without candidates."""
    metrics = [metric for _, metric, _ in loaded if metric]
    if not metrics:
        return "", []
    metric = max(set(metrics), key=metrics.count)
    k = max(sum(1 for g in images if g.worst) for _, _, images in loaded)
    flagged: dict[str, int] = {}
    for _, _, images in loaded:
        for g in images:
            if g.worst:
                flagged[g.key] = flagged.get(g.key, 0) + 1
    ranks = [scaled_ranks(row, metric) for row, _, _ in loaded]
    worst = []
    for key, count in flagged.items():
        mine = [r[key] for r in ranks if key in r]
        worst.append(WorstImage(key, float(np.mean(mine)) if mine else math.inf, count, len(mine)))
    worst.sort(key=lambda w: (w.mean_rank, -w.flagged, w.key))
    return metric, worst[:k]


def grid_columns(loaded: Sequence[tuple[Row, str, list]], keys: Sequence[str]):
    """(originals, [(tokenizer, reconstructions)], names of tokenizers that lack an image).

    Missing reconstructions are grey tiles of the original's size.
    """
    originals = []
    for key in keys:
        original = next(g.original for _, _, images in loaded for g in images if g.key == key)
        originals.append(original)
    columns, lacking = [], []
    for row, _, images in loaded:
        saved = {g.key: g.recon for g in images}
        tiles = []
        for key, original in zip(keys, originals):
            if key in saved and saved[key].shape == original.shape:
                tiles.append(saved[key])
            else:
                tiles.append(np.full_like(original, MISSING_TILE))
                lacking.append(f"{row.tokenizer} ({key})")
        columns.append((row.tokenizer, tiles))
    return originals, columns, lacking
