"""What each metric means, and how per-image values become one number per metric.

Every reported metric is described in :data:`METRICS` (direction, unit, definition), like
lm-eval's ``higher_is_better`` table; reports and the regression check read the direction here.

Aggregation: the mean over images of the per-image values (never a mean of batch means).

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
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of a reported metric.

    Attributes:
        name: key in results (``psnr``, ``ssim``, ``lpips``, ``lpips_vgg``, ``rfid``).
        higher_is_better: direction of improvement.
        unit: unit of the value (``dB`` or ``""`` for unitless).
        description: what the value is.
        per_image: True when the metric is defined per image and averaged; False for set
            metrics (rFID).
    """

    name: str
    higher_is_better: bool
    unit: str
    description: str
    per_image: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("psnr", True, "dB", "peak signal-to-noise ratio on uint8 images, data range 255; mean over images"),
        MetricInfo("ssim", True, "", "structural similarity (window per protocol), per channel then averaged; mean over images"),
        MetricInfo("lpips", False, "", "LPIPS v0.1 with the protocol's first backbone (AlexNet); mean over images"),
        MetricInfo("lpips_vgg", False, "", "LPIPS v0.1 with the VGG16 backbone; mean over images"),
        MetricInfo("rfid", False, "", "Frechet Inception distance between reconstructions and originals", per_image=False),
    ]
}

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
