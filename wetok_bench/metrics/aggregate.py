"""How per-image values become one number per metric (what each metric means: the metric
registry, :mod:`wetok_bench.metrics.registry`).

Aggregation: the mean over images of the per-image values (never a mean of batch means).
Under a protocol whose reference script reduces otherwise (``wetok``: 8 ranks x batch 100, mean
of batch means; ``open-magvit2-v1``: PSNR pooled per batch; ``llamagen``, ``dc-ae``: padded
duplicates counted), :func:`protocol_aggregates` adds the script's own aggregate
(``psnr_official``, ``ssim_official``, ...), so that a paper number can be compared digit for
digit; see its docstring.

PSNR of identical images is +inf. Policy: ``psnr`` is the plain mean over all images, so a
single identical pair makes it +inf (it is an honest statement that the error vanished on that
image, and hiding it would change the meaning of the mean); ``psnr_finite_mean`` is the mean
over the images with a finite PSNR (None when there are none) and ``psnr_inf_count`` how many
were excluded from it.

JSON: the standard forbids Infinity and NaN. :func:`jsonable` writes +inf / -inf as the strings
``"inf"`` / ``"-inf"`` (which ``float()`` reads back) and NaN as ``null``, everywhere, in summaries
and per-image rows alike.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np


KEY_PSNR_FINITE_MEAN = "psnr_finite_mean"
KEY_PSNR_INF_COUNT = "psnr_inf_count"


def summarize(rows: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Mean over images of each per-image metric in ``rows`` (name -> values of shape [N]).

    Returns ``{name: mean}`` (float, +inf possible for ``psnr``, None for an empty set), plus
    ``psnr_finite_mean`` and ``psnr_inf_count`` when ``psnr`` is present (see module docstring).
    Values are float64 means; the order of the input rows does not matter beyond rounding.
    """
    out: dict[str, Any] = {}
    for name, values in rows.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        out[name] = float(values.mean()) if values.size else None
        if name == "psnr":
            finite = values[np.isfinite(values)]
            out[KEY_PSNR_FINITE_MEAN] = float(finite.mean()) if finite.size else None
            out[KEY_PSNR_INF_COUNT] = int(np.isposinf(values).sum())
    return out


def official_batches(num_images: int, world_size: int, batch_size: int, padding: str = "strided") -> list[np.ndarray]:
    """Index batches of a distributed evaluation loop over the sorted image list.

    ``strided``: ``DataLoader(batch_size, sampler=DistributedSampler(shuffle=False,
    drop_last=False))``: the index list is padded cyclically to a multiple of ``world_size``
    (images ``0, 1, ...`` are seen twice when ``num_images`` is not divisible) and rank ``r``
    takes every ``world_size``-th index from ``r``. ``contiguous``: the same padded list, rank
    ``r`` taking the ``r``-th contiguous range of it (efficientvit's ``DistributedRangedSampler``).
    Each rank's loader cuts its indices into batches of ``batch_size`` (the last one short).
    Returns every rank's batches, rank 0 first.
    """
    if num_images < 1 or world_size < 1 or batch_size < 1:
        raise ValueError(f"need positive sizes, got {num_images=}, {world_size=}, {batch_size=}")
    if padding not in ("strided", "contiguous"):
        raise ValueError(f"unknown padding {padding!r} (known: strided, contiguous)")
    per_rank = -(-num_images // world_size)
    padded = np.resize(np.arange(num_images), per_rank * world_size)  # cyclic repetition, as the samplers pad
    batches = []
    for rank in range(world_size):
        shard = padded[rank::world_size] if padding == "strided" else padded[rank * per_rank : (rank + 1) * per_rank]
        batches.extend(shard[start : start + batch_size] for start in range(0, shard.size, batch_size))
    return batches


def pooled_psnr(psnr_db: np.ndarray) -> float:
    """PSNR of the mean MSE of images with these PSNRs (same size and data range):
    ``-10 log10(mean_i 10^(-PSNR_i / 10))``; +inf only when every image is identical."""
    mse = np.power(10.0, -np.asarray(psnr_db, dtype=np.float64) / 10.0)
    mean = float(mse.mean())
    return math.inf if mean == 0.0 else -10.0 * math.log10(mean)


def official_batch_mean(values: Sequence[float], world_size: int, batch_size: int) -> float:
    """Mean over all ranks' batches of each batch's mean (strided padding), as the official
    WeTok script reduces; padded duplicates count, and a short last batch weighs as much as a
    full one. Computed in float64."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return float(np.mean([values[batch].mean() for batch in official_batches(values.size, world_size, batch_size)]))


def official_value(values: Sequence[float], official: Any, metric: str) -> float:
    """The number a reference script prints for ``metric`` from per-image ``values`` (in the
    order of the sorted image list), under its :class:`~wetok_bench.protocols.base.OfficialAggregate`.

    ``batch-mean``: the mean over every rank's batches of each batch's value (the batch mean, or
    for a ``pooled`` PSNR the PSNR of the batch's mean MSE); ``image-mean``: the mean over every
    evaluated image, padded duplicates included. Computed in float64: a script's float32
    accumulation (about 1e-7 relative) is not reproduced.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    batches = official_batches(values.size, official.ranks, official.batch_size, official.padding)
    pooled = metric == "psnr" and official.psnr == "pooled"
    if official.reduce == "image-mean":
        if pooled:
            raise ValueError("a pooled PSNR is a per-batch value: use reduce='batch-mean'")
        return float(values[np.concatenate(batches)].mean())
    if official.reduce != "batch-mean":
        raise ValueError(f"unknown reduce {official.reduce!r} (known: batch-mean, image-mean)")
    batch_value = pooled_psnr if pooled else (lambda v: float(v.mean()))
    return float(np.mean([batch_value(values[batch]) for batch in batches]))


def protocol_aggregates(
    protocol: Any,
    per_image: Mapping[str, Sequence[float]],
    *,
    world_size: int | None = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Aggregates a protocol's reference script reports beside the mean over images.

    ``protocol`` is a :class:`~wetok_bench.protocols.MetricProtocol` or its name; ``per_image``
    maps metric names to per-image values in the order of the sorted image list. For a protocol
    with an ``official`` aggregate returns ``<metric>_official`` for each of its metrics present
    and non-empty (:func:`official_value`; ``world_size`` / ``batch_size`` override its layout,
    e.g. 8 x 125 for the official WeTok MS-COCO script). A protocol without one returns ``{}``.
    A +inf PSNR makes ``psnr_official`` +inf, as it does in the scripts.
    """
    if isinstance(protocol, str):
        from wetok_bench.protocols import get_protocol

        protocol = get_protocol(protocol)
    official = getattr(protocol, "official", None)
    if official is None:
        return {}
    if world_size is not None or batch_size is not None:
        official = replace(official, ranks=world_size or official.ranks, batch_size=batch_size or official.batch_size)
    out: dict[str, float] = {}
    for metric in official.metrics:
        values = per_image.get(metric)
        if values is not None and len(values):
            out[f"{metric}_official"] = official_value(values, official, metric)
    return out


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float made JSON-safe (``"inf"``, ``"-inf"``, ``None``).

    Recurses into dicts, lists and tuples; numpy and 0-d torch scalars become Python numbers.
    """
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    return value
