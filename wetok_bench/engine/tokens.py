"""Token statistics of a job: codebook usage, code entropy and perplexity over the whole dataset.

For a discrete tokenizer (``tokenizer.codebook_size`` set) every batch is reconstructed with
``with_tokens=True`` and its token ids (B x N x G) of the images measured are counted in a
:class:`~wetok_bench.metrics.functional.tokens.TokenStats` per shard. A shard stores its int64 counts; the
job's statistics are the counts of every shard added (in shard order, though integer sums do not
depend on it), so resumed and ``torchrun`` jobs give exactly the counts of one process.
Group-wise codes (WeTok's group-wise LFQ) are counted per group: the joint codebook (2^(8G))
cannot be enumerated; the ``tokens`` block says so (``codebook_scope: per-group``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.functional.tokens import TokenStats


def is_discrete(tokenizer) -> bool:
    """Whether the job counts the tokenizer's codes (it declares a codebook)."""
    return getattr(tokenizer, "codebook_size", None) is not None


class TokenCounter:
    """One shard's token counts; ``skipped`` says why there are none (a too-large codebook)."""

    def __init__(self, codebook_size: int) -> None:
        self.codebook_size = int(codebook_size)
        self.stats: TokenStats | None = None
        self.skipped: str | None = None
        self.missing = 0  # batches whose code gave no token ids

    def add(self, token_ids: torch.Tensor | None, keep: Sequence[int]) -> None:
        """Count the token ids (B x N x G) of the images at indices ``keep`` of the batch."""
        if self.skipped is not None:
            return
        if token_ids is None:
            self.missing += 1
            return
        if self.stats is None:
            try:
                self.stats = TokenStats(self.codebook_size, int(token_ids.shape[-1]))
            except UsageError as error:
                self.skipped = str(error)
                return
        self.stats.update(token_ids[list(keep)] if len(keep) != token_ids.shape[0] else token_ids)

    def state(self) -> dict[str, Any]:
        """What a shard stores: the counts' state, or why there is none."""
        return {"stats": self.stats.state_dict() if self.stats is not None else None,
                "skipped": self.skipped, "missing_batches": self.missing}


def merge_tokens(states: Sequence[dict | None]) -> dict[str, Any] | None:
    """Shards' (or ranks') token states added into one (None when no shard counted tokens)."""
    total: TokenStats | None = None
    skipped, missing, seen = None, 0, False
    for state in states:
        if not state:
            continue
        seen = True
        skipped = skipped or state.get("skipped")
        missing += int(state.get("missing_batches", 0))
        if state.get("stats") is not None:
            stats = TokenStats.from_state_dict(state["stats"])
            total = stats if total is None else total.merge(stats)
    if not seen:
        return None
    return {"stats": total.state_dict() if total is not None else None, "skipped": skipped, "missing_batches": missing}


def tokens_summary(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``tokens`` block of ``summary.json`` (see :meth:`TokenStats.compute`), or
    ``{"skipped": reason}``; None for a tokenizer that is not discrete."""
    if state is None:
        return None
    if state.get("skipped"):
        return {"skipped": state["skipped"]}
    if state.get("stats") is None:
        return {"skipped": "the tokenizer declares a codebook but gave no token ids"}
    out = TokenStats.from_state_dict(state["stats"]).compute()
    if out["codebook_scope"] == "per-group":
        out["scope_note"] = (f"{out['groups']} groups of {out['codebook_size']} entries: the joint codebook "
                             f"({out['codebook_size']}^{out['groups']} entries) cannot be enumerated; usage, "
                             f"entropy and perplexity are per group (lists) and their mean over groups")
    if state.get("missing_batches"):
        out["missing_batches"] = int(state["missing_batches"])
    return out
