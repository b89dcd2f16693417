"""Leaderboard columns from a job's ``tokens`` and ``cost`` blocks (summary.json).

* ``Code usage (%)``: ``tokens.codebook_usage`` x 100, the fraction of codebook entries used over
  the whole dataset (group-wise codes such as WeTok's: the mean over groups of the per-group
  figure, the joint codebook cannot be enumerated); ``Code perplexity``: ``tokens.code_perplexity``
  (2 ** entropy in bits; per group likewise). Discrete tokenizers only.
* ``Encode / Decode (ms/img)``: device-synchronised time per image over the timed batches (the
  first batch of every shard is a warm-up batch, not timed); ``Params (M)``: the tokenizer's
  parameters in millions (codecs 0); ``Images/s``: images measured over the job's wall time in
  the run that measured it (data loading and metrics included; machine-dependent);
  ``Peak mem (MiB)``: CUDA peak allocated during the
  tokenizer's calls (not measured on CPU).

A column is shown only when some job of the leaderboard has its value.
"""

from __future__ import annotations

from typing import Any

#: (key, header, decimals, higher_is_better, value from a summary)
_DEFS = (
    ("code_usage", "Code usage (%)", 1, True, lambda s: _scaled((s.get("tokens") or {}).get("codebook_usage"), 100.0)),
    ("code_perplexity", "Code perplexity", 1, True, lambda s: (s.get("tokens") or {}).get("code_perplexity")),
    ("encode_ms", "Encode (ms/img)", 2, False, lambda s: _scaled((s.get("cost") or {}).get("encode_s_per_image"), 1e3)),
    ("decode_ms", "Decode (ms/img)", 2, False, lambda s: _scaled((s.get("cost") or {}).get("decode_s_per_image"), 1e3)),
    ("params_m", "Params (M)", 2, None, lambda s: _scaled((s.get("cost") or {}).get("parameters"), 1e-6)),
    ("images_per_s", "Images/s", 1, True, lambda s: (s.get("cost") or {}).get("images_per_s")),
    ("peak_mem_mib", "Peak mem (MiB)", 0, False,
     lambda s: _scaled((s.get("cost") or {}).get("peak_memory_bytes"), 1.0 / 2**20)),
)


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else float(value) * factor


def extra_values(summary: dict) -> dict[str, float | None]:
    """The extra columns' values of one job (None where its summary lacks them)."""
    return {key: get(summary) for key, _, _, _, get in _DEFS}


def extra_columns(jobs: list, column_type) -> list:
    """``column_type`` (the leaderboard's Column) for each extra column some job has a value of."""
    values = [extra_values(job.summary) for job in jobs]
    return [column_type(key, header, numeric=True, higher_is_better=better, decimals=decimals, detail=True)
            for key, header, decimals, better, _ in _DEFS if any(v[key] is not None for v in values)]


def extra_notes(rows: list) -> list[str]:
    """Notes under a leaderboard: which rows' code usage is per group, which times are missing."""
    notes = []
    per_group = [r.tokenizer for r in rows if (r.job.summary.get("tokens") or {}).get("codebook_scope") == "per-group"]
    if per_group:
        notes.append(f"Code usage and perplexity of {', '.join(per_group)}: per group of the group-wise code, "
                     "averaged over groups (the joint codebook cannot be enumerated).")
    if any((r.job.summary.get("cost") or {}) for r in rows):
        notes.append("Encode / Decode: device-synchronised time per image; the first batch of every shard "
                     "is a warm-up batch and not timed.")
    skipped = [f"{r.tokenizer} ({r.job.summary['tokens']['skipped']})" for r in rows
               if "skipped" in (r.job.summary.get("tokens") or {})]
    if skipped:
        notes.append("No code statistics: " + "; ".join(skipped) + ".")
    return notes
