"""How per-image values become one number per metric (what each metric means: the metric
registry, :mod:`wetok_bench.metrics.registry`).

Aggregation: the mean over images of the per-image values (never a mean of batch means).
Under protocol ``wetok``, :func:`protocol_aggregates` adds the official WeTok script's own
aggregate of PSNR and SSIM (``psnr_official``, ``ssim_official``), so that a paper number can be
compared digit for digit; see its docstring.

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


# Protocols whose reference script aggregates per batch: name -> (ranks, images per batch per
# rank). The official WeTok scripts run `torchrun --nproc_per_node=8 ... --batch_size 100`
# (scripts/evaluation/imagenet_evaluation_256_dist.sh).
OFFICIAL_LAYOUTS: dict[str, tuple[int, int]] = {"wetok": (8, 100)}
OFFICIAL_KEYS: dict[str, str] = {"psnr": "psnr_official", "ssim": "ssim_official"}


def official_batches(num_images: int, world_size: int, batch_size: int) -> list[np.ndarray]:
    """Index batches of ``DataLoader(batch_size, sampler=DistributedSampler(shuffle=False, drop_last=False))``.

    The sampler pads the index list cyclically to a multiple of ``world_size`` (so images
    ``0, 1, ...`` are seen twice when ``num_images`` is not divisible), rank ``r`` takes every
    ``world_size``-th index from ``r``, and its loader cuts that into batches of ``batch_size``
    (the last one short). Returns every rank's batches, rank 0 first; indices into the sorted
    image list.
    """
    if num_images < 1 or world_size < 1 or batch_size < 1:
        raise ValueError(f"need positive sizes, got {num_images=}, {world_size=}, {batch_size=}")
    total = -(-num_images // world_size) * world_size
    padded = np.resize(np.arange(num_images), total)  # cyclic repetition, as the sampler pads
    batches = []
    for rank in range(world_size):
        shard = padded[rank::world_size]
        batches.extend(shard[start : start + batch_size] for start in range(0, shard.size, batch_size))
    return batches


def official_batch_mean(values: Sequence[float], world_size: int, batch_size: int) -> float:
    """Mean over all ranks' batches of each batch's mean, as the official WeTok script reduces.

    ``values`` are per-image values in the order of the sorted image list. Padded duplicates
    count, and a short last batch weighs as much as a full one. Computed in float64 (the script
    accumulates in float32 on the GPU and all-reduces with NCCL; that rounding, about 1e-6
    relative, is not reproduced).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    batches = official_batches(values.size, world_size, batch_size)
    return float(np.mean([values[batch].mean() for batch in batches]))


def protocol_aggregates(
    protocol: Any,
    per_image: Mapping[str, Sequence[float]],
    *,
    world_size: int | None = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Aggregates a protocol's reference script reports beside the mean over images.

    ``protocol`` is a :class:`~wetok_bench.protocols.MetricProtocol` or its name; ``per_image``
    maps metric names to per-image values in the order of the sorted image list. Under ``wetok``
    returns ``psnr_official`` and ``ssim_official`` (those of ``psnr`` / ``ssim`` present and
    non-empty): :func:`official_batch_mean` over the official 8-rank x batch-100 layout
    (``world_size`` / ``batch_size`` override it, e.g. 8 x 125 for the official MS-COCO script).
    Every other protocol returns ``{}``. A +inf PSNR makes ``psnr_official`` +inf, as it does
    in the script.
    """
    name = getattr(protocol, "name", protocol)
    if name not in OFFICIAL_LAYOUTS:
        return {}
    ranks, batch = OFFICIAL_LAYOUTS[name]
    ranks = world_size if world_size is not None else ranks
    batch = batch_size if batch_size is not None else batch
    out: dict[str, float] = {}
    for metric, key in OFFICIAL_KEYS.items():
        values = per_image.get(metric)
        if values is not None and len(values):
            out[key] = official_batch_mean(values, ranks, batch)
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
