"""A set metric per image group (rFID per COCO supercategory): its states kept per label.

When the dataset records carry ``supercategories`` in their meta (COCO) and a set metric that
declares ``per_group`` runs (rFID), each shard keeps, beside the job's own states, one state of
that metric per supercategory its images show; an image showing several counts in each, an
image with none in no group. The shard states are folded in global shard order like the main
ones (:class:`~wetok_bench.engine.fold.OrderedFold`), so the sums are the same bits under resume
and any number of ranks. The originals' side is kept the same way by the reference pass.

Memory (rFID): one d x d float64 matrix per label, 32 MiB at d = 2048; COCO val2017 has 12
supercategories, so up to 384 MiB per shard in memory (on the metrics' device) and in each
shard file of ``.partial/`` (ranks other than 0 hold their shards' states until the final fold).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import SetStates

#: The records' meta field whose labels form the groups.
GROUP_FIELD = "supercategories"
#: Why a job has no per-group block though its images are labelled.
OLD_SHARD_GROUPS = "resumed from shards written before per-supercategory statistics were kept (run with --force)"


def group_labels(records: Sequence) -> dict[str, list[str]] | None:
    """Each record key's labels (``meta["supercategories"]``); None when no record carries the field."""
    if not any(GROUP_FIELD in (getattr(r, "meta", None) or {}) for r in records):
        return None
    return {r.key: list((r.meta or {}).get(GROUP_FIELD, [])) for r in records}


class GroupStats:
    """Per-label states of one shard (``new_state()`` makes an empty one); labels appear as images show them."""

    def __init__(self, labels: Mapping[str, list[str]], new_state: Callable[[], Any]) -> None:
        self.labels, self.new_state = labels, new_state
        self.stats: dict[str, Any] = {}

    def add(self, keys: Sequence[str], features: torch.Tensor) -> None:
        """Add the features (B x d) of the images ``keys`` to each label they show."""
        by_label: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            for label in self.labels.get(key, []):
                by_label.setdefault(label, []).append(i)
        for label, rows in sorted(by_label.items()):
            index = torch.tensor(rows, device=features.device)
            state = self.stats.get(label)
            if state is None:
                state = self.stats[label] = self.new_state()
            state.update(features.index_select(0, index))

    def state(self) -> dict[str, dict] | None:
        """``{label: state_dict}`` (labels sorted); None when no image was labelled."""
        return {label: self.stats[label].state_dict() for label in sorted(self.stats)} or None


def decode_groups(state: Mapping[str, dict], from_dict: Callable[[dict], Any]) -> SetStates:
    """Per-label states (merge label by label) from :meth:`GroupStats.state`."""
    return SetStates({label: from_dict(s) for label, s in state.items()})


def encode_flat(groups: Mapping[str, Any] | None) -> dict[str, torch.Tensor]:
    """Groups as flat ``group/<label>/<field>`` tensors (beside the reference cache's own fields)."""
    return {f"group/{label}/{field}": value for label, stats in (groups or {}).items()
            for field, value in stats.state_dict().items()}


def split_flat(flat: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """(the cache file's other fields, each group's state dict) from a flat dict written with
    :func:`encode_flat`."""
    rest: dict[str, torch.Tensor] = {}
    parts: dict[str, dict] = {}
    for field, value in flat.items():
        if field.startswith("group/"):
            label, _, name = field[len("group/"):].rpartition("/")
            parts.setdefault(label, {})[name] = value
        else:
            rest[field] = value
    return rest, parts


def by_group(metric, reference: Mapping[str, Any], recon: Mapping[str, Any]) -> dict[str, dict]:
    """``{label: {<metric name>: value, images, unreliable}}`` for each label of the reconstructions.

    ``images`` is the reconstructions' image count of the label; ``unreliable`` is the metric's
    own flag (rFID: either count below the feature dimension). The value is None when the metric
    cannot be computed (fewer than 2 images on either side).
    """
    out: dict[str, dict] = {}
    for label in sorted(recon):
        mine, ref = recon[label], reference.get(label)
        try:
            if ref is None:
                raise UsageError("no reference images")
            result = metric.compute(ref, mine)
        except UsageError:
            out[label] = {metric.name: None, "images": mine.n, "unreliable": True}
            continue
        out[label] = {metric.name: result[metric.name], "images": mine.n, "unreliable": bool(result.get("unreliable"))}
    return out


def add_group_block(summary: dict, metric, recon, reference) -> None:
    """Put the per-group block (``rfid_by_supercategory``) into a job's summary (``recon``: the
    job's folded groups, or ``{"skipped": reason}``; ``reference``: the originals'); nothing when
    the images are unlabelled."""
    if metric is None or recon is None or reference is None:
        return
    block = type(metric).group_block()
    if isinstance(recon.get("skipped"), str):
        summary.setdefault("skipped_metrics", {})[block] = recon["skipped"]
        return
    summary[block] = by_group(metric, reference, recon)
