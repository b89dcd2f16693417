"""Names that become file and folder names: a job's folder."""

from __future__ import annotations


def job_id(tokenizer: str, dataset: str, resolution: int | str) -> str:
    """Folder name of a job: ``<tokenizer>__<dataset>__<resolution>``."""
    return f"{tokenizer}__{dataset}__{resolution}"
