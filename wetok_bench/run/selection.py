"""Which jobs run (``--only``) and which images each dataset contributes (``--num-images``)."""

from __future__ import annotations

from typing import Any, Sequence

from wetok_bench.errors import UsageError
from wetok_bench.run.console import warn
from wetok_bench.suite import Job, Suite


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


def load_dataset_records(suite: Suite, num_images: int | None) -> dict[str, tuple[Any, list]]:
    """Each dataset with its deterministic selection of records (``num_images``, ``subset``, ``seed``)."""
    from wetok_bench.data.loader import select_subset
    from wetok_bench.data.registry import create_dataset

    n = num_images if num_images is not None else suite.settings.num_images
    out = {}
    for entry in suite.datasets:
        dataset = create_dataset(entry.spec)
        for message in getattr(dataset, "warnings", []):
            warn(f"dataset {entry.name!r}: {message}")
        records = select_subset(dataset.records(), n, rule=suite.settings.subset, seed=suite.settings.seed)
        if not records:
            raise UsageError(f"dataset {entry.name!r} has no images ({dataset.describe()})")
        out[entry.name] = (dataset, list(records))
    return out
