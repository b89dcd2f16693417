"""Which jobs run (``--only``) and which images each dataset contributes (``--num-images``)."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from wetok_bench.config.suite import Job, Suite
from wetok_bench.core.errors import UsageError
from wetok_bench.engine.console import warn


def select_jobs(suite: Suite, only: Sequence[str] | None) -> list[Job]:
    """The suite's jobs, filtered by ``--only`` patterns (tokenizer, dataset or job id; fnmatch)."""
    from fnmatch import fnmatch

    jobs = suite.jobs()
    if not only:
        return jobs
    chosen = [j for j in jobs if any(fnmatch(n, p) for p in only for n in (j.tokenizer.name, j.dataset.name, j.id))]
    if not chosen:
        names = sorted({j.tokenizer.name for j in jobs} | {j.dataset.name for j in jobs})
        raise UsageError(f"--only {', '.join(only)} matches no job (tokenizers and datasets: {', '.join(names)})")
    return chosen


class SelectedImages(NamedTuple):
    """A dataset's selection: the usable records and the selected images it lists but cannot provide.

    ``missing`` holds ``(key, reason)`` for every selected image the dataset lists (e.g. in COCO's
    annotations) but does not have: each becomes a skipped file of every job on that dataset.
    """

    dataset: Any
    records: list
    missing: list[tuple[str, str]]


class _Listed(NamedTuple):
    key: str
    record: Any  # an ImageRecord, or None for a listed-but-missing image
    reason: str


def load_dataset_records(suite: Suite, num_images: int | None) -> dict[str, SelectedImages]:
    """Each dataset with its deterministic selection (``num_images``, ``subset``, ``seed``).

    The subset is drawn over every image the dataset lists, present or missing, in key order, so
    a missing image counts where it would have been measured instead of vanishing silently.
    """
    from wetok_bench.data.loader import select_subset
    from wetok_bench.data.registry import create_dataset

    n = num_images if num_images is not None else suite.settings.num_images
    out = {}
    for entry in suite.datasets:
        dataset = create_dataset(entry.spec)
        for message in getattr(dataset, "warnings", []):
            warn(f"dataset {entry.name!r}: {message}")
        listed = [_Listed(r.key, r, "") for r in dataset.records()]
        listed += [_Listed(key, None, reason) for key, reason in getattr(dataset, "missing", [])]
        listed.sort(key=lambda item: item.key)
        chosen = select_subset(listed, n, rule=suite.settings.subset, seed=suite.settings.seed)
        records = [item.record for item in chosen if item.record is not None]
        if not records:
            raise UsageError(f"dataset {entry.name!r} has no images ({dataset.describe()})")
        missing = [(item.key, item.reason) for item in chosen if item.record is None]
        out[entry.name] = SelectedImages(dataset, records, missing)
    return out
