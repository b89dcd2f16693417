"""rFID per image group (COCO supercategory): float64 Inception statistics per label.

When the dataset records carry ``supercategories`` in their meta (COCO), each shard keeps,
beside the job's own statistics, one :class:`~wetok_bench.metrics.fid.FeatureStats` per
supercategory its images show; an image showing several counts in each, an image with none in
no group. The shard states are folded in global shard order like the main ones
(:class:`~wetok_bench.run.fold.OrderedFold`), so the sums are the same bits under resume and
any number of ranks. The originals' side is kept the same way by the reference pass.

Memory: one d x d float64 matrix per label, 32 MiB at d = 2048; COCO val2017 has 12
supercategories, so up to 384 MiB per shard in memory (on the metrics' device) and in each
shard file of ``.partial/`` (ranks other than 0 hold their shards' states until the final fold).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from wetok_bench.metrics.base import SetStates
from wetok_bench.metrics.fid import FeatureStats, fid_result

#: The records' meta field whose labels form the groups.
GROUP_FIELD = "supercategories"
#: Why a job has no ``rfid_by_supercategory`` though its images are labelled.
OLD_SHARD_GROUPS = "resumed from shards written before per-supercategory statistics were kept (run with --force)"


def group_labels(records: Sequence) -> dict[str, list[str]] | None:
    """Each record key's labels (``meta["supercategories"]``); None when no record carries the field."""
    if not any(GROUP_FIELD in (getattr(r, "meta", None) or {}) for r in records):
        return None
    return {r.key: list((r.meta or {}).get(GROUP_FIELD, [])) for r in records}


class GroupStats:
    """Per-label float64 feature statistics of one shard; labels appear as images show them."""

    def __init__(self, labels: Mapping[str, list[str]], dim: int, device: str | torch.device = "cpu") -> None:
        self.labels, self.dim, self.device = labels, dim, device
        self.stats: dict[str, FeatureStats] = {}

    def add(self, keys: Sequence[str], features: torch.Tensor) -> None:
        """Add the features (B x d) of the images ``keys`` to each label they show."""
        by_label: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            for label in self.labels.get(key, []):
                by_label.setdefault(label, []).append(i)
        for label, rows in sorted(by_label.items()):
            index = torch.tensor(rows, device=features.device)
            stats = self.stats.setdefault(label, FeatureStats(self.dim, device=self.device))
            stats.update(features.index_select(0, index))

    def state(self) -> dict[str, dict] | None:
        """``{label: FeatureStats.state_dict()}`` (labels sorted); None when no image was labelled."""
        return {label: self.stats[label].state_dict() for label in sorted(self.stats)} or None


def decode_groups(state: Mapping[str, dict]) -> SetStates:
    """Per-label statistics (merge label by label) from :meth:`GroupStats.state`."""
    return SetStates({label: FeatureStats.from_state_dict(s) for label, s in state.items()})


def encode_flat(groups: Mapping[str, FeatureStats] | None) -> dict[str, torch.Tensor]:
    """Groups as flat ``group/<label>/<field>`` tensors (beside the reference cache's own fields)."""
    return {f"group/{label}/{field}": value for label, stats in (groups or {}).items()
            for field, value in stats.state_dict().items()}


def split_flat(flat: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], SetStates]:
    """(the cache file's other fields, the groups) from a flat dict written with :func:`encode_flat`."""
    rest: dict[str, torch.Tensor] = {}
    parts: dict[str, dict] = {}
    for field, value in flat.items():
        if field.startswith("group/"):
            label, _, name = field[len("group/"):].rpartition("/")
            parts.setdefault(label, {})[name] = value
        else:
            rest[field] = value
    return rest, decode_groups(parts)


def rfid_by_group(reference: Mapping[str, FeatureStats], recon: Mapping[str, FeatureStats]) -> dict[str, dict]:
    """``{label: {rfid, images, unreliable}}`` for each label of the reconstructions.

    ``images`` is the reconstructions' image count of the label; ``unreliable`` follows the main
    rFID's rule (:func:`~wetok_bench.metrics.fid.fid_result`: either count below the feature
    dimension). ``rfid`` is None when either side has fewer than 2 images (no covariance).
    """
    out: dict[str, dict] = {}
    for label in sorted(recon):
        mine, ref = recon[label], reference.get(label)
        if ref is None or ref.n < 2 or mine.n < 2:
            out[label] = {"rfid": None, "images": mine.n, "unreliable": True}
            continue
        result = fid_result(ref, mine)
        out[label] = {"rfid": result["rfid"], "images": mine.n, "unreliable": result["unreliable"]}
    return out


def add_group_block(summary: dict, recon, reference) -> None:
    """Put ``rfid_by_supercategory`` into a job's summary (``recon``: the job's folded groups, or
    ``{"skipped": reason}``; ``reference``: the originals'); nothing when the images are unlabelled."""
    if recon is None or reference is None:
        return
    if "skipped" in recon and not isinstance(recon["skipped"], FeatureStats):
        summary.setdefault("skipped_metrics", {})["rfid_by_supercategory"] = recon["skipped"]
        return
    summary["rfid_by_supercategory"] = rfid_by_group(reference, recon)
