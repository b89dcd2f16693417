"""Grid images of a job: the scored reconstructions of the grid images, kept during the pass.

The grid images are the suite's fixed set (``grids.keys``, else the first ``grids.count``
images; known before the pass) and the ``grids.worst_k`` images worst by the rank metric:
the measured per-image metric the registry prefers (:attr:`ResultKey.grid_rank`: LPIPS, else PSNR),
else the first other per-image metric measured, "worst" in the direction the metric registry gives it. While a shard is measured, :class:`GridPicker` keeps the uint8
originals and reconstructions of its fixed images and of its current worst k (a bounded running
selection), so the images saved are the very reconstructions that were scored, with no second
reconstruction. Every global worst-k image is among its shard's worst k, so selecting again
over the shards' candidates, in shard order, gives the worst k of the whole job (ties go to the
earlier image, as a stable sort of all rows would).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from wetok_bench.metrics.registry import higher_is_better, result_keys


@dataclass(frozen=True)
class GridSpec:
    """Which images a job's grids show: ``fixed`` keys and the ``worst_k`` worst by the rank metric."""

    fixed: tuple[str, ...] = ()
    worst_k: int = 0

    @classmethod
    def from_settings(cls, grids: Mapping[str, Any] | None, records: Sequence) -> "GridSpec":
        if not grids:
            return cls()
        keys = grids.get("keys") or [r.key for r in records[: int(grids.get("count") or 0)]]
        return cls(fixed=tuple(keys), worst_k=int(grids.get("worst_k") or 0))

    @property
    def enabled(self) -> bool:
        return bool(self.fixed) or self.worst_k > 0

    def as_dict(self) -> dict:
        return {"fixed": list(self.fixed), "worst_k": self.worst_k}


def rank_metric(metrics: Sequence[str]) -> str:
    """The metric the worst images are chosen by, of ``metrics`` (metric names or per-image
    result keys): the one with the lowest :attr:`ResultKey.grid_rank` there (LPIPS, closest to
    what a viewer sees, else PSNR), else the first per-image metric there, else the registry's
    last preferred key (no per-image metric: every image scores alike)."""
    keys = result_keys()
    preferred = sorted((key for key in keys.values() if key.per_image and key.grid_rank is not None),
                       key=lambda key: key.grid_rank)
    found = [key.name for key in preferred if key.name in metrics]
    found += [m for m in metrics if m in keys and keys[m].per_image]
    return found[0] if found else preferred[-1].name


def _badness(metric: str, value: float) -> float:
    """Smaller is worse: the value where higher is better (PSNR), its negative where lower is (LPIPS)."""
    return value if higher_is_better(metric) is not False else -value


class GridPicker:
    """The grid candidates of one shard: its fixed images and its running worst k."""

    def __init__(self, spec: GridSpec) -> None:
        self.spec = spec
        self._fixed = set(spec.fixed)
        self.fixed: list[dict] = []
        self.worst: list[dict] = []

    def add(self, keys: Sequence[str], originals_u8: torch.Tensor, recons: torch.Tensor, values: Mapping[str, Any]) -> None:
        """Offer a batch's scored images (``values``: the evaluator's per-image metric values)."""
        from wetok_bench.protocols import round_to_u8

        if not self.spec.enabled:
            return
        metric = rank_metric(list(values))
        scores = [float(v) for v in values[metric]] if metric in values else [0.0] * len(keys)
        wanted = [i for i, key in enumerate(keys) if key in self._fixed or self.spec.worst_k]
        if not wanted:
            return
        recon_u8 = round_to_u8(recons).cpu()
        originals = originals_u8.cpu()
        for i in wanted:
            entry = {"key": keys[i], "score": _badness(metric, scores[i]),
                     "original": originals[i].clone(), "recon": recon_u8[i].clone()}
            if keys[i] in self._fixed:
                self.fixed.append(entry)
            if self.spec.worst_k:
                self.worst.append(entry)
        # Stable: among equal scores the earlier image stays first.
        self.worst = sorted(self.worst, key=lambda e: e["score"])[: self.spec.worst_k]

    def state(self) -> dict:
        """What a shard file stores (tensors, strings and floats only)."""
        return {"spec": self.spec.as_dict(), "fixed": self.fixed, "worst": self.worst}


def merge_states(spec: GridSpec, earlier: dict | None, later: dict) -> dict:
    """One state for two consecutive runs of shards (``earlier`` first): memory stays bounded
    by the fixed images plus k, however many shards a rank measures."""
    if earlier is None:
        return later
    fixed, worst = select(spec, [earlier, later])
    return {"spec": spec.as_dict(), "fixed": fixed, "worst": worst}


def select(spec: GridSpec, states: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(fixed images in ``spec.fixed`` order, the job's worst k) from the shards' states in shard order."""
    by_key = {e["key"]: e for state in states for e in state.get("fixed", [])}
    fixed = [by_key[key] for key in spec.fixed if key in by_key]
    worst = sorted((e for state in states for e in state.get("worst", [])), key=lambda e: e["score"])[: spec.worst_k]
    return fixed, worst


def save_grids(folder, spec: GridSpec, states: Sequence[dict], metrics: Sequence[str], rows: list[dict]) -> None:
    """Write ``grids/`` of a job folder from the shards' grid candidates (see :func:`select`)."""
    from wetok_bench.results.grid_files import save_grid

    fixed, worst = select(spec, states)
    chosen = list({e["key"]: e for e in fixed + worst}.values())
    if not chosen:
        return
    if len({tuple(e["original"].shape) for e in chosen}) > 1:
        return  # "original" resolution with mixed sizes: no common grid
    row_by_key = {r["key"]: r for r in rows}
    shown = [name for name, key in result_keys().items() if key.per_image and any(name in r for r in rows)]
    fixed_keys, worst_keys = {e["key"] for e in fixed}, {e["key"] for e in worst}
    keys = [e["key"] for e in chosen]
    save_grid(folder, torch.stack([e["original"] for e in chosen]), torch.stack([e["recon"] for e in chosen]), keys,
              fixed=[k in fixed_keys for k in keys], worst=[k in worst_keys for k in keys],
              values=[{m: row_by_key.get(k, {}).get(m) for m in shown} for k in keys],
              rank_metric=rank_metric(metrics))
